"""Exact KS and Wasserstein of large samples without sorting them whole.

Both samples are counted into the same equal-width buckets of their pooled
value range (``floor((x - lo) * scale)`` never reorders two values, and ties
share a bucket). The ECDF difference ``D = i*n2 - j*n1`` is then known
exactly at every bucket's end, and inside a bucket it can rise by at most
``ca*n2`` and fall by at most ``cb*n1``.

KS: only buckets whose bounds reach the extremes seen at bucket ends can hold
the first maximum or minimum; those few are gathered and resolved, the rest
are stepped over. A gathered bucket that is still large (an outlier
stretched the range, a spike of ties) is bucketed once more over its own
range; what remains is radix-sorted (``_sort.py``) and walked point by
point. The walk visits, in order, a subset of the pooled points that holds
the first maximum and the first minimum, so it returns exactly what a merged
walk over the fully sorted samples returns (``drift._ks_keys``).

Wasserstein (against an already sorted reference, as a drift profile holds
it): where D keeps one sign across a bucket, the integral of |D| over it is
a sum of per-bucket counts and value sums, no order needed; only buckets
where D may cross zero, or where that sum would cancel badly, are sorted and
walked like SciPy's ``_cdf_distance``. Equal to SciPy to ~1e-12 relative,
not bit for bit (the summation order differs).

For smooth data at n = 1e6 each is three or four streaming passes over the
current sample and a sort of ~1% of it, instead of an eight-pass radix sort.

Imports nothing from the rest of lockgate.
"""

from __future__ import annotations

import numpy as np

from lockgate.kernels._compile import njit
from lockgate.kernels._parallel import _both
from lockgate.kernels._sort import _key_value, _radix_sort_in_place, _sort_key

# 2^16 bucket counters (512 KiB of int64) stay in L2 while a sample streams past.
_BUCKETS = 1 << 16

# A gathered bucket above this many values is bucketed again over its own range.
_LEAF_MAX = 512
# Below this many keys a segment is insertion-sorted rather than radix-sorted.
_INSERTION_MAX = 32

# Slots of the running state shared by the walk: the best bounds known from
# bucket ends, then the first maximum and minimum found so far and where.
_BOUND_HI, _BOUND_LO, _HI, _HI_I, _HI_J, _LO, _LO_I, _LO_J = range(8)


def _n_buckets(n_values: int) -> int:
    """~8 pooled values per bucket, at most ``_BUCKETS``: per-bucket work stays below per-value work."""
    return max(64, min(_BUCKETS, 1 << max(0, n_values.bit_length() - 3)))


@njit(nogil=True)
def _finite_range(values):
    """(smallest finite value, largest finite value, count of non-NaN values)."""
    lo = np.inf
    hi = -np.inf
    m = 0
    for i in range(values.size):
        value = values[i]
        if value == value:
            m += 1
            if abs(value) != np.inf:
                lo = min(lo, value)
                hi = max(hi, value)
    return lo, hi, m


@njit(nogil=True)
def _scale(lo, hi, n_buckets):
    """Buckets per unit of value; 0 (one bucket) when the range is empty or overflows."""
    width = hi - lo
    if not (width > 0 and width < np.inf):
        return 0.0
    return (n_buckets - 1) / width


@njit(nogil=True)
def _bucket(value, lo, scale, top):
    """Monotone bucket of a non-NaN value: ±inf go to the end buckets."""
    t = (value - lo) * scale
    if t >= top:
        return top
    if t > 0:
        return int(t)
    return 0


@njit(nogil=True)
def _bucket_counts(values, lo, scale, n_buckets):
    counts = np.zeros(n_buckets, np.int64)
    top = n_buckets - 1
    for i in range(values.size):
        value = values[i]
        if value == value:
            counts[_bucket(value, lo, scale, top)] += 1
    return counts


@njit(nogil=True)
def _bound_buckets(ca, cb, i0, j0, n1, n2, state):
    """Raise the state's bounds with the bucket ends; mark buckets that may hold an extreme.

    A bucket end is a real pooled point, so the largest (smallest) difference
    at an end is a lower (upper) bound of the maximum (minimum). A bucket whose
    reachable range stays strictly below (above) it cannot hold the first one.
    """
    diff = i0 * n2 - j0 * n1
    for k in range(ca.size):
        diff += ca[k] * n2 - cb[k] * n1
        if ca[k] + cb[k]:
            state[_BOUND_HI] = max(state[_BOUND_HI], diff)
            state[_BOUND_LO] = min(state[_BOUND_LO], diff)
    mask = np.zeros(ca.size, np.bool_)
    start = i0 * n2 - j0 * n1
    for k in range(ca.size):
        if ca[k] + cb[k]:
            rises_to = start + ca[k] * n2
            falls_to = start - cb[k] * n1
            mask[k] = rises_to >= state[_BOUND_HI] or falls_to <= state[_BOUND_LO]
        start += ca[k] * n2 - cb[k] * n1
    return mask


@njit(nogil=True)
def _slots(values, counts, mask):
    """Room to gather the masked buckets' values: (buffer, bucket starts, write cursors)."""
    n_buckets = counts.size
    starts = np.zeros(n_buckets + 1, np.int64)
    for k in range(n_buckets):
        starts[k + 1] = starts[k] + (counts[k] if mask[k] else 0)
    return np.empty(starts[n_buckets], values.dtype), starts, starts[:n_buckets].copy()


@njit(nogil=True)
def _gather(values, lo, scale, counts, mask):
    """The non-NaN ``values`` of the masked buckets, grouped by bucket (unsorted).

    Returns (gathered, starts): bucket k's values are
    ``gathered[starts[k]:starts[k+1]]``, empty when k is unmasked.
    """
    gathered, starts, cursor = _slots(values, counts, mask)
    top = counts.size - 1
    for i in range(values.size):
        value = values[i]
        if value == value:
            k = _bucket(value, lo, scale, top)
            if mask[k]:
                gathered[cursor[k]] = value
                cursor[k] += 1
    return gathered, starts


@njit(nogil=True)
def _insertion_sort(keys):
    for i in range(1, keys.size):
        key = keys[i]
        j = i - 1
        while j >= 0 and keys[j] > key:
            keys[j + 1] = keys[j]
            j -= 1
        keys[j + 1] = key


@njit(nogil=True)
def _sorted_keys(values):
    keys = np.empty(values.size, np.uint64)
    for i in range(values.size):
        keys[i] = _sort_key(values[i])
    if keys.size <= _INSERTION_MAX:
        _insertion_sort(keys)
    else:
        _radix_sort_in_place(keys, np.empty_like(keys))
    return keys


@njit(nogil=True)
def _next_value(a, b, i, j):
    """The next pooled value of sorted runs ``a``, ``b`` from (i, j), and (i, j) past all its ties."""
    if j >= b.size or (i < a.size and a[i] <= b[j]):
        v = a[i]
    else:
        v = b[j]
    while i < a.size and a[i] == v:
        i += 1
    while j < b.size and b[j] == v:
        j += 1
    return v, i, j


@njit(nogil=True)
def _walk_sorted(sa, sb, i0, j0, n1, n2, state):
    """Walk one resolved bucket point by point, after every tie of a value is consumed."""
    a = _sorted_keys(sa)
    b = _sorted_keys(sb)
    i = j = 0
    while i < a.size or j < b.size:
        _, i, j = _next_value(a, b, i, j)
        diff = (i0 + i) * n2 - (j0 + j) * n1
        if diff > state[_HI]:
            state[_HI] = diff
            state[_HI_I] = i0 + i
            state[_HI_J] = j0 + j
        if diff < state[_LO]:
            state[_LO] = diff
            state[_LO_I] = i0 + i
            state[_LO_J] = j0 + j


@njit(nogil=True)
def _walk_rebucketed(sa, sb, i0, j0, n1, n2, state):
    """Resolve a large gathered bucket: bucket it over its own range, walk the masked parts."""
    lo_a, hi_a, _ = _finite_range(sa)
    lo_b, hi_b, _ = _finite_range(sb)
    lo = min(lo_a, lo_b)
    n_buckets = min(_BUCKETS, (sa.size + sb.size) // 4)
    scale = _scale(lo, max(hi_a, hi_b), n_buckets)
    if scale == 0:  # one value (or a range that overflows): nothing to split
        _walk_sorted(sa, sb, i0, j0, n1, n2, state)
        return
    ca = _bucket_counts(sa, lo, scale, n_buckets)
    cb = _bucket_counts(sb, lo, scale, n_buckets)
    mask = _bound_buckets(ca, cb, i0, j0, n1, n2, state)
    a, a_starts = _gather(sa, lo, scale, ca, mask)
    b, b_starts = _gather(sb, lo, scale, cb, mask)
    for k in range(n_buckets):
        if mask[k]:
            part_a = a[a_starts[k] : a_starts[k + 1]]
            part_b = b[b_starts[k] : b_starts[k + 1]]
            _walk_sorted(part_a, part_b, i0, j0, n1, n2, state)
        i0 += ca[k]
        j0 += cb[k]


@njit(nogil=True)
def _walk_buckets(ca, cb, mask, a, a_starts, b, b_starts, n1, n2, state):
    """Step over unmasked buckets whole; resolve the masked ones in order."""
    i0 = 0
    j0 = 0
    for k in range(ca.size):
        if mask[k]:
            part_a = a[a_starts[k] : a_starts[k + 1]]
            part_b = b[b_starts[k] : b_starts[k + 1]]
            if part_a.size + part_b.size > _LEAF_MAX:
                _walk_rebucketed(part_a, part_b, i0, j0, n1, n2, state)
            else:
                _walk_sorted(part_a, part_b, i0, j0, n1, n2, state)
        i0 += ca[k]
        j0 += cb[k]


def _new_state() -> np.ndarray:
    state = np.zeros(8, np.int64)
    state[[_BOUND_HI, _HI]] = -(1 << 62)
    state[[_BOUND_LO, _LO]] = 1 << 62
    return state


def ks_extreme_points(ref: np.ndarray, cur: np.ndarray) -> tuple[int, int, int, int, int, int]:
    """(n1, n2, hi_i, hi_j, lo_i, lo_j) for two float64 samples; NaN are dropped.

    ``hi_i/n1 - hi_j/n2`` is the first maximum of ECDF(ref) - ECDF(cur) over
    the pooled sample, ``lo_i/n1 - lo_j/n2`` the first minimum; n1 or n2 is 0
    when a sample holds no value (the caller raises).
    """
    (lo_a, hi_a, n1), (lo_b, hi_b, n2) = _both(lambda: _finite_range(ref), lambda: _finite_range(cur))
    if n1 == 0 or n2 == 0:
        return n1, n2, 0, 0, 0, 0
    lo = min(lo_a, lo_b)
    n_buckets = _n_buckets(n1 + n2)
    scale = _scale(lo, max(hi_a, hi_b), n_buckets)
    ca, cb = _both(
        lambda: _bucket_counts(ref, lo, scale, n_buckets), lambda: _bucket_counts(cur, lo, scale, n_buckets)
    )
    state = _new_state()
    mask = _bound_buckets(ca, cb, 0, 0, n1, n2, state)
    (a, a_starts), (b, b_starts) = _both(
        lambda: _gather(ref, lo, scale, ca, mask), lambda: _gather(cur, lo, scale, cb, mask)
    )
    _walk_buckets(ca, cb, mask, a, a_starts, b, b_starts, n1, n2, state)
    return n1, n2, int(state[_HI_I]), int(state[_HI_J]), int(state[_LO_I]), int(state[_LO_J])


# --------------------------------------------------------------------------- Wasserstein


# A one-sign bucket is summed in closed form only when |D| stays within this
# factor across it, so that the sum cannot lose more than ~12 bits to cancellation.
_CONDITION = 64.0
# Areas are summed unscaled (D is an integer up to n1*n2): range * n1 * n2 must stay finite.
_SUM_LIMIT = 1e300


@njit(nogil=True)
def _counts_and_maxima(values, lo, scale, n_buckets):
    """Per bucket: how many ``values`` (finite) fall in it, and the largest of them."""
    counts = np.zeros(n_buckets, np.int64)
    maxima = np.full(n_buckets, -np.inf)
    top = n_buckets - 1
    for i in range(values.size):
        value = values[i]
        k = _bucket(value, lo, scale, top)
        counts[k] += 1
        maxima[k] = max(maxima[k], value)
    return counts, maxima


@njit(nogil=True)
def _sorted_bucket_counts(values, lo, scale, n_buckets):
    """``_bucket_counts`` of sorted values: runs of one bucket are counted, not incremented."""
    counts = np.zeros(n_buckets, np.int64)
    top = n_buckets - 1
    run_bucket = _bucket(values[0], lo, scale, top)
    run_start = 0
    for i in range(values.size):
        k = _bucket(values[i], lo, scale, top)
        if k != run_bucket:
            counts[run_bucket] += i - run_start
            run_bucket = k
            run_start = i
    counts[run_bucket] += values.size - run_start
    return counts


@njit(nogil=True)
def _plan_buckets(ca, a, cb, b_max, lo, n1, n2):
    """Per bucket: the last pooled value before it, its largest value, and whether to walk it.

    ``a`` is the sorted reference (its part of bucket k is a contiguous run),
    ``lo`` the pooled minimum (D is 0 up to it). A bucket is walked when D may
    change sign in it, or when |D| may vary across it by more than
    ``_CONDITION`` (its closed-form sum would cancel).
    """
    n_buckets = ca.size
    walk = np.zeros(n_buckets, np.bool_)
    before = np.empty(n_buckets)
    top = np.empty(n_buckets)
    prev = lo
    a_end = 0
    d = 0
    for k in range(n_buckets):
        if ca[k] + cb[k] == 0:
            continue
        a_end += ca[k]
        top[k] = b_max[k] if cb[k] else -np.inf
        if ca[k]:
            top[k] = max(top[k], a[a_end - 1])
        before[k] = prev
        high = d + ca[k] * n2
        low = d - cb[k] * n1
        if low >= 0:  # D >= 0 throughout: only the current's steps pull it toward 0
            walk[k] = cb[k] > 0 and low * _CONDITION < high
        elif high <= 0:  # D <= 0 throughout: only the reference's steps pull it toward 0
            walk[k] = ca[k] > 0 and -high * _CONDITION < -low
        else:
            walk[k] = True
        d += ca[k] * n2 - cb[k] * n1
        prev = top[k]
    return before, top, walk


@njit(nogil=True)
def _sums_and_gather(values, lo, scale, counts, before, walk):
    """One pass: per one-sign bucket the sum of (value - before); the walked buckets' values gathered.

    Returns (sums, gathered, starts), the last two as ``_gather`` returns them.
    """
    sums = np.zeros(counts.size)
    gathered, starts, cursor = _slots(values, counts, walk)
    top = counts.size - 1
    for i in range(values.size):
        value = values[i]
        k = _bucket(value, lo, scale, top)
        if walk[k]:
            gathered[cursor[k]] = value
            cursor[k] += 1
        else:
            sums[k] += value - before[k]
    return sums, gathered, starts


@njit(nogil=True)
def _walk_area(a, b, d, prev, n1, n2):
    """Integral of |D| from ``prev`` across one bucket's sorted runs ``a`` and ``b``.

    SciPy's ``_cdf_distance`` step: |D| after every value up to ``prev`` times
    the gap to the next pooled value.
    """
    area = 0.0
    i = j = 0
    while i < a.size or j < b.size:
        v, i_next, j_next = _next_value(a, b, i, j)
        area += abs(d) * (v - prev)
        d += (i_next - i) * n2 - (j_next - j) * n1
        i, j, prev = i_next, j_next, v
    return area


@njit(nogil=True)
def _sort_in_place(values):
    """Sort NaN-free floats in place: insertion sort when short (no allocation), else by radix keys."""
    if values.size <= _INSERTION_MAX:
        _insertion_sort(values)
        return
    keys = _sorted_keys(values)
    for i in range(keys.size):
        values[i] = _key_value(keys[i])


@njit(nogil=True)
def _wasserstein_area(a, ca, cb, sums, before, top, walk, gathered, starts, n1, n2):
    """Integral of |D| over the pooled range, bucket by bucket (closed form or walked)."""
    total = 0.0
    a_start = 0
    d = 0
    for k in range(ca.size):
        if ca[k] + cb[k] == 0:
            continue
        run = a[a_start : a_start + ca[k]]
        a_start += ca[k]
        if walk[k]:
            part = gathered[starts[k] : starts[k + 1]]
            _sort_in_place(part)
            total += _walk_area(run, part, d, before[k], n1, n2)
        else:
            width = top[k] - before[k]
            run_sum = 0.0
            for x in run:
                run_sum += x - before[k]
            # the integral of D from before[k] to top[k]: D is d up to the
            # bucket's first value, then steps by +n2 / -n1 at each value
            area = d * width + n2 * (ca[k] * width - run_sum) - n1 * (cb[k] * width - sums[k])
            total += abs(area)
        d += ca[k] * n2 - cb[k] * n1
    return total


def wasserstein_vs_sorted(a: np.ndarray, b: np.ndarray) -> float | None:
    """``scipy.stats.wasserstein_distance(a, b)`` for a sorted ``a`` and any ``b``, both finite and non-empty.

    None when the unscaled sums could overflow (a range near the float limit):
    the caller sorts instead.
    """
    b_lo, b_hi, _ = _finite_range(b)
    lo = min(a[0], b_lo)
    hi = max(a[-1], b_hi)
    n1, n2 = a.size, b.size
    if not (float(hi) - float(lo)) * n1 * n2 < _SUM_LIMIT:  # Python floats: inf, no warning
        return None
    n_buckets = _n_buckets(n1 + n2)
    scale = _scale(lo, hi, n_buckets)  # 0 puts all in one bucket, walked
    ca = _sorted_bucket_counts(a, lo, scale, n_buckets)
    cb, b_max = _counts_and_maxima(b, lo, scale, n_buckets)
    before, top, walk = _plan_buckets(ca, a, cb, b_max, lo, n1, n2)
    sums, gathered, starts = _sums_and_gather(b, lo, scale, cb, before, walk)
    area = _wasserstein_area(a, ca, cb, sums, before, top, walk, gathered, starts, n1, n2)
    return float(area / (np.float64(n1) * np.float64(n2)))
