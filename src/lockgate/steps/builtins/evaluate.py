"""``evaluate``: model metrics on a labelled table, computed by lockgate's kernels.

Classification: roc_auc, average_precision, f1, precision, recall, accuracy,
log_loss and the confusion counts tn/fp/fn/tp; regression: mae, rmse, r2.
``cost: {fn: 500, fp: 20}`` adds ``expected_cost`` (total) and
``expected_cost_per_row``: what the model's errors cost on this table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lockgate.errors import StageFailed
from lockgate.steps.base import StepContext, columns_or_fail, load_model_input, to_polars
from lockgate.steps.builtins.predict import features_of, model_call, scores
from lockgate.steps.options import CLASSIFICATION_METRICS, REGRESSION_METRICS
from lockgate.steps.options import EvaluateOptions as Options


def _task(y: np.ndarray, options: Options) -> str:
    if options.task:
        return options.task
    values = np.unique(y)
    return "classification" if set(values.tolist()) <= {0, 1} else "regression"


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> dict[str, float]:
    from lockgate import kernels

    model = load_model_input(inputs["model"], trust_pickle=options.trust_pickle, step="evaluate")
    df = to_polars(inputs["table"])
    columns_or_fail(df, [options.target], "evaluate")
    y = df[options.target].to_numpy()
    if len(y) == 0:
        raise StageFailed("evaluate: the table is empty")
    X = features_of(model, df)
    task = _task(y, options)
    if task == "regression":
        wanted = options.metrics or list(REGRESSION_METRICS)
        predicted = model_call(model.predict, X, "evaluate").astype(np.float64)
        return {m: float(getattr(kernels, m)(y.astype(np.float64), predicted)) for m in wanted}
    score = scores(model, X, "evaluate")
    if score is None:
        raise StageFailed("evaluate: classification needs a model with predict_proba")
    y = y.astype(np.int64)
    predicted = (score >= options.threshold).astype(np.int64)
    wanted = options.metrics or list(CLASSIFICATION_METRICS)
    result: dict[str, float] = {}
    for metric in wanted:
        try:
            if metric in ("roc_auc", "average_precision", "log_loss"):
                result[metric] = float(getattr(kernels, metric)(y, score))
            else:
                result[metric] = float(getattr(kernels, metric)(y, predicted))
        except ValueError as exc:
            raise StageFailed(f"evaluate: {metric}: {exc}") from None
    tn, fp, fn, tp = (int(v) for v in kernels.confusion_matrix(y, predicted))
    result.update(tn=tn, fp=fp, fn=fn, tp=tp, rows=len(y))
    if options.cost is not None:
        total = fn * options.cost.fn + fp * options.cost.fp
        result.update(expected_cost=float(total), expected_cost_per_row=float(total / len(y)))
    return result
