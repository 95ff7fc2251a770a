"""``validate``: declarative data checks. Any violation fails the stage, and the
message lists every violation with its count (not just the first)."""

from __future__ import annotations

from typing import Any

from lockgate.errors import StageFailed
from lockgate.steps.base import StepContext, to_polars
from lockgate.steps.options import ValidateOptions as Options

_TYPES = {
    "int": lambda d: d.is_integer(),
    "float": lambda d: d.is_float(),
    "number": lambda d: d.is_numeric(),
    "string": lambda d: d.is_(__import__("polars").String) or str(d).startswith(("Categorical", "Enum")),
    "bool": lambda d: str(d) == "Boolean",
    "date": lambda d: str(d) == "Date",
    "datetime": lambda d: str(d).startswith("Datetime"),
    "any": lambda d: True,
}


def violations(df: Any, options: Options) -> list[str]:
    import polars as pl

    found: list[str] = []
    if df.height < options.min_rows:
        found.append(f"{df.height} rows, needs at least {options.min_rows}")
    named = set(options.columns) | set(options.not_null) | set(options.ranges) | set(options.allowed) | set(options.unique)
    missing = sorted(c for c in named if c not in df.columns)
    found += [f"column '{c}' is missing" for c in missing]
    present = lambda c: c not in missing  # noqa: E731
    for column, kind in options.columns.items():
        if present(column) and not _TYPES[kind](df.schema[column]):
            found.append(f"column '{column}' is {df.schema[column]}, expected {kind}")
    for column in filter(present, options.not_null):
        values = df[column]
        nulls = values.null_count()
        nans = int(values.is_nan().sum()) if options.nan_is_null and values.dtype.is_float() else 0
        if nulls or nans:
            what = " and ".join(f"{n} {w}" for n, w in ((nulls, "null"), (nans, "NaN")) if n)
            found.append(f"column '{column}': {what} values")
    for column, bounds in options.ranges.items():
        if not present(column):
            continue
        values = df[column]
        if bounds.min is not None and (low := int((values < bounds.min).sum())):
            found.append(f"column '{column}': {low} values below {bounds.min}")
        if bounds.max is not None and (high := int((values > bounds.max).sum())):
            found.append(f"column '{column}': {high} values above {bounds.max}")
    for column, allowed in options.allowed.items():
        if present(column):
            bad = df.filter(~pl.col(column).is_in(allowed) & pl.col(column).is_not_null())
            if bad.height:
                sample = ", ".join(map(repr, bad[column].unique().sort().head(3).to_list()))
                found.append(f"column '{column}': {bad.height} values not allowed (e.g. {sample})")
    for column in filter(present, options.unique):
        dupes = df.height - df[column].n_unique()
        if dupes:
            found.append(f"column '{column}': {dupes} duplicate values")
    return found


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> dict[str, Any] | None:
    df = to_polars(inputs["table"])
    found = violations(df, options)
    if found:
        raise StageFailed(f"validate: {len(found)} violation(s): " + "; ".join(found))
    if ctx.stage.outputs:
        return {"rows": df.height, "columns": df.width, "violations": 0}
    return None
