"""Reading and writing table files: parquet, csv, arrow/feather, Excel; a folder is one
table. And pandas values as tables, for ``call`` functions written for pandas.

Used for ``inputs:`` paths, ``lockgate export`` and ``lockgate drift``. pyarrow
is imported inside the functions, and pandas and the Excel reader only when a
user's code or data asks for them, so importing this module stays cheap; the
checks of ``read:`` options (``read_option_problems``) import nothing, so the
spec loader can run them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lockgate.spec.reading import (  # the reader options a spec may set, checked when it loads
    CSV_CONVERT,
    CSV_OPTIONS,
    CSV_PARSE,
    CSV_READ,
    EXCEL_OPTIONS,
    EXCEL_SUFFIXES,
    TABLE_SUFFIXES,
    table_kind,
)


class TableFileError(ValueError):
    """A path that is not a readable table (named, with what would be valid)."""


def table_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)
        if not files:
            raise TableFileError(f"{path}: folder holds no {', '.join(TABLE_SUFFIXES)} files")
        return files
    if not path.exists():
        raise TableFileError(f"{path}: no such file or folder")
    return [path]


def read_table(path: str | Path, options: dict[str, Any] | None = None) -> Any:
    """One pyarrow Table from a file or a folder of files (concatenated in path order).
    ``options`` are the reader's (a CSV's ``delimiter``, ``null_values``, ``skip_rows``,
    ``column_types``...; an Excel file's ``sheet_name``); in a folder, each file takes
    those of its kind."""
    import pyarrow as pa

    path = Path(path)
    files = table_files(path)
    options = options or {}
    if path.is_dir():
        tables = [_read_one(f, _options_for(f, options)) for f in files]
    else:
        tables = [_read_one(f, options) for f in files]
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TableFileError(f"{path}: the files in this folder have different columns: {exc}") from None


def _options_for(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    known = {"csv": CSV_OPTIONS, "excel": EXCEL_OPTIONS}.get(table_kind(path), ())
    return {k: v for k, v in options.items() if k in known}


def _read_one(path: Path, options: dict[str, Any]) -> Any:
    import pyarrow as pa

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix == ".csv":
            return _read_csv(path, options)
        if suffix in (".arrow", ".feather", ".ipc"):
            import pyarrow.feather as feather

            return feather.read_table(path)
        if suffix in EXCEL_SUFFIXES:
            return _read_excel(path, options)
    except (pa.ArrowException, OSError) as exc:
        raise TableFileError(f"{path}: not a readable {suffix[1:]} file ({exc})") from None
    raise TableFileError(
        f"{path}: unknown table format '{suffix}'; use one of {', '.join(TABLE_SUFFIXES)}"
    )


def _read_csv(path: Path, options: dict[str, Any]) -> Any:
    """CSV as pandas and Kedro read it: an empty cell (and NA, null, NaN...) is null in
    text columns too, where pyarrow alone keeps ``""``."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    unknown = sorted(set(options) - set(CSV_OPTIONS))
    if unknown:
        raise TableFileError(f"{path}: unknown CSV read option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(CSV_OPTIONS)}")
    pick = lambda names: {k: options[k] for k in names if k in options}  # noqa: E731
    convert = {"strings_can_be_null": True, **pick(CSV_CONVERT)}
    if "null_values" in convert:  # added to the usual markers, as pandas' na_values are
        convert["null_values"] = [*pcsv.ConvertOptions().null_values, *convert["null_values"]]
    if "column_types" in convert:
        try:
            convert["column_types"] = {k: pa.type_for_alias(str(v)) for k, v in convert["column_types"].items()}
        except (ValueError, KeyError) as exc:
            raise TableFileError(f"{path}: column_types: {exc}") from None
    return pcsv.read_csv(path, read_options=pcsv.ReadOptions(**pick(CSV_READ)),
                         parse_options=pcsv.ParseOptions(**pick(CSV_PARSE)),
                         convert_options=pcsv.ConvertOptions(**convert))


def _read_excel(path: Path, options: dict[str, Any]) -> Any:
    """Excel through polars' reader (fastexcel: the optional ``excel`` extra)."""
    unknown = sorted(set(options) - set(EXCEL_OPTIONS))
    if unknown:
        raise TableFileError(f"{path}: unknown Excel read option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(EXCEL_OPTIONS)}")
    try:
        import fastexcel  # noqa: F401 - polars' default Excel engine
    except ImportError:
        raise TableFileError(f"{path}: reading Excel files needs the optional reader: "
                             "pip install 'lockgate[excel]'") from None
    import polars as pl

    try:
        frame = pl.read_excel(path, **options)
    except Exception as exc:  # noqa: BLE001 - the reader's own errors, said plainly
        raise TableFileError(f"{path}: not a readable Excel file ({type(exc).__name__}: {exc})") from None
    if isinstance(frame, dict):  # several sheets
        raise TableFileError(f"{path}: several sheets were read; name one with sheet_name")
    return frame.to_arrow()


def write_table(table: Any, path: str | Path) -> Path:
    """Write by suffix (parquet, csv, arrow/feather), atomically."""
    import pyarrow as pa

    from lockgate._fs import atomic_path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise TableFileError(f"{path}: unknown table format '{suffix}'; use one of {', '.join(TABLE_SUFFIXES)}")
    if not isinstance(table, pa.Table):
        table = table.to_arrow()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            pq.write_table(table, str(tmp))
        elif suffix == ".csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, str(tmp))
        else:
            import pyarrow.feather as feather

            feather.write_feather(table, str(tmp), compression="zstd")
    return path


# -- pandas (optional: imported only when a user's code hands or asks for it) ------------

PANDAS_KIND = b"lockgate.pandas"  # schema metadata: b"frame" or b"series"


def is_pandas(value: Any) -> bool:
    """A pandas DataFrame or Series, recognised without importing pandas."""
    return type(value).__module__.startswith("pandas") and type(value).__name__ in ("DataFrame", "Series")


def from_pandas(value: Any) -> Any:
    """A pandas DataFrame or Series as a pyarrow Table, as Kedro's ParquetDataset writes it:
    the index is kept (the default 0..n-1 as metadata, any other as columns, so the digest
    sees it: another RangeIndex comes back with its values, as an integer index) and a
    Series is marked, so it comes back as a Series with its name (None included)."""
    import pyarrow as pa

    kind = b"frame"
    frame = value
    if type(value).__name__ == "Series":
        kind = b"series" if value.name is not None else b"unnamed-series"
        frame = value.to_frame(name=value.name if value.name is not None else "value")
    index = frame.index
    # the default index (0..n-1) as metadata, as pandas writes it; any other as columns, so
    # it is part of the table's digest (a RangeIndex from 5 is not the same table)
    plain = type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1 and index.name is None
    try:
        table = pa.Table.from_pandas(frame, preserve_index=None if plain else True)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise TableFileError(f"a pandas {type(value).__name__} that Arrow cannot hold: {exc}") from None
    return table.replace_schema_metadata({**(table.schema.metadata or {}), PANDAS_KIND: kind})


def came_from_pandas(table: Any) -> bool:
    return PANDAS_KIND in (getattr(table.schema, "metadata", None) or {})


def to_pandas(table: Any, want: str = "") -> Any:
    """A stored table as pandas: a DataFrame, or a Series when it was one (or ``want`` is
    "series" and it has one column besides its index)."""
    frame = table.to_pandas()
    marked = (table.schema.metadata or {}).get(PANDAS_KIND)
    if want != "frame" and (marked in (b"series", b"unnamed-series") or want == "series") and frame.shape[1] == 1:
        series = frame.iloc[:, 0]
        return series.rename(None) if marked == b"unnamed-series" else series
    return frame


def drop_pandas_index(table: Any) -> Any:
    """The table without the index columns pandas left in it (``__index_level_0__``):
    for readers that are not pandas."""
    names = [n for n in table.column_names if n.startswith("__index_level_")]
    return table.drop_columns(names) if names else table
