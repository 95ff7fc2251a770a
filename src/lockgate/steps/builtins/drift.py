"""``drift``: reference vs current, column by column, with Evidently's default tests.

The artifact holds the summary (``share_drifted``, ``dataset_drift``,
``n_drifted``, ``n_columns``) that gates read, and every column's test,
statistic, threshold and verdict. Works on predictions too: point
``current`` at a predict stage's output and list the score column.
"""

from __future__ import annotations

from typing import Any

from lockgate.steps.base import StepContext, StepFailure
from lockgate.steps.options import DriftOptions as Options


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> dict[str, Any]:
    from lockgate.kernels import drift_table

    reference, current = inputs["reference"], inputs["current"]
    shared = [c for c in reference.column_names if c in set(current.column_names)]
    columns = options.columns or [c for c in shared if c not in options.exclude]
    for column in columns:
        for side, table in (("reference", reference), ("current", current)):
            if column not in table.column_names:
                raise StepFailure(f"drift: column '{column}' is not in the {side} table")
    try:
        result = drift_table(
            reference, current, columns, method=options.method, threshold=options.threshold,
            per_column={k: v.model_dump(exclude_none=True) for k, v in options.per_column.items()},
            drift_share=options.drift_share,
        )
    except ValueError as exc:
        raise StepFailure(f"drift: {exc}") from None
    return {
        "share_drifted": float(result.share_drifted),
        "dataset_drift": bool(result.dataset_drift),
        "n_drifted": int(result.n_drifted),
        "n_columns": int(result.table.height),
        "columns": result.table.to_dicts(),
    }
