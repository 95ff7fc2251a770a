"""Weighted kernels: ranking curves with sample weights, weighted residual sums.

``metrics.py`` keeps its unweighted fast paths; with ``sample_weight`` (or
``max_fpr``, or per-class ranking in multiclass problems) the ranking metrics
come here. The scores are split by class as sort keys (``_sort.py``) with
each row's weight alongside in one 16-byte row, each class is radix-sorted
carrying its weights (the key-only sort of ``_sort.py`` moves 8 bytes per
row and pass, this one 16), in two halves on two cores, and one walk up both sorted runs gives either the weighted Mann-Whitney
U (ROC AUC) or scikit-learn's ``_binary_clf_curve`` (tps, fps at every
distinct score, highest first) for AP and partial AUC.

Imports nothing from the rest of lockgate but the kernels' helpers.
"""

from __future__ import annotations

import numpy as np

from lockgate.kernels._compile import njit
from lockgate.kernels._parallel import _both, _in_halves
from lockgate.kernels._sort import _sort_key

# Rows from which the classes are sorted on two threads (positives on one, negatives on the
# other), and from which each half of the rows is split and sorted on its own thread and the
# runs merged instead: that balances the cores whatever the share of positives, but the
# merge pass only pays for itself on large inputs (measured interleaved at 1e5/1e6/1e7:
# by class 1.1x / 1.8x / 1.8x the unweighted AUC, halves 1.4x / 1.6x / 1.7x).
_SPLIT_MIN = 1 << 15
_HALVES_MIN = 1 << 18

# Rows per partial sum in the regression sums (as metrics._BLOCK).
_BLOCK = 4096


# --------------------------------------------------------------------------- ranking


@njit(nogil=True)
def _split_weighted(positive, scores, weights, pairs):
    """Positives' (key, weight bits) rows to the front of ``pairs``, negatives' to the back.

    ``pairs`` is n x 2 uint64: a row holds a score's sort key and its weight's
    bits, so that a radix pass moves one 16-byte row to one place (two
    separate arrays made two scatter streams per pass: ~1.5x slower).
    Branch-free, as ``metrics._split_by_class``: each row is written at both
    ends and only the matching end advances (a stray write lands on a slot a
    later row overwrites). Returns the number of positives.
    """
    lo = 0
    hi = positive.size - 1
    for i in range(positive.size):
        key = _sort_key(scores[i])
        bits = np.float64(weights[i]).view(np.uint64)
        is_pos = positive[i]
        pairs[lo, 0] = key
        pairs[lo, 1] = bits
        pairs[hi, 0] = key
        pairs[hi, 1] = bits
        lo += is_pos
        hi -= 1 - is_pos
    return lo


@njit(nogil=True)
def _pair_byte_counts(pairs):
    """The 8 x 256 per-byte histograms of the keys in ``pairs[:, 0]``."""
    counts = np.zeros((8, 256), np.int64)
    for i in range(pairs.shape[0]):
        key = pairs[i, 0]
        for digit in range(8):
            counts[digit, (key >> np.uint64(8 * digit)) & np.uint64(0xFF)] += 1
    return counts


@njit(nogil=True)
def _radix_sort_pairs(pairs, scratch):
    """LSD radix sort of ``pairs`` rows by their key; True when the result is in ``scratch``.

    One byte per pass, bytes that every key shares skipped (as
    ``_sort._radix_passes``); stable.
    """
    n = pairs.shape[0]
    counts = _pair_byte_counts(pairs)
    source, target = pairs, scratch
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
            key = source[i, 0]
            byte = (key >> shift) & np.uint64(0xFF)
            slot = offsets[byte]
            target[slot, 0] = key
            target[slot, 1] = source[i, 1]
            offsets[byte] = slot + 1
        source, target = target, source
        swapped = not swapped
    return swapped


@njit(nogil=True)
def _weight(pairs, i):
    return np.uint64(pairs[i, 1]).view(np.float64)


@njit(nogil=True)
def _weighted_u2(pos, neg):
    """2 * sum over (positive, negative) pairs of w_p * w_n * ([s_p > s_n] + [s_p == s_n] / 2).

    One walk up both ascending runs (rows of key, weight bits), a group of
    tied positives at a time; with unit weights this is
    ``metrics._mann_whitney_u2``. Returns (u2, W+, W-).
    """
    i = j = 0
    below = 0.0  # weight of negatives strictly below the current positive value
    u2 = 0.0
    w_pos = 0.0
    n_pos = pos.shape[0]
    n_neg = neg.shape[0]
    while i < n_pos:
        value = pos[i, 0]
        group = 0.0
        while i < n_pos and pos[i, 0] == value:
            group += _weight(pos, i)
            i += 1
        while j < n_neg and neg[j, 0] < value:
            below += _weight(neg, j)
            j += 1
        tied = 0.0
        k = j
        while k < n_neg and neg[k, 0] == value:
            tied += _weight(neg, k)
            k += 1
        u2 += group * (2.0 * below + tied)
        w_pos += group
    w_neg = 0.0
    for k in range(n_neg):
        w_neg += _weight(neg, k)
    return u2, w_pos, w_neg


@njit(nogil=True)
def _curve(pos, neg):
    """scikit-learn's ``_binary_clf_curve``: (fps, tps) after each distinct score, highest first."""
    n_pos = pos.shape[0]
    n_neg = neg.shape[0]
    fps = np.empty(n_pos + n_neg)
    tps = np.empty(n_pos + n_neg)
    i = n_pos - 1
    j = n_neg - 1
    tp = 0.0
    fp = 0.0
    m = 0
    while i >= 0 or j >= 0:
        if j < 0 or (i >= 0 and pos[i, 0] >= neg[j, 0]):
            value = pos[i, 0]
        else:
            value = neg[j, 0]
        while i >= 0 and pos[i, 0] == value:
            tp += _weight(pos, i)
            i -= 1
        while j >= 0 and neg[j, 0] == value:
            fp += _weight(neg, j)
            j -= 1
        fps[m] = fp
        tps[m] = tp
        m += 1
    return fps[:m], tps[:m]


@njit(nogil=True)
def _merge_pairs(a, b, out):
    """Merge two runs of (key, weight bits) rows, ascending by key, into ``out``."""
    i = j = 0
    for k in range(out.shape[0]):
        if j >= b.shape[0] or (i < a.shape[0] and a[i, 0] <= b[j, 0]):
            out[k, 0] = a[i, 0]
            out[k, 1] = a[i, 1]
            i += 1
        else:
            out[k, 0] = b[j, 0]
            out[k, 1] = b[j, 1]
            j += 1


def sorted_runs(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positives, negatives): rows of (sort key, weight bits), each ascending by key.

    Large inputs as ``metrics._ranking_inputs``: each half is split and
    sorted on its own core, then the halves' runs are merged (positives on
    one core, negatives on the other). Medium ones sort the two classes on
    two cores; small ones on one (see ``_HALVES_MIN``).
    """
    n = positive.size
    pairs = np.empty((n, 2), dtype=np.uint64)
    scratch = np.empty_like(pairs)

    def sort(s: slice) -> np.ndarray:
        # Every run ends in ``scratch``, so that ``pairs`` (already paged in) is free to merge
        # into: a fresh 160 MB buffer at 1e7 rows stalled for 1-2 s at times on the dev box
        # (first-touch page faults, two threads); a sequential copy of one run costs ~1 pass.
        if not _radix_sort_pairs(pairs[s], scratch[s]):
            scratch[s] = pairs[s]
        return scratch[s]

    def part(s: slice) -> tuple[np.ndarray, np.ndarray]:
        n_pos = _split_weighted(positive[s], scores[s], weights[s], pairs[s])
        return sort(slice(s.start, s.start + n_pos)), sort(slice(s.start + n_pos, s.stop))

    if n < _HALVES_MIN:  # positives on one core, negatives on the other: no merge
        n_pos = _split_weighted(positive, scores, weights, pairs)
        first, second = slice(0, n_pos), slice(n_pos, n)
        if n < _SPLIT_MIN:
            return sort(first), sort(second)
        return _both(lambda: sort(first), lambda: sort(second))
    parts = _in_halves(part, n, _HALVES_MIN)
    (pos1, neg1), (pos2, neg2) = parts
    n_pos = pos1.shape[0] + pos2.shape[0]
    merged = pairs
    _both(lambda: _merge_pairs(pos1, pos2, merged[:n_pos]), lambda: _merge_pairs(neg1, neg2, merged[n_pos:]))
    return merged[:n_pos], merged[n_pos:]


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
