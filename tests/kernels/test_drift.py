"""Drift kernels equal their SciPy / Evidently references (tests/kernels/naive_drift.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockgate.kernels import (
    chi2,
    jensen_shannon,
    jensen_shannon_categorical,
    ks_2samp,
    psi,
    psi_categorical,
    wasserstein,
    z_test,
)
from lockgate.kernels import drift as D

from . import naive_drift as naive

REL = 1e-9
P_REL = 1e-6


def close(a: float, b: float, rel: float = REL) -> bool:
    if np.isnan(a) or np.isnan(b):
        return bool(np.isnan(a) and np.isnan(b))
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b)) or abs(a - b) <= 1e-300


def assert_ks(ref, cur, method="auto"):
    got = ks_2samp(ref, cur, method)
    want = naive.ks_2samp(ref, cur, method)
    assert close(got[0], want[0]), (got, want)
    assert close(got[1], want[1], P_REL) or abs(got[1] - want[1]) < 1e-12, (got, want)


def assert_numeric(ref, cur):
    assert close(wasserstein(ref, cur), naive.wasserstein(ref, cur))
    assert close(psi(ref, cur), naive.psi(ref, cur))
    assert close(jensen_shannon(ref, cur), naive.jensen_shannon(ref, cur))


rng = np.random.default_rng(20240601)

SIZES = [(1, 1), (1, 7), (2, 3), (5, 5), (17, 40), (100, 100), (250, 999), (1000, 1001), (3000, 3000),
         (4000, 6000), (9999, 10000), (10000, 10001), (20000, 15000)]


@pytest.mark.parametrize(("n1", "n2"), SIZES)
@pytest.mark.parametrize("method", ["auto", "exact", "asymp"])
def test_ks_random_sizes(n1, n2, method):
    if method == "exact" and max(n1, n2) > 5000:
        pytest.skip("exact at this size is covered by 'auto' up to 10000")
    ref = rng.normal(size=n1)
    cur = rng.normal(0.05, 1.1, size=n2)
    assert_ks(ref, cur, method)


@pytest.mark.parametrize(("n1", "n2"), SIZES)
def test_numeric_random_sizes(n1, n2):
    assert_numeric(rng.standard_t(3, size=n1), rng.standard_t(3, size=n2) + 0.1)


ADVERSARIAL = {
    "heavy ties": (rng.integers(0, 3, 500).astype(float), rng.integers(0, 4, 700).astype(float)),
    "constant equal": (np.full(50, 2.0), np.full(80, 2.0)),
    "constant different": (np.full(50, 2.0), np.full(80, 3.0)),
    "size one": (np.array([0.5]), rng.normal(size=30)),
    "both size one": (np.array([0.5]), np.array([0.7])),
    "empty bins": (np.concatenate([np.zeros(100), np.full(100, 10.0)]), rng.uniform(4, 6, 100)),
    "duplicate quantile edges": (np.concatenate([np.zeros(900), rng.normal(size=100)]), rng.normal(size=300)),
    "huge magnitudes": (rng.normal(size=300) * 1e300, rng.normal(size=200) * 1e300),
    "tiny magnitudes": (rng.normal(size=300) * 1e-300, rng.normal(0.5, size=200) * 1e-300),
    "disjoint": (rng.uniform(0, 1, 400), rng.uniform(2, 3, 300)),
    "equal samples": (np.arange(100.0), np.arange(100.0)),
    "int input": (rng.integers(-50, 50, 400), rng.integers(-40, 60, 300)),
    "float32 input": (rng.normal(size=400).astype(np.float32), rng.normal(size=300).astype(np.float32)),
}


@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
def test_adversarial(case):
    ref, cur = ADVERSARIAL[case]
    for method in ("auto", "exact", "asymp"):
        assert_ks(ref, cur, method)
    if case != "huge magnitudes":  # the pooled histogram range overflows in NumPy too
        assert_numeric(ref, cur)
    else:
        assert close(wasserstein(ref, cur), naive.wasserstein(ref, cur))
        assert close(psi(ref, cur), naive.psi(ref, cur))


def test_nan_is_dropped():
    ref = rng.normal(size=200)
    cur = rng.normal(size=150)
    ref_nan = np.concatenate([ref, [np.nan] * 7])
    cur_nan = np.insert(cur, [3, 50], np.nan)
    assert ks_2samp(ref_nan, cur_nan) == ks_2samp(ref, cur)
    assert wasserstein(ref_nan, cur_nan) == wasserstein(ref, cur)
    assert psi(ref_nan, cur_nan) == psi(ref, cur)
    assert jensen_shannon(ref_nan, cur_nan) == jensen_shannon(ref, cur)


def test_inf_is_a_value_for_the_sorted_statistics():
    ref = np.concatenate([rng.normal(size=100), [np.inf, -np.inf]])
    cur = np.concatenate([rng.normal(size=80), [np.inf]])
    assert_ks(ref, cur)
    assert close(psi(ref, cur), naive.psi(ref, cur))


@pytest.mark.parametrize(
    "convert",
    [list, np.asarray, pa.array, pl.Series, lambda v: pa.chunked_array([v[:10], v[10:]])],
    ids=["list", "numpy", "pyarrow", "polars", "chunked"],
)
def test_input_types(convert):
    ref = rng.normal(size=60).tolist()
    cur = rng.normal(size=40).tolist()
    want = ks_2samp(np.array(ref), np.array(cur))
    assert ks_2samp(convert(ref), convert(cur)) == want
    assert wasserstein(convert(ref), convert(cur)) == wasserstein(np.array(ref), np.array(cur))


def test_nulls_in_arrow_and_polars_are_dropped():
    ref = [1.0, None, 2.0, 3.5, None, 7.0]
    cur = [0.5, 2.5, None, 9.0]
    clean_ref, clean_cur = [v for v in ref if v is not None], [v for v in cur if v is not None]
    assert ks_2samp(pa.array(ref), pl.Series(cur)) == ks_2samp(clean_ref, clean_cur)


@pytest.mark.parametrize("fn", [ks_2samp, wasserstein, psi, jensen_shannon])
def test_empty_inputs_are_clear_errors(fn):
    with pytest.raises(ValueError, match="reference is empty; drift needs"):
        fn([], [1.0])
    with pytest.raises(ValueError, match=r"current is empty after dropping 2 NaN/null values"):
        fn([1.0], [np.nan, np.nan])


def test_ks_rejects_unknown_method():
    with pytest.raises(ValueError, match="method must be 'auto', 'exact' or 'asymp'"):
        ks_2samp([1.0], [2.0], "fast")


def test_sturges_edges_equal_numpy():
    for n, lo, hi in [(1, 3.0, 3.0), (2, -1.0, 1.0), (1000, -3.2, 4.7), (10**6, 0.0, 1e-300), (77, -1e300, 1e300)]:
        data = np.concatenate([[lo, hi], np.full(n - 2, (lo + hi) / 2) if n > 2 else []])[:n] if n > 1 else [lo]
        assert np.array_equal(D.sturges_edges(lo, hi, len(data)), np.histogram_bin_edges(data, "sturges"))


def test_histogram_counts_sorted_equal_numpy():
    values = np.sort(np.concatenate([rng.normal(size=500), [0.0, 0.0, 1.0]]))
    edges = np.histogram_bin_edges(values, "sturges")
    assert np.array_equal(D.histogram_counts_sorted(values, edges), np.histogram(values, edges)[0])
    assert np.array_equal(D.histogram_counts(values, edges), np.histogram(values, edges)[0])


# --------------------------------------------------------------------------- categorical

CATEGORICAL = {
    "strings": (list(rng.choice(["a", "b", "c", "d"], 300)), list(rng.choice(["a", "b", "c", "d"], 200, p=[0.4, 0.3, 0.2, 0.1]))),
    "missing in current": (list(rng.choice(["a", "b", "c"], 300)), list(rng.choice(["a", "b"], 100))),
    "missing in reference": (list(rng.choice(["a", "b"], 300)), list(rng.choice(["a", "b", "c"], 100))),
    "ints": (list(rng.integers(0, 5, 400)), list(rng.integers(0, 6, 300))),
    "one category": (["x"] * 10, ["x"] * 4),
    "with nulls": (["a", None, "b", "a", None, "c"], ["b", None, "c", "c"]),
}


@pytest.mark.parametrize("case", sorted(CATEGORICAL))
def test_categorical(case):
    ref, cur = CATEGORICAL[case]
    got, want = chi2(ref, cur), naive.chi2(ref, cur)
    assert close(got[0], want[0]) and close(got[1], want[1], P_REL), (got, want)
    assert close(psi_categorical(ref, cur), naive.psi_categorical(ref, cur))
    assert close(jensen_shannon_categorical(ref, cur), naive.jensen_shannon_categorical(ref, cur))


def test_categorical_arrow_and_polars_inputs():
    ref, cur = CATEGORICAL["missing in reference"]
    want = chi2(ref, cur)
    assert chi2(pa.array(ref).dictionary_encode(), pl.Series(cur).cast(pl.Categorical)) == want
    assert chi2(pa.chunked_array([ref]), pl.Series(cur)) == want


BINARY = {
    "bools": (list(rng.random(300) < 0.3), list(rng.random(200) < 0.4)),
    "strings": (list(rng.choice(["no", "yes"], 100)), list(rng.choice(["no", "yes"], 80, p=[0.8, 0.2]))),
    "constant equal": (["a"] * 20, ["a"] * 30),
    "constant different": (["a"] * 20, ["b"] * 30),
    "one side constant": (["a"] * 20, ["a", "b"] * 15),
    "ints": (list(rng.integers(3, 5, 50)), list(rng.integers(3, 5, 70))),
    "three categories": (list(rng.choice(["a", "b", "c"], 100)), list(rng.choice(["a", "b", "c"], 90))),
}


@pytest.mark.parametrize("case", sorted(BINARY))
def test_z_test(case):
    ref, cur = BINARY[case]
    got, want = z_test(ref, cur), naive.z_test(ref, cur)
    assert close(got[0], want[0]) and close(got[1], want[1], P_REL), (got, want)


def test_categorical_empty_is_an_error():
    with pytest.raises(ValueError, match="current is empty after dropping 2 missing values"):
        chi2(["a"], [None, None])


# --------------------------------------------------------------------------- properties

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=1, max_size=60)
tied = st.lists(st.integers(-3, 3).map(float), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(st.one_of(samples, tied), st.one_of(samples, tied))
def test_property_numeric_equal_references(ref, cur):
    assert_ks(ref, cur, "auto")
    assert_ks(ref, cur, "asymp")
    assert close(wasserstein(ref, cur), naive.wasserstein(ref, cur))
    assert close(psi(ref, cur, bins=5), naive.psi(ref, cur, bins=5))
    assert close(jensen_shannon(ref, cur), naive.jensen_shannon(ref, cur))


@settings(max_examples=100, deadline=None)
@given(samples, samples)
def test_property_symmetry_and_bounds(ref, cur):
    d, p = ks_2samp(ref, cur)
    d2, p2 = ks_2samp(cur, ref)
    assert 0.0 <= d <= 1.0 and 0.0 <= p <= 1.0
    assert d == d2 and close(p, p2, P_REL)
    assert close(wasserstein(ref, cur), wasserstein(cur, ref))
    assert ks_2samp(ref, ref)[0] == 0.0 and wasserstein(ref, ref) == 0.0
    assert 0.0 <= jensen_shannon(ref, cur) <= np.sqrt(np.log(2)) + 1e-12
    assert psi(ref, cur) >= 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from("abcde"), min_size=1, max_size=80), st.lists(st.sampled_from("abcdef"), min_size=1, max_size=80))
def test_property_categorical_equal_references(ref, cur):
    got, want = chi2(ref, cur), naive.chi2(ref, cur)
    assert close(got[0], want[0]) and close(got[1], want[1], P_REL)
    assert close(jensen_shannon_categorical(ref, cur), naive.jensen_shannon_categorical(ref, cur))
    assert close(psi_categorical(ref, cur), naive.psi_categorical(ref, cur))
    if len(set(ref) | set(cur)) <= 2:
        got, want = z_test(ref, cur), naive.z_test(ref, cur)
        assert close(got[0], want[0]) and close(got[1], want[1], P_REL)


# --------------------------------------------------------------------------- fast paths (selection, binning, Smirnov)

QUANTILE_CASES = {
    "normal": rng.normal(size=20_001),
    "duplicates": rng.integers(0, 5, 10_000).astype(float),
    "mostly zeros": np.concatenate([np.zeros(9000), rng.normal(size=1000)]),
    "signed zeros": np.array([0.0, -0.0, -0.0, 1.0, -1.0, 0.0]),
    "one value": np.array([3.5]),
    "two values": np.array([2.0, -7.0]),
    "constant": np.full(777, 1.25),
    "narrow": 1.0 + rng.random(50_000) * 1e-12,  # every value in one top-16-bit bucket
    "infinities": np.array([-np.inf, 1.0, 2.0, np.inf, 3.0, np.inf]),
    "huge": rng.normal(size=999) * 1e300,
}


@pytest.mark.parametrize("case", sorted(QUANTILE_CASES))
@pytest.mark.parametrize("bins", [1, 2, 3, 10, 20, 97])
def test_selection_quantiles_equal_np_quantile(case, bins):
    values = QUANTILE_CASES[case]
    q = np.linspace(0.0, 1.0, bins + 1)
    with np.errstate(invalid="ignore"):
        want = np.quantile(values, q)
    got = D.quantiles(values, q)
    assert np.array_equal(got, want, equal_nan=True)  # bit-identical, NaN where NumPy's inf - inf is NaN


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(finite, st.integers(-3, 3).map(float)), min_size=1, max_size=80), st.integers(1, 30))
def test_property_selection_quantiles(values, bins):
    values = np.array(values)
    q = np.linspace(0.0, 1.0, bins + 1)
    assert np.array_equal(D.quantiles(values, q), np.quantile(values, q))
    ranks = np.arange(values.size)
    assert np.array_equal(D.order_statistics(values, ranks), np.sort(values))


@pytest.mark.parametrize("m", [0, 1, 9, 48, 49, 200])
def test_bin_counts_equal_searchsorted(m):
    values = np.concatenate([rng.normal(size=5000), [np.inf, -np.inf, 0.0, -0.0]])
    inner = np.sort(rng.normal(size=m))
    if m > 3:
        inner[2] = inner[1]  # duplicate edge
        inner[-1] = np.nan  # NumPy's quantile of inf data; searchsorted sorts NaN last
    want = np.bincount(np.searchsorted(inner, values, side="right"), minlength=m + 1)
    assert np.array_equal(D.bin_counts(values, inner), want)


@pytest.mark.parametrize("n", [1, 2, 10, 1000, 100_000])
def test_uniform_histogram_equal_numpy(n):
    # every scale, from a generator of this test's own (the shared one's state depends on
    # which tests ran before in this process, and xdist changes that)
    local = np.random.default_rng(n)
    for scale in (1e-200, 1.0, 1e200):
        values = local.normal(size=n) * scale
        try:
            edges = np.histogram_bin_edges(values, "sturges")
        except ValueError:  # NumPy's own limit: one value of 1e200 +- 0.5 makes no finite bin
            assert n == 1 and scale == 1e200
            continue
        assert np.array_equal(D.uniform_histogram(values, edges), np.histogram(values, edges)[0])
        # values exactly on the edges, and outside them
        on_edges = np.concatenate([edges, edges[:-1], [edges[0] - 1, edges[-1] * 2 + 1]])
        assert np.array_equal(D.uniform_histogram(on_edges, edges), np.histogram(on_edges, edges)[0])


def test_jensen_shannon_inf_is_numpys_error():
    with pytest.raises(ValueError, match="not finite"):
        jensen_shannon(np.array([1.0, np.inf]), np.array([0.0, 2.0]))
    assert close(jensen_shannon([1.0, 2.0, 3.0], [2.0, 2.5], bins=4), naive.jensen_shannon([1.0, 2.0, 3.0], [2.0, 2.5], bins=4))


SMIRNOV_N = [141, 200, 1001, 9999, 60_000, 250_001]


@pytest.mark.parametrize("n", SMIRNOV_N)
def test_kstwo_sf_equals_scipy(n):
    from scipy.stats import kstwo

    # z = sqrt(n) d across the exact-sum range (2.2 <= n d^2 < 370) and its borders
    for z in [0.3, 1.0, 1.48, 1.4833, 1.49, 2.0, 3.0, 7.0, 13.0, 18.81, 18.83, 19.2, 19.3, 25.0]:
        d = z / np.sqrt(n)
        if d >= 1:
            continue
        got, want = D._kstwo_sf(d, float(n)), float(kstwo.sf(d, float(n)))
        assert close(got, want, 1e-8) or abs(got - want) < 1e-300, (n, z, got, want)


def test_kstwo_sf_beyond_the_exact_sum_is_scipys_approximation():
    from scipy.stats import kstwo

    for n in [1_000_001.0, 5e6]:
        for z in [1.0, 2.0, 5.0]:
            d = z / np.sqrt(n)
            assert close(D._kstwo_sf(d, n), float(kstwo.sf(d, n)), 1e-12)


def test_ks_large_samples_with_a_small_p_value():
    # en = 80,000: SciPy's asymp p-value goes through the O(n) exact Smirnov sum. Its own
    # generator: the shared one's state depends on the tests run before it (xdist).
    local = np.random.default_rng(20261203)
    ref = local.normal(size=160_000)
    cur = local.normal(0.015, 1.0, size=160_000)
    got, want = ks_2samp(ref, cur), naive.ks_2samp(ref, cur)
    assert 1e-12 < want[1] < 0.1
    assert close(got[0], want[0]) and close(got[1], want[1], P_REL), (got, want)
    assert close(wasserstein(ref, cur), naive.wasserstein(ref, cur))
    assert close(psi(ref, cur), naive.psi(ref, cur))
    assert close(jensen_shannon(ref, cur), naive.jensen_shannon(ref, cur))


def test_large_adversarial_samples():
    ties = (rng.integers(0, 50, 100_000).astype(float), rng.integers(0, 52, 80_000).astype(float))
    zeros = (np.where(rng.random(70_000) < 0.5, -0.0, 0.0), np.concatenate([np.zeros(60_000), rng.normal(size=100)]))
    inf = (np.concatenate([rng.normal(size=50_000), [np.inf] * 10, [-np.inf] * 3]), rng.normal(size=40_000))
    f32 = (rng.normal(size=60_000).astype(np.float32), rng.normal(size=50_000).astype(np.float32))
    for ref, cur in (ties, zeros, inf, f32):
        assert_ks(ref, cur)
        assert close(wasserstein(ref, cur), naive.wasserstein(ref, cur))
        assert close(psi(ref, cur), naive.psi(ref, cur))
    for ref, cur in (ties, zeros, f32):
        assert close(jensen_shannon(ref, cur), naive.jensen_shannon(ref, cur))
