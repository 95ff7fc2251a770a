"""``split``: train/test at random (seeded, optionally stratified) or by time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from lockgate.errors import StageFailed
from lockgate.steps.base import StepContext, columns_or_fail, to_polars
from lockgate.steps.options import SplitOptions as Options


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> tuple[pa.Table, pa.Table]:
    table = inputs["table"]
    if options.target:  # named, so it must exist, stratified or not
        columns_or_fail(table, [options.target], "split")
    if options.time_column:
        return _by_time(table, options)
    n = table.num_rows
    if n < 2:
        raise StageFailed(f"cannot split a table of {n} row(s); it needs at least 2")
    from sklearn.model_selection import train_test_split

    stratify = None
    if options.stratify:
        columns_or_fail(table, [options.target], "split")
        stratify = table.column(options.target).to_numpy(zero_copy_only=False)
    try:
        train, test = train_test_split(
            np.arange(n), test_size=options.test_size, random_state=options.seed, stratify=stratify
        )
    except ValueError as exc:  # e.g. a class with a single row cannot be stratified
        raise StageFailed(f"split: {exc}") from None
    # sorted indices keep the table's row order inside each part
    return table.take(np.sort(train)), table.take(np.sort(test))


def _by_time(table: pa.Table, options: Options) -> tuple[pa.Table, pa.Table]:
    import polars as pl

    column = str(options.time_column)
    columns_or_fail(table, [column], "split")
    df = to_polars(table)
    dtype = df.schema[column]
    cutoff: Any = pl.lit(options.cutoff)
    if dtype.is_temporal() and isinstance(options.cutoff, str):
        cutoff = cutoff.str.to_datetime().cast(dtype)
    before = df.select(pl.col(column) < cutoff).to_series()
    train, test = df.filter(before), df.filter(~before)
    if train.height == 0 or test.height == 0:
        empty = "train" if train.height == 0 else "test"
        raise StageFailed(f"split: cutoff {options.cutoff!r} leaves {empty} empty")
    return train.to_arrow(), test.to_arrow()
