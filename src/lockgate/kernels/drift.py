"""Per-column drift statistics: numeric (KS, Wasserstein, PSI, Jensen-Shannon) and categorical.

Owns the statistic of one reference column against one current column. Each
public function equals its reference (DESIGN §5): ``ks_2samp`` and
``wasserstein`` equal SciPy's, ``jensen_shannon`` equals
``scipy.spatial.distance.jensenshannon`` over shared histogram edges, ``psi``
follows the quantile-bin rule of DESIGN §5, and the categorical tests equal
Evidently's stattests. Choosing a test per column is ``table.py``'s job, not
this module's.

Sorting is NumPy's (numba's in-kernel sort is ~10x slower); the passes over
sorted data are numba, compiled with ``nogil`` so columns can run in threads.
The ``*_sorted`` / ``*_counts`` helpers take already-cleaned inputs so that a
reference profile can skip the reference work.

Imports nothing from the rest of lockgate. SciPy (always present: scikit-learn
depends on it) is imported lazily for the distribution tails only.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from lockgate.kernels._compile import announce_compile, njit
from lockgate.kernels._inputs import as_float, as_numpy

KsMethod = Literal["auto", "exact", "asymp"]

# SciPy's ks_2samp: 'auto' is exact when both samples have at most this many values.
_MAX_AUTO_N = 10000
_PSI_FLOOR = 1e-4


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
def _bin_counts(values: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Counts per bin ``searchsorted(inner, x, side="right")`` (len(inner) + 1 bins)."""
    counts = np.zeros(inner.shape[0] + 1, dtype=np.int64)
    for k in range(values.shape[0]):
        x = values[k]
        lo = 0
        hi = inner.shape[0]
        while lo < hi:
            mid = (lo + hi) >> 1
            if inner[mid] <= x:
                lo = mid + 1
            else:
                hi = mid
        counts[lo] += 1
    return counts


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
def _prob_outside_square(n: int, h: int) -> float:
    """SciPy's ``_compute_prob_outside_square``: P(D_{n,n} >= h/n), Horner-like form."""
    p = 0.0
    k = int(np.floor(n / h))
    while k >= 0:
        p1 = 1.0
        for j in range(h):
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1)
        p = p1 * (1.0 - p)
        k -= 1
    return 2 * p


@njit(nogil=True)
def _outer_prob_inside(m: int, n: int, g: int, h: int) -> float:
    """SciPy's ``_compute_outer_prob_inside_method`` (``_stats_pythran.py``), line for line."""
    if m < n:
        m, n = n, m
    mg = m // g
    ng = n // g
    minj = 0
    maxj = min(int(np.ceil(h / mg)), n + 1)
    curlen = maxj - minj
    len_a = min(2 * maxj + 2, n + 1)
    a = np.ones(len_a, dtype=np.float64)
    a[minj:maxj] = 0.0
    for i in range(1, m + 1):
        lastminj = minj
        lastlen = curlen
        minj = max(int(np.floor((ng * i - h) / mg)) + 1, 0)
        minj = min(minj, n)
        maxj = min(int(np.ceil((ng * i + h) / mg)), n + 1)
        if maxj <= minj:
            return 1.0
        val = 0.0 if minj == 0 else 1.0
        for jj in range(maxj - minj):
            j = jj + minj
            val = (a[jj + minj - lastminj] * i + val * j) / (i + j)
            a[jj] = val
        curlen = maxj - minj
        if lastlen > curlen:
            a[maxj - minj : maxj - minj + (lastlen - curlen)] = 1
    return a[maxj - minj - 1]


# --------------------------------------------------------------------------- KS p-value


def _ks_exact(n1: int, n2: int, d: float) -> tuple[bool, float, float]:
    """SciPy's ``_attempt_exact_2kssamp`` (two-sided): (success, d rounded to the lattice, p)."""
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    h = int(np.round(d * lcm))
    d = h * 1.0 / lcm
    if h == 0:
        return True, d, 1.0
    if n1 == n2:
        prob = _prob_outside_square(n1, h)
    else:
        prob = _outer_prob_inside(n1, n2, g, h)
    if not (0 <= prob <= 1):  # NaN included: SciPy then falls back to asymp
        return False, d, prob
    return True, d, float(prob)


def _ks_asymp(n1: int, n2: int, d: float) -> float:
    from scipy.stats import kstwo

    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(kstwo.sf(d, np.round(en)))


def ks_from_sorted(a: np.ndarray, b: np.ndarray, method: KsMethod = "auto") -> tuple[float, float]:
    """Two-sided KS (statistic, p-value) of two sorted, NaN-free samples; SciPy's rules."""
    if method not in ("auto", "exact", "asymp"):
        raise ValueError(f"method must be 'auto', 'exact' or 'asymp', got {method!r}")
    announce_compile(__file__)
    n1, n2 = len(a), len(b)
    hi, lo = _ks_extremes(a, b)
    min_s = min(max(-lo, 0.0), 1.0)
    d = min_s if min_s > hi else hi
    mode = method
    if mode == "auto":
        mode = "exact" if max(n1, n2) <= _MAX_AUTO_N else "asymp"
    elif mode == "exact":
        g = math.gcd(n1, n2)
        # SciPy switches (with a warning) when lcm(n1, n2) would overflow int32.
        if n1 // g >= np.iinfo(np.int32).max / (n2 // g):
            mode = "asymp"
    prob = -np.inf
    if mode == "exact":
        success, d, prob = _ks_exact(n1, n2, d)
        if not success:
            mode = "asymp"
    if mode == "asymp":
        prob = _ks_asymp(n1, n2, d)
    return float(d), float(np.clip(prob, 0, 1))


# --------------------------------------------------------------------------- public numeric


def ks_2samp(reference: Any, current: Any, method: KsMethod = "auto") -> tuple[float, float]:
    """Two-sided two-sample Kolmogorov-Smirnov test: ``scipy.stats.ks_2samp(ref, cur, method=...)``.

    NaN (and nulls) are dropped from both samples first.
    """
    ref, _ = clean_numeric(reference, "reference")
    cur, _ = clean_numeric(current, "current")
    return ks_from_sorted(np.sort(ref), np.sort(cur), method)


def wasserstein_from_sorted(a: np.ndarray, b: np.ndarray) -> float:
    announce_compile(__file__)
    return float(_wasserstein_sorted(a, b))


def wasserstein(reference: Any, current: Any) -> float:
    """First Wasserstein distance: ``scipy.stats.wasserstein_distance(ref, cur)`` (unweighted)."""
    ref, _ = clean_numeric(reference, "reference")
    cur, _ = clean_numeric(current, "current")
    return wasserstein_from_sorted(np.sort(ref), np.sort(cur))


def psi_inner_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges of DESIGN §5's PSI: reference quantiles, deduplicated, outer edges dropped."""
    if bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins}")
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)))
    # The outer edges become -inf/+inf, so only the inner ones decide a bin.
    return np.ascontiguousarray(edges[1:-1])


def _psi_value(r: np.ndarray, c: np.ndarray) -> float:
    r = np.maximum(r, _PSI_FLOOR)
    c = np.maximum(c, _PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def psi(reference: Any, current: Any, bins: int = 10) -> float:
    """Population stability index over ``bins`` reference-quantile bins (DESIGN §5)."""
    ref, _ = clean_numeric(reference, "reference")
    cur, _ = clean_numeric(current, "current")
    inner = psi_inner_edges(ref, bins)
    announce_compile(__file__)
    r = _bin_counts(ref, inner) / len(ref)
    c = _bin_counts(cur, inner) / len(cur)
    return _psi_value(r, c)


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
    edges = histogram_edges(ref, cur, bins)
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
