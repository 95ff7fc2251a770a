"""Slow, obvious twins of the drift kernels and of Evidently's default drift rule.

Numeric statistics call SciPy/NumPy directly. The Evidently part is a
hand-checked transcription of evidently 0.7.23 (Evidently itself is not
installed in the test environment): ``core/datasets.py::infer_column_type``,
``legacy/calculations/data_drift.py::get_one_column_drift``,
``legacy/calculations/stattests/registry.py::_get_default_stattest`` and the
stattest files, with pandas operations spelled out in plain Python.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.special import ndtr

# --------------------------------------------------------------------------- numeric kernels


def drop_nan(values: Any) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    return a[~np.isnan(a)]


def ks_2samp(ref: Any, cur: Any, method: str = "auto") -> tuple[float, float]:
    r = stats.ks_2samp(drop_nan(ref), drop_nan(cur), method=method)
    return float(r.statistic), float(r.pvalue)


def wasserstein(ref: Any, cur: Any) -> float:
    return float(stats.wasserstein_distance(drop_nan(ref), drop_nan(cur)))


def psi(ref: Any, cur: Any, bins: int = 10) -> float:
    r, c = drop_nan(ref), drop_nan(cur)
    edges = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)))
    inner = edges[1:-1]
    n_bins = len(inner) + 1
    rp = np.bincount(np.searchsorted(inner, r, side="right"), minlength=n_bins) / len(r)
    cp = np.bincount(np.searchsorted(inner, c, side="right"), minlength=n_bins) / len(c)
    rp, cp = np.maximum(rp, 1e-4), np.maximum(cp, 1e-4)
    return float(np.sum((cp - rp) * np.log(cp / rp)))


def jensen_shannon(ref: Any, cur: Any, bins: Any = "sturges", base: float | None = None) -> float:
    r, c = drop_nan(ref), drop_nan(cur)
    edges = np.histogram_bin_edges(np.concatenate([r, c]), bins)
    p = np.histogram(r, edges)[0] / len(r)
    q = np.histogram(c, edges)[0] / len(c)
    return float(jensenshannon(p, q, base))


# --------------------------------------------------------------------------- categorical (Evidently's stattests)


def _present(values: Any) -> list[Any]:
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def _counts(ref: Any, cur: Any) -> tuple[list[Any], Counter, Counter]:
    r, c = Counter(_present(ref)), Counter(_present(cur))
    return list(set(r) | set(c)), r, c


def chi2(ref: Any, cur: Any) -> tuple[float, float]:
    """chisquare_stattest.py::_chi_stat_test (statistic and p-value)."""
    keys, r, c = _counts(ref, cur)
    k_norm = sum(c.values()) / sum(r.values())
    f_exp = [r[k] * k_norm for k in keys]
    f_obs = [c[k] for k in keys]
    with np.errstate(divide="ignore", invalid="ignore"):
        res = stats.chisquare(f_obs, f_exp)
    return float(res.statistic), float(res.pvalue)


def z_test(ref: Any, cur: Any) -> tuple[float, float]:
    """z_stattest.py::_z_stat_test with proportions_diff_z_stat_ind / proportions_diff_z_test."""
    ref, cur = _present(ref), _present(cur)
    if len(set(ref)) == 1 and len(set(cur)) == 1 and ref[0] == cur[0]:
        return 0.0, 1.0
    key = sorted(set(ref) | set(cur))[0]
    a = [0 if x == key else 1 for x in ref]
    b = [0 if x == key else 1 for x in cur]
    n1, n2 = len(a), len(b)
    p1 = float(sum(a)) / n1
    p2 = float(sum(b)) / n2
    big_p = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(big_p * (1 - big_p) * (1.0 / n1 + 1.0 / n2))
    return float(z), float(2 * (1 - ndtr(np.abs(z))))


def proportions(ref: Any, cur: Any) -> tuple[np.ndarray, np.ndarray]:
    keys, r, c = _counts(ref, cur)
    nr, nc = sum(r.values()), sum(c.values())
    return np.array([r[k] / nr for k in keys]), np.array([c[k] / nc for k in keys])


def psi_categorical(ref: Any, cur: Any) -> float:
    p, q = proportions(ref, cur)
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon_categorical(ref: Any, cur: Any, base: float | None = None) -> float:
    p, q = proportions(ref, cur)
    return float(jensenshannon(p, q, base))


# --------------------------------------------------------------------------- Evidently's rule


def infer_kind(values: list[Any], dtype: str) -> str | None:
    """core/datasets.py::infer_column_type on the current column, given its Arrow-ish dtype.

    dtype is one of "float", "int", "bool", "str", "dict"; an int column with
    nulls is float64 in pandas, hence numerical.
    """
    if dtype == "float":
        return "num"
    if dtype == "int":
        if any(v is None for v in values):
            return "num"
        return "cat" if len(set(values)) <= 10 else "num"
    if dtype in ("bool", "str", "dict"):
        return "cat"
    return None


def clean(values: list[Any], numeric: bool) -> list[Any]:
    """get_one_column_drift: replace([-inf, inf], nan).dropna()."""
    out = []
    for v in values:
        if v is None:
            continue
        if numeric:
            v = float(v)
            if math.isnan(v) or math.isinf(v):
                continue
        out.append(v)
    return out


def default_test(ref: list[Any], cur: list[Any], kind: str) -> str:
    """registry.py::_get_default_stattest."""
    n_values = len(set(ref) | set(cur))
    if len(ref) <= 1000:
        if kind == "num":
            if n_values <= 5:
                return "chisquare" if n_values > 2 else "z"
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "num":
        return "jensenshannon" if n_values <= 5 else "wasserstein"
    return "jensenshannon"


def binned(ref: list[Any], cur: list[Any], kind: str, fill: bool) -> tuple[np.ndarray, np.ndarray]:
    """utils.py::get_binned_data."""
    if kind == "num" and len(set(ref)) > 20:
        bins = np.histogram_bin_edges(np.asarray(ref + cur, dtype=float), bins="sturges")
        rp = np.histogram(ref, bins)[0] / len(ref)
        cp = np.histogram(cur, bins)[0] / len(cur)
    else:
        keys = list(set(ref) | set(cur))
        r, c = Counter(ref), Counter(cur)
        rp = np.array([r[k] / len(ref) for k in keys])
        cp = np.array([c[k] / len(cur) for k in keys])
    if fill:
        for p in (rp, cp):
            m = min(p[p != 0])
            np.place(p, p == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return rp, cp


THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "z": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1}


def run_test(test: str, ref: list[Any], cur: list[Any], kind: str, threshold: float) -> tuple[float, bool]:
    """Each stattest's score and its drift comparison (stattests/*.py)."""
    if test == "ks":
        p = float(stats.ks_2samp(ref, cur)[1])
        return p, p <= threshold
    if test == "chisquare":
        p = chi2(ref, cur)[1]
        return p, p < threshold
    if test == "z":
        p = z_test(ref, cur)[1]
        return p, p < threshold
    if test == "wasserstein":
        norm = max(float(np.std(ref)), 0.001)
        v = float(stats.wasserstein_distance(ref, cur)) / norm
        return v, v >= threshold
    if test == "jensenshannon":
        rp, cp = binned(ref, cur, kind, fill=False)
        v = float(jensenshannon(rp, cp, None))
        return v, v >= threshold
    if test == "psi":
        rp, cp = binned(ref, cur, kind, fill=True)
        v = float(np.sum((rp - cp) * np.log(rp / cp)))
        return v, v >= threshold
    raise ValueError(test)


def evidently_column(
    ref: list[Any], cur: list[Any], dtype: str, method: str | None = None, threshold: float | None = None
) -> dict[str, Any]:
    """One row of Evidently's drift table for a column given as Python lists."""
    kind = infer_kind(cur, dtype)
    assert kind is not None
    numeric = dtype in ("float", "int", "bool")
    r, c = clean(ref, numeric), clean(cur, numeric)
    test = method or default_test(r, c, kind)
    thr = THRESHOLDS[test] if threshold is None else threshold
    score, drifted = run_test(test, r, c, kind, thr)
    return {"kind": kind, "test": test, "score": score, "drifted": drifted, "threshold": thr}
