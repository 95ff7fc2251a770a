"""Shared kernel helpers: float sort keys, the radix sort (``_sort.py``) and two halves on two threads (``_parallel.py``)."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lockgate.kernels import _parallel, _sort
from lockgate.kernels import drift as D

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

rng = np.random.default_rng(7)


def sorted_floats(values: np.ndarray) -> tuple[np.ndarray, int]:
    """``sorted_keys`` of ``values`` (without the sentinel, which is checked here) and their count."""
    keys, m = _sort.sorted_keys(np.ascontiguousarray(values, dtype=np.float64))
    assert keys.size == m + 1 and keys[m] == _sort.SENTINEL
    return keys[:m], m


def decode(keys: np.ndarray) -> np.ndarray:
    return np.array([_sort._key_value(k) for k in keys], dtype=np.float64)


def check_sorted_keys(values: np.ndarray) -> None:
    keys, m = sorted_floats(values)
    want = np.sort(np.asarray(values, dtype=np.float64))
    want = want[~np.isnan(want)]
    assert m == want.size
    got = decode(keys)
    assert np.array_equal(got, want)  # -0.0 == 0.0 for array_equal
    assert not np.signbit(got[got == 0]).any()  # zeros come back as +0.0
    assert np.all(keys[:-1] <= keys[1:])


CASES = {
    "normal": rng.normal(size=5000),
    "with nan": np.where(rng.random(3000) < 0.2, np.nan, rng.normal(size=3000)),
    "all nan": np.full(10, np.nan),
    "empty": np.zeros(0),
    "signed zeros": np.array([0.0, -0.0, 1.0, -0.0, -1.0, 0.0, -0.0]),
    "infinities": np.array([np.inf, -np.inf, 0.0, 1e308, -1e308, np.inf, 5e-324, -5e-324]),
    "ties": rng.integers(-3, 4, 4000).astype(np.float64),
    "int input": rng.integers(-(2**40), 2**40, 3000),
    "float32 input": rng.normal(size=3000).astype(np.float32),
    "constant": np.full(1000, 3.25),
    "one value": np.array([42.0]),
    "large": rng.standard_t(2, size=200_000),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sorted_keys_equal_np_sort(case):
    check_sorted_keys(np.asarray(CASES[case], dtype=np.float64))


@PROPERTY
@given(hnp.arrays(np.float64, st.integers(0, 300), elements=st.floats(allow_nan=True, allow_infinity=True)))
def test_sorted_keys_property(values):
    check_sorted_keys(values)


@PROPERTY
@given(hnp.arrays(np.float64, st.integers(0, 60), elements=st.floats(allow_nan=False)))
def test_key_value_round_trips(values):
    keys = np.array([_sort._sort_key(v) for v in values], dtype=np.uint64)
    back = decode(keys)
    assert np.array_equal(back, values + 0.0)  # -0.0 becomes 0.0, everything else is exact


def test_radix_sort_skips_shared_bytes_and_sorts():
    keys = (rng.integers(0, 2**16, 10_000).astype(np.uint64) << np.uint64(24)) | np.uint64(7)
    got = _sort._radix_sort(keys.copy(), np.empty_like(keys))
    assert np.array_equal(got, np.sort(keys))


# ------------------------------------------------------------------ two halves


def test_both_runs_both_in_order():
    assert _parallel._both(lambda: 1, lambda: 2) == (1, 2)
    assert _parallel._in_halves(lambda s: (s.start, s.stop), 10, 4) == [(0, 5), (5, 10)]
    assert _parallel._in_halves(lambda s: (s.start, s.stop), 3, 4) == [(0, 3)]


def test_work_is_taken_back_when_the_helper_is_busy(monkeypatch):
    class NeverRuns:
        def submit(self, fn, *args):
            return Future()  # pending forever; cancel() succeeds

    monkeypatch.setattr(_parallel, "_pool", lambda: NeverRuns())
    monkeypatch.setattr(_parallel, "_cpus", lambda: 2)
    assert _parallel._both(lambda: "first", lambda: "second") == ("first", "second")
    a, b = rng.normal(size=50_000), rng.normal(0.1, 1, size=40_000)
    assert D.ks_2samp(a, b)[0] > 0  # drift's two-thread paths run through the same helper


def test_drift_results_do_not_depend_on_the_number_of_cores(monkeypatch):
    a = np.concatenate([rng.normal(size=300_001), [np.nan]])
    b = rng.normal(0.02, 1, size=250_000)
    fns = [
        lambda: D.ks_2samp(a, b),
        lambda: D.wasserstein(a, b),
        lambda: D.psi(a, b),
        lambda: D.jensen_shannon(a, b),
        lambda: D._kstwo_sf(2.0 / np.sqrt(150_000.0), 150_000.0),
    ]
    monkeypatch.setattr(_parallel, "_cpus", lambda: 2)
    two = [fn() for fn in fns]
    monkeypatch.setattr(_parallel, "_cpus", lambda: 1)
    assert [fn() for fn in fns] == two  # bit-identical
