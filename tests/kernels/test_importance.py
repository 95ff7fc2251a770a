"""Permutation importance equals scikit-learn's for the same random_state: the same
permutations, the same scores, for several estimators, scorers and table kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.inspection import permutation_importance as sklearn_importance
from sklearn.linear_model import LogisticRegression, Ridge

from lockgate.kernels import permutation_importance

RTOL = 1e-9


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=600) > 0).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3))
    return X, 2 * X[:, 0] - X[:, 2] + rng.normal(size=500)


def assert_same(ours, theirs):
    np.testing.assert_allclose(ours.importances, theirs.importances, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(ours.importances_mean, theirs.importances_mean, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(ours.importances_std, theirs.importances_std, rtol=RTOL, atol=1e-12)


CLASSIFIERS = [
    RandomForestClassifier(n_estimators=15, max_depth=4, random_state=0),
    LogisticRegression(),  # has decision_function: ranking scorers read it, as scikit-learn's do
]


@pytest.mark.parametrize("estimator", CLASSIFIERS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("scoring", [None, "roc_auc", "average_precision", "neg_log_loss", "accuracy", "f1",
                                     "precision", "recall"])
def test_classifiers_and_scorers(binary, estimator, scoring):
    X, y = binary
    model = estimator.fit(X, y)
    theirs = sklearn_importance(model, X, y, scoring=scoring, n_repeats=3, random_state=11)
    assert_same(permutation_importance(model, X, y, scoring=scoring, n_repeats=3, random_state=11), theirs)


@pytest.mark.parametrize("estimator", [RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0), Ridge()],
                         ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("scoring", [None, "r2", "neg_mean_absolute_error", "neg_root_mean_squared_error"])
def test_regressors_and_scorers(regression, estimator, scoring):
    X, y = regression
    model = estimator.fit(X, y)
    theirs = sklearn_importance(model, X, y, scoring=scoring, n_repeats=2, random_state=5)
    assert_same(permutation_importance(model, X, y, scoring=scoring, n_repeats=2, random_state=5), theirs)


def test_dataframes_and_a_random_state_object(binary):
    X, y = binary
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0).fit(frame, y)
    theirs = sklearn_importance(model, frame, y, scoring="roc_auc", n_repeats=4,
                                random_state=np.random.RandomState(3))
    assert_same(permutation_importance(model, frame, y, scoring="roc_auc", n_repeats=4,
                                       random_state=np.random.RandomState(3)), theirs)
    # the same model on a polars frame (lockgate's tables) sees the same permutations
    assert_same(permutation_importance(model, pl.from_pandas(frame), y, scoring="roc_auc", n_repeats=4,
                                       random_state=np.random.RandomState(3)), theirs)


def test_threads_do_not_change_the_result(binary):
    X, y = binary
    model = LogisticRegression().fit(X, y)
    one = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=2, random_state=1, n_jobs=1)
    two = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=2, random_state=1, n_jobs=2)
    assert np.array_equal(one.importances, two.importances)


def test_unsupported_options_say_so(binary):
    X, y = binary
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="scoring must be one of"):
        permutation_importance(model, X, y, scoring="balanced_accuracy")
    with pytest.raises(ValueError, match="max_samples"):
        permutation_importance(model, X, y, max_samples=0.5)
    with pytest.raises(ValueError, match="sample_weight"):
        permutation_importance(model, X, y, sample_weight=np.ones(len(y)))
