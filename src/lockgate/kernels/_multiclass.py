"""Multiclass (and weighted) label counting: one k x k confusion matrix, then sklearn's arithmetic.

``metrics.py``'s binary kernels keep their own fast paths; as soon as a caller
passes ``labels``, ``average``, ``pos_label``, ``sample_weight``,
``zero_division`` or ``normalize``, the counting metrics come here. One numba
pass counts (or sums the weights of) every (true, predicted) pair into a
matrix over the classes present, and every counting metric of scikit-learn
(``confusion_matrix``, ``multilabel_confusion_matrix``'s tp/pred/true sums,
``precision_recall_fscore_support``, ``accuracy_score``) is a few NumPy
operations on that matrix, following scikit-learn 1.9's rules line for line
(``_check_set_wise_labels``, ``_prf_divide``, ``_nanaverage``).

Labels are not sorted or hashed: integer labels index the matrix by
``value - min`` (one min/max pass first), which is why this is as fast as one
``np.bincount``; other labels (strings, floats, integers spread over a huge
range) are encoded with ``np.unique`` first, as scikit-learn does.

Imports nothing from the rest of lockgate but the kernels' helpers.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from lockgate.kernels._compile import announce_compile, njit
from lockgate.kernels._inputs import as_numpy, check_not_empty, check_same_length
from lockgate.kernels._parallel import _in_halves

# Integer labels index a (range x range) matrix directly while it stays this small.
_MAX_DIRECT_CELLS = 1 << 16
# Labels in [0, _SMALL) are counted without a range pass first (``_small_pair_counts``).
_SMALL = 64
_SPLIT_MIN = 1 << 18

AVERAGES = (None, "micro", "macro", "weighted")


# --------------------------------------------------------------------------- numba passes


@njit(nogil=True)
def _int_range(truth, pred):
    lo = truth[0]
    hi = truth[0]
    for i in range(truth.size):
        x = truth[i]
        lo = min(lo, x)
        hi = max(hi, x)
    for i in range(pred.size):
        x = pred[i]
        lo = min(lo, x)
        hi = max(hi, x)
    return np.int64(lo), np.int64(hi)


@njit(nogil=True)
def _small_pair_counts(truth, pred):
    """``_pair_counts`` over [0, _SMALL) without a range pass; row _SMALL² counts the pairs outside.

    Labels 0..k-1 are the common case: one pass instead of a min/max pass and
    a counting pass. A negative label reads as a huge unsigned one, so one
    unsigned compare sends both kinds of stranger to the last slot.
    """
    counts = np.zeros(_SMALL * _SMALL + 1, dtype=np.int64)
    for i in range(truth.size):
        t = np.int64(truth[i])
        p = np.int64(pred[i])
        inside = (np.uint64(t) | np.uint64(p)) < np.uint64(_SMALL)
        counts[t * _SMALL + p if inside else _SMALL * _SMALL] += 1
    return counts


@njit(nogil=True)
def _small_pair_weights(truth, pred, weights):
    """``_small_pair_counts`` that also sums each cell's weights (in the weights' dtype)."""
    sums = np.zeros(_SMALL * _SMALL + 1, dtype=weights.dtype)
    counts = np.zeros(_SMALL * _SMALL + 1, dtype=np.int64)
    for i in range(truth.size):
        t = np.int64(truth[i])
        p = np.int64(pred[i])
        inside = (np.uint64(t) | np.uint64(p)) < np.uint64(_SMALL)
        cell = t * _SMALL + p if inside else _SMALL * _SMALL
        sums[cell] += weights[i]
        counts[cell] += 1
    return sums, counts


@njit(nogil=True)
def _pair_counts(truth, pred, lo, width):
    """counts[(t - lo) * width + (p - lo)] += 1 over every row."""
    counts = np.zeros(width * width, dtype=np.int64)
    for i in range(truth.size):
        counts[(np.int64(truth[i]) - lo) * width + (np.int64(pred[i]) - lo)] += 1
    return counts


@njit(nogil=True)
def _pair_weights(truth, pred, weights, lo, width):
    """(weight sums, row counts) per (t, p) cell, as ``_pair_counts`` (sums in the weights' dtype)."""
    sums = np.zeros(width * width, dtype=weights.dtype)
    counts = np.zeros(width * width, dtype=np.int64)
    for i in range(truth.size):
        cell = (np.int64(truth[i]) - lo) * width + (np.int64(pred[i]) - lo)
        sums[cell] += weights[i]
        counts[cell] += 1
    return sums, counts


# --------------------------------------------------------------------------- inputs


def as_class_labels(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D array of class labels: int64/int32/uint8 kept (bool as uint8),
    other integers widened, floats and strings as they are; NaN/None is an error."""
    array = as_numpy(values, name)
    kind = array.dtype.kind
    if kind == "b":
        return np.ascontiguousarray(array.view(np.uint8))
    if kind in "iu":
        if array.dtype in (np.int64, np.int32, np.uint8):
            return np.ascontiguousarray(array)
        if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
            return array
        return np.ascontiguousarray(array, dtype=np.int64)
    if kind == "f":
        if np.isnan(array).any():
            raise ValueError(f"{name} contains NaN; drop or impute those rows first")
        return array
    if kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in array):
        raise ValueError(f"{name} contains missing values (None/NaN); drop or impute those rows first")
    return array


def as_sample_weight(sample_weight: Any, n: int) -> np.ndarray:
    """``sample_weight`` as contiguous float64 of length n; NaN, inf and negatives are errors."""
    weights = as_numpy(sample_weight, "sample_weight")
    if weights.dtype == object:
        try:
            weights = weights.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("sample_weight must be numeric") from None
    if weights.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight must be numeric, got dtype {weights.dtype}")
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if weights.size != n:
        raise ValueError(f"sample_weight has {weights.size} values for {n} rows")
    if not np.isfinite(weights).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (weights < 0).any():
        raise ValueError("sample_weight contains negative values")
    if weights.size and not weights.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights


def _check_kind_compatible(a: np.ndarray, b: np.ndarray) -> None:
    numeric = {k in "biuf" for k in (a.dtype.kind, b.dtype.kind)}
    if len(numeric) == 2:
        raise ValueError("Mix of label input types (string and number)")


def _is_integral(array: np.ndarray) -> bool:
    return array.dtype.kind in "biu"


class Counts(NamedTuple):
    """A confusion matrix over the classes present in y_true or y_pred (sorted)."""

    classes: np.ndarray  # sorted distinct labels of y_true and y_pred
    matrix: np.ndarray  # matrix[i, j]: rows (or weight) with true classes[i], predicted classes[j]
    true_present: np.ndarray  # bool per class: occurs in y_true
    pred_present: np.ndarray  # bool per class: occurs in y_pred
    weighted: bool
    int_weights: bool  # sample_weight was of an integer dtype (scikit-learn then counts in int64)


def count_pairs(y_true: Any, y_pred: Any, sample_weight: Any = None) -> Counts:
    """The confusion matrix (counts, or weight sums) of y_true against y_pred over the present classes."""
    truth = as_class_labels(y_true, "y_true")
    pred = as_class_labels(y_pred, "y_pred")
    check_same_length(truth, pred, ("y_true", "y_pred"))
    check_not_empty(truth, "y_true")
    _check_kind_compatible(truth, pred)
    if _is_integral(truth) and _is_integral(pred) and truth.dtype != pred.dtype:
        truth, pred = truth.astype(np.int64), pred.astype(np.int64)  # one signature, not a mixed one
    weights = None
    int_weights = False
    if sample_weight is not None:
        weights = as_sample_weight(sample_weight, truth.size)
        raw = as_numpy(sample_weight, "sample_weight")
        int_weights = raw.dtype.kind in "biu"
        if int_weights:  # scikit-learn then sums in int64 (wrapping on overflow, as NumPy does)
            weights = np.ascontiguousarray(raw, dtype=np.int64)
    announce_compile(__file__)
    small = _small_counts(truth, pred, weights)
    if small is not None:
        return _counts_from(small[0], small[1], _SMALL, None, 0, truth.dtype, pred.dtype, weights, int_weights)
    direct = _direct_range(truth, pred)
    if direct is not None:
        lo, width = direct
        classes = None
        codes_true, codes_pred = truth, pred
    else:
        classes, codes = np.unique(np.concatenate([truth, pred]), return_inverse=True)
        codes = codes.astype(np.int64)
        codes_true, codes_pred = codes[: truth.size], codes[truth.size :]
        lo, width = 0, classes.size
    if weights is None:
        parts = _in_halves(lambda s: _pair_counts(codes_true[s], codes_pred[s], lo, width), truth.size, _SPLIT_MIN)
        counts = sum(parts[1:], parts[0])
        sums = counts
    else:
        parts = _in_halves(
            lambda s: _pair_weights(codes_true[s], codes_pred[s], weights[s], lo, width), truth.size, _SPLIT_MIN
        )
        sums = sum((p[0] for p in parts[1:]), parts[0][0])
        counts = sum((p[1] for p in parts[1:]), parts[0][1])
    return _counts_from(sums, counts, width, classes, lo, truth.dtype, pred.dtype, weights, int_weights)


def _small_counts(truth: np.ndarray, pred: np.ndarray, weights: np.ndarray | None) -> tuple | None:
    """(sums, counts) over [0, _SMALL)² when every label lies there, else None."""
    if not (_is_integral(truth) and _is_integral(pred)) or truth.dtype != pred.dtype or truth.dtype == np.uint64:
        return None
    n = truth.size
    if weights is None:
        parts = _in_halves(lambda s: _small_pair_counts(truth[s], pred[s]), n, _SPLIT_MIN)
        counts = sum(parts[1:], parts[0])
        sums = counts
    else:
        parts = _in_halves(lambda s: _small_pair_weights(truth[s], pred[s], weights[s]), n, _SPLIT_MIN)
        sums = sum((p[0] for p in parts[1:]), parts[0][0])
        counts = sum((p[1] for p in parts[1:]), parts[0][1])
    if counts[-1]:
        return None
    return sums[:-1], counts[:-1]


def _counts_from(sums: np.ndarray, counts: np.ndarray, width: int, classes: np.ndarray | None, lo: int,
                 true_dtype: np.dtype, pred_dtype: np.dtype, weights: np.ndarray | None, int_weights: bool) -> Counts:
    """``Counts`` over the present classes from (sums, counts) over a width x width grid."""
    truth_dtype = true_dtype if true_dtype == pred_dtype else np.int64
    counts = counts.reshape(width, width)
    true_present = counts.sum(axis=1) > 0
    pred_present = counts.sum(axis=0) > 0
    present = np.flatnonzero(true_present | pred_present)
    if classes is None:
        classes = (lo + present).astype(truth_dtype)
    else:
        classes = classes[present]
    matrix = sums.reshape(width, width)[np.ix_(present, present)]
    return Counts(classes, matrix, true_present[present], pred_present[present], weights is not None, int_weights)


def _direct_range(truth: np.ndarray, pred: np.ndarray) -> tuple[int, int] | None:
    """(min, width) when both are integer labels over a range small enough to index a matrix."""
    if not (_is_integral(truth) and _is_integral(pred)) or truth.dtype == np.uint64 or pred.dtype == np.uint64:
        return None
    if truth.dtype != pred.dtype:  # one signature per dtype: widen the narrower
        return None
    lo, hi = _int_range(truth, pred)
    width = int(hi) - int(lo) + 1
    if width * width > _MAX_DIRECT_CELLS:
        return None
    return int(lo), width


# --------------------------------------------------------------------------- sklearn's rules


def target_type(counts: Counts) -> str:
    """scikit-learn's ``_check_targets`` for 1-D labels: 'binary' up to two classes, else 'multiclass'."""
    return "binary" if counts.classes.size <= 2 else "multiclass"


def _present_list(counts: Counts) -> list[Any]:
    return counts.classes.tolist()


def index_of(counts: Counts, labels: Any) -> np.ndarray:
    """Position of each label among the present classes, -1 for a label seen in neither array."""
    wanted = np.asarray(labels)
    if wanted.ndim != 1:
        wanted = wanted.reshape(-1)
    if wanted.size and counts.classes.size:
        if (wanted.dtype.kind in "biuf") != (counts.classes.dtype.kind in "biuf"):
            return np.full(wanted.size, -1, dtype=np.int64)
    position = np.searchsorted(counts.classes, wanted)
    position = np.minimum(position, max(counts.classes.size - 1, 0))
    found = counts.classes[position] == wanted if counts.classes.size else np.zeros(wanted.size, dtype=bool)
    return np.where(found, position, -1).astype(np.int64)


def check_within(counts: Counts, labels: Any) -> None:
    """Raise unless every class of y_true and y_pred is one of ``labels``."""
    wanted = np.asarray(labels).reshape(-1)
    declared = set(wanted.tolist())
    unknown = [c for c in counts.classes.tolist() if c not in declared]
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10])
        raise ValueError(f"y_true or y_pred contains labels not in labels={wanted.tolist()}: {shown}")


def _take(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """matrix[rows][:, cols] with zero rows/columns where an index is -1."""
    padded = np.zeros((matrix.shape[0] + 1, matrix.shape[1] + 1), dtype=matrix.dtype)
    padded[:-1, :-1] = matrix
    return padded[np.ix_(rows, cols)]


def full_confusion(counts: Counts, labels: Any = None, normalize: str | None = None) -> np.ndarray:
    """``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=, sample_weight=, normalize=)``."""
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be one of {{'true', 'pred', 'all', None}}, got {normalize!r}")
    if labels is None:
        matrix = counts.matrix
    else:
        wanted = np.asarray(labels)
        if wanted.size == 0:
            raise ValueError("'labels' should contains at least one label.")
        where = index_of(counts, wanted)
        if not any(counts.true_present[i] for i in where.tolist() if i >= 0):
            raise ValueError("At least one label specified must be in y_true")
        matrix = _take(counts.matrix, where, where)
    if counts.weighted:
        matrix = matrix.astype(np.int64) if counts.int_weights else matrix.astype(np.float64)
    if normalize is not None:
        with np.errstate(all="ignore"):
            if normalize == "true":
                matrix = matrix / matrix.sum(axis=1, keepdims=True)
            elif normalize == "pred":
                matrix = matrix / matrix.sum(axis=0, keepdims=True)
            else:
                matrix = matrix / matrix.sum()
            matrix = np.nan_to_num(matrix)
    return matrix


def check_zero_division(zero_division: Any) -> float:
    """The value of a 0/0 score: 0.0, 1.0 or NaN (scikit-learn's ``zero_division``)."""
    if isinstance(zero_division, str) or zero_division not in (0, 1) and not (
        isinstance(zero_division, float) and math.isnan(zero_division)
    ):
        raise ValueError(f"zero_division must be 0, 1 or np.nan, got {zero_division!r}")
    return float(zero_division)


def set_wise_labels(counts: Counts, average: Any, labels: Any, pos_label: Any) -> Any:
    """scikit-learn's ``_check_set_wise_labels``: the labels to score, or None for all."""
    if average not in AVERAGES and average != "binary":
        raise ValueError(f"average has to be one of {(None, 'micro', 'macro', 'weighted', 'samples')}")
    kind = target_type(counts)
    present = _present_list(counts)
    if average == "binary":
        if kind == "binary":
            if pos_label not in present and len(present) >= 2:
                raise ValueError(f"pos_label={pos_label!r} is not a valid label. It should be one of {present}")
            return [pos_label]
        raise ValueError(
            "Target is multiclass but average='binary'. Please choose another average setting, "
            f"one of {[None, 'micro', 'macro', 'weighted']}."
        )
    if pos_label not in (None, 1):
        warnings.warn(
            f"Note that pos_label (set to {pos_label!r}) is ignored when average != 'binary' "
            f"(got {average!r}). You may use labels=[pos_label] to specify a single positive class.",
            UserWarning,
            stacklevel=3,
        )
    return labels


class Sums(NamedTuple):
    tp: np.ndarray
    pred: np.ndarray
    true: np.ndarray


def per_label_sums(counts: Counts, labels: Any) -> Sums:
    """tp, predicted and true totals per label (all present classes when ``labels`` is None)."""
    diagonal = np.diagonal(counts.matrix)
    pred = counts.matrix.sum(axis=0)
    true = counts.matrix.sum(axis=1)
    if labels is None:
        return Sums(diagonal, pred, true)
    where = index_of(counts, labels)

    def pad(a: np.ndarray) -> np.ndarray:  # index -1 (an unseen label) reads the appended 0
        return np.append(a, np.zeros(1, dtype=a.dtype))[where]

    return Sums(pad(diagonal), pad(pred), pad(true))


def _divide(numerator: np.ndarray, denominator: np.ndarray, zero_value: float) -> np.ndarray:
    mask = denominator == 0
    denominator = np.where(mask, 1, denominator)
    result = numerator.astype(np.float64) / denominator
    result[mask] = zero_value
    return result


def nanaverage(values: np.ndarray, weights: np.ndarray | None) -> float:
    """scikit-learn's ``_nanaverage``: NaN entries ignored; all-zero weights ignored."""
    if values.shape[0] == 0:
        return float("nan")
    mask = np.isnan(values)
    if mask.all():
        return float("nan")
    if weights is None:
        return float(np.mean(values[~mask]))
    kept, w = values[~mask], np.asarray(weights, dtype=np.float64)[~mask]
    if w.sum() == 0:
        return float(np.average(kept))
    return float(np.average(kept, weights=w))


def prf(
    counts: Counts, *, labels: Any, pos_label: Any, average: Any, zero_division: Any
) -> tuple[Any, Any, Any]:
    """(precision, recall, F1) as ``sklearn.metrics.precision_recall_fscore_support`` (beta=1)."""
    zero_value = check_zero_division(zero_division)
    chosen = set_wise_labels(counts, average, labels, pos_label)
    sums = per_label_sums(counts, chosen)
    tp, pred, true = sums
    if average == "micro":
        tp, pred, true = (np.array([a.sum()]) for a in (tp, pred, true))
    precision = _divide(tp, pred, zero_value)
    recall = _divide(tp, true, zero_value)
    f_score = _divide(2.0 * tp.astype(np.float64), true.astype(np.float64) + pred, zero_value)
    if average is None:
        return precision, recall, f_score
    weights = true if average == "weighted" else None
    return nanaverage(precision, weights), nanaverage(recall, weights), nanaverage(f_score, weights)


def accuracy_of(counts: Counts, normalize: bool) -> float:
    """``sklearn.metrics.accuracy_score(y_true, y_pred, normalize=, sample_weight=)``."""
    correct = np.trace(counts.matrix)
    if not normalize:
        return float(correct)
    total = counts.matrix.sum()
    if counts.weighted and total == 0:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    return float(correct / total)


# --------------------------------------------------------------------------- log loss


def probabilities(p: Any) -> np.ndarray:
    """``p`` as scikit-learn's ``check_array`` leaves it: float16/32/64 kept, anything else float64."""
    array = p.to_numpy() if hasattr(p, "to_numpy") and not isinstance(p, np.ndarray) else np.asarray(p)
    if array.dtype not in (np.float16, np.float32, np.float64):
        if array.dtype.kind not in "biuf":
            raise ValueError(f"p must be numeric, got dtype {array.dtype}")
        array = array.astype(np.float64)
    if array.ndim not in (1, 2):
        raise ValueError(f"p must be 1-D (P(class 1)) or 2-D (one column per class), got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError("p contains NaN; drop or impute those rows first")
    if array.size and array.max() > 1:
        raise ValueError(f"p contains values greater than 1: {array.max()}")
    if array.size and array.min() < 0:
        raise ValueError(f"p contains values lower than 0: {array.min()}")
    return array


def _log_loss_classes(truth: np.ndarray, labels: Any) -> np.ndarray:
    """scikit-learn's ``_one_hot_encoding_multiclass_target``: the sorted classes, its errors and warning."""
    if labels is not None:
        given = np.asarray(labels).reshape(-1)
        classes = np.unique(given)
        if classes.size != given.size or not np.array_equal(classes, given):
            warnings.warn(
                f"Labels passed were {given}. But this function assumes labels are ordered lexicographically. "
                f"Pass the ordered labels={classes.tolist()} and ensure that the columns of y_prob correspond "
                "to this ordering.",
                UserWarning,
                stacklevel=4,
            )
        undeclared = set(np.unique(truth).tolist()) - set(classes.tolist())
        if undeclared:
            raise ValueError(f"y_true contains values {undeclared} not belonging to the passed labels {given}.")
    else:
        classes = np.unique(truth)
    if classes.size == 1:
        if labels is None:
            raise ValueError(
                f"y_true contains only one label ({classes[0]}). Please provide the list of all expected class "
                "labels explicitly through the labels argument."
            )
        raise ValueError(f"The labels array needs to contain at least two labels, got {classes}.")
    return classes


def log_loss(y_true: Any, p: np.ndarray, labels: Any, sample_weight: Any) -> float:
    """``sklearn.metrics.log_loss(y_true, p, labels=, sample_weight=)`` with scikit-learn's own NumPy
    operations in ``p``'s dtype (float16 and float32 included, so the result is the same to the bit)."""
    truth = as_class_labels(y_true, "y_true")
    check_same_length(truth, p, ("y_true", "p"))
    check_not_empty(truth, "y_true")
    weights = None
    if sample_weight is not None:
        as_sample_weight(sample_weight, truth.size)  # validates
        weights = np.asarray(as_numpy(sample_weight, "sample_weight"))
    classes = _log_loss_classes(truth, labels)
    proba = p[:, None] if p.ndim == 1 else p
    if proba.shape[1] == 1:
        proba = np.concatenate([1 - proba, proba], axis=1)
    eps = np.finfo(proba.dtype).eps
    if not np.all(np.isclose(proba.sum(axis=1), np.asarray(1, dtype=proba.dtype), rtol=math.sqrt(eps))):
        warnings.warn("The y_prob values do not sum to one. Make sure to pass probabilities.", UserWarning,
                      stacklevel=3)
    if classes.size != proba.shape[1]:
        if labels is None:
            raise ValueError(
                f"y_true and y_prob contain different number of classes: {classes.size} vs {proba.shape[1]}. "
                f"Please provide the true labels explicitly through the labels argument. Classes found in "
                f"y_true: {classes}"
            )
        raise ValueError(f"The number of classes in labels is different from that in y_prob. Classes found in "
                         f"labels: {classes}")
    one_hot = (np.searchsorted(classes, truth)[:, None] == np.arange(classes.size)[None, :]).astype(proba.dtype)
    clipped = np.clip(proba, eps, 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = one_hot * np.log(clipped)
    terms = np.where(one_hot == 0.0, np.asarray(0.0, dtype=terms.dtype), terms)
    loss = -np.sum(terms, axis=1)
    return float(np.average(loss, weights=weights))
