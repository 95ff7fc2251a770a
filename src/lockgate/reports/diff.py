"""Render metric and param diffs (``lockgate.diff.Change`` lists) and recorded metrics.

Pure functions to text, Markdown and JSON-able dicts; the CLI prints them and
the CI summary embeds the Markdown. Numbers are shown with 4 significant
digits in text and Markdown; JSON keeps them exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lockgate.diff import Change, Status, flatten


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def fmt_delta(change: Change) -> tuple[str, str]:
    """``(+0.05, +5.3%)``, or ``("", "")`` where it has no meaning."""
    delta = change.delta
    if delta is None or change.status is not Status.CHANGED:
        return "", ""
    rel = change.relative
    return f"{delta:+.4g}", (f"{rel * 100:+.1f}%" if rel is not None else "")


def to_json(changes: Sequence[Change], old: str, new: str, what: str) -> dict[str, Any]:
    """``{"old": REV, "new": REV, what: {pipeline: {stage: {key: {old, new, change, relative,
    status}}}}}`` (``change``/``relative`` only when both sides are numbers)."""
    tree: dict[str, dict[str, dict[str, Any]]] = {}
    for c in changes:
        tree.setdefault(c.pipeline, {}).setdefault(c.stage, {})[c.key] = c.to_dict()
    return {"old": old, "new": new, what: tree}


def _rows(changes: Sequence[Change]) -> list[list[str]]:
    several = len({c.pipeline for c in changes}) > 1
    rows = []
    for c in changes:
        delta, rel = fmt_delta(c)
        stage = f"{c.pipeline}:{c.stage}" if several else c.stage
        old = "" if c.status is Status.ADDED else fmt(c.old)
        new = "" if c.status is Status.REMOVED else fmt(c.new)
        note = c.status.value if c.status in (Status.ADDED, Status.REMOVED) else ""
        rows.append([stage, c.key, old, new, delta, rel + (f" {note}" if note and rel else note)])
    return rows


HEADER = ["stage", "metric", "old", "new", "change", "%"]


def to_text(changes: Sequence[Change], old: str, new: str, what: str = "metric") -> str:
    if not changes:
        return f"no {what} changed between {old} and {new}"
    header = [*HEADER[:1], what, f"old ({old})", f"new ({new})", *HEADER[4:]]
    rows = [header, *_rows(changes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    right = {2, 3, 4, 5}
    lines = []
    for r in rows:
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(changes: Sequence[Change], old: str, new: str, what: str = "metric") -> str:
    if not changes:
        return f"No {what} changed between `{old}` and `{new}`."
    header = ["stage", what, f"old (`{old}`)", f"new (`{new}`)", "change", "%"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---:|---:|---:|---:|"]
    for r in _rows(changes):
        r[0], r[1] = f"`{r[0]}`", f"`{r[1]}`"
        lines.append("| " + " | ".join(_md_cell(c) for c in r) + " |")
    return "\n".join(lines)


def metrics_show_json(metrics: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """``{pipeline: {stage: {artifact: {key: value}}}}``, as recorded in the locks."""
    return {p: {s: dict(m) for s, m in stages.items()} for p, stages in metrics.items()}


def metrics_show_text(metrics: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """A header, then one line per metric: ``pipeline  stage  artifact.key  value``;
    nested values flatten to dotted names (``scores.roc_auc.test``), the names
    ``lockgate show`` and gates accept."""
    rows = [[p, s, key, fmt(value)]
            for p, stages in sorted(metrics.items())
            for s, m in sorted(stages.items())
            for key, value in sorted(flatten(m).items())]
    if not rows:
        return "no metrics recorded in the lock files (run `lockgate run` first?)"
    rows.insert(0, ["pipeline", "stage", "metric", "value"])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3] for r in rows)
