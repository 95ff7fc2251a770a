"""Two-sample Kolmogorov-Smirnov p-values: SciPy's ``ks_2samp`` rules for a statistic.

Owns the distribution of the KS statistic: the exact lattice probability
(SciPy's ``_attempt_exact_2kssamp``), the asymptotic one (``kstwo.sf``) and
SciPy's choice between them. The statistic itself is computed elsewhere
(``drift.py`` from samples, ``streaming.py`` from sketches).

``kstwo.sf``'s O(n) exact Smirnov sum, which SciPy evaluates in slow
double-double (~1 s at n = 5e5), is summed here in log space (numba, with
``nogil``, in two fixed halves on two threads).

Imports nothing from the rest of lockgate. SciPy (always present: scikit-learn
depends on it) is imported lazily for the distribution tails only.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from lockgate.kernels._compile import announce_compile, njit
from lockgate.kernels._parallel import _both

KsMethod = Literal["auto", "exact", "asymp"]
KsAlternative = Literal["two-sided", "less", "greater"]

MAX_AUTO_N = 10000
"""SciPy's ks_2samp: 'auto' is exact when both samples have at most this many values."""

# scipy.special.smirnov: exact sum up to this n, a closed-form approximation above.
_SMIRNOV_MAX_COMPUTE_N = 1000000
# cephes MINLOG = log(2**-1022): smirnov's sf underflows below it.
_MINLOG = -7.08396418532264106224e2
# Terms of the Smirnov sum above which it is split in two fixed halves.
_SMIRNOV_SPLIT = 1 << 16


def check_ks_method(method: str) -> None:
    """Raise unless ``method`` is one of ``ks_2samp``'s (``KsMethod``)."""
    if method not in ("auto", "exact", "asymp"):
        raise ValueError(f"method must be 'auto', 'exact' or 'asymp', got {method!r}")


def check_ks_alternative(alternative: str) -> None:
    """Raise unless ``alternative`` is one of ``ks_2samp``'s (``KsAlternative``)."""
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}")


def ks_pvalue(n1: int, n2: int, d: float, method: str = "auto", alternative: str = "two-sided") -> tuple[float, float]:
    """SciPy's ``ks_2samp`` (statistic, p-value) for a statistic ``d`` of samples of
    sizes ``n1``, ``n2``; where the p-value is exact, the statistic is ``d``
    rounded to the lattice of multiples of 1/lcm(n1, n2), as SciPy returns it.
    ``alternative`` "less"/"greater" takes the one-sided distribution (``d`` is
    then the one-sided statistic): exact by SciPy's lattice-path count, or
    SciPy's asymptotic closed form."""
    mode = method
    if mode == "auto":
        mode = "exact" if max(n1, n2) <= MAX_AUTO_N else "asymp"
    elif mode == "exact":
        g = math.gcd(n1, n2)
        # SciPy switches (with a warning) when lcm(n1, n2) would overflow int32.
        if n1 // g >= np.iinfo(np.int32).max / (n2 // g):
            mode = "asymp"
    prob = -np.inf
    if mode == "exact":
        if alternative == "two-sided":
            success, d, prob = ks_exact(n1, n2, d)
        else:
            success, d, prob = ks_exact_one_sided(n1, n2, d)
        if not success:
            mode = "asymp"
    if mode == "asymp":
        prob = ks_asymp(n1, n2, d) if alternative == "two-sided" else ks_asymp_one_sided(n1, n2, d)
    return float(d), float(np.clip(prob, 0, 1))


def _lattice(n1: int, n2: int, d: float) -> tuple[int, int, float]:
    """(gcd, h, d on the lattice): the statistic as h / lcm(n1, n2), as SciPy rounds it."""
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    h = int(np.round(d * lcm))
    return g, h, h * 1.0 / lcm


def ks_exact_one_sided(n1: int, n2: int, d: float) -> tuple[bool, float, float]:
    """SciPy's ``_attempt_exact_2kssamp`` for ``alternative`` "less"/"greater": (success, d on the lattice, p).

    Equal sizes: binom(2n, n - h) / binom(2n, n) as SciPy's product. Otherwise
    SciPy's ``_count_paths_outside_method`` over ``binom(m + n, n)`` paths,
    which fails (SciPy then goes asymptotic) once that count overflows a
    float64: the sizes where SciPy's loop raises FloatingPointError or sees inf.
    """
    from scipy import special

    g, h, d = _lattice(n1, n2, d)
    if h == 0:
        return True, d, 1.0
    if n1 == n2:
        jrange = np.arange(h)
        with np.errstate(invalid="ignore", over="ignore"):
            prob = float(np.prod((n1 - jrange) / (n1 + jrange + 1.0)))
    else:
        total = float(special.binom(n1 + n2, n1))
        if not math.isfinite(total):
            return False, d, float("nan")
        m, n = max(n1, n2), min(n1, n2)
        mg, ng = m // g, n // g
        lxj = n + (mg - h) // mg
        if lxj == 0:
            num_paths = float(special.binom(m + n, n))
        else:
            xj = np.array([(h + mg * j + ng - 1) // ng for j in range(lxj)], dtype=np.float64)
            js = np.arange(lxj, dtype=np.float64)
            # every binomial SciPy's loop asks for, computed by SciPy itself; the loop runs in numba
            inner = special.binom(xj[:, None] - xj[None, :] + js[:, None] - js[None, :], js[:, None] - js[None, :])
            announce_compile(__file__)
            num_paths, ok = _count_paths(special.binom(xj + js, js), inner, special.binom((m - xj) + (n - js), n - js))
            if not ok:
                return False, d, float("nan")
        if num_paths > total:
            return False, d, float("nan")
        prob = num_paths / total
    if not (0 <= prob <= 1):
        return False, d, prob
    return True, d, float(prob)


def ks_asymp_one_sided(n1: int, n2: int, d: float) -> float:
    """SciPy's asymptotic one-sided p-value of ``ks_2samp`` (its closed form, operation for operation)."""
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    z = np.sqrt(en) * d
    expt = -2 * z**2 - 2 * z * (m + 2 * n) / np.sqrt(m * n * (m + n)) / 3.0
    return float(np.exp(expt))


def ks_pvalue_auto(n1: int, n2: int, d: float) -> tuple[float, float]:
    """``ks_pvalue(n1, n2, d, "auto")``, except where the exact sum fails (a
    probability outside [0, 1]): then the asymptotic p-value is taken at ``d``
    itself and ``d`` is returned unrounded, where SciPy (and ``ks_pvalue``) use
    the lattice value. ``streaming.py`` tests sketched statistics with it."""
    if max(n1, n2) <= MAX_AUTO_N:
        success, d_lattice, prob = ks_exact(n1, n2, d)
        if success:
            return d_lattice, float(np.clip(prob, 0, 1))
    return d, float(np.clip(ks_asymp(n1, n2, d), 0, 1))


def ks_exact(n1: int, n2: int, d: float) -> tuple[bool, float, float]:
    """SciPy's ``_attempt_exact_2kssamp`` (two-sided): (success, d rounded to the lattice, p)."""
    announce_compile(__file__)
    g, h, d = _lattice(n1, n2, d)
    if h == 0:
        return True, d, 1.0
    if n1 == n2:
        prob = _prob_outside_square(n1, h)
    else:
        prob = _outer_prob_inside(n1, n2, g, h)
    if not (0 <= prob <= 1):  # NaN included: SciPy then falls back to asymp
        return False, d, prob
    return True, d, float(prob)


def ks_asymp(n1: int, n2: int, d: float) -> float:
    """SciPy's asymptotic two-sided p-value: ``kstwo.sf(d, round(n1 n2 / (n1 + n2)))``."""
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return kstwo_sf(float(d), float(np.round(en)))


def kstwo_sf(d: float, n: float) -> float:
    """``scipy.stats.kstwo.sf(d, n)`` (Simard & L'Ecuyer's choice of method, SciPy's ``_kolmogn``).

    For n > 140 and 2.2 <= n d^2 the survival function is 2 * smirnov(n, d)
    (0 from n d^2 >= 370). That exact one-sided sum is O(n) and slow in
    cephes (~1 s at n = 5e5), so it is summed here instead (``_smirnov``);
    every other case (small n, small n d^2: Durbin's matrix, Pomeranz,
    Pelz-Good, all sub-millisecond) goes to SciPy.
    """
    t = n * d
    if n > 140 and 1.0 < t < n - 1 and d < 0.5:
        nx2 = t * d
        if nx2 >= 370.0:
            return 0.0
        if nx2 >= 2.2:
            if n <= _SMIRNOV_MAX_COMPUTE_N:
                announce_compile(__file__)
                return min(max(2.0 * _smirnov(int(n), d), 0.0), 1.0)
            from scipy.special import smirnov  # a closed form above 1e6: fast

            return min(max(2.0 * float(smirnov(int(n), d)), 0.0), 1.0)
    from scipy.stats import kstwo

    return float(kstwo.sf(d, n))


def _smirnov(n: int, x: float) -> float:
    """``scipy.special.smirnov(n, x)`` for 140 < n <= 1e6 and 1 < n*x < n - 1, x < 0.5.

    cephes sums the same n - floor(n*x) positive terms in double-double, one
    ``pow`` each: ~1.8 us per term, ~0.9 s at n = 5e5. This sums them in
    float64 log space (``_smirnov_terms``) in two fixed halves, ~1e-10 relative
    to cephes' value.
    """
    if -2.0 * n * x * x < _MINLOG:
        return 0.0  # cephes: "x is so big, the sf underflows double64"
    n_terms = n - int(math.floor(n * x))
    shift = -2.0 * n * x * x  # ~ log of the largest term: keeps exp() in range
    if n_terms < _SMIRNOV_SPLIT:
        total = _smirnov_terms(n, x, 0, n_terms, 0.0, shift)
    else:
        mid = n_terms // 2
        log_c_mid = math.lgamma(n + 1.0) - math.lgamma(mid + 1.0) - math.lgamma(n - mid + 1.0)
        first, second = _both(
            lambda: _smirnov_terms(n, x, 0, mid, 0.0, shift),
            lambda: _smirnov_terms(n, x, mid, n_terms, log_c_mid, shift),
        )
        total = first + second
    if total <= 0.0:
        return 0.0
    return min(math.exp(math.log(x) + math.log(total) + shift), 1.0)


# --------------------------------------------------------------------------- numba passes


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


@njit(nogil=True)
def _smirnov_terms(n, x, start, stop, log_c, shift):
    """sum_{v=start}^{stop-1} A_v exp(-shift), A_v = C(n,v) (1-x-v/n)^(n-v) (x+v/n)^(v-1).

    The terms of the exact one-sided Smirnov sum (Smirnov 1944; the lower sum
    of cephes' ``smirnov``, which SciPy evaluates in double-double). Every
    term is positive, so there is no cancellation: each is taken in log space
    (log C(n, v) by a compensated running sum from ``log_c`` = log C(n,
    start)), accurate to ~1e-10 relative, and so is the sum.
    """
    nx = n * x
    inv_n = 1.0 / n
    total = 0.0
    carry = 0.0
    for v in range(start, stop):
        t = (v + nx) * inv_n
        term = log_c + (n - v) * math.log1p(-t) + (v - 1) * math.log(t)
        total += math.exp(term - shift)
        step = math.log((n - v) / (v + 1.0)) - carry
        after = log_c + step
        carry = (after - log_c) - step
        log_c = after
    return total



@njit(nogil=True)
def _count_paths(first, inner, extensions):
    """The loops of SciPy's ``_count_paths_outside_method`` over precomputed binomials, in its order.

    ``first[j]`` = binom(x_j + j, j), ``inner[j, i]`` = binom(x_j - x_i + j - i,
    j - i), ``extensions[j]`` = binom(m - x_j + n - j, n - j). Returns (paths,
    False) where SciPy's ``errstate(over/invalid="raise")`` would raise.
    """
    lxj = first.shape[0]
    b = np.zeros(lxj)
    b[0] = 1.0
    for j in range(1, lxj):
        bj = first[j]
        for i in range(j):
            bj -= inner[j, i] * b[i]
            if not np.isfinite(bj):
                return 0.0, False
        b[j] = bj
    paths = 0.0
    for j in range(lxj):
        paths += b[j] * extensions[j]
        if not np.isfinite(paths):
            return 0.0, False
    return paths, True
