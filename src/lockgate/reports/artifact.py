"""Describe an artifact for `lockgate show`: text for people, a dict for --json.

Pure renderers over values the CLI has loaded (a table, metrics, a model's
metadata, a file or folder in the store); the only reading done here is of a
``cmd`` stage's stored file when it is a table (parquet, csv, arrow/feather by
the suffix of its path), and pyarrow is imported only then.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from lockgate.errors import UsageError

#: a ``cmd`` stage's file output read as a table, by the suffix of its path
TABLE_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv",
                 ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow"}


def describe(found: Any, ref: Any, value: Any, store: Any, rows: int = 10,
             width: int = 100) -> dict[str, Any]:
    """``{"json": ..., "text": ...}`` for one artifact; ``width`` is the terminal's:
    a table whose head is wider is drawn transposed (see ``table_text``)."""
    head = {"artifact": found.name, "pipeline": found.pipeline, "stage": found.stage,
            "kind": ref.kind, "digest": ref.digest}
    lines = [f"{found.pipeline}:{found.name}  ({ref.kind}, from stage '{found.stage}', {ref.digest[:12]})"]
    if ref.kind == "table":
        head.update(rows=value.num_rows, columns=_schema(value), head=_head(value, rows).to_pylist())
        lines += _table_lines(value.num_rows, value.schema, _head(value, rows), width)
    elif ref.kind in ("metrics", "json"):
        head["value"] = value
        lines.append(json.dumps(value, indent=2, sort_keys=True, default=str))
    elif ref.kind == "model":
        from lockgate.store.artifacts import model_metadata

        meta = model_metadata(store, ref)
        head["metadata"] = meta
        lines += [f"  {k}: {v}" for k, v in sorted(meta.items())]
    elif ref.kind == "file":
        lines += _file_lines(found.name, ref, store, rows, width, head)
    elif ref.kind == "tree":
        lines += _tree_lines(ref, value, rows, head)
    else:
        head["meta"] = ref.meta
        lines += [f"  {k}: {v}" for k, v in sorted(ref.meta.items())]
    return {"json": head, "text": "\n".join(lines)}


# -- one value inside an artifact: `show scores.roc_auc` ----------------------------------


def describe_key(found: Any, ref: Any, value: Any, key: str) -> dict[str, Any]:
    """The value at the dotted ``key`` of a metrics or JSON artifact (or a cmd stage's
    metrics file, its numbers read from the lock); a list item by its index. A
    UsageError naming the keys that exist (closest first) when it is not there."""
    if not isinstance(value, Mapping | list):
        raise UsageError(
            f"'{found.name}' is a {ref.kind}, which has no keys; "
            f"`lockgate show {found.name}` shows it whole"
        )
    node = value
    parts = key.split(".")
    for depth, part in enumerate(parts):
        here = ".".join([found.name, *parts[:depth]])
        if isinstance(node, Mapping) and part in node:
            node = node[part]
            continue
        if isinstance(node, list):
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            raise UsageError(f"'{here}' is a list of {len(node)} items; "
                             f"name one by its index, 0 to {len(node) - 1}")
        if not isinstance(node, Mapping):
            raise UsageError(f"'{here}' is {_plain(node)}, not a mapping with a key '{part}'")
        known = _ranked(key, _leaf_keys(value))
        listed = ", ".join(f"{found.name}.{k}" for k in known[:12]) + (", ..." if len(known) > 12 else "")
        raise UsageError(f"'{here}' has no key '{part}'; it has (closest first): {listed or 'nothing'}")
    record = {"artifact": found.name, "key": key, "value": node, "pipeline": found.pipeline,
              "stage": found.stage, "kind": ref.kind, "digest": ref.digest}
    text = node if isinstance(node, str) else json.dumps(node, indent=2, sort_keys=True, default=str)
    return {"json": record, "text": text}


def _leaf_keys(values: Any, prefix: str = "") -> list[str]:
    if not isinstance(values, Mapping) or not values:
        return [prefix[:-1]] if prefix else []
    keys: list[str] = []
    for k, v in values.items():
        keys += _leaf_keys(v, f"{prefix}{k}.")
    return keys


def _ranked(key: str, keys: list[str]) -> list[str]:
    """``keys`` most similar to ``key`` first (ties alphabetical)."""
    ratio = {k: difflib.SequenceMatcher(None, key, k).ratio() for k in keys}
    return sorted(keys, key=lambda k: (-ratio[k], k))


def _plain(value: Any) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else repr(value)


# -- tables ------------------------------------------------------------------------------


def _schema(table: Any) -> dict[str, str]:
    return {f.name: str(f.type) for f in table.schema}


def _head(table: Any, rows: int) -> Any:
    return table.slice(0, max(rows, 0))


def _table_lines(num_rows: int, schema: Any, head: Any, width: int) -> list[str]:
    lines = [f"{num_rows} rows x {len(schema)} columns"]
    if not len(schema):
        return lines
    text, transposed = table_text(head, width)
    if not transposed:  # the transposed view lists every column's type itself
        lines += [f"  {f.name}: {f.type}" for f in schema]
    lines += ["", *text.splitlines()]
    if head.num_rows < num_rows:
        lines.append(f"(the first {head.num_rows} of {num_rows} rows; -n N shows more)")
    return lines


def table_text(table: Any, width: int = 100) -> tuple[str, bool]:
    """``(text, transposed)``: a table's rows as aligned text that never cuts a
    column name or squeezes a column. When the columns fit in ``width`` they are
    drawn side by side; when they do not, the table is drawn transposed, one line
    per column (name, type, then the values of as many rows as fit), as polars'
    ``glimpse`` does. Only a value longer than a whole line is shortened ("...")."""
    import pyarrow as pa

    room = max(width - 8, 12)
    columns = []
    for i, field in enumerate(table.schema):
        cells = [_cell(v, room) for v in table.column(i).to_pylist()]
        numeric = (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
                   or pa.types.is_decimal(field.type))
        columns.append((field.name, str(field.type), cells, numeric))
    index = [str(i) for i in range(table.num_rows)]
    index_width = max((len(i) for i in index), default=1)
    widths = [max([len(name), *map(len, cells)]) for name, _, cells, _ in columns]
    if index_width + sum(2 + w for w in widths) <= width:
        out = [" " * index_width + "".join(f"  {c[0]:>{w}}" if c[3] else f"  {c[0]:<{w}}"
                                           for c, w in zip(columns, widths)),
               " " * index_width + "".join(f"  {'-' * w}" for w in widths)]
        for r, label in enumerate(index):
            out.append(f"{label:>{index_width}}" + "".join(
                f"  {c[2][r]:>{w}}" if c[3] else f"  {c[2][r]:<{w}}" for c, w in zip(columns, widths)))
        return "\n".join(line.rstrip() for line in out), False
    # transposed: a row of the drawing per column of the table
    rows = [["column", "type", *index]] + [[name, kind, *cells] for name, kind, cells, _ in columns]
    fixed = [max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)]
    used, shown = fixed[0] + 2 + fixed[1], 0
    value_widths = []
    for r in range(table.num_rows):
        w = max(len(row[2 + r]) for row in rows)
        if shown and used + 2 + w > width:
            break
        value_widths.append(w)
        used += 2 + w
        shown += 1
    widths = fixed + value_widths
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    if shown < table.num_rows:
        hidden = table.num_rows - shown
        out.append(f"({hidden} more row{'s do' if hidden > 1 else ' does'} not fit in "
                   f"{width} columns; --json shows all)")
    return "\n".join(out), True


def _cell(value: Any, room: int) -> str:
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = _float(value)
    else:
        text = str(value).replace("\n", "\\n")
    return text if len(text) <= room else text[: room - 3] + "..."


def _float(value: float) -> str:
    """Six decimals at most, trailing zeros dropped: 0.779432, 135700.0, 1.5e-07."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value == 0 or 1e-4 <= abs(value) < 1e15:
        text = f"{value:.6f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return f"{value:.6g}"


# -- a cmd stage's files and folders ---------------------------------------------------------


def _file_lines(path: str, ref: Any, store: Any, rows: int, width: int, head: dict[str, Any]) -> list[str]:
    size = ref.meta.get("size")
    if size is None:
        size = store.size(ref.object)
    head["size"] = size
    fmt = next((f for suffix, f in TABLE_FORMATS.items() if path.lower().endswith(suffix)), None)
    if fmt is not None:
        try:
            num_rows, schema, table = _read_table_file(store, ref.object, fmt, rows)
        except Exception as exc:  # a foreign file: say why it is not a table, show it as a file
            head["problem"] = f"not a readable {fmt} file: {exc}"
            return [f"{_size(size)}; not a readable {fmt} file ({exc})"]
        head.update(format=fmt, rows=num_rows, columns={f.name: str(f.type) for f in schema},
                    head=table.to_pylist())
        return [f"{fmt} file, {_size(size)}", *_table_lines(num_rows, schema, table, width)]
    lines = [f"file, {_size(size)}, digest {ref.digest}"]
    text = _text_head(store, ref.object, size, rows)
    if text is not None:
        head["text_head"] = text
        lines += ["", *text]
    return lines


def _read_table_file(store: Any, obj: str, fmt: str, rows: int) -> tuple[int, Any, Any]:
    """(row count, schema, the first ``rows`` rows) of a stored table file; parquet
    and arrow files are read lazily (metadata, then only the first batches)."""
    import pyarrow as pa

    local = store.open_path(obj)
    source = pa.memory_map(local) if local else pa.BufferReader(store.get_bytes(obj))
    if fmt == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(source)
        schema = parquet.schema_arrow
        batches = []
        if rows > 0:
            for batch in parquet.iter_batches(batch_size=rows):
                batches.append(batch)
                break
        head = pa.Table.from_batches(batches, schema=schema)
        return parquet.metadata.num_rows, schema, head.slice(0, rows)
    if fmt == "csv":
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(source)
        return table.num_rows, table.schema, _head(table, rows)
    try:
        table = pa.ipc.open_file(source).read_all()
    except pa.ArrowInvalid:
        source.seek(0)
        table = pa.ipc.open_stream(source).read_all()
    return table.num_rows, table.schema, _head(table, rows)


def _text_head(store: Any, obj: str, size: int, rows: int) -> list[str] | None:
    """The first lines of a small UTF-8 text file, else None."""
    if size > 1_000_000 or rows <= 0:
        return None
    data = store.get_bytes(obj)
    if b"\0" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.splitlines()
    return lines[:rows] + ([f"... ({len(lines) - rows} more lines)"] if len(lines) > rows else [])


def _tree_lines(ref: Any, manifest: list[dict[str, Any]], rows: int, head: dict[str, Any]) -> list[str]:
    size = sum(int(e.get("size", 0)) for e in manifest)
    head.update(files=len(manifest), size=size, first_files=manifest[:rows])
    lines = [f"folder, {len(manifest)} file{'' if len(manifest) == 1 else 's'}, {_size(size)}"]
    shown = manifest[:rows]
    wide = max((len(e["path"]) for e in shown), default=0)
    lines += [f"  {e['path']:<{wide}}  {_size(int(e.get('size', 0))):>10}  {e['hash'][:12]}" for e in shown]
    if len(manifest) > len(shown):
        lines.append(f"  ... and {len(manifest) - len(shown)} more files")
    return lines


def _size(size: int) -> str:
    """Bytes in SI units, as ``gc`` reports them: ``118.2 kB``."""
    if size < 1000:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000:
            break
    return f"{value:.1f} {unit}"
