"""Render a drift result: a terminal table, JSON for machines, and a self-contained
HTML page (inline SVG, no scripts, no network) for people who would rather look."""

from __future__ import annotations

import html
import json
import math
from typing import Any


def drift_rows(result: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in result.table.to_dicts()]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def drift_json(result: Any, reference: str, current: str) -> str:
    return json.dumps({
        "reference": reference,
        "current": current,
        "share_drifted": result.share_drifted,
        "n_drifted": result.n_drifted,
        "n_columns": result.table.height,
        "dataset_drift": bool(result.dataset_drift),
        "columns": drift_rows(result),
    }, indent=2)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def drift_html(result: Any, reference: str, current: str) -> str:
    """One page: the verdict, and a bar per column (statistic relative to its threshold)."""
    rows = drift_rows(result)
    bars = []
    for row in rows:
        stat = row.get("p_value") if row.get("p_value") is not None else row.get("statistic")
        threshold = row.get("threshold") or 1.0
        ratio = 0.0 if not isinstance(stat, (int, float)) else min(float(stat) / float(threshold), 3.0)
        width = int(ratio / 3.0 * 300)
        color = "#c0392b" if row["drifted"] else "#27ae60"
        bars.append(
            f"<tr><td>{html.escape(str(row['column']))}</td><td>{html.escape(str(row['test']))}</td>"
            f"<td>{_fmt(row.get('statistic'))}</td><td>{_fmt(row.get('p_value'))}</td>"
            f"<td>{_fmt(row.get('threshold'))}</td>"
            f"<td><svg width='310' height='14'><rect width='{width}' height='14' fill='{color}'/>"
            f"<line x1='100' x2='100' y1='0' y2='14' stroke='#333'/></svg></td>"
            f"<td>{'drifted' if row['drifted'] else 'ok'}</td></tr>"
        )
    verdict = "Dataset drift" if result.dataset_drift else "No dataset drift"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>lockgate drift report</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}td,th{{padding:3px 8px;text-align:left}}
tr:nth-child(even){{background:#f4f4f4}}</style></head><body>
<h1>{verdict}</h1>
<p>{result.n_drifted} of {result.table.height} columns drifted ({result.share_drifted:.0%});
reference <code>{html.escape(reference)}</code>, current <code>{html.escape(current)}</code>.</p>
<p>Bars: the p-value (tests) or distance relative to the threshold; the line marks the threshold.</p>
<table><tr><th>column</th><th>test</th><th>statistic</th><th>p-value</th><th>threshold</th><th></th><th></th></tr>
{''.join(bars)}
</table></body></html>
"""
