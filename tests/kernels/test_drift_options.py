"""SciPy's options on the drift kernels (issue 21): one-sided ``ks_2samp`` (exact and asymptotic,
chosen as SciPy's ``method`` does), ``nan_policy``, ``chisquare`` with ``ddof`` and non-integer
frequencies, and ``wasserstein`` on infinite values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lockgate import kernels as lg

ALTERNATIVES = ["two-sided", "less", "greater"]


def _scipy_ks(a, b, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy warns when it switches from exact to asymp
        result = scipy.stats.ks_2samp(a, b, **kwargs)
    return float(result.statistic), float(result.pvalue)


def assert_ks(a, b, method="auto", alternative="two-sided") -> None:
    ours = lg.ks_2samp(a, b, method, alternative=alternative)
    ref = _scipy_ks(a, b, method=method, alternative=alternative)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-300, err_msg=f"{len(a)}, {len(b)}, {alternative}")


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(
    "sizes", [(1, 1), (3, 5), (20, 20), (37, 61), (300, 450), (600, 600), (2000, 1500), (12_000, 9_000)]
)
def test_ks_2samp_one_sided_matches_scipy_for_every_method(sizes, alternative) -> None:
    """Small unequal sizes count lattice paths; equal sizes take SciPy's product; past
    ~1000 values in all the path count overflows and SciPy (and we) go asymptotic;
    over 10000 'auto' is asymptotic."""
    rng = np.random.default_rng(sum(sizes))
    n1, n2 = sizes
    a = rng.normal(size=n1)
    b = rng.normal(0.15, size=n2)
    methods = ["auto", "asymp"] + (["exact"] if max(sizes) <= 600 else [])
    for method in methods:
        assert_ks(a, b, method, alternative)
        assert_ks(np.round(a, 1), np.round(b, 1), method, alternative)  # ties


def test_ks_2samp_large_samples_one_sided_take_the_bucket_path() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=40_000)
    b = rng.normal(0.02, size=30_000)
    for alternative in ALTERNATIVES:
        assert_ks(a, b, "auto", alternative)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hnp.arrays(np.float64, st.integers(1, 40), elements=st.integers(-4, 4).map(float)),
    hnp.arrays(np.float64, st.integers(1, 40), elements=st.integers(-4, 4).map(float)),
    st.sampled_from(ALTERNATIVES),
    st.sampled_from(["auto", "exact", "asymp"]),
)
def test_ks_2samp_property(a, b, alternative, method) -> None:
    assert_ks(a, b, method, alternative)


def test_ks_2samp_nan_policy() -> None:
    rng = np.random.default_rng(2)
    a = np.r_[rng.normal(size=30), np.nan, np.nan]
    b = np.r_[rng.normal(size=25), np.nan]
    for policy in ("propagate", "omit"):
        for alternative in ALTERNATIVES:
            ours = lg.ks_2samp(a, b, alternative=alternative, nan_policy=policy)
            ref = _scipy_ks(a, b, alternative=alternative, nan_policy=policy)
            np.testing.assert_allclose(ours, ref, rtol=1e-12, equal_nan=True)
    with pytest.raises(ValueError, match="contains nan"):
        lg.ks_2samp(a, b, nan_policy="raise")
    with pytest.raises(ValueError, match="contains nan"):
        scipy.stats.ks_2samp(a, b, nan_policy="raise")
    # the default drops NaN, as the drift table always has
    assert lg.ks_2samp(a, b) == lg.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)])


def test_ks_2samp_rejects_unknown_options() -> None:
    with pytest.raises(ValueError, match="alternative"):
        lg.ks_2samp([1.0], [2.0], alternative="bigger")
    with pytest.raises(ValueError, match="nan_policy"):
        lg.ks_2samp([1.0], [2.0], nan_policy="ignore")


def test_chisquare_matches_scipy_with_ddof_and_non_integer_frequencies() -> None:
    rng = np.random.default_rng(3)
    for k in (1, 2, 5, 30):
        observed = rng.random(k) * 50  # weighted counts: not integers
        expected = rng.random(k)
        expected *= observed.sum() / expected.sum()
        for f_exp in (None, expected):
            for ddof in (0, 1, 3):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref = scipy.stats.chisquare(observed, f_exp, ddof=ddof)
                np.testing.assert_allclose(lg.chisquare(observed, f_exp, ddof), (ref.statistic, ref.pvalue),
                                           rtol=1e-12, equal_nan=True)
    with pytest.raises(ValueError, match="relative tolerance"):
        lg.chisquare([1.0, 2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="relative tolerance"):
        scipy.stats.chisquare([1.0, 2.0], [1.0, 1.0])
    stat, p = lg.chisquare([1.0, 2.0], [1.0, 1.0], sum_check=False)
    ref = scipy.stats.chisquare([1.0, 2.0], [1.0, 1.0], sum_check=False)
    np.testing.assert_allclose((stat, p), (ref.statistic, ref.pvalue), rtol=1e-12)


def test_chi2_of_the_drift_table_is_chisquare_of_the_counts() -> None:
    ref = ["a"] * 30 + ["b"] * 50 + ["c"] * 20
    cur = ["a"] * 10 + ["b"] * 25 + ["c"] * 15
    expected = np.array([30, 50, 20]) * 50 / 100
    assert lg.chi2(ref, cur) == pytest.approx(lg.chisquare([10, 25, 15], expected), rel=1e-12)


@pytest.mark.parametrize(
    "u, v",
    [
        ([1.0, 2.0, np.inf], [np.inf, 1.0]),  # the case: inf - inf
        ([1.0, -np.inf], [-np.inf, 3.0]),
        ([1.0, np.inf], [1.0, 2.0]),  # one side reaches further: inf, no warning
        ([-np.inf, 0.0], [0.0, 5.0]),
        ([np.inf], [np.inf]),
    ],
)
def test_wasserstein_with_infinite_values_is_scipys_with_its_warning(u, v) -> None:
    with warnings.catch_warnings(record=True) as ref_warnings:
        warnings.simplefilter("always")
        ref = scipy.stats.wasserstein_distance(u, v)
    with warnings.catch_warnings(record=True) as our_warnings:
        warnings.simplefilter("always")
        ours = lg.wasserstein(u, v)
    np.testing.assert_equal(ours, ref)
    assert [w.category for w in our_warnings] == [w.category for w in ref_warnings]
