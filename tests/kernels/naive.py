"""Slow, obvious NumPy twins of the metric kernels in ``lockgate.kernels.metrics``.

Each twin is the textbook definition, written for reading rather than speed
(quadratic where that is clearest), in the spirit of STUMPY's ``naive.py``.
Property tests hold the kernels to these as well as to scikit-learn, so a
disagreement tells whether the kernel or our reading of scikit-learn is off.
Inputs are plain 1-D NumPy arrays already known to be valid.
"""

from __future__ import annotations

import numpy as np


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counting 1/2."""
    y = np.asarray(y_true).astype(bool)
    pos = np.asarray(y_score, dtype=np.float64)[y]
    neg = np.asarray(y_score, dtype=np.float64)[~y]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (pos.size * neg.size))


def average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Sum over thresholds (distinct scores, high to low) of (recall gain) * precision."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=np.float64)
    ap = 0.0
    previous_recall = 0.0
    for threshold in np.unique(s)[::-1]:
        chosen = s >= threshold
        tp = (chosen & y).sum()
        recall_here = tp / y.sum()
        ap += (recall_here - previous_recall) * (tp / chosen.sum())
        previous_recall = recall_here
    return float(ap)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    return int((~t & ~p).sum()), int((~t & p).sum()), int((t & ~p).sum()), int((t & p).sum())


def _safe_ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    _, fp, _, tp = confusion_matrix(y_true, y_pred)
    return _safe_ratio(tp, tp + fp)


def recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    _, _, fn, tp = confusion_matrix(y_true, y_pred)
    return _safe_ratio(tp, tp + fn)


def f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    p, r = precision(y_true, y_pred), recall(y_true, y_pred)
    return _safe_ratio(2 * p * r, p + r)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true).astype(bool) == np.asarray(y_pred).astype(bool)))


def log_loss(y_true: np.ndarray, p: np.ndarray) -> float:
    """Mean of -log P(true class), that probability clipped to [eps, 1 - eps] in p's dtype."""
    p = np.asarray(p)
    if p.dtype != np.float32:
        p = p.astype(np.float64)
    eps = np.finfo(p.dtype).eps
    y = np.asarray(y_true).astype(bool)
    q = np.clip(np.where(y, p, 1 - p), eps, 1 - eps)
    return float(-np.mean(np.log(q.astype(np.float64))))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64))))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    d = np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64)
    return float(np.sqrt(np.mean(d * d)))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """1 - SS_res / SS_tot; 1.0 for a perfect fit, 0.0 for an imperfect fit of a constant."""
    t = np.asarray(y_true, np.float64)
    residual = np.sum((t - np.asarray(y_pred, np.float64)) ** 2)
    total = np.sum((t - t.mean()) ** 2)
    if residual == 0:
        return 1.0
    if total == 0:
        return 0.0
    return float(1 - residual / total)
