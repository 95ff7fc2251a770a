"""``predict``: a model and a table -> the table with prediction (and score) columns."""

from __future__ import annotations

from typing import Any

import numpy as np

from lockgate.errors import StageFailed
from lockgate.steps.base import StepContext, columns_or_fail, load_model_input, to_polars
from lockgate.steps.options import PredictOptions as Options


def features_of(model: Any, df: Any) -> Any:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return df
    names = [str(n) for n in names]
    columns_or_fail(df, names, "the model's features")
    return df.select(names)


def model_call(method: Any, X: Any, step: str) -> np.ndarray:
    """``method(X)`` (predict, predict_proba); the model's own error (a string in a numeric
    column, a null it cannot take) becomes a StageFailed naming the likely columns."""
    try:
        return np.asarray(method(X))
    except StageFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - any estimator's own error, reported as is
        schema = getattr(X, "schema", {})
        text = [c for c, t in schema.items() if str(t) in ("String", "Utf8") or str(t).startswith("Categorical")]
        nulls = [c for c in getattr(X, "columns", []) if X[c].null_count()]
        hints = []
        if text:
            hints.append(f"text columns: {', '.join(text)}")
        if nulls:
            hints.append(f"columns with nulls: {', '.join(nulls)}")
        where = f" ({'; '.join(hints)})" if hints else ""
        raise StageFailed(f"{step}: the model's {method.__name__} failed on the table{where}: "
                          f"{type(exc).__name__}: {exc}") from None


def scores(model: Any, X: Any, step: str = "predict") -> np.ndarray | None:
    """P(class 1) for a binary classifier; None for a regressor."""
    if hasattr(model, "predict_proba"):
        proba = model_call(model.predict_proba, X, step)
        if proba.ndim == 2 and proba.shape[1] == 2:
            return proba[:, 1]
        if proba.ndim == 2 and proba.shape[1] == 1:
            return proba[:, 0]
        raise StageFailed("only binary classifiers and regressors are supported")
    return None


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> Any:
    import polars as pl

    model = load_model_input(inputs["model"], trust_pickle=options.trust_pickle, step="predict")
    df = to_polars(inputs["table"])
    X = features_of(model, df)
    score = scores(model, X)
    if score is not None:
        prediction = (score >= options.threshold).astype(np.int64)
        return df.with_columns(
            pl.Series(options.score_column, score), pl.Series(options.prediction_column, prediction)
        )
    return df.with_columns(pl.Series(options.prediction_column, model_call(model.predict, X, "predict")))
