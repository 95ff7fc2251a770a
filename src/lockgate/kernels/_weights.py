"""Weighted kernels: ranking curves with sample weights, weighted residual sums.

``metrics.py`` keeps its unweighted fast paths; with ``sample_weight`` (or
``max_fpr``, or per-class ranking in multiclass problems) the ranking metrics
come here. The scores are split by class as sort keys (``_sort.py``) with
each row's weight alongside, each class is radix-sorted carrying its weights
(the key-only sort of ``_sort.py`` moves 8 bytes per row and pass, this one
16), and one walk up both sorted runs gives either the weighted Mann-Whitney
U (ROC AUC) or scikit-learn's ``_binary_clf_curve`` (tps, fps at every
distinct score, highest first) for AP and partial AUC.

Imports nothing from the rest of lockgate but the kernels' helpers.
"""

from __future__ import annotations

import numpy as np

from lockgate.kernels._compile import njit
from lockgate.kernels._parallel import _both
from lockgate.kernels._sort import _byte_counts, _sort_key

# Runs at least this long are sorted on two threads (positives on one, negatives on the other).
_SPLIT_MIN = 1 << 15

# Rows per partial sum in the regression sums (as metrics._BLOCK).
_BLOCK = 4096


# --------------------------------------------------------------------------- ranking


@njit(nogil=True)
def _split_weighted(positive, scores, weights, keys, out_weights):
    """Positives' (key, weight) to the front, negatives' to the back; returns n positives."""
    lo = 0
    hi = positive.size - 1
    for i in range(positive.size):
        key = _sort_key(scores[i])
        if positive[i]:
            keys[lo] = key
            out_weights[lo] = weights[i]
            lo += 1
        else:
            keys[hi] = key
            out_weights[hi] = weights[i]
            hi -= 1
    return lo


@njit(nogil=True)
def _radix_sort_pairs(keys, values, keys_scratch, values_scratch):
    """LSD radix sort of ``keys`` carrying ``values``; True when the result is in the scratch pair.

    Stable, one byte per pass, bytes that every key shares skipped (as
    ``_sort._radix_passes``): ties keep their input order.
    """
    n = keys.size
    counts = _byte_counts(keys)
    source_k, target_k = keys, keys_scratch
    source_v, target_v = values, values_scratch
    offsets = np.empty(256, np.int64)
    swapped = False
    for digit in range(8):
        if counts[digit].max() == n:
            continue
        total = 0
        for byte in range(256):
            offsets[byte] = total
            total += counts[digit, byte]
        shift = np.uint64(8 * digit)
        for i in range(n):
            key = source_k[i]
            byte = (key >> shift) & np.uint64(0xFF)
            target_k[offsets[byte]] = key
            target_v[offsets[byte]] = source_v[i]
            offsets[byte] += 1
        source_k, target_k = target_k, source_k
        source_v, target_v = target_v, source_v
        swapped = not swapped
    return swapped


@njit(nogil=True)
def _weighted_u2(pos, pos_w, neg, neg_w):
    """2 * sum over (positive, negative) pairs of w_p * w_n * ([s_p > s_n] + [s_p == s_n] / 2).

    One walk up both ascending runs, a group of tied positives at a time;
    with unit weights this is ``metrics._mann_whitney_u2``. Returns (u2, W+, W-).
    """
    i = j = 0
    below = 0.0  # weight of negatives strictly below the current positive value
    u2 = 0.0
    w_pos = 0.0
    while i < pos.size:
        value = pos[i]
        group = 0.0
        while i < pos.size and pos[i] == value:
            group += pos_w[i]
            i += 1
        while j < neg.size and neg[j] < value:
            below += neg_w[j]
            j += 1
        tied = 0.0
        k = j
        while k < neg.size and neg[k] == value:
            tied += neg_w[k]
            k += 1
        u2 += group * (2.0 * below + tied)
        w_pos += group
    w_neg = 0.0
    for k in range(neg.size):
        w_neg += neg_w[k]
    return u2, w_pos, w_neg


@njit(nogil=True)
def _curve(pos, pos_w, neg, neg_w):
    """scikit-learn's ``_binary_clf_curve``: (fps, tps) after each distinct score, highest first."""
    n = pos.size + neg.size
    fps = np.empty(n)
    tps = np.empty(n)
    i = pos.size - 1
    j = neg.size - 1
    tp = 0.0
    fp = 0.0
    m = 0
    while i >= 0 or j >= 0:
        if j < 0 or (i >= 0 and pos[i] >= neg[j]):
            value = pos[i]
        else:
            value = neg[j]
        while i >= 0 and pos[i] == value:
            tp += pos_w[i]
            i -= 1
        while j >= 0 and neg[j] == value:
            fp += neg_w[j]
            j -= 1
        fps[m] = fp
        tps[m] = tp
        m += 1
    return fps[:m], tps[:m]


def sorted_runs(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """(positive keys, their weights, negative keys, their weights), keys ascending."""
    n = positive.size
    keys = np.empty(n, dtype=np.uint64)
    wts = np.empty(n, dtype=np.float64)
    keys_scratch = np.empty_like(keys)
    wts_scratch = np.empty_like(wts)
    n_pos = _split_weighted(positive, scores, weights, keys, wts)

    def sort(s: slice) -> tuple[np.ndarray, np.ndarray]:
        if _radix_sort_pairs(keys[s], wts[s], keys_scratch[s], wts_scratch[s]):
            return keys_scratch[s], wts_scratch[s]
        return keys[s], wts[s]

    first, second = slice(0, n_pos), slice(n_pos, n)
    if n >= _SPLIT_MIN:
        (pk, pw), (nk, nw) = _both(lambda: sort(first), lambda: sort(second))
    else:
        (pk, pw), (nk, nw) = sort(first), sort(second)
    return pk, pw, nk, nw


def weighted_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    """(AUC, total positive weight, total negative weight); AUC NaN when either total is 0."""
    u2, w_pos, w_neg = _weighted_u2(*sorted_runs(positive, scores, weights))
    if w_pos == 0 or w_neg == 0:
        return float("nan"), float(w_pos), float(w_neg)
    return float(u2 / (2.0 * w_pos * w_neg)), float(w_pos), float(w_neg)


def clf_curve(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fps, tps) as ``sklearn.metrics._ranking._binary_clf_curve`` (zero weights already dropped)."""
    return _curve(*sorted_runs(positive, scores, weights))


# --------------------------------------------------------------------------- regression


@njit(nogil=True)
def _weighted_residual_sums(truth, pred, weights):
    """(sum w|t - p|, sum w(t - p)², sum w), summed per ``_BLOCK`` rows."""
    sum_abs = 0.0
    sum_sq = 0.0
    sum_w = 0.0
    for lo in range(0, truth.size, _BLOCK):
        a = 0.0
        q = 0.0
        s = 0.0
        for i in range(lo, min(lo + _BLOCK, truth.size)):
            d = np.float64(truth[i]) - np.float64(pred[i])
            w = weights[i]
            a += w * abs(d)
            q += w * d * d
            s += w
        sum_abs += a
        sum_sq += q
        sum_w += s
    return sum_abs, sum_sq, sum_w


@njit(nogil=True)
def _weighted_squared_deviations(values, center, weights):
    """sum w (v - center)², summed per ``_BLOCK`` rows."""
    total = 0.0
    for lo in range(0, values.size, _BLOCK):
        part = 0.0
        for i in range(lo, min(lo + _BLOCK, values.size)):
            d = np.float64(values[i]) - center
            part += weights[i] * d * d
        total += part
    return total


def weighted_residuals(truth: np.ndarray, pred: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) for v in _weighted_residual_sums(truth, pred, weights))  # type: ignore[return-value]


def weighted_deviations(values: np.ndarray, center: float, weights: np.ndarray) -> float:
    return float(_weighted_squared_deviations(values, center, weights))
