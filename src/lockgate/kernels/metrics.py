"""Model-quality metrics as numba kernels: ROC AUC, average precision, confusion
counts, precision/recall/F1/accuracy, log loss, MAE, RMSE and R².

This module owns the classification and regression metrics of DESIGN §5.
Each public function equals its scikit-learn 1.9 namesake and is much faster.
Called as before issue 21 (binary 0/1 labels, ``pos_label=1``,
``zero_division=0``, no weights) each takes its fused binary kernel, below;
the reference parameters issue 21 added are keyword arguments whose
defaults give exactly the old results:

=====================  ==========================================================
function               scikit-learn parameters supported
=====================  ==========================================================
roc_auc                sample_weight, max_fpr, multi_class ovr|ovo, average
                       macro|weighted|None (+micro for ovr), labels
average_precision      sample_weight, pos_label, average micro|macro|weighted|None
confusion_matrix       labels, sample_weight, normalize true|pred|all
precision/recall/f1    average binary|micro|macro|weighted|None, labels,
                       pos_label, sample_weight, zero_division 0|1|nan
accuracy               normalize, sample_weight (+ ``labels``, lockgate's: below)
log_loss               labels, sample_weight; 2-D p for two classes or more
mae/rmse/r2            sample_weight
=====================  ==========================================================

Not supported: multilabel-indicator (2-D) ``y_true`` and ``average="samples"``,
``beta`` (use f1), ``multioutput``, log_loss's ``normalize``. Multiclass and
weighted counting runs in ``_multiclass.py`` (one k x k count), weighted and
multiclass ranking in ``_ranking.py`` / ``_weights.py``.

Every function is a thin wrapper:
convert the inputs (zero-copy where possible), run one compiled kernel that
computes *and* validates in the same pass, then turn the kernel's counts of bad
values into a clear ``ValueError``. Messages are built on that slow path only.

How the speed is found:

* Ranking metrics (AUC, AP) need the scores in order, not the order itself
  (no ``argsort``). A numba pass splits the scores by class into one buffer
  as integer sort keys (same order, ties kept), each class is radix-sorted
  (linear: 4-6x faster than ``np.sort`` here, which is itself faster than
  numba's ``np.sort``), and a last pass walks the two sorted runs once.
* Counting and regression metrics are one fused pass. Float sums run over
  fixed blocks of ``_BLOCK`` values into ``_LANES`` accumulators (row j of
  each stride adds to lane j: an elementwise loop, which LLVM vectorizes,
  where one running sum is a serial chain it may not reorder), added in
  block order.
* Log loss: the sum of logarithms is the logarithm of a product. One pass
  multiplies the clipped P(true class) into ``_LANES`` product lanes whose
  binary exponents are moved to integers every few strides (no underflow),
  so only ``_LANES`` logarithms are taken; rows within 2**-17 of certainty
  add a series term instead, where a product's rounding would swamp their
  tiny loss (see ``_NEAR_ONE``).
* Two cores: large inputs are cut in two halves; a helper thread takes the
  first while the caller takes the second (numba kernels are ``nogil``), and
  the caller takes the first half back if the helper has not started it. We
  measured numba's own ``parallel=True`` (OpenMP) first: as fast on an idle
  box, but when other processes load both cores its barrier waits for a
  descheduled thread and a 0.2 ms kernel takes 16-24 ms; and OpenMP does not
  survive ``fork`` (dask, multiprocessing). The halves are fixed by n alone,
  so results are bit-identical whatever the number of cores, which a lock
  file that records metrics relies on.

Where we knowingly differ from scikit-learn 1.9 (and why):

* ``roc_auc`` and ``average_precision`` raise ``ValueError`` when ``y_true``
  holds one class (scikit-learn warns and returns NaN, or 0/1 for AP): a gate
  compared against NaN or a vacuous 1.0 would pass or fail silently.
* Infinite scores are ranked (scikit-learn rejects them): ranks are well
  defined, and logits of saturated probabilities are infinite.
* Labels outside {0, 1} are an error (scikit-learn treats ``{0, 2}`` as
  binary, and ``confusion_matrix(labels=[0, 1])`` silently drops other values).
* float32 inputs are accumulated in float64 (scikit-learn accumulates in
  float32), so float32 results agree with scikit-learn to about 1e-6 only
  (the fused log-loss kernel and the ranking and regression metrics;
  2-D, weighted and float16 log loss repeat scikit-learn's operations in
  p's dtype and agree to the bit).
* Without a new argument, labels outside {0, 1} stay an error for
  precision/recall/f1 (``average="binary"``), ``confusion_matrix`` and
  ``accuracy``, as before; any other argument opts into any labels. For
  ``accuracy``, which has no such argument in scikit-learn, ``labels=``
  (the classes; a value outside them is an error) is that opt-in.
* Weighted ranking metrics raise ``ValueError`` when one class carries no
  weight (scikit-learn warns and returns NaN), as for one class: a gate
  compared against NaN would fail silently. Inside a multiclass average a
  class absent from ``y_true`` gives NaN with scikit-learn's warning instead
  (the average is NaN too), since raising would hide the other classes.
* A 1-D ``p`` for log_loss is P(class 1) of 0/1 labels (scikit-learn also
  accepts any two labels there); pass a 2-D ``p`` and ``labels`` for others.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from lockgate.kernels import _multiclass, _ranking, _weights
from lockgate.kernels._compile import announce_compile, njit
from lockgate.kernels._inputs import (
    as_labels,
    as_numpy,
    as_scores,
    check_not_empty,
    check_same_length,
    describe_bad_labels,
)
from lockgate.kernels._parallel import _both, _cpus, _in_halves, _pool  # noqa: F401  (re-exported)
from lockgate.kernels._sort import _merge, _radix_sort, _sort_key

__all__ = [
    "Confusion",
    "accuracy",
    "average_precision",
    "confusion_matrix",
    "f1",
    "log_loss",
    "mae",
    "precision",
    "r2",
    "recall",
    "rmse",
    "roc_auc",
]

# Values per partial sum: large enough that per-block bookkeeping is noise,
# small enough that block sums are about as accurate as pairwise summation.
_BLOCK = 4096

# Accumulators per float sum or product (see the module docstring): enough
# independent chains to fill the vector units, few enough to sit in L1;
# divides _BLOCK.
_LANES = 128

# Inputs at least this long are processed in two halves (see the module
# docstring). Handing a half to the helper thread costs ~30 us, so a kernel
# splits only where its serial time is well above that: one-pass kernels run
# at ~0.3-0.5 ns/row (log loss included: halves lost to one core below ~2**18
# rows when measured), sorting at ~15.
_SPLIT_MIN_PASS = 1 << 18
_SPLIT_MIN_SORT = 1 << 15


class Confusion(NamedTuple):
    """Binary confusion counts, ordered as ``sklearn.metrics.confusion_matrix(...).ravel()``."""

    tn: int
    fp: int
    fn: int
    tp: int


# --------------------------------------------------------------------------
# Two halves on two cores.
# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# Ranking metrics: split by class, sort with NumPy, one walk.
# --------------------------------------------------------------------------


@njit(nogil=True)
def _split_by_class(labels, scores, out):
    """Write positives' sort keys to the front of ``out`` and negatives' to the back.

    Branch-free: every key is written at both ends and only the matching end
    advances, so random labels cost no mispredicted branches; a stray write
    always lands on a slot that a later key (or the same one) overwrites.
    Returns (number of positives, labels outside {0, 1}, NaN scores).
    """
    lo = 0
    hi = labels.size - 1
    bad_labels = 0
    nan_scores = 0
    for i in range(labels.size):
        label = labels[i]
        value = scores[i]
        positive = label == 1
        negative = label == 0
        key = _sort_key(value)
        out[lo] = key
        out[hi] = key
        lo += positive
        hi -= negative
        bad_labels += not (positive or negative)
        nan_scores += value != value
    return lo, bad_labels, nan_scores


@njit(nogil=True)
def _mann_whitney_u2(pos, neg):
    """Twice the Mann-Whitney U of the positives (a tie counts one half), exactly.

    One walk up both ascending runs, a group of tied positives at a time.
    AUC = U / (n_pos * n_neg), the area under scikit-learn's trapezoidal ROC
    curve; doubling keeps the tie halves integral.
    """
    i = j = 0
    u2 = 0
    while i < pos.size:
        value = pos[i]
        group_end = i
        while group_end < pos.size and pos[group_end] == value:
            group_end += 1
        while j < neg.size and neg[j] < value:
            j += 1
        ties_end = j
        while ties_end < neg.size and neg[ties_end] == value:
            ties_end += 1
        u2 += (group_end - i) * (2 * j + (ties_end - j))
        i = group_end
    return u2


@njit(nogil=True)
def _precision_weighted_sum(pos, neg):
    """Sum over distinct positive scores s of (#positives at s) * precision(score >= s).

    Thresholds are walked from the highest score down; one threshold holds all
    tied scores, as in scikit-learn's ``_binary_clf_curve``, and only
    thresholds that add positives move recall, so only those are visited.
    Neumaier-compensated, since the sum has up to n terms.
    """
    i = pos.size - 1
    j = neg.size - 1
    total = 0.0
    carry = 0.0
    while i >= 0:
        value = pos[i]
        group_end = i
        while group_end >= 0 and pos[group_end] == value:
            group_end -= 1
        while j >= 0 and neg[j] >= value:
            j -= 1
        tp = pos.size - 1 - group_end
        fp = neg.size - 1 - j
        term = (i - group_end) * (tp / (tp + fp))
        after = total + term
        if abs(total) >= abs(term):
            carry += (total - after) + term
        else:
            carry += (term - after) + total
        total = after
        i = group_end
    return total + carry


class _ClassRuns(NamedTuple):
    pos: np.ndarray  # ascending sort keys
    neg: np.ndarray  # ascending sort keys
    bad_labels: int
    nan_scores: int


def _split_and_sort(labels: np.ndarray, scores: np.ndarray, keys: np.ndarray, scratch: np.ndarray) -> _ClassRuns:
    n_pos, bad_labels, nan_scores = _split_by_class(labels, scores, keys)
    if bad_labels or nan_scores:  # the caller raises; sorting would be wasted
        return _ClassRuns(keys[:0], keys[:0], int(bad_labels), int(nan_scores))
    pos = _radix_sort(keys[:n_pos], scratch[:n_pos])
    neg = _radix_sort(keys[n_pos:], scratch[n_pos:])
    return _ClassRuns(pos, neg, 0, 0)


def _ranking_inputs(y_true: Any, y_score: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated sort keys of the positives' and of the negatives' scores, each ascending.

    With two halves, each half is split and sorted on its own core, then the
    halves' runs are merged (positives on one core, negatives on the other).
    """
    labels = as_labels(y_true, "y_true")
    scores = as_scores(y_score, "y_score")
    check_same_length(labels, scores, ("y_true", "y_score"))
    check_not_empty(labels, "y_true")
    announce_compile(__file__)
    keys = np.empty(labels.size, dtype=np.uint64)
    scratch = np.empty_like(keys)
    parts = _in_halves(
        lambda s: _split_and_sort(labels[s], scores[s], keys[s], scratch[s]), labels.size, _SPLIT_MIN_SORT
    )
    if any(p.bad_labels for p in parts):
        raise ValueError(describe_bad_labels(y_true, "y_true"))
    if any(p.nan_scores for p in parts):
        raise ValueError("y_score contains NaN; drop or impute those rows first")
    n_pos = sum(p.pos.size for p in parts)
    if n_pos == 0 or n_pos == labels.size:
        raise ValueError(f"Only one class present in y_true. {metric} is not defined in that case.")
    if len(parts) == 1:
        return parts[0].pos, parts[0].neg
    first, second = parts
    merged = np.empty_like(keys)
    pos, neg = merged[:n_pos], merged[n_pos:]
    _both(lambda: _merge(first.pos, second.pos, pos), lambda: _merge(first.neg, second.neg, neg))
    return pos, neg


def roc_auc(
    y_true: Any,
    y_score: Any,
    *,
    sample_weight: Any = None,
    average: Any = "macro",
    multi_class: str = "raise",
    labels: Any = None,
    max_fpr: float | None = None,
) -> Any:
    """Area under the ROC curve, equal to ``sklearn.metrics.roc_auc_score`` (ties averaged).

    Binary: ``y_true`` holds 0/1 (ints, bools or floats); ``y_score`` any real
    scores, higher meaning more likely positive (±inf allowed, NaN not).
    ``sample_weight`` and ``max_fpr`` (partial AUC, McClish-standardised)
    as scikit-learn. Multiclass: a 2-D ``y_score`` (n x classes, rows summing
    to 1) with ``multi_class="ovr"|"ovo"``, ``average`` in
    ``"macro"|"weighted"|None`` (and ``"micro"`` for ovr) and ``labels``
    (sorted, one per column); ``sample_weight`` with ovr only, as
    scikit-learn (multilabel-indicator ``y_true`` is not supported). A class absent
    from one binary problem of a multiclass average gives NaN with a warning,
    as scikit-learn; the binary score raises instead (module docstring).
    """
    two_d = _is_2d(y_score)
    if not two_d and sample_weight is None and (max_fpr is None or max_fpr == 1):
        pos, neg = _ranking_inputs(y_true, y_score, "ROC AUC score")
        # u2 <= 2 * n_pos * n_neg < 2**53 for any input that fits in memory, so
        # the division below is the only rounding.
        return float(_mann_whitney_u2(pos, neg)) / (2.0 * pos.size * neg.size)
    score = _ranking.scores_matrix(y_score)
    if two_d:
        return _roc_auc_2d(y_true, score, sample_weight, average, multi_class, labels, max_fpr)
    positive, weights = _binary_weighted_inputs(y_true, score, sample_weight, "ROC AUC score", 1)
    value = _ranking.binary_roc_auc(positive, score, weights, max_fpr)
    return _defined(value, "ROC AUC score")


def _is_2d(values: Any) -> bool:
    """Whether scores are a matrix (one column per class), without converting them."""
    if isinstance(values, (list, tuple)):
        return bool(values) and isinstance(values[0], (list, tuple, np.ndarray))
    return getattr(values, "ndim", 1) == 2


def _roc_auc_2d(y_true: Any, score: np.ndarray, sample_weight: Any, average: Any, multi_class: str, labels: Any,
                max_fpr: float | None) -> Any:
    truth = np.asarray(y_true) if not hasattr(y_true, "to_numpy") else y_true.to_numpy()
    check_same_length(truth, score, ("y_true", "y_score"))
    check_not_empty(truth, "y_true")
    weights = None if sample_weight is None else _multiclass.as_sample_weight(sample_weight, len(truth))
    announce_compile(_weights.__file__)
    truth = _multiclass.as_class_labels(truth, "y_true")
    if np.unique(truth).size <= 2 and score.shape[1] <= 2:
        raise ValueError("y_true is binary but y_score has 2 columns: pass the positive class's column (1-D)")
    if max_fpr is not None and max_fpr != 1.0:
        raise ValueError("Partial AUC computation not available in multiclass setting, 'max_fpr' must be set to "
                         f"`None`, received `max_fpr={max_fpr}` instead")
    if multi_class == "raise":
        raise ValueError("multi_class must be in ('ovo', 'ovr')")
    return _ranking.multiclass_roc_auc(truth, score, labels, multi_class, average, weights)


def _binary_weighted_inputs(y_true: Any, score: np.ndarray, sample_weight: Any, metric: str,
                            pos_label: Any) -> tuple[np.ndarray, np.ndarray]:
    """(positive mask, weights) of a binary ranking metric outside its unweighted fast path."""
    if pos_label == 1 and not isinstance(pos_label, str):
        labels = as_labels(y_true, "y_true")
        check_same_length(labels, score, ("y_true", "y_score"))
        check_not_empty(labels, "y_true")
        positive = labels == 1
        if np.any(~positive & (labels != 0)):
            raise ValueError(describe_bad_labels(y_true, "y_true"))
    else:
        labels = _multiclass.as_class_labels(y_true, "y_true")
        check_same_length(labels, score, ("y_true", "y_score"))
        check_not_empty(labels, "y_true")
        present = np.unique(labels).tolist()
        if len(present) > 2:
            raise ValueError(f"y_true has {len(present)} classes; pass a 2-D y_score for multiclass")
        if len(present) == 2 and pos_label not in present:
            raise ValueError(f"pos_label={pos_label!r} is not a valid label. It should be one of {present}")
        positive = labels == pos_label
    if positive.all() or not positive.any():
        raise ValueError(f"Only one class present in y_true. {metric} is not defined in that case.")
    weights = np.ones(labels.size) if sample_weight is None else _multiclass.as_sample_weight(sample_weight, labels.size)
    announce_compile(_weights.__file__)
    return positive, weights


def _defined(value: float, metric: str) -> float:
    if value != value:
        raise ValueError(f"{metric} is not defined: one class carries no sample weight")
    return float(value)


def average_precision(
    y_true: Any, y_score: Any, *, average: Any = "macro", pos_label: Any = 1, sample_weight: Any = None
) -> Any:
    """Average precision, equal to ``sklearn.metrics.average_precision_score``.

    Binary 0/1 ``y_true`` with a 1-D ``y_score``; ``pos_label`` (then any two
    labels) and ``sample_weight`` as scikit-learn. A 1-D multiclass
    ``y_true`` with a 2-D ``y_score`` (one column per sorted class) is
    averaged per ``average`` in ``"micro"|"macro"|"weighted"|None``
    (multilabel-indicator ``y_true`` is not supported).
    """
    if not _is_2d(y_score) and sample_weight is None and pos_label == 1 and not isinstance(pos_label, str):
        pos, neg = _ranking_inputs(y_true, y_score, "Average precision")
        return float(_precision_weighted_sum(pos, neg)) / pos.size
    score = _ranking.scores_matrix(y_score)
    if score.ndim == 2:
        truth = np.asarray(y_true) if not hasattr(y_true, "to_numpy") else y_true.to_numpy()
        check_same_length(truth, score, ("y_true", "y_score"))
        check_not_empty(truth, "y_true")
        weights = None if sample_weight is None else _multiclass.as_sample_weight(sample_weight, len(truth))
        announce_compile(_weights.__file__)
        truth = _multiclass.as_class_labels(truth, "y_true")
        return _ranking.multiclass_average_precision(truth, score, average, pos_label, weights)
    positive, weights = _binary_weighted_inputs(y_true, score, sample_weight, "Average precision", pos_label)
    if not weights[positive].any():
        raise ValueError("Average precision is not defined: the positive class carries no sample weight")
    return _ranking.binary_average_precision(positive, score, weights)


# --------------------------------------------------------------------------
# Counting metrics: one fused pass over the two label arrays.
# --------------------------------------------------------------------------


@njit(nogil=True)
def _confusion_counts(truth, pred):
    """(true positives, actual positives, predicted positives, bad truths, bad predictions)."""
    tp = 0
    n_true = 0
    n_pred = 0
    bad_truth = 0
    bad_pred = 0
    for i in range(truth.size):
        t = truth[i]
        p = pred[i]
        t_pos = t == 1
        p_pos = p == 1
        n_true += t_pos
        n_pred += p_pos
        tp += t_pos & p_pos
        bad_truth += not (t_pos or t == 0)
        bad_pred += not (p_pos or p == 0)
    return tp, n_true, n_pred, bad_truth, bad_pred


def _check_label_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    truth = as_labels(y_true, "y_true")
    pred = as_labels(y_pred, "y_pred")
    check_same_length(truth, pred, ("y_true", "y_pred"))
    check_not_empty(truth, "y_true")
    announce_compile(__file__)
    return truth, pred


def confusion_matrix(
    y_true: Any, y_pred: Any, *, labels: Any = None, sample_weight: Any = None, normalize: str | None = None
) -> Any:
    """Confusion counts, equal to ``sklearn.metrics.confusion_matrix``.

    Without ``labels``/``normalize``: a ``Confusion`` (tn, fp, fn, tp), i.e.
    ``confusion_matrix(..., labels=[0, 1]).ravel()``, of 0/1 labels (other
    labels are an error, as before; weight sums when ``sample_weight`` is
    given, where other classes give the k x k matrix). With ``labels`` or
    ``normalize``: scikit-learn's k x k ndarray for any classes, rows
    the true and columns the predicted classes in ``labels`` order (default:
    the sorted classes of both arrays); int64 unless weights are floats or
    ``normalize`` is ``"true"|"pred"|"all"``.
    """
    if labels is None and normalize is None:
        if sample_weight is None:
            return _binary_counts(y_true, y_pred)
        else:
            counts = _multiclass.count_pairs(y_true, y_pred, sample_weight)
            if set(counts.classes.tolist()) <= {0, 1} and counts.classes.dtype.kind in "biuf":
                (tn, fp), (fn, tp) = _multiclass.full_confusion(counts, [0, 1]).tolist()
                return Confusion(tn, fp, fn, tp)
            return _multiclass.full_confusion(counts)
    counts = _multiclass.count_pairs(y_true, y_pred, sample_weight)
    return _multiclass.full_confusion(counts, labels, normalize)


def _binary_confusion(y_true: Any, y_pred: Any) -> Confusion | None:
    """The fast binary pass; None when a label is outside {0, 1} (the caller goes general)."""
    if any(as_numpy(y, "labels").dtype.kind in "USM" for y in (y_true, y_pred)):
        return None
    try:
        truth, pred = as_labels(y_true, "y_true"), as_labels(y_pred, "y_pred")
    except ValueError:  # objects that are not numbers: the general path explains
        return None
    check_same_length(truth, pred, ("y_true", "y_pred"))
    check_not_empty(truth, "y_true")
    announce_compile(__file__)
    parts = _in_halves(lambda s: _confusion_counts(truth[s], pred[s]), truth.size, _SPLIT_MIN_PASS)
    tp, n_true, n_pred, bad_truth, bad_pred = (int(sum(c)) for c in zip(*parts))
    if bad_truth or bad_pred:
        return None
    fp = n_pred - tp
    fn = n_true - tp
    return Confusion(truth.size - tp - fp - fn, fp, fn, tp)


def _binary_counts(y_true: Any, y_pred: Any) -> Confusion:
    """``Confusion`` of 0/1 labels; labels outside {0, 1} are a ``ValueError`` (the binary contract)."""
    confusion = _binary_confusion(y_true, y_pred)
    if confusion is None:
        truth = as_labels(y_true, "y_true")
        name, values = ("y_true", y_true) if np.any((truth != 0) & (truth != 1)) else ("y_pred", y_pred)
        raise ValueError(describe_bad_labels(values, name) + _MULTICLASS_HINT)
    return confusion


_MULTICLASS_HINT = (
    " (for multiclass labels pass average= to precision/recall/f1, labels= to confusion_matrix or accuracy)"
)


def _ratio(numerator: int, denominator: int) -> float:
    """numerator / denominator, and 0.0 for 0/0 (scikit-learn's ``zero_division=0``)."""
    return numerator / denominator if denominator else 0.0


_SET_WISE_DOC = """
    With the defaults (binary 0/1 labels, ``pos_label=1``, no weights,
    ``zero_division=0``) one fused pass over the labels; labels outside {0, 1}
    are then an error. Any other argument follows scikit-learn 1.9 exactly:
    ``average`` in ``"binary"|"micro"|"macro"|"weighted"|None`` (None: one
    score per label, an ndarray), ``labels`` (subset and order; unseen
    labels score ``zero_division``), ``pos_label`` (binary only),
    ``sample_weight`` and ``zero_division`` in ``0|1|np.nan``; any hashable
    labels (ints, strings, ...).
"""


def _default_set_wise(labels: Any, pos_label: Any, average: Any, sample_weight: Any, zero_division: Any) -> bool:
    return (
        labels is None
        and average == "binary"
        and sample_weight is None
        and isinstance(pos_label, (int, np.integer))
        and pos_label == 1
        and not isinstance(zero_division, str)
        and zero_division == 0
    )


def _set_wise(which: int, y_true: Any, y_pred: Any, labels: Any, pos_label: Any, average: Any,
              sample_weight: Any, zero_division: Any) -> Any:
    counts = _multiclass.count_pairs(y_true, y_pred, sample_weight)
    return _multiclass.prf(counts, labels=labels, pos_label=pos_label, average=average,
                           zero_division=zero_division)[which]


def precision(y_true: Any, y_pred: Any, *, labels: Any = None, pos_label: Any = 1, average: Any = "binary",
              sample_weight: Any = None, zero_division: Any = 0) -> Any:
    """tp / (tp + fp), equal to ``sklearn.metrics.precision_score(..., zero_division=0)``."""
    if _default_set_wise(labels, pos_label, average, sample_weight, zero_division):
        c = _binary_counts(y_true, y_pred)
        return _ratio(c.tp, c.tp + c.fp)
    return _set_wise(0, y_true, y_pred, labels, pos_label, average, sample_weight, zero_division)


def recall(y_true: Any, y_pred: Any, *, labels: Any = None, pos_label: Any = 1, average: Any = "binary",
           sample_weight: Any = None, zero_division: Any = 0) -> Any:
    """tp / (tp + fn), equal to ``sklearn.metrics.recall_score(..., zero_division=0)``."""
    if _default_set_wise(labels, pos_label, average, sample_weight, zero_division):
        c = _binary_counts(y_true, y_pred)
        return _ratio(c.tp, c.tp + c.fn)
    return _set_wise(1, y_true, y_pred, labels, pos_label, average, sample_weight, zero_division)


def f1(y_true: Any, y_pred: Any, *, labels: Any = None, pos_label: Any = 1, average: Any = "binary",
       sample_weight: Any = None, zero_division: Any = 0) -> Any:
    """2tp / (2tp + fp + fn), equal to ``sklearn.metrics.f1_score(..., zero_division=0)``."""
    if _default_set_wise(labels, pos_label, average, sample_weight, zero_division):
        c = _binary_counts(y_true, y_pred)
        return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn)
    return _set_wise(2, y_true, y_pred, labels, pos_label, average, sample_weight, zero_division)


for _fn in (precision, recall, f1):
    _fn.__doc__ = (_fn.__doc__ or "") + "\n" + _SET_WISE_DOC


def accuracy(
    y_true: Any, y_pred: Any, *, normalize: bool = True, sample_weight: Any = None, labels: Any = None
) -> float:
    """Share (or, ``normalize=False``, number or weight) of rows predicted right:
    ``sklearn.metrics.accuracy_score(y_true, y_pred, normalize=, sample_weight=)``.

    Without ``labels`` or ``sample_weight``, labels must be 0/1 (as before:
    one fused binary pass). ``labels`` (lockgate's, not scikit-learn's)
    declares the classes and opts into any labels (multiclass, strings): a
    value outside ``labels`` is then a ``ValueError``; with
    ``sample_weight`` any labels are accepted too.
    """
    if labels is None and sample_weight is None:
        c = _binary_counts(y_true, y_pred)
        correct = c.tp + c.tn
        return correct / (c.tn + c.fp + c.fn + c.tp) if normalize else float(correct)
    counts = _multiclass.count_pairs(y_true, y_pred, sample_weight)
    if labels is not None:
        _multiclass.check_within(counts, labels)
    return _multiclass.accuracy_of(counts, bool(normalize))


# --------------------------------------------------------------------------
# Log loss: one pass into product lanes, a logarithm per lane.
# --------------------------------------------------------------------------

# Rows whose clipped P(true class) q is above this add -log q = r + r²/2
# (r = 1 - q, exact) to a sum instead of q to a product: each rounded multiply
# can move a product's logarithm by 2**-53, which would swamp the < 2**-17
# such a row adds (a confident model's loss is made of them: a bare product
# was off by 8e-6 relative on 100 rows within 1e-11 of 1). The dropped r³/3 is
# < 2e-11 of the term; a factor adds >= 2**-17, so a rounding is <= 2**-36 of it.
_NEAR_ONE = 1.0 - 2.0**-17
# Rows between renormalisations: every factor is >= 2**-52 (float64 eps;
# float32's is larger), so 16 factors take a lane from [1, 2) to >= 2**-832,
# far from underflow.
_RENORM_ROWS = 16 * _LANES
_MANTISSA_BITS = np.uint64((1 << 52) - 1)
_EXPONENT_OF_ONE = np.uint64(1023 << 52)
_LN2 = math.log(2.0)


@njit(nogil=True)
def _fold_true_class(labels, proba, eps, one, products, near_sums):
    """Fold each row's P(true class) into lane j = row % ``_LANES`` (see ``_NEAR_ONE``).

    ``1 - p`` and the clip to [eps, 1 - eps] happen in p's own dtype with eps
    of that dtype, as in scikit-learn; the lanes are float64. Returns
    (positives, rows with a label outside {0, 1} or p outside [0, 1] or NaN).
    """
    high = one - eps
    n_pos = 0
    bad = 0
    for start in range(0, labels.size, _LANES):
        # Slices make the index provably >= 0: numba's wraparound for negative
        # indices would otherwise turn the vector loads into gathers.
        lab = labels[start : start + _LANES]
        pr = proba[start : start + _LANES]
        for j in range(lab.size):
            label = lab[j]
            p = pr[j]
            positive = label == 1
            other = one - p
            q = np.float64(min(max(p if positive else other, eps), high))
            near = q > _NEAR_ONE
            r = 1.0 - q
            products[j] *= 1.0 if near else q
            near_sums[j] += r * (1.0 + 0.5 * r) if near else 0.0
            n_pos += positive
            # p * (1 - p) >= 0 iff 0 <= p <= 1, one compare instead of two: NaN
            # fails, -0.0 passes, and outside [0, 1] one factor is >= 1 in size
            # and the other >= eps, so the product cannot underflow to 0.
            bad += not ((positive or label == 0) and p * other >= 0)
    return n_pos, bad


@njit(nogil=True)
def _renormalise(products, exponents):
    """Move each lane's binary exponent into ``exponents``, leaving the lane in [1, 2).

    Exact: lanes are positive normal numbers and only their exponent bits
    change (a NaN p scrambles its lane, but the caller then raises).
    """
    bits = products.view(np.uint64)
    for j in range(bits.size):
        exponents[j] += np.int64(bits[j] >> np.uint64(52)) - 1023
        bits[j] = (bits[j] & _MANTISSA_BITS) | _EXPONENT_OF_ONE


@njit(nogil=True)
def _log_loss_sums(labels, proba, eps, one):
    """(sum of -log P(true class), positives, bad rows) over one slice.

    A lane's product is mantissa * 2**exponent, so sum log q is the sum of
    the mantissas' logarithms plus ln 2 times the exponents': ``_LANES``
    logarithms in all, where one per row (numba calls the scalar libm ``log``)
    would dominate. The series terms move to per-lane totals at each
    renormalisation, so a lane sums at most 16 of them at a time.
    """
    products = np.ones(_LANES)
    exponents = np.zeros(_LANES, dtype=np.int64)
    near_sums = np.zeros(_LANES)
    near_total = np.zeros(_LANES)
    n_pos = 0
    bad = 0
    for lo in range(0, labels.size, _RENORM_ROWS):
        hi = lo + _RENORM_ROWS
        pos, wrong = _fold_true_class(labels[lo:hi], proba[lo:hi], eps, one, products, near_sums)
        n_pos += pos
        bad += wrong
        _renormalise(products, exponents)
        for j in range(_LANES):
            near_total[j] += near_sums[j]
            near_sums[j] = 0.0
    log_mantissas = 0.0
    for j in range(_LANES):
        log_mantissas += math.log(products[j])
    return near_total.sum() - (log_mantissas + exponents.sum() * _LN2), n_pos, bad


def _binary_log_loss_labels(y_true: Any, proba: np.ndarray, labels: Any) -> None:
    """A 1-D p is P(class 1): y_true must hold 0/1 and labels be [0, 1] (or None)."""
    truth = as_labels(y_true, "y_true")
    check_same_length(truth, proba, ("y_true", "p"))
    check_not_empty(truth, "y_true")
    if np.any((truth != 0) & (truth != 1)):
        raise ValueError(describe_bad_labels(y_true, "y_true"))
    if labels is not None and sorted(as_numpy(labels, "labels").tolist()) != [0, 1]:
        raise ValueError(f"labels must be [0, 1] for a binary log loss, got {labels!r}")
    if labels is None and (truth.all() or not truth.any()):
        raise ValueError(
            f"y_true contains only one label ({int(truth[0])}). Please provide the list of "
            "all expected class labels explicitly through the labels argument."
        )


def _describe_bad_proba(proba: np.ndarray) -> str:
    if np.isnan(proba).any():
        return "p contains NaN; drop or impute those rows first"
    if proba.max() > 1:
        return f"p contains values greater than 1: {proba.max()}; pass P(class 1), not a score"
    return f"p contains values lower than 0: {proba.min()}; pass P(class 1), not a score"


def log_loss(y_true: Any, p: Any, *, labels: Any = None, sample_weight: Any = None) -> float:
    """Mean cross-entropy, equal to ``sklearn.metrics.log_loss(y_true, p, labels=, sample_weight=)``.

    A 1-D ``p`` is P(class 1) of 0/1 labels: as in scikit-learn, a ``y_true``
    holding one class is an error unless ``labels=[0, 1]`` says both classes
    exist (other labels are an error). A 2-D ``p`` has one column per class,
    in the sorted order of ``labels`` (default: the classes of ``y_true``),
    any labels, two classes or more. p is clipped to [eps, 1 - eps] with eps
    of p's own dtype (float16, float32 or float64), as scikit-learn.

    float32/float64 0/1 labels without weights take one fused numba pass
    (float32 then accumulates in float64, ~1e-6 from scikit-learn's float32
    sum); 2-D, weighted or float16 inputs repeat scikit-learn's own NumPy
    operations in p's dtype, so they agree to the bit.
    """
    raw = np.asarray(p) if isinstance(p, (np.ndarray, list, tuple)) else as_numpy(p, "p")
    if raw.ndim == 2 or raw.dtype == np.float16 or sample_weight is not None:
        proba = _multiclass.probabilities(raw)
        if proba.ndim == 1:
            _binary_log_loss_labels(y_true, proba, labels)
            labels = [0, 1]
        return _multiclass.log_loss(y_true, proba, labels, sample_weight)
    truth = as_labels(y_true, "y_true")
    proba = as_scores(p, "p")
    check_same_length(truth, proba, ("y_true", "p"))
    check_not_empty(truth, "y_true")
    if labels is not None and sorted(as_numpy(labels, "labels").tolist()) != [0, 1]:
        raise ValueError(f"labels must be [0, 1] for a binary log loss, got {labels!r}")
    announce_compile(__file__)
    eps = np.finfo(proba.dtype).eps
    one = proba.dtype.type(1)
    parts = _in_halves(lambda s: _log_loss_sums(truth[s], proba[s], eps, one), truth.size, _SPLIT_MIN_PASS)
    if any(part[2] for part in parts):  # the kernel counts both kinds as one; tell them apart
        if np.any((truth != 0) & (truth != 1)):
            raise ValueError(describe_bad_labels(y_true, "y_true"))
        raise ValueError(_describe_bad_proba(proba))
    n_pos = sum(part[1] for part in parts)
    if labels is None and n_pos in (0, truth.size):
        raise ValueError(
            f"y_true contains only one label ({int(n_pos > 0)}). Please provide the list of "
            "all expected class labels explicitly through the labels argument."
        )
    total = sum(part[0] for part in parts)
    return total / truth.size


# --------------------------------------------------------------------------
# Regression metrics: one fused pass for the residuals, one more for R².
# --------------------------------------------------------------------------


@njit(nogil=True)
def _residual_sums(truth, pred):
    """(sum |t - p|, sum (t - p)²): lanes (see ``_LANES``) summed per ``_BLOCK`` rows."""
    abs_lanes = np.empty(_LANES)
    sq_lanes = np.empty(_LANES)
    sum_abs = 0.0
    sum_sq = 0.0
    for lo in range(0, truth.size, _BLOCK):
        abs_lanes[:] = 0.0
        sq_lanes[:] = 0.0
        for start in range(lo, min(lo + _BLOCK, truth.size), _LANES):
            # slices: see _fold_true_class
            t = truth[start : start + _LANES]
            p = pred[start : start + _LANES]
            for j in range(t.size):
                d = np.float64(t[j]) - p[j]
                abs_lanes[j] += abs(d)
                sq_lanes[j] += d * d
        sum_abs += abs_lanes.sum()
        sum_sq += sq_lanes.sum()
    return sum_abs, sum_sq


@njit(nogil=True)
def _squared_deviations(values, center):
    """sum (v - center)², in lanes like ``_residual_sums``."""
    lanes = np.empty(_LANES)
    total = 0.0
    for lo in range(0, values.size, _BLOCK):
        lanes[:] = 0.0
        for start in range(lo, min(lo + _BLOCK, values.size), _LANES):
            v = values[start : start + _LANES]
            for j in range(v.size):
                d = v[j] - center
                lanes[j] += d * d
        total += lanes.sum()
    return total


def _check_finite(values: np.ndarray, name: str) -> None:
    if np.isnan(values).any():
        raise ValueError(f"{name} contains NaN; drop or impute those rows first")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains infinity; regression metrics need finite values")


def _regression_inputs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, float, float]:
    """Validated ``y_true`` as floats, sum of |residual| and sum of residual²."""
    truth = as_scores(y_true, "y_true")
    pred = as_scores(y_pred, "y_pred")
    check_same_length(truth, pred, ("y_true", "y_pred"))
    check_not_empty(truth, "y_true")
    if truth.dtype != pred.dtype:  # one float64 signature rather than mixed ones
        truth, pred = truth.astype(np.float64), pred.astype(np.float64)
    announce_compile(__file__)
    parts = _in_halves(lambda s: _residual_sums(truth[s], pred[s]), truth.size, _SPLIT_MIN_PASS)
    sum_abs = sum(part[0] for part in parts)
    sum_sq = sum(part[1] for part in parts)
    # t - p is finite on every row iff both inputs are, so a finite sum of
    # |t - p| proves the inputs finite without a check per row.
    if not math.isfinite(sum_abs):
        _check_finite(truth, "y_true")
        _check_finite(pred, "y_pred")
    return truth, sum_abs, sum_sq


def _weighted_regression(y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Validated float64 truth, its weights, and (sum w|r|, sum w r², sum w) of the residuals r."""
    truth = as_scores(y_true, "y_true").astype(np.float64, copy=False)
    pred = as_scores(y_pred, "y_pred").astype(np.float64, copy=False)
    check_same_length(truth, pred, ("y_true", "y_pred"))
    check_not_empty(truth, "y_true")
    weights = _multiclass.as_sample_weight(sample_weight, truth.size)
    announce_compile(_weights.__file__)
    sums = _weights.weighted_residuals(truth, pred, weights)
    if not math.isfinite(sums[0]):
        _check_finite(truth, "y_true")
        _check_finite(pred, "y_pred")
    return truth, weights, sums


_WEIGHTED_DOC = """
    ``sample_weight`` (non-negative, not all zero) weights each row as
    ``np.average(..., weights=sample_weight)`` does in scikit-learn.
"""


def mae(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Mean absolute error, equal to ``sklearn.metrics.mean_absolute_error``."""
    if sample_weight is not None:
        _, _, (sum_abs, _, sum_w) = _weighted_regression(y_true, y_pred, sample_weight)
        return sum_abs / sum_w
    truth, sum_abs, _ = _regression_inputs(y_true, y_pred)
    return sum_abs / truth.size


def rmse(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Root mean squared error, equal to ``sklearn.metrics.root_mean_squared_error``."""
    if sample_weight is not None:
        _, _, (_, sum_sq, sum_w) = _weighted_regression(y_true, y_pred, sample_weight)
        return math.sqrt(sum_sq / sum_w)
    truth, _, sum_sq = _regression_inputs(y_true, y_pred)
    return math.sqrt(sum_sq / truth.size)


def r2(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Coefficient of determination, equal to ``sklearn.metrics.r2_score``.

    As in scikit-learn: NaN (with a warning) for fewer than two rows; for a
    constant ``y_true``, 1.0 when the predictions are exact and 0.0 otherwise.
    """
    if sample_weight is not None:
        truth, weights, (_, residual, _) = _weighted_regression(y_true, y_pred, sample_weight)
        if truth.size < 2:
            warnings.warn("R^2 score is not well-defined with less than two samples.", UserWarning, stacklevel=2)
            return float("nan")
        center = float(np.average(truth, weights=weights))
        total = _weights.weighted_deviations(truth, center, weights)
        return _r2_of(residual, total)
    truth, _, residual = _regression_inputs(y_true, y_pred)
    if truth.size < 2:
        warnings.warn("R^2 score is not well-defined with less than two samples.", UserWarning, stacklevel=2)
        return float("nan")
    # np.mean rather than our own sum: scikit-learn calls it, and whether
    # y_true counts as constant (deviations exactly 0) hangs on its last bit.
    center = float(truth.mean(dtype=np.float64))
    total = sum(_in_halves(lambda s: _squared_deviations(truth[s], center), truth.size, _SPLIT_MIN_PASS))
    return _r2_of(residual, total)


def _r2_of(residual: float, total: float) -> float:
    """scikit-learn's ``force_finite`` rule: exact predictions 1.0, constant truth 0.0."""
    if residual == 0:
        return 1.0
    if total == 0:
        return 0.0
    return 1.0 - residual / total


for _fn in (mae, rmse, r2):
    _fn.__doc__ = (_fn.__doc__ or "") + "\n" + _WEIGHTED_DOC
