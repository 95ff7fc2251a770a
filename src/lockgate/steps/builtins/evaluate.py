"""``evaluate``: model metrics on a labelled table, computed by lockgate's kernels.

Binary classification: roc_auc, average_precision, f1, precision, recall,
accuracy, log_loss and the confusion counts tn/fp/fn/tp. Multiclass (a
classifier with more than two classes): accuracy, log_loss, the macro / micro
/ weighted averages ``f1_macro``, ``precision_weighted``, ...; one score per
class under ``f1.<label>`` (also precision, recall), ``roc_auc_ovr``,
``roc_auc_ovr_weighted`` and ``roc_auc_ovo``, ``average_precision_macro`` /
``_micro`` / ``_weighted``, ``support.<label>`` and
``confusion.<true label>.<predicted label>``. Regression: mae, rmse, r2.
``weight_column`` weights every row (exposure, ...); ``cost: {fn: 500, fp:
20}`` adds ``expected_cost`` (total) and ``expected_cost_per_row`` (binary).

The task: ``task:`` when given; otherwise classification when the target
holds only 0 and 1, is not numeric, or holds only classes of a classifier
model (``classes_``); regression else. Binary or multiclass follows from the
classifier's classes (or the target's distinct values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lockgate.errors import StageFailed
from lockgate.steps.base import StepContext, columns_or_fail, load_model_input, to_polars
from lockgate.steps.builtins.predict import features_of, model_call, scores
from lockgate.steps.options import CLASSIFICATION_METRICS, REGRESSION_METRICS
from lockgate.steps.options import EvaluateOptions as Options

_AVERAGES = ("macro", "micro", "weighted")


def _classes_of(model: Any) -> np.ndarray | None:
    classes = getattr(model, "classes_", None)
    return None if classes is None or not hasattr(model, "predict_proba") else np.asarray(classes)


def _task(y: np.ndarray, classes: np.ndarray | None, options: Options) -> str:
    """"binary", "multiclass" or "regression" (see the module docstring)."""
    if options.task == "regression":
        return "regression"
    values = np.unique(y)
    categorical = (
        set(values.tolist()) <= {0, 1}
        or y.dtype.kind not in "iuf"
        or (classes is not None and set(values.tolist()) <= set(classes.tolist()))
    )
    if options.task != "classification" and not categorical:
        return "regression"
    n_classes = len(classes) if classes is not None else len(values)
    return "multiclass" if n_classes > 2 else "binary"


def _weights(df: Any, options: Options) -> np.ndarray | None:
    if options.weight_column is None:
        return None
    columns_or_fail(df, [options.weight_column], "evaluate: weight_column")
    weights = df[options.weight_column].to_numpy()
    if weights.dtype.kind not in "biuf" or np.isnan(weights.astype(np.float64)).any():
        raise StageFailed(f"evaluate: weight column '{options.weight_column}' must be numeric without nulls")
    return weights.astype(np.float64)


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> dict[str, Any]:
    model = load_model_input(inputs["model"], trust_pickle=options.trust_pickle, step="evaluate")
    df = to_polars(inputs["table"])
    columns_or_fail(df, [options.target], "evaluate")
    y = df[options.target].to_numpy()
    if len(y) == 0:
        raise StageFailed("evaluate: the table is empty")
    weights = _weights(df, options)
    X = features_of(model, df)
    classes = _classes_of(model)
    task = _task(y, classes, options)
    try:
        if task == "regression":
            return _regression(model, X, y, weights, options)
        if task == "multiclass":
            return _multiclass(model, X, y, classes, weights, options)
        return _binary(model, X, y, classes, weights, options)
    except ValueError as exc:
        raise StageFailed(f"evaluate: {exc}") from None


def _regression(model: Any, X: Any, y: np.ndarray, weights: np.ndarray | None, options: Options) -> dict[str, Any]:
    from lockgate import kernels

    wanted = options.metrics or list(REGRESSION_METRICS)
    predicted = model_call(model.predict, X, "evaluate").astype(np.float64)
    keywords = {} if weights is None else {"sample_weight": weights}
    return {m: float(getattr(kernels, m)(y.astype(np.float64), predicted, **keywords)) for m in wanted}


def _binary(model: Any, X: Any, y: np.ndarray, classes: np.ndarray | None, weights: np.ndarray | None,
            options: Options) -> dict[str, Any]:
    from lockgate import kernels

    score = scores(model, X, "evaluate")
    if score is None:
        raise StageFailed("evaluate: classification needs a model with predict_proba")
    if classes is not None and len(classes) == 2 and set(classes.tolist()) != {0, 1}:
        y = (y == classes[1]).astype(np.int64)  # P(classes_[1]) is the score
    else:
        y = y.astype(np.int64)
    predicted = (score >= options.threshold).astype(np.int64)
    wanted = options.metrics or list(CLASSIFICATION_METRICS)
    keywords = {} if weights is None else {"sample_weight": weights}
    result: dict[str, Any] = {}
    for metric in wanted:
        try:
            if metric in ("roc_auc", "average_precision", "log_loss"):
                result[metric] = float(getattr(kernels, metric)(y, score, **keywords))
            else:
                result[metric] = float(getattr(kernels, metric)(y, predicted, **keywords))
        except ValueError as exc:
            raise StageFailed(f"evaluate: {metric}: {exc}") from None
    confusion = kernels.confusion_matrix(y, predicted, **keywords)
    tn, fp, fn, tp = (float(v) if weights is not None else int(v) for v in confusion)
    result.update(tn=tn, fp=fp, fn=fn, tp=tp, rows=len(y))
    if options.cost is not None:
        total = fn * options.cost.fn + fp * options.cost.fp
        result.update(expected_cost=float(total), expected_cost_per_row=float(total / len(y)))
    return result


def _label(value: Any) -> str:
    """A class as a gate key: ``scores.f1.<label>`` (1.0 reads as 1)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _multiclass(model: Any, X: Any, y: np.ndarray, classes: np.ndarray | None, weights: np.ndarray | None,
                options: Options) -> dict[str, Any]:
    from lockgate import kernels

    if options.cost is not None:
        raise StageFailed("evaluate: cost (fn/fp) needs a binary target; this one has more than two classes")
    if classes is None or not hasattr(model, "predict_proba"):
        raise StageFailed("evaluate: multiclass classification needs a classifier with predict_proba and classes_")
    proba = model_call(model.predict_proba, X, "evaluate").astype(np.float64)
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise StageFailed(f"evaluate: predict_proba gave shape {proba.shape} for {len(classes)} classes")
    if y.dtype.kind in "iuf" and classes.dtype.kind in "iuf":
        y = y.astype(classes.dtype, copy=False)
    unknown = set(np.unique(y).tolist()) - set(classes.tolist())
    if unknown:
        raise StageFailed(f"evaluate: the target holds classes the model does not know: {sorted(map(str, unknown))}")
    predicted = classes[np.argmax(proba, axis=1)]
    wanted = options.metrics or list(CLASSIFICATION_METRICS)
    keywords = {} if weights is None else {"sample_weight": weights}
    names = [_label(c) for c in classes.tolist()]
    result: dict[str, Any] = {}
    for metric in wanted:
        if metric in ("f1", "precision", "recall"):
            fn = getattr(kernels, metric)
            per_class = fn(y, predicted, average=None, labels=classes, **keywords)
            result[metric] = dict(zip(names, (float(v) for v in per_class)))
            for average in _AVERAGES:
                result[f"{metric}_{average}"] = float(fn(y, predicted, average=average, labels=classes, **keywords))
        elif metric == "accuracy":
            result["accuracy"] = float(kernels.accuracy(y, predicted, labels=classes, **keywords))
        elif metric == "log_loss":
            result["log_loss"] = float(kernels.log_loss(y, proba, labels=classes, **keywords))
        elif metric == "roc_auc":
            result.update(_roc_auc(kernels, y, proba, classes, weights))
        elif metric == "average_precision":
            present = np.unique(y)
            columns = proba[:, np.searchsorted(classes, present)]
            for average in _AVERAGES:
                result[f"average_precision_{average}"] = float(
                    kernels.average_precision(y, columns, average=average, **keywords)
                )
        else:  # a regression metric asked of a classifier
            raise StageFailed(f"evaluate: {metric} is a regression metric; the target has {len(classes)} classes")
    matrix = np.asarray(kernels.confusion_matrix(y, predicted, labels=classes, **keywords))
    cast = float if weights is not None else int
    result["confusion"] = {
        names[i]: {names[j]: cast(matrix[i, j]) for j in range(len(names))} for i in range(len(names))
    }
    result["support"] = {names[i]: cast(matrix[i].sum()) for i in range(len(names))}
    result["rows"] = len(y)
    return result


def _roc_auc(kernels: Any, y: np.ndarray, proba: np.ndarray, classes: np.ndarray,
             weights: np.ndarray | None) -> dict[str, float]:
    """One-vs-rest (macro and weighted) and, unweighted only, one-vs-one (scikit-learn has no weighted ovo).

    Rows are renormalised to sum to 1 first (scikit-learn insists; float
    rounding in a model's probabilities is not a modelling choice).
    """
    import warnings

    proba = proba / proba.sum(axis=1, keepdims=True)
    keywords = {} if weights is None else {"sample_weight": weights}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class absent from the table: NaN, which fails gates
        result = {
            "roc_auc_ovr": float(kernels.roc_auc(y, proba, multi_class="ovr", labels=classes, **keywords)),
            "roc_auc_ovr_weighted": float(
                kernels.roc_auc(y, proba, multi_class="ovr", average="weighted", labels=classes, **keywords)
            ),
        }
        if weights is None:
            result["roc_auc_ovo"] = float(kernels.roc_auc(y, proba, multi_class="ovo", labels=classes))
    return result
