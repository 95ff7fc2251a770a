"""``drift``: reference vs current, column by column, with Evidently's default tests.

The artifact holds the summary (``share_drifted``, ``dataset_drift``,
``n_drifted``, ``n_columns``) that gates read, and every column's test,
statistic, threshold and verdict. Works on predictions too: point
``current`` at a predict stage's output and list the score column.

``streaming: true`` reads both sides in batches of ``batch_rows``
(``kernels.streaming``): exact for the categorical and binned tests, KS and
Wasserstein from quantile sketches with a documented error bound.
"""

from __future__ import annotations

from typing import Any

from lockgate.errors import StageFailed
from lockgate.steps.base import StepContext
from lockgate.steps.options import DriftOptions as Options


def lazy_inputs(options: Options) -> bool:
    """Streaming reads both sides itself, in batches: the runner loads neither."""
    return options.streaming


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> dict[str, Any]:
    if options.streaming:
        reference, current = (_dataset(ctx, "reference"), _dataset(ctx, "current"))
    else:
        reference, current = inputs["reference"], inputs["current"]
    names = {"reference": _names(reference), "current": _names(current)}
    shared = [c for c in names["reference"] if c in set(names["current"])]
    columns = options.columns or [c for c in shared if c not in options.exclude]
    for column in columns:
        for side in ("reference", "current"):
            if column not in names[side]:
                raise StageFailed(f"drift: column '{column}' is not in the {side} table")
    common: dict[str, Any] = {
        "method": options.method, "threshold": options.threshold, "drift_share": options.drift_share,
        "per_column": {k: v.model_dump(exclude_none=True) for k, v in options.per_column.items()},
    }
    try:
        if options.streaming:
            from lockgate.kernels.streaming import streaming_drift

            result = streaming_drift(reference, current, columns, batch_rows=options.batch_rows, **common)
        else:
            from lockgate.kernels import drift_table

            result = drift_table(reference, current, columns, **common)
    except ValueError as exc:
        raise StageFailed(f"drift: {exc}") from None
    return {
        "share_drifted": float(result.share_drifted),
        "dataset_drift": bool(result.dataset_drift),
        "n_drifted": int(result.n_drifted),
        "n_columns": int(result.table.height),
        "columns": result.table.to_dicts(),
    }


def _names(table: Any) -> list[str]:
    return list(table.column_names if hasattr(table, "column_names") else table.schema.names)


def _dataset(ctx: StepContext, arg: str) -> Any:
    """The input as a pyarrow Dataset read in batches: a Parquet/IPC path of the
    workspace, or the table's Arrow IPC object in the cache."""
    from lockgate.kernels.streaming import dataset_of

    record = ctx.input_records.get(arg, {})
    try:
        if "path" in record:
            return dataset_of(ctx.root / record["path"])
        path = ctx.object_files.get(arg)  # the table's Arrow IPC object, as the worker found it
        if path is not None and path.is_file():
            return dataset_of(path, "ipc")
    except ValueError as exc:
        raise StageFailed(f"drift: {arg}: {exc}") from None
    raise StageFailed(f"drift: streaming needs '{arg}' to be a table (a Parquet path or a table artifact)")
