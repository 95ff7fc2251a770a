"""Sample weights (issue 21): every metric kernel equals scikit-learn with the same weights,
zero weights and all the weight on one row included; Wasserstein equals SciPy's with weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import metrics as sk

from lockgate import kernels as lg

RTOL = 1e-9


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _close(ours, ref, rtol=RTOL) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(ref, dtype=float), rtol=rtol, atol=0,
                               equal_nan=True)


def weight_sets(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Random, integer, some zeros, and all the weight on one row."""
    some_zero = rng.random(n)
    some_zero[rng.random(n) < 0.5] = 0
    some_zero[0] = 0.7
    one_row = np.zeros(n)
    one_row[n // 2] = 3.0
    return {
        "random": rng.random(n) * 10,
        "integer": rng.integers(0, 4, n).clip(1 if n == 1 else 0) + (np.arange(n) == 0),
        "some_zero": some_zero,
        "one_row": one_row,
    }


# ---------------------------------------------------------------- counting


@pytest.mark.parametrize("n", [1, 9, 400])
def test_counting_metrics_with_weights(n) -> None:
    rng = np.random.default_rng(n)
    t = rng.integers(0, 2, n)
    p = rng.integers(0, 2, n)
    for name, w in weight_sets(rng, n).items():
        c = lg.confusion_matrix(t, p, sample_weight=w)
        _close(tuple(c), sk.confusion_matrix(t, p, labels=[0, 1], sample_weight=w).ravel())
        for ours, ref in ((lg.precision, sk.precision_score), (lg.recall, sk.recall_score), (lg.f1, sk.f1_score)):
            _close(ours(t, p, sample_weight=w), _quiet(ref, t, p, sample_weight=w, zero_division=0))
        for normalize in (True, False):
            _close(lg.accuracy(t, p, sample_weight=w, normalize=normalize),
                   sk.accuracy_score(t, p, sample_weight=w, normalize=normalize))
        k3_t, k3_p = t + (rng.random(n) < 0.3), p * 2
        for average in (None, "micro", "macro", "weighted"):
            _close(lg.f1(k3_t, k3_p, average=average, sample_weight=w),
                   _quiet(sk.f1_score, k3_t, k3_p, average=average, sample_weight=w, zero_division=0))
        for normalize in (None, "true", "pred", "all"):
            ours = lg.confusion_matrix(k3_t, k3_p, labels=[0, 1, 2, 3], sample_weight=w, normalize=normalize)
            ref = sk.confusion_matrix(k3_t, k3_p, labels=[0, 1, 2, 3], sample_weight=w, normalize=normalize)
            assert ours.dtype == ref.dtype, name
            _close(ours, ref)


def test_bad_weights_are_errors() -> None:
    for w, message in (([1, -1, 1], "negative"), ([1, np.nan, 1], "NaN"), ([0, 0, 0], "at least one non-zero"),
                       ([1, 1], "3 rows")):
        for fn in (lg.f1, lg.mae):
            with pytest.raises(ValueError, match=message):
                fn([0, 1, 1], [0, 1, 0], sample_weight=w)


# ---------------------------------------------------------------- ranking


@pytest.mark.parametrize("decimals", [1, 3, None])
def test_ranking_metrics_with_weights(decimals) -> None:
    rng = np.random.default_rng(decimals or 99)
    n = 500
    y = (rng.random(n) < 0.3).astype(int)
    s = rng.random(n) + 0.2 * y
    if decimals is not None:
        s = np.round(s, decimals)  # ties
    for name, w in weight_sets(rng, n).items():
        if name == "one_row":  # one class with no weight: undefined (we raise, scikit-learn gives NaN)
            with pytest.raises(ValueError, match="no sample weight"):
                lg.roc_auc(y, s, sample_weight=w)
            w = np.zeros(n)  # all the weight on one row of each class
            w[np.flatnonzero(y == 1)[0]] = 2.0
            w[np.flatnonzero(y == 0)[-1]] = 3.0
        _close(lg.roc_auc(y, s, sample_weight=w), sk.roc_auc_score(y, s, sample_weight=w))
        _close(lg.average_precision(y, s, sample_weight=w), sk.average_precision_score(y, s, sample_weight=w))
        for max_fpr in (0.1, 0.5):
            _close(lg.roc_auc(y, s, sample_weight=w, max_fpr=max_fpr),
                   sk.roc_auc_score(y, s, sample_weight=w, max_fpr=max_fpr))


@pytest.mark.parametrize("n", [70_000, 300_000])  # classes on two threads; halves merged
def test_weighted_ranking_on_float32_and_infinite_scores_and_the_two_threads(n) -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(n) < 0.4).astype(np.int8)
    s = (rng.random(n) + 0.1 * y).astype(np.float32)
    w = rng.random(n)
    _close(lg.roc_auc(y, s, sample_weight=w), sk.roc_auc_score(y, s, sample_weight=w))
    _close(lg.average_precision(y, s, sample_weight=w), sk.average_precision_score(y, s, sample_weight=w), 1e-8)
    # infinities are ranked (scikit-learn refuses them): equal to the same order with finite stand-ins
    s64 = s.astype(np.float64)
    s64[:10] = np.inf
    s64[10:20] = -np.inf
    finite = np.where(np.isposinf(s64), 10.0, np.where(np.isneginf(s64), -10.0, s64))
    _close(lg.roc_auc(y, s64, sample_weight=w), sk.roc_auc_score(y, finite, sample_weight=w))


def test_multiclass_ranking_with_weights() -> None:
    rng = np.random.default_rng(11)
    t = rng.integers(0, 4, 200)
    P = rng.random((200, 4))
    P /= P.sum(axis=1, keepdims=True)
    for w in weight_sets(rng, 200).values():
        if w.astype(bool).sum() < 5:
            continue
        for average in ("macro", "weighted", "micro"):
            _close(_quiet(lg.roc_auc, t, P, multi_class="ovr", average=average, sample_weight=w),
                   _quiet(sk.roc_auc_score, t, P, multi_class="ovr", average=average, sample_weight=w))
            _close(lg.average_precision(t, P, average=average, sample_weight=w),
                   _quiet(sk.average_precision_score, t, P, average=average, sample_weight=w))


# ---------------------------------------------------------------- log loss and regression


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_log_loss_with_weights_matches_sklearn_to_the_bit(dtype) -> None:
    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 300)
    y[:2] = [0, 1]
    p = rng.random(300).astype(dtype)
    p[2:6] = [0, 1, 1, 0]
    P = rng.random((300, 3)).astype(dtype)
    P /= P.sum(axis=1, keepdims=True)
    t3 = rng.integers(0, 3, 300)
    t3[:3] = [0, 1, 2]
    for w in weight_sets(rng, 300).values():
        assert lg.log_loss(y, p, sample_weight=w) == _quiet(sk.log_loss, y, p, sample_weight=w)
        assert lg.log_loss(t3, P, sample_weight=w) == _quiet(sk.log_loss, t3, P, sample_weight=w)


@pytest.mark.parametrize("n", [1, 2, 5000])
def test_regression_metrics_with_weights(n) -> None:
    rng = np.random.default_rng(n)
    t = rng.normal(size=n) * 100
    cases = {"noisy": t + rng.normal(size=n), "exact": t.copy()}
    for p in cases.values():
        for w in weight_sets(rng, n).values():
            if not w.any():
                continue
            _close(lg.mae(t, p, sample_weight=w), sk.mean_absolute_error(t, p, sample_weight=w))
            _close(lg.rmse(t, p, sample_weight=w), sk.root_mean_squared_error(t, p, sample_weight=w))
            _close(_quiet(lg.r2, t, p, sample_weight=w), _quiet(sk.r2_score, t, p, sample_weight=w))
    constant = np.full(max(n, 2), 4.0)
    w = np.ones(constant.size)
    _close(lg.r2(constant, constant + 1, sample_weight=w), sk.r2_score(constant, constant + 1, sample_weight=w))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(2, 60).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.int64, n, elements=st.integers(0, 1)),
            hnp.arrays(np.float64, n, elements=st.integers(-3, 3).map(float)),
            hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 1e-3])),
        )
    ).filter(lambda c: c[2][c[0] == 1].sum() > 0 and c[2][c[0] == 0].sum() > 0)
)
def test_weighted_ranking_property(case) -> None:
    y, s, w = case
    _close(lg.roc_auc(y, s, sample_weight=w), sk.roc_auc_score(y, s, sample_weight=w))
    _close(lg.average_precision(y, s, sample_weight=w), sk.average_precision_score(y, s, sample_weight=w))


# ---------------------------------------------------------------- Wasserstein


def test_wasserstein_with_weights_matches_scipy() -> None:
    rng = np.random.default_rng(13)
    for n1, n2 in ((1, 1), (5, 9), (300, 200)):
        a = np.round(rng.normal(size=n1), 1)
        b = np.round(rng.normal(0.5, size=n2), 1)
        u_sets, v_sets = weight_sets(rng, n1), weight_sets(rng, n2)
        for name in u_sets:
            u, v = u_sets[name], v_sets[name]
            if not (u.any() and v.any()):
                continue
            _close(lg.wasserstein(a, b, u_weights=u, v_weights=v), scipy.stats.wasserstein_distance(a, b, u, v))
            _close(lg.wasserstein(a, b, v_weights=v), scipy.stats.wasserstein_distance(a, b, None, v))
    with pytest.raises(ValueError, match="non-negative"):
        lg.wasserstein([1, 2], [3], u_weights=[1, -1])
    with pytest.raises(ValueError, match="sum must be positive"):
        lg.wasserstein([1, 2], [3], u_weights=[0, 0])


def test_wasserstein_drops_nan_with_its_weight() -> None:
    a, u = np.array([1.0, np.nan, 3.0]), np.array([1.0, 5.0, 2.0])
    _close(lg.wasserstein(a, [2.0], u_weights=u), scipy.stats.wasserstein_distance([1.0, 3.0], [2.0], [1.0, 2.0]))
