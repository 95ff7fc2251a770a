"""``explain``: what drives the model's decisions, and whether that changed.

``method: permutation`` (default) is scikit-learn's permutation importance with
the same permutations and scores (``lockgate.kernels.permutation_importance``,
scored by lockgate's metric kernels on a thread per core). ``method: shap``
is the mean |SHAP value| per feature of a tree model (the ``shap`` package,
``pip install "lockgate[explain]"``; imported only here and only then).

Keys: ``top_feature``, ``top_share`` (the top importance over the sum of the
positive ones: near 1 means one feature carries the model, a leakage alarm),
``n_features`` and one key per feature (its mean importance). With a ``current`` table the same
importances are computed there and compared as SageMaker Clarify's attribution
drift monitor does: ``ndcg`` of the current ranking against the reference
importances (below 0.9 is drift: ``attribution_drift``), ``rank_correlation``
(Spearman) and ``largest_shift`` (the largest change of a feature's share of
the importance, with ``largest_shift_feature``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lockgate.errors import StageFailed
from lockgate.steps.base import (
    StepContext,
    columns_or_fail,
    load_model_input,
    to_polars,
)
from lockgate.steps.options import ExplainOptions as Options

_RESERVED = frozenset({
    "top_feature", "top_share", "n_features", "features", "current", "ndcg", "attribution_drift",
    "rank_correlation", "largest_shift", "largest_shift_feature",
})
NDCG_DRIFT = 0.9  # SageMaker Clarify's threshold: nDCG below it is a violation


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> Any:
    model = load_model_input(inputs["model"], trust_pickle=options.trust_pickle, step="explain")
    reference = _importances(model, to_polars(inputs["table"]), options, "table")
    result: dict[str, Any] = _summary(reference)
    if inputs.get("current") is not None:
        current = _importances(model, to_polars(inputs["current"]), options, "current")
        result.update(attribution_drift(reference, current))
        result["current"] = _summary(current)
    result["features"] = _rows(reference)
    if len(ctx.stage.outputs) > 1:
        import polars as pl

        return result, pl.DataFrame(_rows(reference))
    return result


def _importances(model: Any, df: Any, options: Options, what: str) -> dict[str, tuple[float, float]]:
    """feature -> (importance mean, std) on one table."""
    from lockgate.steps.builtins.predict import features_of

    columns_or_fail(df, [options.target], f"explain ({what})")
    if df.height == 0:
        raise StageFailed(f"explain: the {what} table is empty")
    X = features_of(model, df)
    if X is df:
        X = df.drop(options.target)
    y = df[options.target].to_numpy()
    if options.method == "shap":
        return _shap(model, X, options)
    from lockgate.kernels.importance import permutation_importance

    scoring = options.scoring or ("roc_auc" if hasattr(model, "predict_proba") else "r2")
    try:
        found = permutation_importance(model, X, y, scoring=scoring, n_repeats=options.n_repeats,
                                       random_state=options.seed)
    except ValueError as exc:
        raise StageFailed(f"explain: {exc}") from None
    return {name: (float(m), float(s)) for name, m, s in
            zip(X.columns, found.importances_mean, found.importances_std, strict=True)}


def _shap(model: Any, X: Any, options: Options) -> dict[str, tuple[float, float]]:
    """Mean |SHAP| per input column of a tree model (one-hot columns summed back)."""
    try:
        import shap
    except ImportError:
        raise StageFailed('explain: method: shap needs the shap package: pip install "lockgate[explain]"') from None
    rows = X.head(options.max_rows) if options.max_rows else X
    estimator, encoded, names = _tree_and_inputs(model, rows)
    try:
        values = shap.TreeExplainer(estimator).shap_values(encoded)
    except Exception as exc:  # noqa: BLE001 - shap's own errors (a model it cannot explain)
        raise StageFailed(f"explain: shap cannot explain {type(estimator).__name__}: {exc}") from None
    values = np.asarray(values)
    if values.ndim == 3:  # (rows, features, classes): the positive class
        values = values[:, :, -1]
    per_column = np.abs(values).mean(axis=0)
    out: dict[str, float] = {}
    for name, value in zip(names, per_column, strict=True):
        out[name] = out.get(name, 0.0) + float(value)
    return {name: (value, 0.0) for name, value in out.items()}


def _tree_and_inputs(model: Any, X: Any) -> tuple[Any, Any, list[str]]:
    """The tree model and the matrix it sees; for lockgate's Pipeline (one-hot
    encoding, then the model) each encoded column is named after its source column."""
    steps = getattr(model, "named_steps", None)
    if steps and "encode" in steps and "model" in steps:
        encoder = steps["encode"]
        encoded = encoder.transform(X)
        names = [_source(name, list(X.columns)) for name in encoder.get_feature_names_out()]
        return steps["model"], np.asarray(encoded, dtype=np.float64), names
    return model, X.to_numpy(), list(X.columns)


def _source(encoded: str, columns: list[str]) -> str:
    if encoded in columns:
        return encoded
    prefixes = [c for c in columns if encoded.startswith(f"{c}_")]
    return max(prefixes, key=len) if prefixes else encoded


def _summary(importances: dict[str, tuple[float, float]]) -> dict[str, Any]:
    means = {name: mean for name, (mean, _) in importances.items()}
    top = max(means, key=lambda name: means[name])
    positive = sum(v for v in means.values() if v > 0)
    summary: dict[str, Any] = {
        "top_feature": top,
        "top_share": float(means[top] / positive) if positive > 0 else float("nan"),
        "n_features": len(means),
    }
    # each feature's importance is a key of its own (``importance.tenure_months``), unless
    # its name is one of the summary keys; the ``features`` table always holds them all
    return {**{name: value for name, value in means.items() if name not in _RESERVED}, **summary}


def _rows(importances: dict[str, tuple[float, float]]) -> list[dict[str, Any]]:
    order = sorted(importances, key=lambda name: -importances[name][0])
    return [{"feature": name, "importance_mean": importances[name][0], "importance_std": importances[name][1],
             "rank": rank} for rank, name in enumerate(order, start=1)]


def ndcg(reference: dict[str, float], current: dict[str, float]) -> float:
    """SageMaker Clarify's nDCG: the features in the current ranking's order, each
    gaining its reference attribution, discounted by log2(position + 1), over the same
    sum in the reference's own order. Negative attributions gain 0; tied current
    values share their positions' discounts (scikit-learn's ``ndcg_score``)."""
    names = list(reference)
    gains = np.array([max(reference[n], 0.0) for n in names])
    scores = np.array([current.get(n, 0.0) for n in names])
    discount = 1 / np.log2(np.arange(len(names)) + 2)
    ideal = float(np.sort(gains)[::-1] @ discount)
    if ideal == 0:
        return float("nan")
    return _tied_dcg(gains, scores, discount) / ideal


def _tied_dcg(gains: np.ndarray, scores: np.ndarray, discount: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    total, start = 0.0, 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        block = order[start:end + 1]
        total += gains[block].mean() * discount[start:end + 1].sum()
        start = end + 1
    return float(total)


def attribution_drift(reference: dict[str, tuple[float, float]],
                      current: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """nDCG, Spearman rank correlation and the largest shift in importance share."""
    ref = {name: mean for name, (mean, _) in reference.items()}
    cur = {name: current.get(name, (0.0, 0.0))[0] for name in ref}
    score = ndcg(ref, cur)
    if len(ref) > 1:
        rho = spearman(np.array(list(ref.values())), np.array(list(cur.values())))
    else:
        rho = float("nan")
    shares = {side: _shares(values) for side, values in (("ref", ref), ("cur", cur))}
    shift = {name: shares["cur"][name] - shares["ref"][name] for name in ref}
    largest = max(shift, key=lambda name: abs(shift[name]))
    return {
        "ndcg": score,
        "attribution_drift": bool(not math.isnan(score) and score < NDCG_DRIFT),
        "rank_correlation": rho,
        "largest_shift": float(abs(shift[largest])),
        "largest_shift_feature": largest,
    }


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho: Pearson's correlation of the average ranks (``scipy.stats.spearmanr``,
    NaN for a constant side without its warning)."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a), rankdata(b)  # ties share their mean rank
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb / denominator) if denominator > 0 else float("nan")


def _shares(values: dict[str, float]) -> dict[str, float]:
    positive = sum(v for v in values.values() if v > 0)
    return {n: (max(v, 0.0) / positive if positive > 0 else 0.0) for n, v in values.items()}
