"""Bucketed KS and Wasserstein (``_buckets.py``) against full sorts and SciPy.

KS: ``drift._ks_keys`` over fully radix-sorted samples is the oracle (itself
checked against SciPy in test_drift.py); the two must agree on the first
maximum and minimum, index for index. Wasserstein against a sorted reference
must equal ``scipy.stats.wasserstein_distance`` to 1e-9 relative. The data is
built to defeat the bucketing: outliers that squeeze everything into one
bucket (the rebucketing path), spikes of ties, signed zeros, infinities,
ranges that overflow, identical samples (D = 0 everywhere), values far from
zero in a narrow range (where closed-form bucket sums could cancel).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from lockgate.kernels import _buckets
from lockgate.kernels import drift as D

rng = np.random.default_rng(11)


def full_walk(ref: np.ndarray, cur: np.ndarray) -> tuple[int, ...]:
    a, n1, b, n2 = D._sorted_pair(ref, cur)
    return (n1, n2, *(int(x) for x in D._ks_keys(a, b, n1, n2)))


def assert_same_points(ref, cur) -> None:
    ref = np.ascontiguousarray(ref, dtype=np.float64)
    cur = np.ascontiguousarray(cur, dtype=np.float64)
    assert _buckets.ks_extreme_points(ref, cur) == full_walk(ref, cur)


def _normal(n: int, shift: float = 0.0) -> np.ndarray:
    return rng.normal(shift, 1.0, size=n)


CASES = {
    "shifted normals": (_normal(200_000), _normal(150_003, 0.05)),
    "same distribution": (_normal(120_000), _normal(120_000)),
    "few distinct values": (rng.integers(0, 5, 90_000).astype(float), rng.integers(0, 6, 80_000).astype(float)),
    "spike of ties": (np.r_[np.zeros(60_000), _normal(5_000)], np.r_[np.zeros(50_000), _normal(9_000, 0.2)]),
    "signed zeros": (np.where(rng.random(50_000) < 0.5, -0.0, 0.0), np.r_[np.zeros(40_000), _normal(100)]),
    "outlier squeezes the range": (np.r_[_normal(100_000), 1e300], np.r_[_normal(100_000, 0.01), -1e300]),
    "range overflows": (np.r_[_normal(50_000), 1.7e308], np.r_[_normal(50_000), -1.7e308]),
    "infinities": (np.r_[_normal(60_000), [np.inf] * 7, [-np.inf] * 3], np.r_[_normal(40_000), [np.inf] * 2]),
    "only infinities": (np.full(40_000, np.inf), np.r_[np.full(40_000, -np.inf), 3.0]),
    "heavy tails": (rng.standard_cauchy(80_000), rng.standard_cauchy(70_000) * 1.1),
    "log-normal spread": (rng.lognormal(0, 5, 100_000), rng.lognormal(0.1, 5, 100_000)),
    "narrow range far from zero": (rng.random(70_000) + 1e6, rng.random(60_000) + 1e6 + 1e-4),
    "nan dropped": (np.where(rng.random(80_000) < 0.3, np.nan, _normal(80_000)), _normal(50_000)),
    "float32 values": (_normal(60_000).astype(np.float32), _normal(60_000, 0.02).astype(np.float32)),
    "tiny samples": (np.array([1.0]), np.array([2.0, 0.5])),
    "disjoint": (_normal(30_000), _normal(30_000) + 100),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_points_as_the_full_sorted_walk(case):
    assert_same_points(*CASES[case])


def test_empty_side_reports_zero_count():
    assert _buckets.ks_extreme_points(np.full(5, np.nan), _normal(5))[:2] == (0, 5)


def test_large_ks_2samp_equals_scipy_on_the_bucketed_path():
    ref, cur = _normal(300_000), _normal(250_000, 0.01)
    got = D.ks_2samp(ref, cur)
    want = stats.ks_2samp(ref, cur)
    assert got[0] == pytest.approx(want.statistic, rel=1e-12)
    assert got[1] == pytest.approx(want.pvalue, rel=1e-6)


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-3, 3).map(float),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(values, min_size=1, max_size=700), st.lists(values, min_size=1, max_size=700))
def test_property_same_points_as_the_full_sorted_walk(ref, cur):
    ref, cur = np.array(ref, dtype=np.float64), np.array(cur, dtype=np.float64)
    if np.isnan(ref).all() or np.isnan(cur).all():
        assert 0 in _buckets.ks_extreme_points(ref, cur)[:2]
        return
    assert_same_points(ref, cur)


# --------------------------------------------------------------------------- Wasserstein

REL = 1e-9


def assert_wasserstein(ref, cur) -> None:
    ref = np.sort(np.asarray(ref, dtype=np.float64))
    cur = np.ascontiguousarray(cur, dtype=np.float64)
    got = _buckets.wasserstein_vs_sorted(ref, cur)
    want = stats.wasserstein_distance(ref, cur)
    if got is None:  # declined: the sums could overflow; the caller sorts
        assert (float(max(ref[-1], cur.max())) - float(min(ref[0], cur.min()))) * ref.size * cur.size >= 1e300
        got = D.wasserstein_sorted_ref(ref, cur)
    assert got == pytest.approx(want, rel=REL, abs=1e-300), (got, want)


FINITE_CASES = {name: pair for name, pair in CASES.items() if all(np.isfinite(np.asarray(x, float)).all() for x in pair)}
FINITE_CASES.update(
    {
        "identical samples": (lambda x: (x, x.copy()))(_normal(100_000)),
        "one sample shuffled": (lambda x: (x, rng.permutation(x)))(_normal(80_000)),
        "current entirely below": (_normal(60_000), _normal(70_000) - 50),
        "current inside a narrow slice": (_normal(60_000), rng.random(50_000) * 1e-6),
        "spike next to the bulk": (_normal(50_000), np.r_[np.full(40_000, 0.5), np.nextafter(0.5, 1) + _normal(10) ** 2]),
        "one value each": (np.array([3.0]), np.array([-2.0])),
        "constant, different": (np.full(40_000, 2.0), np.full(30_000, 2.5)),
    }
)


@pytest.mark.parametrize("case", sorted(FINITE_CASES))
def test_wasserstein_vs_sorted_equals_scipy(case):
    assert_wasserstein(*FINITE_CASES[case])


def test_wasserstein_sorted_ref_equals_the_sorted_walk_on_both_paths():
    for n in (1_000, 100_000):
        ref, cur = np.sort(_normal(n)), _normal(n, 0.05)
        got = D.wasserstein_sorted_ref(ref, cur)
        assert got == pytest.approx(D.wasserstein_from_sorted(ref, np.sort(cur)), rel=REL)


finite_values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.integers(-3, 3).map(float),
    st.sampled_from([0.0, -0.0, 1e-300, 1e5 + 0.5]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(finite_values, min_size=1, max_size=600), st.lists(finite_values, min_size=1, max_size=600))
def test_property_wasserstein_vs_sorted_equals_scipy(ref, cur):
    assert_wasserstein(ref, cur)
