"""Permutation importance equal to scikit-learn's, scored by lockgate's metric kernels.

``permutation_importance(estimator, X, y, scoring=..., n_repeats=5,
random_state=...)`` has ``sklearn.inspection.permutation_importance``'s
signature and result fields, and the same numbers for the same
``random_state``: scikit-learn draws one seed from ``random_state``, and every
column starts a fresh ``RandomState(seed)`` that shuffles one index array in
place once per repeat, each shuffle applied to the column as already permuted.
So every column sees the same sequence of permutations; here they are drawn
once and composed (``p_r = p_{r-1}[s_r]``) instead of once per column.

Why it is faster: the model is called as often as scikit-learn calls it (that
is the floor), but scores come from the numba kernels instead of
``sklearn.metrics``, the table is not copied per column, and columns are scored
on a pool of threads (one per core): scikit-learn's trees, linear models and
NumPy release the GIL while they predict.

Scoring names are scikit-learn's scorer names for binary classification
(``roc_auc``, ``average_precision``, ``neg_log_loss``, ``accuracy``, ``f1``,
``precision``, ``recall``) and regression (``r2``,
``neg_mean_absolute_error``, ``neg_root_mean_squared_error``), or lockgate's
metric names (``log_loss``, ``mae``, ``rmse``: scored negated, as scikit-learn
does); None is the estimator's own ``score`` (accuracy or R²). Ranking scorers
read ``decision_function`` when the model has one, else ``predict_proba``, as
scikit-learn's scorers do.

Imports nothing from the rest of lockgate; the estimator is whatever object is
passed (duck-typed), and tables may be NumPy, pandas or polars.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SCORERS", "Importances", "permutation_importance"]


@dataclass(frozen=True)
class _Scorer:
    metric: str
    response: str  # "proba" | "ranking" (decision_function, else proba) | "predict"
    sign: float


SCORERS: dict[str, _Scorer] = {
    "roc_auc": _Scorer("roc_auc", "ranking", 1.0),
    "average_precision": _Scorer("average_precision", "ranking", 1.0),
    "neg_log_loss": _Scorer("log_loss", "proba", -1.0),
    "log_loss": _Scorer("log_loss", "proba", -1.0),
    "accuracy": _Scorer("accuracy", "predict", 1.0),
    "f1": _Scorer("f1", "predict", 1.0),
    "precision": _Scorer("precision", "predict", 1.0),
    "recall": _Scorer("recall", "predict", 1.0),
    "r2": _Scorer("r2", "predict", 1.0),
    "neg_mean_absolute_error": _Scorer("mae", "predict", -1.0),
    "mae": _Scorer("mae", "predict", -1.0),
    "neg_root_mean_squared_error": _Scorer("rmse", "predict", -1.0),
    "rmse": _Scorer("rmse", "predict", -1.0),
}
"""Scorer name -> (lockgate metric, what the model is asked for, sign)."""


@dataclass(frozen=True)
class Importances:
    """scikit-learn's ``Bunch`` fields: mean and std of the score drop over repeats
    per feature, and the raw drops, shape (n_features, n_repeats)."""

    importances_mean: np.ndarray
    importances_std: np.ndarray
    importances: np.ndarray
    baseline_score: float

    def __getitem__(self, key: str) -> Any:  # Bunch-style access, as scikit-learn's result allows
        return getattr(self, key)


def _scorer_for(estimator: Any, scoring: str | None) -> _Scorer:
    if scoring is None:
        is_regressor = getattr(estimator, "_estimator_type", None) == "regressor" or (
            not hasattr(estimator, "predict_proba") and not hasattr(estimator, "classes_"))
        return SCORERS["r2" if is_regressor else "accuracy"]
    if not isinstance(scoring, str) or scoring not in SCORERS:
        raise ValueError(f"scoring must be one of {', '.join(sorted(SCORERS))} or None, got {scoring!r}")
    return SCORERS[scoring]


def _score(scorer: _Scorer, estimator: Any, X: Any, y: np.ndarray) -> float:
    from lockgate.kernels import metrics as kernels

    if scorer.response == "predict":
        predicted = np.asarray(estimator.predict(X))
        if scorer.metric in ("r2", "mae", "rmse"):
            predicted = predicted.astype(np.float64)
            truth = y.astype(np.float64)
        else:
            truth = y
        return scorer.sign * float(getattr(kernels, scorer.metric)(truth, predicted))
    if scorer.response == "ranking" and hasattr(estimator, "decision_function"):
        values = np.asarray(estimator.decision_function(X), dtype=np.float64)
    else:
        proba = np.asarray(estimator.predict_proba(X))
        if proba.ndim != 2 or proba.shape[1] != 2:
            raise ValueError(f"{scorer.metric} scoring needs a binary classifier (predict_proba with 2 columns)")
        values = proba[:, 1]
    return scorer.sign * float(getattr(kernels, scorer.metric)(y, values))


def _permutations(random_state: Any, n_rows: int, n_repeats: int) -> list[np.ndarray]:
    """The row order of the permuted column after each repeat, as scikit-learn makes it."""
    state = random_state if isinstance(random_state, np.random.RandomState) else np.random.RandomState(random_state)
    seed = state.randint(np.iinfo(np.int32).max + 1)
    column_state = np.random.RandomState(seed)  # every column starts from this same state
    shuffling = np.arange(n_rows)
    orders: list[np.ndarray] = []
    current = np.arange(n_rows)
    for _ in range(n_repeats):
        column_state.shuffle(shuffling)
        current = current[shuffling]  # the column is permuted again, as already permuted
        orders.append(current)
    return orders


class _Table:
    """Column access for NumPy arrays, pandas and polars DataFrames: the table with one
    column replaced by a reordering of itself, never copying the rest."""

    def __init__(self, X: Any) -> None:
        self.X = X
        module = type(X).__module__
        self.kind = "polars" if module.startswith("polars") else "pandas" if module.startswith("pandas") else "numpy"
        if self.kind == "numpy":
            self.X = np.asarray(X)
            if self.X.ndim != 2:
                raise ValueError(f"X must be two-dimensional, got shape {self.X.shape}")
        self.n_rows, self.n_columns = self.X.shape

    def with_column_reordered(self, column: int, order: np.ndarray) -> Any:
        if self.kind == "numpy":
            out = self.X.copy()
            out[:, column] = self.X[order, column]
            return out
        if self.kind == "pandas":
            out = self.X.copy(deep=False)
            name = self.X.columns[column]
            out[name] = self.X[name].to_numpy()[order]
            return out
        name = self.X.columns[column]
        return self.X.with_columns(self.X.get_column(name).gather(order))


def permutation_importance(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    scoring: str | None = None,
    n_repeats: int = 5,
    n_jobs: int | None = None,
    random_state: Any = None,
    sample_weight: Any = None,
    max_samples: float = 1.0,
) -> Importances:
    """``sklearn.inspection.permutation_importance`` with the same permutations and
    scores, computed with lockgate's metric kernels on a thread per core.

    ``n_jobs`` is the number of threads (default: the cores this process may use).
    ``sample_weight`` and ``max_samples`` below 1 are not supported (a ValueError
    says so) rather than approximated.
    """
    if sample_weight is not None:
        raise ValueError("sample_weight is not supported by lockgate's permutation_importance")
    if max_samples not in (1, 1.0):
        raise ValueError("max_samples below 1.0 is not supported by lockgate's permutation_importance")
    if not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise ValueError(f"n_repeats must be an integer >= 1, got {n_repeats!r}")
    table = _Table(X)
    truth = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if len(truth) != table.n_rows:
        raise ValueError(f"X has {table.n_rows} rows, y has {len(truth)}")
    scorer = _scorer_for(estimator, scoring)
    baseline = _score(scorer, estimator, table.X, truth)
    orders = _permutations(random_state, table.n_rows, n_repeats)

    def column_scores(column: int) -> list[float]:
        return [_score(scorer, estimator, table.with_column_reordered(column, order), truth) for order in orders]

    scores = _map(column_scores, range(table.n_columns), n_jobs)
    drops = baseline - np.array(scores, dtype=np.float64).reshape(table.n_columns, n_repeats)
    return Importances(np.mean(drops, axis=1), np.std(drops, axis=1), drops, baseline)


def _map(work: Callable[[int], list[float]], columns: range, n_jobs: int | None) -> list[list[float]]:
    workers = n_jobs if n_jobs and n_jobs > 0 else _cpus()
    if workers <= 1 or len(columns) <= 1:
        return [work(c) for c in columns]
    with ThreadPoolExecutor(max_workers=min(workers, len(columns)), thread_name_prefix="lockgate-importance") as pool:
        return list(pool.map(work, columns))


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
