"""ROC AUC and average precision beyond the binary unweighted case: weights, ``max_fpr``,
multiclass (one-vs-rest, one-vs-one) and multilabel averages, as scikit-learn 1.9.

Every per-class score is one weighted binary walk (``_weights.py``); the
averaging follows scikit-learn's ``_average_binary_score``,
``_average_multiclass_ovo_score``, ``_multiclass_roc_auc_score`` and
``_binary_roc_auc_score`` (partial AUC with the McClish correction) line for
line, so that the same inputs give the same number and the same errors.

Imports nothing from the rest of lockgate but the kernels' helpers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np

from lockgate.kernels import _weights
from lockgate.kernels._inputs import as_numpy, as_scores

BinaryMetric = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


class UndefinedMetricWarning(UserWarning):
    """A per-class score is undefined (one class only): it is NaN (scikit-learn's warning)."""


def scores_matrix(y_score: Any) -> np.ndarray:
    """``y_score`` as float64, 1-D or 2-D; NaN is an error (infinities are ranked)."""
    array = np.asarray(y_score) if not hasattr(y_score, "to_numpy") else y_score.to_numpy()
    if array.ndim == 1:
        return as_scores(array, "y_score").astype(np.float64, copy=False)
    if array.ndim != 2:
        raise ValueError(f"y_score must be 1-D or 2-D, got shape {array.shape}")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if np.isnan(array).any():
        raise ValueError("y_score contains NaN; drop or impute those rows first")
    return array


def _ones_or(weights: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if weights is None else weights


def _nonzero(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows of non-zero weight (scikit-learn drops the others before it sorts)."""
    keep = weights != 0
    if keep.all():
        return positive, scores, weights
    return positive[keep], scores[keep], weights[keep]


def binary_roc_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray, max_fpr: float | None = None) -> float:
    """scikit-learn's ``_binary_roc_auc_score``: NaN (with a warning) when one class is absent."""
    if positive.all() or not positive.any():
        warnings.warn("Only one class is present in y_true. ROC AUC score is not defined in that case.",
                      UndefinedMetricWarning, stacklevel=3)
        return float("nan")
    positive, scores, weights = _nonzero(positive, np.ascontiguousarray(scores), weights)
    if max_fpr is None or max_fpr == 1:
        return _weights.weighted_auc(positive, scores, weights)[0]
    if max_fpr <= 0 or max_fpr > 1:
        raise ValueError(f"Expected max_fpr in range (0, 1], got: {max_fpr!r}")
    fpr, tpr = roc_points(positive, scores, weights)
    stop = np.searchsorted(fpr, max_fpr, "right")
    x_interp = [fpr[stop - 1], fpr[stop]]
    y_interp = [tpr[stop - 1], tpr[stop]]
    tpr = np.append(tpr[:stop], np.interp(max_fpr, x_interp, y_interp))
    fpr = np.append(fpr[:stop], max_fpr)
    partial_auc = float(np.trapezoid(tpr, fpr))
    min_area = 0.5 * max_fpr**2
    max_area = max_fpr
    return 0.5 * (1 + (partial_auc - min_area) / (max_area - min_area))


def roc_points(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of ``sklearn.metrics.roc_curve(drop_intermediate=True)``."""
    fps, tps = _weights.clf_curve(positive, scores, weights)
    if len(fps) > 2:
        optimal = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps = fps[optimal], tps[optimal]
    tps = np.r_[0, tps]
    fps = np.r_[0, fps]
    with np.errstate(divide="ignore", invalid="ignore"):
        return fps / fps[-1], tps / tps[-1]


def binary_average_precision(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """scikit-learn's ``_binary_uninterpolated_average_precision`` from the weighted curve."""
    positive, scores, weights = _nonzero(positive, np.ascontiguousarray(scores), weights)
    fps, tps = _weights.clf_curve(positive, scores, weights)
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=(ps != 0))
    if tps[-1] == 0:
        warnings.warn("No positive class found in y_true, recall is set to one for all thresholds",
                      UserWarning, stacklevel=3)
        recall = np.ones_like(tps)
    else:
        recall = tps / tps[-1]
    precision = np.hstack((precision[::-1], 1))
    recall = np.hstack((recall[::-1], 0))
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def average_binary(metric: BinaryMetric, truth: np.ndarray, score: np.ndarray, average: Any,
                   weights: np.ndarray | None) -> Any:
    """scikit-learn's ``_average_binary_score`` over indicator columns ``truth`` (n x k, bool)."""
    if average not in (None, "micro", "macro", "weighted"):
        raise ValueError(f"average has to be one of {(None, 'micro', 'macro', 'weighted', 'samples')}"
                         + (" ('samples' is not supported here)" if average == "samples" else ""))
    n = truth.shape[0]
    average_weight = None
    if average == "micro":
        score_weight = None if weights is None else np.repeat(weights, truth.shape[1])
        return float(metric(truth.ravel(), score.ravel(), _ones_or(score_weight, truth.size)))
    if average == "weighted":
        if weights is not None:
            average_weight = np.sum(truth * weights.reshape(-1, 1), axis=0)
        else:
            average_weight = np.sum(truth, axis=0)
        if np.isclose(average_weight.sum(), 0.0):
            return 0.0
    scores = np.zeros(truth.shape[1])
    w = _ones_or(weights, n)
    for c in range(truth.shape[1]):
        scores[c] = metric(np.ascontiguousarray(truth[:, c]), np.ascontiguousarray(score[:, c]), w)
    if average is None:
        return scores
    if average_weight is not None:
        scores[average_weight == 0] = 0
    return float(np.average(scores, weights=average_weight))


def _ovo(codes: np.ndarray, score: np.ndarray, average: Any) -> float:
    """scikit-learn's ``_average_multiclass_ovo_score`` with the binary ROC AUC."""
    present = np.unique(codes)
    n_pairs = present.size * (present.size - 1) // 2
    pair_scores = np.empty(n_pairs)
    prevalence = np.empty(n_pairs) if average == "weighted" else None
    for ix, (a, b) in enumerate(combinations(present.tolist(), 2)):
        a_mask = codes == a
        b_mask = codes == b
        ab_mask = a_mask | b_mask
        if prevalence is not None:
            prevalence[ix] = np.average(ab_mask)
        ones = np.ones(int(ab_mask.sum()))
        a_score = binary_roc_auc(a_mask[ab_mask], score[ab_mask, a], ones)
        b_score = binary_roc_auc(b_mask[ab_mask], score[ab_mask, b], ones)
        pair_scores[ix] = (a_score + b_score) / 2
    return float(np.average(pair_scores, weights=prevalence))


def _classes(y_true: np.ndarray) -> np.ndarray:
    return np.unique(y_true)


def multiclass_roc_auc(y_true: np.ndarray, score: np.ndarray, labels: Any, multi_class: str, average: Any,
                       weights: np.ndarray | None) -> Any:
    """scikit-learn's ``_multiclass_roc_auc_score``."""
    if not np.allclose(1, score.sum(axis=1)):
        raise ValueError("Target scores need to be probabilities for multiclass roc_auc, i.e. they should "
                         "sum up to 1.0 over classes")
    average_options: tuple[Any, ...] = ("macro", "weighted", None)
    if multi_class == "ovr":
        average_options = ("micro", *average_options)
    if average not in average_options:
        raise ValueError(f"average must be one of {average_options} for multiclass problems")
    if multi_class not in ("ovo", "ovr"):
        raise ValueError(f"multi_class='{multi_class}' is not supported for multiclass ROC AUC, "
                         "multi_class must be in ('ovo', 'ovr')")
    if average is None and multi_class == "ovo":
        raise NotImplementedError("average=None is not implemented for multi_class='ovo'.")
    if labels is not None:
        labels = as_numpy(np.asarray(labels), "labels")
        classes = np.unique(labels)
        if len(classes) != len(labels):
            raise ValueError("Parameter 'labels' must be unique")
        if not np.array_equal(classes, labels):
            raise ValueError("Parameter 'labels' must be ordered")
        if len(classes) != score.shape[1]:
            raise ValueError(f"Number of given labels, {len(classes)}, not equal to the number of columns in "
                             f"'y_score', {score.shape[1]}")
        if len(np.setdiff1d(y_true, classes)):
            raise ValueError("'y_true' contains labels not in parameter 'labels'")
    else:
        classes = _classes(y_true)
        if len(classes) != score.shape[1]:
            raise ValueError("Number of classes in y_true not equal to the number of columns in 'y_score'")
    codes = np.searchsorted(classes, y_true)
    if multi_class == "ovo":
        if weights is not None:
            raise ValueError("sample_weight is not supported for multiclass one-vs-one ROC AUC, "
                             "'sample_weight' must be None in this case.")
        return _ovo(codes, score, average)
    truth = codes[:, None] == np.arange(classes.size)[None, :]
    return average_binary(binary_roc_auc, truth, score, average, weights)


def multiclass_average_precision(y_true: np.ndarray, score: np.ndarray, average: Any, pos_label: Any,
                                 weights: np.ndarray | None) -> Any:
    """scikit-learn's ``average_precision_score`` for multiclass ``y_true`` (one column per class)."""
    if pos_label != 1:
        raise ValueError("Parameter pos_label is fixed to 1 for multiclass y_true. "
                         "Do not set pos_label or set pos_label to 1.")
    classes = _classes(y_true)
    truth = np.searchsorted(classes, y_true)[:, None] == np.arange(classes.size)[None, :]
    if score.shape != truth.shape:
        raise ValueError("`y_score` needs to be of shape `(n_samples, n_classes)`, since `y_true` contains "
                         f"multiple classes. Got `y_score.shape={score.shape}`.")
    return average_binary(binary_average_precision, truth, score, average, weights)
