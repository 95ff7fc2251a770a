"""Reading and writing table files: parquet, csv, arrow/feather; a folder is one table.

Used for ``inputs:`` paths, ``lockgate export`` and ``lockgate drift``. pyarrow
is imported inside the functions so importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".arrow", ".feather", ".ipc", ".xlsx", ".xlsm", ".xls")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")


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
    ``column_types``...; an Excel file's ``sheet_name``)."""
    import pyarrow as pa

    files = table_files(Path(path))
    tables = [_read_one(f, options or {}) for f in files]
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TableFileError(f"{path}: the files in this folder have different columns: {exc}") from None


CSV_PARSE = ("delimiter", "quote_char", "escape_char", "newlines_in_values")
CSV_READ = ("skip_rows", "column_names", "autogenerate_column_names", "encoding")
CSV_CONVERT = ("null_values", "true_values", "false_values", "column_types", "include_columns",
               "strings_can_be_null", "decimal_point")
CSV_OPTIONS = (*CSV_PARSE, *CSV_READ, *CSV_CONVERT)
EXCEL_OPTIONS = ("sheet_name", "sheet_id", "has_header", "columns")


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
    if "column_types" in convert:
        convert["column_types"] = {k: pa.type_for_alias(str(v)) for k, v in convert["column_types"].items()}
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
    import os
    import tempfile

    import pyarrow as pa

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise TableFileError(f"{path}: unknown table format '{suffix}'; use one of {', '.join(TABLE_SUFFIXES)}")
    if not isinstance(table, pa.Table):
        table = table.to_arrow()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        elif suffix == ".csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, tmp)
        else:
            import pyarrow.feather as feather

            feather.write_feather(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -- pandas (optional: imported only when a user's code hands or asks for it) ------------

PANDAS_KIND = b"lockgate.pandas"  # schema metadata: b"frame" or b"series"


def is_pandas(value: Any) -> bool:
    """A pandas DataFrame or Series, recognised without importing pandas."""
    return type(value).__module__.startswith("pandas") and type(value).__name__ in ("DataFrame", "Series")


def from_pandas(value: Any) -> Any:
    """A pandas DataFrame or Series as a pyarrow Table, as Kedro's ParquetDataset writes it:
    the index is kept (a RangeIndex as metadata, any other as columns) and a Series is
    marked, so it comes back as a Series with its name."""
    import pyarrow as pa

    kind = b"series" if type(value).__name__ == "Series" else b"frame"
    frame = value.to_frame(name=value.name if value.name is not None else "value") if kind == b"series" else value
    try:
        table = pa.Table.from_pandas(frame, preserve_index=None)
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
    if want != "frame" and (marked == b"series" or want == "series") and frame.shape[1] == 1:
        return frame.iloc[:, 0]
    return frame


def drop_pandas_index(table: Any) -> Any:
    """The table without the index columns pandas left in it (``__index_level_0__``):
    for readers that are not pandas."""
    names = [n for n in table.column_names if n.startswith("__index_level_")]
    return table.drop_columns(names) if names else table
