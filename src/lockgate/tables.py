"""Reading and writing table files: parquet, csv, arrow/feather; a folder is one table.

Used for ``inputs:`` paths, ``lockgate export`` and ``lockgate drift``. pyarrow
is imported inside the functions so importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".arrow", ".feather", ".ipc")


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


def read_table(path: str | Path) -> Any:
    """One pyarrow Table from a file or a folder of files (concatenated in path order)."""
    import pyarrow as pa

    files = table_files(Path(path))
    tables = [_read_one(f) for f in files]
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TableFileError(f"{path}: the files in this folder have different columns: {exc}") from None


def _read_one(path: Path) -> Any:
    import pyarrow as pa

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix == ".csv":
            import pyarrow.csv as pcsv

            return pcsv.read_csv(path)
        if suffix in (".arrow", ".feather", ".ipc"):
            import pyarrow.feather as feather

            return feather.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise TableFileError(f"{path}: not a readable {suffix[1:]} file ({exc})") from None
    raise TableFileError(
        f"{path}: unknown table format '{suffix}'; use one of {', '.join(TABLE_SUFFIXES)}"
    )


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
