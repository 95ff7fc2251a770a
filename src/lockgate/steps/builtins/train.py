"""``train``: fit a scikit-learn-compatible estimator named by import path.

Categorical columns (strings, categoricals, booleans) are one-hot encoded in
a Pipeline that is saved with the model, so prediction takes the raw table.
"""

from __future__ import annotations

import importlib
from typing import Any

from lockgate.errors import StageFailed, did_you_mean
from lockgate.steps.base import ModelArtifact, StepContext, columns_or_fail, to_polars
from lockgate.steps.options import TrainOptions as Options


def import_estimator(path: str) -> type:
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise StageFailed(f"cannot import estimator '{path}': no module '{module_name}'") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        hint = did_you_mean(class_name, [n for n in dir(module) if not n.startswith("_")], qualify=f"{module_name}.")
        raise StageFailed(f"cannot import estimator '{path}': '{module_name}' has no '{class_name}'{hint}")
    if not hasattr(cls, "fit"):
        raise StageFailed(f"'{path}' is not an estimator (it has no fit method)")
    return cls


def categorical_columns(df: Any, features: list[str]) -> list[str]:
    import polars as pl

    kinds = (pl.String, pl.Categorical, pl.Enum, pl.Boolean)
    return [c for c in features if isinstance(df.schema[c], kinds) or df.schema[c] in kinds]


def build_pipeline(estimator: Any, categorical: list[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    return Pipeline([("encode", encode), ("model", estimator)])


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> ModelArtifact:
    df = to_polars(inputs["table"])
    features = options.features or [
        c for c in df.columns if c != options.target and c not in options.exclude
    ]
    columns_or_fail(df, [options.target, *features], "train")
    if not features:
        raise StageFailed("train: no feature columns left; list them under with: features")
    estimator_cls = import_estimator(options.estimator)
    try:
        estimator = estimator_cls(**options.params)
    except TypeError as exc:
        raise StageFailed(f"train: {options.estimator}: {exc}") from None
    y = df[options.target]
    if y.null_count():
        raise StageFailed(f"train: target '{options.target}' has {y.null_count()} missing values")
    X = df.select(features)
    pipeline = build_pipeline(estimator, categorical_columns(df, features))
    try:
        pipeline.fit(X, y.to_numpy())
    except ValueError as exc:
        raise StageFailed(f"train: {options.estimator} could not fit: {exc}") from None
    return ModelArtifact(pipeline, features, ctx.input_digests.get("table"))
