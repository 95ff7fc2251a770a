"""``predict``: a model and a table -> the table with prediction (and score) columns."""

from __future__ import annotations

from typing import Any

import numpy as np

from lockgate.steps.base import StepContext, StepFailure, columns_or_fail, to_polars
from lockgate.steps.options import PredictOptions as Options


def features_of(model: Any, df: Any) -> Any:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return df
    names = [str(n) for n in names]
    columns_or_fail(df, names, "the model's features")
    return df.select(names)


def scores(model: Any, X: Any) -> np.ndarray | None:
    """P(class 1) for a binary classifier; None for a regressor."""
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X))
        if proba.ndim == 2 and proba.shape[1] == 2:
            return proba[:, 1]
        if proba.ndim == 2 and proba.shape[1] == 1:
            return proba[:, 0]
        raise StepFailure("only binary classifiers and regressors are supported")
    return None


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> Any:
    import polars as pl

    model = inputs["model"]
    df = to_polars(inputs["table"])
    X = features_of(model, df)
    score = scores(model, X)
    if score is not None:
        prediction = (score >= options.threshold).astype(np.int64)
        return df.with_columns(
            pl.Series(options.score_column, score), pl.Series(options.prediction_column, prediction)
        )
    return df.with_columns(pl.Series(options.prediction_column, np.asarray(model.predict(X))))
