"""What ``read:`` options an ``inputs:`` entry may give, for which kind of file, checked
when the spec loads (located, with the fix) instead of when a stage reads the input.

Owns the vocabulary only: the file suffixes lockgate reads as tables, each reader's
option names (pyarrow's CSV reader, polars' Excel reader), the shape of each value,
and the names Kedro users bring from pandas' ``load_args``. Must not import a
reader, pyarrow or pandas: ``lockgate validate`` runs this. ``lockgate.tables``
reads the files with these options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lockgate.errors import did_you_mean

TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".arrow", ".feather", ".ipc", ".xlsx", ".xlsm", ".xls")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")

CSV_PARSE = ("delimiter", "quote_char", "escape_char", "newlines_in_values")
CSV_READ = ("skip_rows", "column_names", "autogenerate_column_names", "encoding")
CSV_CONVERT = ("null_values", "true_values", "false_values", "column_types", "include_columns",
               "strings_can_be_null", "decimal_point")
CSV_OPTIONS = (*CSV_PARSE, *CSV_READ, *CSV_CONVERT)
EXCEL_OPTIONS = ("sheet_name", "sheet_id", "has_header", "columns")

# -- read: options, checked without importing a reader (the spec loader runs this) ------

_CHAR, _BOOL, _COUNT, _TEXT, _TEXTS, _TYPES, _SHEET, _COLUMNS = (
    "one character", "true or false", "a whole number >= 0", "a string", "a list of strings",
    "a mapping of column -> type", "a whole number >= 1", "a list of column names or numbers")
_SHAPES = {
    "delimiter": _CHAR, "quote_char": _CHAR, "escape_char": _CHAR, "decimal_point": _CHAR,
    "newlines_in_values": _BOOL, "autogenerate_column_names": _BOOL, "strings_can_be_null": _BOOL,
    "has_header": _BOOL, "skip_rows": _COUNT, "encoding": _TEXT, "sheet_name": _TEXT,
    "column_names": _TEXTS, "null_values": _TEXTS, "true_values": _TEXTS, "false_values": _TEXTS,
    "include_columns": _TEXTS, "column_types": _TYPES, "sheet_id": _SHEET, "columns": _COLUMNS,
}
COLUMN_TYPES = (  # pyarrow's type aliases (pyarrow.type_for_alias), checked when the spec loads
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
    "float32", "float64", "double", "float", "string", "str", "utf8", "large_string", "binary",
    "large_binary", "date32", "date64", "date32[day]", "date64[ms]", "time32[s]", "time32[ms]",
    "time64[us]", "time64[ns]", "timestamp[s]", "timestamp[ms]", "timestamp[us]", "timestamp[ns]",
    "duration[s]", "duration[ms]", "duration[us]", "duration[ns]", "null", "boolean", "halffloat",
    "large_str", "large_utf8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8",
)
# what Kedro users write in load_args (pandas' names) -> lockgate's, or why it has none
PANDAS_NAMES = {
    "sep": "lockgate's is 'delimiter'", "na_values": "lockgate's is 'null_values'",
    "skiprows": "lockgate's is 'skip_rows'", "dtype": "lockgate's is 'column_types'",
    "usecols": "lockgate's is 'include_columns' for CSV, 'columns' for Excel",
    "names": "lockgate's is 'column_names'", "quotechar": "lockgate's is 'quote_char'",
    "escapechar": "lockgate's is 'escape_char'", "decimal": "lockgate's is 'decimal_point'",
    "header": "lockgate's is 'has_header' for Excel; for CSV, 'column_names' or 'autogenerate_column_names'",
    "keep_default_na": "null_values add to the default null markers; 'strings_can_be_null: false' "
                       "keeps text as written",
    "engine": "lockgate reads CSV with pyarrow and Excel with fastexcel: remove it",
    "parse_dates": "ISO dates and times are read as such; else set 'column_types' (e.g. {day: date32})",
}


def table_kind(path: str | Path) -> str:
    """How lockgate reads ``path``: "csv", "excel", "parquet", "arrow", "" when its
    suffix names no table format (a folder has none)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "arrow" if suffix in (".arrow", ".feather", ".ipc") else ""


def read_option_problems(kind: str, options: Any) -> list[tuple[str | None, str]]:
    """What is wrong with ``read:`` options for a ``kind`` of file ("folder": any file
    in it), as (option or None, message); empty when nothing is. Imports nothing."""
    if not isinstance(options, dict):
        return [(None, f"read: takes a mapping of reader options, got {type(options).__name__}")]
    known = {"csv": CSV_OPTIONS, "excel": EXCEL_OPTIONS, "folder": (*CSV_OPTIONS, *EXCEL_OPTIONS)}.get(kind, ())
    what = {"csv": "CSV", "excel": "Excel", "folder": "CSV or Excel"}.get(kind, kind)
    problems: list[tuple[str | None, str]] = []
    for name, value in options.items():
        if name not in known:
            if not known:
                problems.append((str(name), f"{what} files take no read options; remove read:"))
                continue
            hint = (f" (pandas' name; {PANDAS_NAMES[name]})" if name in PANDAS_NAMES
                    else did_you_mean(str(name), known, parens=True) or f"; known: {', '.join(known)}")
            problems.append((str(name), f"unknown {what} read option '{name}'{hint}"))
            continue
        problem = _value_problem(str(name), value)
        if problem:
            problems.append((str(name), f"read option '{name}' {problem}"))
    return problems


def _value_problem(name: str, value: Any) -> str:
    shape = _SHAPES[name]
    ok = {
        _CHAR: isinstance(value, str) and len(value) == 1
        or (name in ("quote_char", "escape_char") and value is False),
        _BOOL: isinstance(value, bool),
        _COUNT: isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        _SHEET: isinstance(value, int) and not isinstance(value, bool) and value >= 1,
        _TEXT: isinstance(value, str),
        _TEXTS: isinstance(value, list) and all(isinstance(v, str) for v in value),
        _COLUMNS: isinstance(value, list) and all(isinstance(v, (str, int)) for v in value),
        _TYPES: isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
    }[shape]
    if not ok:
        got = f"{value!r}"[:40]
        extra = " (or false)" if name in ("quote_char", "escape_char") else ""
        return f"takes {shape}{extra}, got {got}"
    if name == "encoding":
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            return f"names no known encoding: {value!r} (e.g. utf-8, latin-1, cp1252)"
    if shape == _TYPES:
        for column, type_name in value.items():
            if type_name not in COLUMN_TYPES:
                hint = did_you_mean(type_name, COLUMN_TYPES) or \
                    "; use int64, float64, string, bool, date32 or timestamp[s] (pyarrow's type names)"
                return f"gives column '{column}' the type '{type_name}', which is not one{hint}"
    return ""
