"""Per-column drift statistics: numeric (KS, Wasserstein, PSI, Jensen-Shannon) and categorical.

Owns the statistic of one reference column against one current column. Each
public function equals its reference (DESIGN §5): ``ks_2samp`` and
``wasserstein`` equal SciPy's, ``jensen_shannon`` equals
``scipy.spatial.distance.jensenshannon`` over shared histogram edges, ``psi``
follows the quantile-bin rule of DESIGN §5, and the categorical tests equal
Evidently's stattests. Choosing a test per column is ``selection.py``'s job,
not this module's.

``wasserstein`` (and ``ks_2samp`` on small samples) radix-sort each sample
as order-preserving integer keys (``_sort.py``; ~4x faster than ``np.sort``),
the two samples on two threads (``_parallel.py``), and walk the merged keys
once. ``ks_2samp`` on large samples sorts only the value buckets that can hold
an extreme (``_buckets.py``). ``psi`` selects
the reference quantiles (a radix select, not a sort) and bins with a branch-free
count; ``jensen_shannon`` computes the Sturges edges from min/max/n and bins in
one pass. The KS p-value of a statistic is ``ks_pvalue.py``'s. All passes
are numba, compiled with ``nogil`` so columns can run in threads. The
``*_sorted`` / ``*_counts`` helpers take already-cleaned inputs so that a
reference profile can skip the reference work.

Reference parameters supported (issue 21): ``ks_2samp`` ``method``,
``alternative`` two-sided|less|greater and ``nan_policy`` (default "omit",
where SciPy's is "propagate": drift drops and counts NaN); ``wasserstein``
``u_weights``/``v_weights`` (NaN dropped with its weight first, as drift
does; SciPy would return NaN); ``chisquare`` ``f_exp``, ``ddof`` and
``sum_check`` for 1-D frequencies (SciPy's ``axis`` and ``lambda_`` are not
supported). Weighted or infinite Wasserstein inputs repeat SciPy's
``_cdf_distance`` operations (sort, cumsum), so they cost SciPy's time, not
the radix walk's. Where the exact one-sided KS count fails, SciPy warns and
goes asymptotic; we go asymptotic silently (the p-value is the same).

Imports nothing from the rest of lockgate. SciPy (always present: scikit-learn
depends on it) is imported lazily for the distribution tails only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lockgate.kernels import _buckets
from lockgate.kernels._compile import announce_compile, njit
from lockgate.kernels._inputs import as_float, as_numpy
from lockgate.kernels._parallel import _both
from lockgate.kernels._sort import _key_value, _sort_key, sorted_keys
from lockgate.kernels.ks_pvalue import KsAlternative, KsMethod, check_ks_alternative, check_ks_method, ks_pvalue
# tests/kernels/test_drift.py and test_sort.py check kstwo_sf as drift._kstwo_sf
from lockgate.kernels.ks_pvalue import kstwo_sf as _kstwo_sf  # noqa: F401

_PSI_FLOOR = 1e-4

# Samples at least this long are sorted / binned on two threads (one per
# sample); below, handing work to the helper costs more than it saves.
_SPLIT_MIN = 1 << 15

# Up to this many PSI edges a linear count beats a binary search per value.
_LINEAR_EDGES = 48


# --------------------------------------------------------------------------- inputs


def clean_numeric(values: Any, name: str) -> tuple[np.ndarray, int]:
    """``values`` as float64 without NaN (nulls become NaN first), and how many were dropped."""
    array = as_float(values, name)
    keep = ~np.isnan(array)
    n_missing = int(len(array) - np.count_nonzero(keep))
    if n_missing:
        array = array[keep]
    if len(array) == 0:
        detail = f" after dropping {n_missing} NaN/null values" if n_missing else ""
        raise ValueError(f"{name} is empty{detail}; drift needs at least one value on each side")
    return array, n_missing


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def category_counts(values: Any, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Distinct non-missing values of ``values`` (sorted), their counts, and the missing count."""
    array = as_numpy(values, name)
    if array.dtype.kind == "f":
        keep = ~np.isnan(array)
    elif array.dtype == object:
        keep = np.fromiter((not _is_missing(v) for v in array), dtype=bool, count=len(array))
    else:
        keep = np.ones(len(array), dtype=bool)
    n_missing = int(len(array) - np.count_nonzero(keep))
    present = array[keep] if n_missing else array
    if len(present) == 0:
        detail = f" after dropping {n_missing} missing values" if n_missing else ""
        raise ValueError(f"{name} is empty{detail}; drift needs at least one value on each side")
    keys, counts = np.unique(present, return_counts=True)
    return keys, counts.astype(np.int64), n_missing


def align_counts(
    ref_keys: np.ndarray, ref_counts: np.ndarray, cur_keys: np.ndarray, cur_counts: np.ndarray
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Counts of both sides over the sorted union of their categories (0 where absent)."""
    keys = sorted(set(ref_keys.tolist()) | set(cur_keys.tolist()))
    index = {key: i for i, key in enumerate(keys)}
    ref = np.zeros(len(keys), dtype=np.int64)
    cur = np.zeros(len(keys), dtype=np.int64)
    for key, count in zip(ref_keys.tolist(), ref_counts.tolist()):
        ref[index[key]] = count
    for key, count in zip(cur_keys.tolist(), cur_counts.tolist()):
        cur[index[key]] = count
    return keys, ref, cur


def _counts_of(ref: Any, cur: Any) -> tuple[list[Any], np.ndarray, np.ndarray]:
    rk, rc, _ = category_counts(ref, "reference")
    ck, cc, _ = category_counts(cur, "current")
    return align_counts(rk, rc, ck, cc)


# --------------------------------------------------------------------------- numba passes


@njit(nogil=True)
def _ks_extremes(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Max and min of ECDF(a) - ECDF(b) over the pooled sample (both sorted, no NaN).

    Evaluated after all ties of a value are consumed, which is what SciPy's
    ``searchsorted(..., side="right")`` computes at every pooled point.
    """
    n1, n2 = a.shape[0], b.shape[0]
    i = 0
    j = 0
    hi = -np.inf
    lo = np.inf
    while i < n1 or j < n2:
        if j >= n2 or (i < n1 and a[i] <= b[j]):
            x = a[i]
        else:
            x = b[j]
        while i < n1 and a[i] <= x:
            i += 1
        while j < n2 and b[j] <= x:
            j += 1
        diff = i / n1 - j / n2
        if diff > hi:
            hi = diff
        if diff < lo:
            lo = diff
    return hi, lo


@njit(nogil=True)
def _wasserstein_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """Integral of |ECDF(a) - ECDF(b)| over the pooled sorted values (SciPy's ``_cdf_distance``, p=1).

    One element per step: between tied values the width is 0, so the ECDF
    counts need not have consumed every tie yet; the step stays branch-light.
    """
    n1, n2 = a.shape[0], b.shape[0]
    i = 0
    j = 0
    if a[0] <= b[0]:
        prev = a[0]
        i = 1
    else:
        prev = b[0]
        j = 1
    total = 0.0
    while i < n1 and j < n2:
        ai = a[i]
        bj = b[j]
        take_a = ai <= bj
        v = ai if take_a else bj
        total += abs(i / n1 - j / n2) * (v - prev)
        prev = v
        i += take_a
        j += 1 - take_a
    while i < n1:
        v = a[i]
        total += abs(i / n1 - j / n2) * (v - prev)
        prev = v
        i += 1
    while j < n2:
        v = b[j]
        total += abs(i / n1 - j / n2) * (v - prev)
        prev = v
        j += 1
    return total


@njit(nogil=True)
def _n_distinct_sorted(values: np.ndarray) -> int:
    if values.shape[0] == 0:
        return 0
    count = 1
    for k in range(1, values.shape[0]):
        if values[k] != values[k - 1]:
            count += 1
    return count


def n_distinct_sorted(values: np.ndarray) -> int:
    """Distinct values of a sorted NaN-free array (-0.0 equals 0.0, as in pandas' nunique)."""
    announce_compile(__file__)
    return int(_n_distinct_sorted(values))


@njit(nogil=True)
def _n_distinct_upto(values: np.ndarray, cap: int) -> int:
    seen = np.empty(cap + 1, dtype=values.dtype)
    count = 0
    for k in range(values.shape[0]):
        x = values[k]
        new = True
        for s in range(count):
            if seen[s] == x:
                new = False
                break
        if new:
            seen[count] = x
            count += 1
            if count > cap:
                break
    return count


def n_distinct_upto(values: np.ndarray, cap: int) -> int:
    """Distinct values of a NaN-free array, counted up to ``cap + 1`` (then it stops looking).

    A continuous column shows ``cap + 1`` distinct values within its first
    few rows, so this costs almost nothing where a sort would cost the most.
    """
    announce_compile(__file__)
    return int(_n_distinct_upto(values, cap))


@njit(nogil=True)
def _histogram_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]``: half-open bins, the last one closed, outside ignored."""
    nb = edges.shape[0] - 1
    counts = np.zeros(nb, dtype=np.int64)
    first = edges[0]
    last = edges[nb]
    for k in range(values.shape[0]):
        x = values[k]
        if x < first or x > last:
            continue
        lo = 0
        hi = edges.shape[0]
        while lo < hi:
            mid = (lo + hi) >> 1
            if edges[mid] <= x:
                lo = mid + 1
            else:
                hi = mid
        b = lo - 1
        if b >= nb:
            b = nb - 1
        counts[b] += 1
    return counts


@njit(nogil=True)
def _ks_keys(a, b, n1, n2):
    """Where ECDF(a) - ECDF(b) peaks and dips, over ascending sort keys ``a``, ``b``.

    Both carry a ``SENTINEL`` after their n1 / n2 keys, so the merged walk
    needs no bounds checks and its select is branch-free. The difference is
    tracked exactly as the integer i*n2 - j*n1 and only looked at once every
    tie of a value is consumed (SciPy's ``searchsorted(..., side="right")``
    at every pooled point). Returns (i, j) of the maximum and of the minimum.
    """
    i = 0
    j = 0
    hi = -(1 << 62)
    lo = 1 << 62
    hi_i = hi_j = lo_i = lo_j = 0
    for _ in range(n1 + n2):
        x = a[i]
        y = b[j]
        take_a = x <= y
        v = x if take_a else y
        i += take_a
        j += 1 - take_a
        x = a[i]
        y = b[j]
        following = x if x < y else y
        diff = i * n2 - j * n1
        if following != v:
            if diff > hi:
                hi = diff
                hi_i = i
                hi_j = j
            if diff < lo:
                lo = diff
                lo_i = i
                lo_j = j
    return hi_i, hi_j, lo_i, lo_j


@njit(nogil=True)
def _wasserstein_keys(a, b, n1, n2):
    """SciPy's ``_cdf_distance`` (p=1) over ascending sort keys with sentinels (see ``_ks_keys``).

    |ECDF(a) - ECDF(b)| is the exact integer |i*n2 - j*n1| scaled by
    1/(n1*n2); one element per step (between tied values the width is 0).
    """
    scale = 1.0 / (np.float64(n1) * np.float64(n2))
    x = a[0]
    y = b[0]
    take_a = x <= y
    prev = _key_value(x if take_a else y)
    i = np.int64(take_a)
    j = np.int64(1 - take_a)
    total = 0.0
    for _ in range(n1 + n2 - 1):
        x = a[i]
        y = b[j]
        take_a = x <= y
        v = _key_value(x if take_a else y)
        total += (abs(i * n2 - j * n1) * scale) * (v - prev)
        prev = v
        i += take_a
        j += 1 - take_a
    return total


@njit(nogil=True)
def _top_counts(values, counts):
    """Histogram of the top 16 bits of ``values``' sort keys (65536 buckets, in value order)."""
    for i in range(values.size):
        counts[_sort_key(values[i]) >> np.uint64(48)] += 1


@njit(nogil=True)
def _gather_buckets(values, slot_of, starts, out):
    """Copy the values whose top-16-bit bucket has a slot into ``out``, bucket by bucket."""
    fill = starts.copy()
    for i in range(values.size):
        x = values[i]
        slot = slot_of[_sort_key(x) >> np.uint64(48)]
        if slot >= 0:
            out[fill[slot]] = x
            fill[slot] += 1


@njit(nogil=True)
def _search_counts(values, padded, counts):
    """counts[k] += #{x: searchsorted(edges, x, side="right") == k}, branch-free.

    ``padded`` is the sorted edges followed by NaN up to 2^p - 1 slots (NaN
    never compares <= x, exactly as ``searchsorted`` sorts NaN last), so the
    binary search has a fixed number of steps and a conditional move each.
    ``counts`` has 4 rows, used in turn, so that runs of one bin do not
    serialise on a single counter.
    """
    top = (padded.shape[0] + 1) >> 1
    for i in range(values.shape[0]):
        x = values[i]
        pos = 0
        step = top
        while step > 0:
            cand = pos + step
            pos = cand if padded[cand - 1] <= x else pos
            step >>= 1
        counts[i & 3, pos] += 1


@njit(nogil=True)
def _linear_counts(values, inner, counts):
    """``_search_counts`` for a few edges: count the edges <= x (NaN never is), no branch at all.

    A fixed-step binary search compiled to branches here and mispredicted:
    26 ms per 1e6 values for 9 edges, against 2 ms for this.
    """
    m = inner.shape[0]
    for i in range(values.shape[0]):
        x = values[i]
        pos = 0
        for k in range(m):
            pos += inner[k] <= x
        counts[i & 3, pos] += 1


@njit(nogil=True)
def _min_max(values):
    lo = values[0]
    hi = values[0]
    for i in range(1, values.shape[0]):
        x = values[i]
        lo = x if x < lo else lo
        hi = x if x > hi else hi
    return lo, hi


@njit(nogil=True)
def _uniform_histogram(values, edges, counts):
    """``np.histogram(values, edges)[0]`` into ``counts`` (4 rows, see ``_search_counts``) for equal-width edges.

    The bin is first guessed from the value, as NumPy's uniform-bin path does,
    then moved until edges[k] <= x < edges[k+1] (the last bin closed), so the
    result is exactly the comparison against the explicit edges whatever the
    rounding of the guess. Values outside [edges[0], edges[-1]] are ignored.
    """
    nb = edges.shape[0] - 1
    first = edges[0]
    last = edges[nb]
    scale = nb / (last - first)
    for i in range(values.shape[0]):
        x = values[i]
        if not (x >= first and x <= last):
            continue
        f = (x - first) * scale
        k = int(f) if f < nb else nb - 1
        while k > 0 and x < edges[k]:
            k -= 1
        while k < nb - 1 and x >= edges[k + 1]:
            k += 1
        counts[i & 3, k] += 1


def ks_from_sorted(a: np.ndarray, b: np.ndarray, method: KsMethod = "auto") -> tuple[float, float]:
    """Two-sided KS (statistic, p-value) of two sorted, NaN-free samples; SciPy's rules."""
    check_ks_method(method)
    announce_compile(__file__)
    hi, lo = _ks_extremes(a, b)
    return _ks_result(len(a), len(b), hi, lo, method)


def _ks_result(
    n1: int, n2: int, hi: float, lo: float, method: str, alternative: str = "two-sided"
) -> tuple[float, float]:
    """SciPy's ``ks_2samp`` from the extremes of ECDF(a) - ECDF(b): (statistic, p-value)."""
    min_s = min(max(-lo, 0.0), 1.0)
    if alternative == "less" or (alternative == "two-sided" and min_s > hi):
        d = min_s
    else:
        d = hi
    return ks_pvalue(n1, n2, d, method, alternative)


def _sorted_pair(reference: Any, current: Any) -> tuple[np.ndarray, int, np.ndarray, int]:
    """Ascending sort keys (with a trailing sentinel) of both samples without NaN, and their sizes.

    Each sample is radix-sorted as integer keys (``_sort.py``), the two on
    two threads when large; raises like ``clean_numeric`` when a side is empty.
    """
    ref = as_float(reference, "reference")
    cur = as_float(current, "current")
    announce_compile(__file__)
    if ref.size + cur.size >= _SPLIT_MIN:
        (a, n1), (b, n2) = _both(lambda: sorted_keys(ref), lambda: sorted_keys(cur))
    else:
        (a, n1), (b, n2) = sorted_keys(ref), sorted_keys(cur)
    _check_kept(ref.size, n1, cur.size, n2)
    return a, n1, b, n2


def _check_kept(ref_size: int, n1: int, cur_size: int, n2: int) -> None:
    """Raise when a sample has no value left once NaN/nulls are dropped."""
    for name, total, kept in (("reference", ref_size, n1), ("current", cur_size, n2)):
        if kept == 0:
            dropped = total - kept
            detail = f" after dropping {dropped} NaN/null values" if dropped else ""
            raise ValueError(f"{name} is empty{detail}; drift needs at least one value on each side")


# --------------------------------------------------------------------------- public numeric


def ks_2samp(
    reference: Any,
    current: Any,
    method: KsMethod = "auto",
    *,
    alternative: KsAlternative = "two-sided",
    nan_policy: str = "omit",
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: ``scipy.stats.ks_2samp(ref, cur, alternative, method, nan_policy)``.

    ``alternative``: ``"two-sided"``, ``"less"`` or ``"greater"`` (SciPy's
    meaning: "greater" tests whether the reference's CDF lies above the
    current one's), exact or asymptotic as SciPy's ``method`` chooses.
    ``nan_policy`` defaults to ``"omit"`` (drift drops NaN and nulls and
    counts them; SciPy's default is ``"propagate"``); ``"propagate"`` returns
    (nan, nan) when either sample holds NaN, ``"raise"`` raises. A sample
    left empty after omitting is a ``ValueError`` (SciPy returns NaN).
    """
    check_ks_method(method)
    check_ks_alternative(alternative)
    if nan_policy not in ("propagate", "raise", "omit"):
        raise ValueError(f"nan_policy must be one of {{'propagate', 'raise', 'omit'}}, got {nan_policy!r}")
    ref = as_float(reference, "reference")
    cur = as_float(current, "current")
    if nan_policy != "omit" and (np.isnan(ref).any() or np.isnan(cur).any()):
        if nan_policy == "raise":
            raise ValueError("The input contains nan values")
        return float("nan"), float("nan")
    if ref.size + cur.size < _SPLIT_MIN:
        a, n1, b, n2 = _sorted_pair(ref, cur)
        hi_i, hi_j, lo_i, lo_j = _ks_keys(a, b, n1, n2)
    else:  # large: sort only the buckets that can hold an extreme
        announce_compile(_buckets.__file__)
        n1, n2, hi_i, hi_j, lo_i, lo_j = _buckets.ks_extreme_points(ref, cur)
        _check_kept(ref.size, n1, cur.size, n2)
    # the same float expression SciPy evaluates at the extreme points
    return _ks_result(n1, n2, hi_i / n1 - hi_j / n2, lo_i / n1 - lo_j / n2, method, alternative)


def wasserstein_from_sorted(a: np.ndarray, b: np.ndarray) -> float:
    announce_compile(__file__)
    return float(_wasserstein_sorted(a, b))


def wasserstein_sorted_ref(a: np.ndarray, b: np.ndarray) -> float:
    """``wasserstein`` of a sorted ``a`` and an unsorted ``b``, both finite and non-empty.

    A large ``b`` is not sorted: value buckets give the same number to ~1e-12
    (``_buckets.py``), which is what makes a reference profile pay off.
    """
    if b.size >= _SPLIT_MIN:
        announce_compile(_buckets.__file__)
        distance = _buckets.wasserstein_vs_sorted(a, b)
        if distance is not None:
            return distance
    return wasserstein_from_sorted(a, np.sort(b))


def wasserstein(reference: Any, current: Any, *, u_weights: Any = None, v_weights: Any = None) -> float:
    """First Wasserstein distance: ``scipy.stats.wasserstein_distance(ref, cur, u_weights, v_weights)``.

    NaN (and nulls) are dropped first (with their weights). Infinite values
    give what SciPy gives: inf when one side reaches further, and NaN with
    SciPy's ``RuntimeWarning`` (inf - inf) when both reach the same infinity.
    Weights are non-negative with a positive finite sum per side, as SciPy
    checks; weighted inputs repeat SciPy's ``_cdf_distance`` operations.
    """
    if u_weights is not None or v_weights is not None:
        ref, u = _weighted_sample(reference, u_weights, "reference")
        cur, v = _weighted_sample(current, v_weights, "current")
        return _cdf_distance(ref, cur, u, v)
    a, n1, b, n2 = _sorted_pair(reference, current)
    ends = np.array([a[0], a[n1 - 1], b[0], b[n2 - 1]], dtype=np.uint64)
    if not np.isfinite(_key_values(ends)).all():
        ref, _ = clean_numeric(reference, "reference")
        cur, _ = clean_numeric(current, "current")
        return _cdf_distance(ref, cur, None, None)
    return float(_wasserstein_keys(a, b, n1, n2))


def _key_values(keys: np.ndarray) -> np.ndarray:
    """The floats that sort keys came from (``_sort._key_value``, vectorised)."""
    positive = keys >> np.uint64(63)
    return (keys ^ (np.uint64(1 << 63) | (positive - np.uint64(1)))).view(np.float64)


def _weighted_sample(values: Any, weights: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``values`` without NaN and the matching weights (None stays None), checked as SciPy does."""
    array = as_float(values, name)
    if weights is None:
        kept, _ = clean_numeric(array, name)
        return kept, None
    w = as_float(weights, f"{name} weights")
    if w.size != array.size:
        raise ValueError("Value and weight array-likes for the same empirical distribution must be of the same size.")
    keep = ~np.isnan(array)
    array, w = array[keep], w[keep]
    if array.size == 0:
        raise ValueError(f"{name} is empty; drift needs at least one value on each side")
    if np.any(w < 0):
        raise ValueError("All weights must be non-negative.")
    if not 0 < np.sum(w) < np.inf:
        raise ValueError("Weight array-like sum must be positive and finite. Set as None for an equal "
                         "distribution of weight.")
    return array, w


def _cdf_distance(u_values: np.ndarray, v_values: np.ndarray, u_weights: np.ndarray | None,
                  v_weights: np.ndarray | None) -> float:
    """SciPy's ``_cdf_distance`` with p = 1, operation for operation (weights, infinities)."""
    u_sorter = np.argsort(u_values)
    v_sorter = np.argsort(v_values)
    all_values = np.concatenate((u_values, v_values))
    all_values.sort(kind="mergesort")
    deltas = np.diff(all_values)  # inf - inf: NumPy's RuntimeWarning, as in SciPy
    u_cdf_indices = u_values[u_sorter].searchsorted(all_values[:-1], "right")
    v_cdf_indices = v_values[v_sorter].searchsorted(all_values[:-1], "right")
    if u_weights is None:
        u_cdf = u_cdf_indices / u_values.size
    else:
        u_cumweights = np.concatenate(([0], np.cumsum(u_weights[u_sorter])))
        u_cdf = u_cumweights[u_cdf_indices] / u_cumweights[-1]
    if v_weights is None:
        v_cdf = v_cdf_indices / v_values.size
    else:
        v_cumweights = np.concatenate(([0], np.cumsum(v_weights[v_sorter])))
        v_cdf = v_cumweights[v_cdf_indices] / v_cumweights[-1]
    return float(np.vecdot(np.abs(u_cdf - v_cdf), deltas))


def order_statistics(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """``np.sort(values)[ranks]`` for a NaN-free float64 array, without sorting it.

    A radix select: one pass counts the top 16 bits of every value's sort key
    (65536 buckets, in value order), a second copies out only the buckets
    that hold a wanted rank, and ``np.partition`` finishes inside those. Two
    linear passes instead of ``np.quantile``'s repeated introselect.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    counts = np.zeros(1 << 16, dtype=np.int64)
    _top_counts(values, counts)
    ends = np.cumsum(counts)
    bucket = np.searchsorted(ends, ranks, side="right")
    wanted = np.unique(bucket)
    slot_of = np.full(1 << 16, -1, dtype=np.int32)
    slot_of[wanted] = np.arange(wanted.size, dtype=np.int32)
    sizes = counts[wanted]
    starts = np.zeros(wanted.size, dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    gathered = np.empty(int(sizes.sum()), dtype=np.float64)
    _gather_buckets(values, slot_of, starts, gathered)
    out = np.empty(ranks.size, dtype=np.float64)
    for slot, b in enumerate(wanted.tolist()):
        segment = gathered[starts[slot] : starts[slot] + sizes[slot]]
        mine = bucket == b
        local = ranks[mine] - (ends[b] - counts[b])
        segment.partition(np.unique(local))
        out[mine] = segment[local]
    return out


def quantiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(values, q)`` (method "linear") for a NaN-free float64 array, to the last bit.

    The same index and interpolation arithmetic as NumPy 2's ``_quantile`` and
    ``_lerp``; only the order statistics come from ``order_statistics``.
    """
    n = values.shape[0]
    virtual = (n - 1) * np.asarray(q, dtype=np.float64)
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1
    previous[above] = -1
    following[above] = -1
    previous_i = previous.astype(np.intp)
    following_i = following.astype(np.intp)
    gamma = np.asarray(virtual - previous_i, dtype=virtual.dtype)
    wanted = np.unique(np.concatenate([previous_i, following_i]) % n)
    stats = order_statistics(values, wanted)
    a = stats[np.searchsorted(wanted, previous_i % n)]
    b = stats[np.searchsorted(wanted, following_i % n)]
    with np.errstate(invalid="ignore"):  # inf - inf: NumPy warns, then returns the same NaN
        diff_b_a = b - a
        result = np.add(a, diff_b_a * gamma)
        np.subtract(b, diff_b_a * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


def psi_inner_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges of DESIGN §5's PSI: reference quantiles, deduplicated, outer edges dropped."""
    if bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins}")
    announce_compile(__file__)
    edges = np.unique(quantiles(reference, np.linspace(0.0, 1.0, bins + 1)))
    # The outer edges become -inf/+inf, so only the inner ones decide a bin.
    return np.ascontiguousarray(edges[1:-1])


def _psi_value(r: np.ndarray, c: np.ndarray) -> float:
    r = np.maximum(r, _PSI_FLOOR)
    c = np.maximum(c, _PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def bin_counts(values: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Counts per bin ``searchsorted(inner, x, side="right")`` (len(inner) + 1 bins), x NaN-free."""
    announce_compile(__file__)
    m = inner.shape[0]
    if m <= _LINEAR_EDGES:
        counts = np.zeros((4, m + 1), dtype=np.int64)
        _linear_counts(values, np.ascontiguousarray(inner, dtype=np.float64), counts)
        return counts.sum(axis=0)
    size = 1
    while size < m + 1:
        size <<= 1
    padded = np.full(size - 1, np.nan)
    padded[:m] = inner
    counts = np.zeros((4, m + 1), dtype=np.int64)
    _search_counts(values, padded, counts)
    return counts.sum(axis=0)


def _pair(fn: Any, ref: np.ndarray, cur: np.ndarray) -> tuple[Any, Any]:
    """(fn(ref), fn(cur)), on two threads when the samples are large."""
    if ref.shape[0] + cur.shape[0] >= _SPLIT_MIN:
        return _both(lambda: fn(ref), lambda: fn(cur))
    return fn(ref), fn(cur)


def psi(reference: Any, current: Any, bins: int = 10) -> float:
    """Population stability index over ``bins`` reference-quantile bins (DESIGN §5)."""
    ref, _ = clean_numeric(reference, "reference")
    cur, _ = clean_numeric(current, "current")
    inner = psi_inner_edges(ref, bins)
    r, c = _pair(lambda v: bin_counts(v, inner), ref, cur)
    return _psi_value(r / len(ref), c / len(cur))


def histogram_edges(ref: np.ndarray, cur: np.ndarray, bins: int | str) -> np.ndarray:
    """``np.histogram_bin_edges`` of the pooled sample (what SciPy-style JS and Evidently bin on)."""
    return np.histogram_bin_edges(np.concatenate([ref, cur]), bins)


def sturges_edges(lo: float, hi: float, n: int) -> np.ndarray:
    """``np.histogram_bin_edges(x, "sturges")`` from x's min, max and size alone.

    The same arithmetic as NumPy's ``_get_outer_edges`` / ``_hist_bin_sturges``,
    so a profile can bin the pooled sample without concatenating the reference.
    """
    first, last = np.float64(lo), np.float64(hi)
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = (np.float64(hi) - np.float64(lo)) / (np.log2(n) + 1.0)
    n_bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, n_bins + 1, endpoint=True)


def histogram_counts_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]`` for already-sorted values, in O(bins log n)."""
    pos = np.searchsorted(sorted_values, edges, side="left")
    pos[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return np.diff(pos).astype(np.int64)


def uniform_histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]`` for equal-width ``edges`` (``np.linspace``), in one O(n) pass."""
    announce_compile(__file__)
    counts = np.zeros((4, edges.shape[0] - 1), dtype=np.int64)
    _uniform_histogram(values, np.ascontiguousarray(edges, dtype=np.float64), counts)
    return counts.sum(axis=0)


def histogram_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    announce_compile(__file__)
    return _histogram_counts(values, np.ascontiguousarray(edges, dtype=np.float64))


def js_distance(p: np.ndarray, q: np.ndarray, base: float | None = None) -> float:
    """``scipy.spatial.distance.jensenshannon(p, q, base)`` for 1-D p, q, in NumPy."""
    p = p / np.sum(p)
    q = q / np.sum(q)
    m = (p + q) / 2.0
    js = np.sum(_rel_entr(p, m)) + np.sum(_rel_entr(q, m))
    if base is not None:
        js /= np.log(base)
    return float(np.sqrt(js / 2.0))


def psi_binned(ref: np.ndarray, cur: np.ndarray) -> float:
    """Evidently's ``psi`` stattest on binned proportions: zeros filled as its
    ``feel_zeroes`` does, then sum((ref - cur) * log(ref / cur))."""
    r, c = _fill_zeroes(ref), _fill_zeroes(cur)
    return float(np.sum((r - c) * np.log(r / c)))


def _fill_zeroes(p: np.ndarray) -> np.ndarray:
    """Evidently's ``feel_zeroes``: zeros become min(nonzero)/1e6 if that is <= 1e-4, else 1e-4."""
    smallest = p[p != 0].min()
    fill = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(p == 0, fill, p)


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # scipy.special.rel_entr: x*log(x/y) for x, y > 0; 0 where x == 0 (y >= 0 here).
    out = np.zeros_like(x)
    pos = x > 0
    out[pos] = x[pos] * np.log(x[pos] / y[pos])
    return out


def jensen_shannon(
    reference: Any, current: Any, bins: int | str = "sturges", base: float | None = None
) -> float:
    """Jensen-Shannon distance of histograms over ``np.histogram_bin_edges(ref ∪ cur, bins)``."""
    ref, _ = clean_numeric(reference, "reference")
    cur, _ = clean_numeric(current, "current")
    if isinstance(bins, str) and bins == "sturges":
        announce_compile(__file__)
        (lo_r, hi_r), (lo_c, hi_c) = _pair(_min_max, ref, cur)
        lo, hi = min(lo_r, lo_c), max(hi_r, hi_c)
        if math.isfinite(lo) and math.isfinite(hi):
            edges = sturges_edges(lo, hi, len(ref) + len(cur))
            p, q = _pair(lambda v: uniform_histogram(v, edges), ref, cur)
            return js_distance(p / len(ref), q / len(cur), base)
    edges = histogram_edges(ref, cur, bins)  # NumPy's edges (and its error for inf)
    p = histogram_counts(ref, edges) / len(ref)
    q = histogram_counts(cur, edges) / len(cur)
    return js_distance(p, q, base)


# --------------------------------------------------------------------------- categorical


def chi2_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Evidently's ``_chi_stat_test`` on aligned counts: ``chisquare(cur, ref * n_cur / n_ref)``.

    A category absent from the reference has expected count 0, so the
    statistic is inf and the p-value 0 (SciPy divides by zero); one category
    alone leaves no degree of freedom and a NaN p-value. Both are SciPy's.
    """
    from scipy.special import chdtrc

    k_norm = float(cur_counts.sum()) / float(ref_counts.sum())
    f_exp = ref_counts * k_norm
    f_obs = cur_counts.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(np.sum((f_obs - f_exp) ** 2 / f_exp))
    dof = len(f_obs) - 1
    return stat, float(chdtrc(dof, stat))


def chisquare(f_obs: Any, f_exp: Any = None, ddof: int = 0, *, sum_check: bool = True) -> tuple[float, float]:
    """Pearson's chi-squared test of 1-D frequencies: ``scipy.stats.chisquare(f_obs, f_exp, ddof, sum_check=)``.

    Frequencies may be non-integer (weighted counts); ``f_exp`` defaults to
    the mean of ``f_obs``; the p-value has ``len(f_obs) - 1 - ddof`` degrees of
    freedom (NaN when that is not positive, as SciPy). With ``sum_check``, the
    sums of ``f_obs`` and ``f_exp`` must agree to sqrt(float64 eps), as SciPy
    requires. An expected 0 gives an infinite statistic, as SciPy.
    """
    from scipy.special import chdtrc

    observed = as_float(f_obs, "f_obs")
    if observed.size == 0:
        raise ValueError("f_obs is empty")
    if f_exp is None:
        expected = np.full_like(observed, np.mean(observed))
    else:
        expected = as_float(f_exp, "f_exp")
        if expected.size != observed.size:
            raise ValueError(f"f_obs and f_exp differ in length: {observed.size} != {expected.size}")
        if sum_check:
            rtol = np.finfo(np.float64).eps ** 0.5
            with np.errstate(invalid="ignore"):
                obs_sum, exp_sum = np.sum(observed), np.sum(expected)
                relative_diff = np.abs(obs_sum - exp_sum) / np.minimum(obs_sum, exp_sum)
            if relative_diff > rtol:
                raise ValueError(
                    "For each axis slice, the sum of the observed frequencies must agree with the sum of the "
                    f"expected frequencies to a relative tolerance of {rtol}, but the percent differences are:\n"
                    f"{relative_diff}"
                )
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(np.sum((observed - expected) ** 2 / expected))
    dof = observed.size - 1 - ddof
    return stat, float(chdtrc(dof, stat))


def chi2(reference: Any, current: Any) -> tuple[float, float]:
    """Chi-squared goodness of fit of the current counts to the reference proportions.

    Equals ``scipy.stats.chisquare(f_obs=current counts, f_exp=reference
    proportions * len(current))`` over the union of categories, as Evidently's
    ``chisquare`` stattest computes it.
    """
    _, ref, cur = _counts_of(reference, current)
    return chi2_counts(ref, cur)


def z_test_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Evidently's ``_z_stat_test`` on counts aligned over sorted categories.

    The first category (in sorted order) is 0 and every other one 1; the
    p-value is computed as Evidently does, ``2 * (1 - Phi(|z|))``, not with the
    more accurate survival function, so that tiny p-values agree.
    """
    from scipy.special import ndtr

    present_ref = np.flatnonzero(ref_counts)
    present_cur = np.flatnonzero(cur_counts)
    if len(present_ref) == 1 and len(present_cur) == 1 and present_ref[0] == present_cur[0]:
        return 0.0, 1.0  # both sides constant and equal: Evidently returns p = 1
    n1 = int(ref_counts.sum())
    n2 = int(cur_counts.sum())
    p1 = float(n1 - ref_counts[0]) / n1
    p2 = float(n2 - cur_counts[0]) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(z), float(2 * (1 - ndtr(np.abs(z))))


def z_test(reference: Any, current: Any) -> tuple[float, float]:
    """Two-proportion Z-test for a binary column, exactly as Evidently's ``z`` stattest."""
    _, ref, cur = _counts_of(reference, current)
    return z_test_counts(ref, cur)


def psi_categorical(reference: Any, current: Any) -> float:
    """PSI over category proportions (union of categories), floored at 1e-4 like ``psi``."""
    _, ref, cur = _counts_of(reference, current)
    return _psi_value(ref / ref.sum(), cur / cur.sum())


def jensen_shannon_categorical(reference: Any, current: Any, base: float | None = None) -> float:
    """Jensen-Shannon distance of category proportions (natural log by default, as Evidently)."""
    _, ref, cur = _counts_of(reference, current)
    return js_distance(ref / ref.sum(), cur / cur.sum(), base)
