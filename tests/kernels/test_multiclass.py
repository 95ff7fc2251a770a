"""Multiclass metrics (issue 21) equal scikit-learn: precision/recall/F1 with every average,
labels, pos_label and zero_division; confusion_matrix with labels and normalize; accuracy;
ROC AUC one-vs-rest / one-vs-one; average precision averages; log loss over k classes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import metrics as sk

from lockgate import kernels as lg

RTOL = 1e-9
AVERAGES = [None, "micro", "macro", "weighted"]
ZERO_DIVISION = [0, 1, np.nan]
SET_WISE = {"precision": sk.precision_score, "recall": sk.recall_score, "f1": sk.f1_score}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _close(ours, ref, rtol=RTOL) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(ref, dtype=float), rtol=rtol,
                               atol=0, equal_nan=True)


def assert_set_wise(t, p, **kwargs) -> None:
    for name, ref in SET_WISE.items():
        _close(getattr(lg, name)(t, p, **kwargs), _quiet(ref, t, p, **kwargs))


def assert_same_error(ours, ref) -> None:
    """Both raise ValueError, or both return equal values."""
    try:
        expected = _quiet(ref)
    except ValueError:
        with pytest.raises(ValueError):
            ours()
        return
    _close(ours(), expected)


# ---------------------------------------------------------------- counting metrics


def _pair(rng, n, k, kind):
    t = rng.integers(0, k, n)
    p = rng.integers(0, k, n)
    if kind == "str":
        names = np.array(["ant", "bee", "cat", "dog", "eel", "fox", "gnu"])
        return names[t], names[p]
    if kind == "float":
        return t.astype(np.float64), p.astype(np.float64)
    if kind == "int32":
        return t.astype(np.int32), p.astype(np.int32)
    if kind == "negative":
        return t - 2, p * 3 - 2
    return t, p


@pytest.mark.parametrize("kind", ["int64", "int32", "str", "float", "negative"])
@pytest.mark.parametrize("n", [1, 7, 300])
def test_set_wise_metrics_match_sklearn_for_every_average_and_zero_division(kind, n) -> None:
    rng = np.random.default_rng(n)
    t, p = _pair(rng, n, 5, kind)
    for average in AVERAGES:
        for zero_division in ZERO_DIVISION:
            assert_set_wise(t, p, average=average, zero_division=zero_division)
        _close(lg.accuracy(t, p, labels=np.unique(np.r_[t, p])), sk.accuracy_score(t, p))
        _close(lg.accuracy(t, p, normalize=False, labels=np.unique(np.r_[t, p])),
               sk.accuracy_score(t, p, normalize=False))


def test_a_class_absent_from_y_pred_and_labels_given_but_unseen() -> None:
    t = np.array([0, 1, 2, 2, 1, 0, 2])
    p = np.array([0, 0, 1, 1, 1, 0, 0])  # class 2 is never predicted
    for average in AVERAGES:
        for zero_division in ZERO_DIVISION:
            assert_set_wise(t, p, average=average, zero_division=zero_division)
            # 7 never occurs, 1 is left out: subset and order as given
            assert_set_wise(t, p, average=average, zero_division=zero_division, labels=[2, 7, 0])
    for labels in ([2, 7, 0], [0, 1, 2], [1], [5, 2]):
        for normalize in (None, "true", "pred", "all"):
            _close(lg.confusion_matrix(t, p, labels=labels, normalize=normalize),
                   sk.confusion_matrix(t, p, labels=labels, normalize=normalize))


def test_confusion_matrix_labels_none_of_which_is_in_y_true_is_an_error_like_sklearn() -> None:
    t, p = [0, 1, 2], [3, 3, 3]
    assert_same_error(lambda: lg.confusion_matrix(t, p, labels=[3]), lambda: sk.confusion_matrix(t, p, labels=[3]))
    with pytest.raises(ValueError, match="at least one label"):
        lg.confusion_matrix(t, p, labels=[])


def test_confusion_matrix_is_sklearns_matrix_for_any_classes_and_dtype() -> None:
    rng = np.random.default_rng(1)
    for kind in ("str", "int32", "negative"):
        t, p = _pair(rng, 200, 6, kind)
        matrix = lg.confusion_matrix(t, p, labels=np.unique(np.r_[t, p]))
        expected = sk.confusion_matrix(t, p)
        assert matrix.dtype == expected.dtype and (matrix == expected).all()


def test_binary_targets_with_pos_label_and_average_binary() -> None:
    t = np.array(["no", "yes", "yes", "no", "yes"])
    p = np.array(["yes", "yes", "no", "no", "yes"])
    for pos_label in ("yes", "no"):
        assert_set_wise(t, p, pos_label=pos_label)
    for average in ("macro", "micro"):  # pos_label ignored (with sklearn's warning)
        with pytest.warns(UserWarning, match="pos_label"):
            lg.f1(t, p, pos_label="yes", average=average)
    assert_set_wise(np.array([0, 1, 1]), np.array([1, 1, 0]), pos_label=0)


def test_validation_errors_read_like_sklearns() -> None:
    t, p = [0, 1, 2, 2], [0, 2, 1, 2]
    with pytest.raises(ValueError, match="average has to be one of"):
        lg.f1(t, p, average="mean")
    with pytest.raises(ValueError, match="Target is multiclass but average='binary'"):
        lg.precision(t, p, sample_weight=[1, 1, 1, 1])
    with pytest.raises(ValueError, match="pos_label=5 is not a valid label"):
        lg.recall([0, 1, 1], [1, 1, 0], pos_label=5)
    with pytest.raises(ValueError, match="zero_division must be"):
        lg.f1(t, p, average="macro", zero_division=2)
    with pytest.raises(ValueError, match="Mix of label input types"):
        lg.f1(["a", "b"], [0, 1], average="macro")
    with pytest.raises(ValueError, match=r"normalize must be one of"):
        lg.confusion_matrix(t, p, labels=[0, 1, 2], normalize="rows")
    with pytest.raises(ValueError, match="not in labels"):
        lg.accuracy(t, p, labels=[0, 1])


def test_defaults_keep_the_binary_contract() -> None:
    """No new argument, no new behaviour: labels outside {0, 1} stay an error (issue 21)."""
    for fn in (lg.precision, lg.f1, lg.accuracy, lg.confusion_matrix):
        with pytest.raises(ValueError, match="binary labels 0 and 1.*multiclass"):
            fn([0, 1, 2], [0, 1, 2])
    assert lg.f1([0, 1, 1], [1, 1, 0], average="binary", zero_division=0) == lg.f1([0, 1, 1], [1, 1, 0])


def test_ten_classes_over_the_two_halves_path() -> None:
    rng = np.random.default_rng(10)
    t = rng.integers(0, 10, 300_000)
    p = np.where(rng.random(t.size) < 0.6, t, rng.integers(0, 10, t.size))
    for average in AVERAGES:
        assert_set_wise(t, p, average=average)
    assert (lg.confusion_matrix(t, p, labels=np.arange(10)) == sk.confusion_matrix(t, p)).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.int64, n, elements=st.integers(-2, 3)),
            hnp.arrays(np.int64, n, elements=st.integers(-2, 3)),
            st.sampled_from(AVERAGES),
            st.sampled_from(ZERO_DIVISION),
            st.one_of(st.none(), st.lists(st.integers(-3, 4), min_size=1, max_size=5, unique=True)),
        )
    )
)
def test_set_wise_property(case) -> None:
    t, p, average, zero_division, labels = case
    kwargs = {"average": average, "zero_division": zero_division, "labels": labels}
    for name, ref in SET_WISE.items():
        ours = getattr(lg, name)
        assert_same_error(lambda ours=ours: ours(t, p, **kwargs), lambda ref=ref: ref(t, p, **kwargs))


# ---------------------------------------------------------------- ranking metrics


def _probabilities(rng, n, k, ties=False):
    P = rng.random((n, k))
    if ties:
        P = np.round(P, 1) + 0.05
    return P / P.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("k", [3, 5])
def test_roc_auc_ovr_and_ovo_match_sklearn(k, ties) -> None:
    rng = np.random.default_rng(k)
    t = rng.integers(0, k, 120)
    t[:k] = np.arange(k)
    P = _probabilities(rng, t.size, k, ties)
    for average in ("macro", "weighted", None, "micro"):
        _close(lg.roc_auc(t, P, multi_class="ovr", average=average),
               sk.roc_auc_score(t, P, multi_class="ovr", average=average))
    for average in ("macro", "weighted"):
        _close(lg.roc_auc(t, P, multi_class="ovo", average=average),
               sk.roc_auc_score(t, P, multi_class="ovo", average=average))
    names = np.array(["a", "b", "c", "d", "e"])[:k]
    _close(lg.roc_auc(names[t], P, multi_class="ovr", labels=names),
           sk.roc_auc_score(names[t], P, multi_class="ovr", labels=names))


def test_roc_auc_with_a_label_unseen_in_y_true_is_nan_like_sklearn() -> None:
    rng = np.random.default_rng(3)
    t = rng.integers(0, 3, 50)
    P = _probabilities(rng, 50, 4)
    with pytest.warns(UserWarning, match="Only one class"):
        per_class = lg.roc_auc(t, P, multi_class="ovr", labels=[0, 1, 2, 3], average=None)
    _close(per_class, _quiet(sk.roc_auc_score, t, P, multi_class="ovr", labels=[0, 1, 2, 3], average=None))
    _close(lg.roc_auc(t, P, multi_class="ovo", labels=[0, 1, 2, 3]),
           sk.roc_auc_score(t, P, multi_class="ovo", labels=[0, 1, 2, 3]))


def test_multiclass_roc_auc_errors_read_like_sklearns() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(30) % 3
    P = _probabilities(rng, 30, 3)
    cases = [
        dict(),  # multi_class="raise"
        dict(multi_class="ovr", max_fpr=0.5),
        dict(multi_class="ovo", average=None),
        dict(multi_class="ovo", sample_weight=np.ones(30)),
        dict(multi_class="ovr", average="samples"),
        dict(multi_class="ovr", labels=[2, 1, 0]),
        dict(multi_class="ovr", labels=[0, 1]),
        dict(multi_class="ovr", labels=[0, 0, 1]),
    ]
    for kwargs in cases:
        with pytest.raises((ValueError, NotImplementedError)):
            _quiet(sk.roc_auc_score, t, P, **kwargs)
        with pytest.raises((ValueError, NotImplementedError)):
            lg.roc_auc(t, P, **kwargs)
    with pytest.raises(ValueError, match="sum up to 1.0"):
        lg.roc_auc(t, P * 2, multi_class="ovr")


@pytest.mark.parametrize("k", [3, 4])
def test_average_precision_averages_match_sklearn(k) -> None:
    rng = np.random.default_rng(k + 10)
    t = rng.integers(0, k, 90)
    t[:k] = np.arange(k)
    P = _probabilities(rng, t.size, k, ties=True)
    for average in ("macro", "weighted", "micro", None):
        _close(lg.average_precision(t, P, average=average), sk.average_precision_score(t, P, average=average))
    with pytest.raises(ValueError, match="pos_label is fixed to 1"):
        lg.average_precision(t, P, pos_label=2)


def test_binary_partial_auc_matches_sklearn() -> None:
    rng = np.random.default_rng(6)
    y = (rng.random(400) < 0.3).astype(int)
    for decimals in (1, 3, 12):
        s = np.round(rng.random(400) + 0.3 * y, decimals)
        for max_fpr in (0.01, 0.2, 0.5, 0.999, 1.0):
            _close(lg.roc_auc(y, s, max_fpr=max_fpr), sk.roc_auc_score(y, s, max_fpr=max_fpr))
    for bad in (0.0, -1.0, 1.5):
        with pytest.raises(ValueError, match="max_fpr"):
            lg.roc_auc(y, s, max_fpr=bad)


# ---------------------------------------------------------------- log loss


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_multiclass_log_loss_matches_sklearn_to_the_bit(dtype) -> None:
    rng = np.random.default_rng(7)
    for k in (2, 3, 6):
        t = rng.integers(0, k, 200)
        t[:k] = np.arange(k)
        P = _probabilities(rng, t.size, k).astype(dtype)
        P[:3] = 0
        P[:3, 0] = 1  # certain, and wrong for some rows: clipped with dtype's eps
        assert lg.log_loss(t, P) == _quiet(sk.log_loss, t, P)
        names = np.array(["u", "v", "w", "x", "y", "z"])[:k]
        assert lg.log_loss(names[t], P, labels=names) == _quiet(sk.log_loss, names[t], P, labels=names)


def test_log_loss_with_a_class_absent_from_y_true_needs_labels() -> None:
    rng = np.random.default_rng(8)
    t = rng.integers(0, 2, 40)
    t[:2] = [0, 1]
    P = _probabilities(rng, 40, 3)
    for labels in (None, [0, 1, 2], [0, 1], [0, 1, 3]):
        assert_same_error(lambda labels=labels: lg.log_loss(t, P, labels=labels),
                          lambda labels=labels: sk.log_loss(t, P, labels=labels))


def test_float16_log_loss_clips_with_float16_eps() -> None:
    """The issue's example: scikit-learn gives 6.93 (float16 eps), float64's eps gave 36.04."""
    p = np.array([1, 0], dtype=np.float16)
    assert lg.log_loss([0, 1], p) == sk.log_loss([0, 1], p)
    assert abs(lg.log_loss([0, 1], p) - 6.93) < 0.01
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 500)
    q = rng.random(500).astype(np.float16)
    q[:4] = [0, 1, 1e-5, 1 - 1e-4]
    assert lg.log_loss(y, q) == sk.log_loss(y, q)
