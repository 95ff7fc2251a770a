"""Describe an artifact for `lockgate show`: text for people, a dict for --json."""

from __future__ import annotations

import json
from typing import Any


def describe(found: Any, ref: Any, value: Any, store: Any, rows: int = 10) -> dict[str, Any]:
    head = {"artifact": found.name, "pipeline": found.pipeline, "stage": found.stage,
            "kind": ref.kind, "digest": ref.digest}
    lines = [f"{found.pipeline}:{found.name}  ({ref.kind}, from stage '{found.stage}', {ref.digest[:12]})"]
    if ref.kind == "table":
        schema = {f.name: str(f.type) for f in value.schema}
        head.update(rows=value.num_rows, columns=schema, head=value.slice(0, rows).to_pylist())
        lines.append(f"{value.num_rows} rows x {value.num_columns} columns")
        lines += [f"  {name}: {kind}" for name, kind in schema.items()]
        import polars as pl

        with pl.Config(tbl_rows=rows, tbl_cols=20):
            lines.append(str(pl.from_arrow(value.slice(0, rows))))
    elif ref.kind in ("metrics", "json"):
        head["value"] = value
        lines.append(json.dumps(value, indent=2, sort_keys=True, default=str))
    elif ref.kind == "model":
        from lockgate.store.artifacts import model_metadata

        meta = model_metadata(store, ref)
        head["metadata"] = meta
        lines += [f"  {k}: {v}" for k, v in sorted(meta.items())]
    else:
        head["meta"] = ref.meta
        lines += [f"  {k}: {v}" for k, v in sorted(ref.meta.items())]
    return {"json": head, "text": "\n".join(lines)}
