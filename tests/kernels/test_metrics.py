"""lockgate.kernels.metrics equals scikit-learn (and our naive twins) to 1e-9."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import metrics as sk

from lockgate.kernels import metrics as lg
from tests.kernels import naive

RTOL = 1e-9
# float32 inputs: scikit-learn accumulates in float32, we accumulate in float64.
RTOL_F32 = 2e-6

SIZES = [1, 2, 10, 1000, 100_000]  # 100_000 takes the two-halves path


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# scikit-learn references, binary, pos_label=1, zero_division=0
REF_LABELLED = {
    "precision": lambda t, p: sk.precision_score(t, p, zero_division=0),
    "recall": lambda t, p: sk.recall_score(t, p, zero_division=0),
    "f1": lambda t, p: sk.f1_score(t, p, zero_division=0),
    "accuracy": sk.accuracy_score,
}
REF_RANKING = {"roc_auc": sk.roc_auc_score, "average_precision": sk.average_precision_score}
REF_REGRESSION = {
    "mae": sk.mean_absolute_error,
    "rmse": sk.root_mean_squared_error,
    "r2": sk.r2_score,
}


def ref_confusion(t, p) -> tuple[int, ...]:
    return tuple(int(v) for v in sk.confusion_matrix(t, p, labels=[0, 1]).ravel())


def labels_with_both(rng: np.random.Generator, n: int, share: float = 0.3) -> np.ndarray:
    y = (rng.random(n) < share).astype(np.int64)
    if n >= 2:
        y[:2] = [0, 1]
        rng.shuffle(y)
    return y


def assert_ranking_match(y, s, y_ref=None, s_ref=None, rtol=RTOL) -> None:
    y_ref = np.asarray(y) if y_ref is None else y_ref
    s_ref = np.asarray(s) if s_ref is None else s_ref
    for name, ref in REF_RANKING.items():
        got = getattr(lg, name)(y, s)
        np.testing.assert_allclose(got, _quiet(ref, y_ref, s_ref), rtol=rtol, err_msg=name)


def assert_labelled_match(t, p, t_ref=None, p_ref=None) -> None:
    t_ref = np.asarray(t) if t_ref is None else t_ref
    p_ref = np.asarray(p) if p_ref is None else p_ref
    assert tuple(lg.confusion_matrix(t, p)) == ref_confusion(t_ref, p_ref)
    for name, ref in REF_LABELLED.items():
        got = getattr(lg, name)(t, p)
        np.testing.assert_allclose(got, _quiet(ref, t_ref, p_ref), rtol=RTOL, err_msg=name)


def assert_regression_match(t, p, rtol=RTOL, atol=0.0) -> None:
    for name, ref in REF_REGRESSION.items():
        got = getattr(lg, name)(t, p)
        np.testing.assert_allclose(got, _quiet(ref, t, p), rtol=rtol, atol=atol, err_msg=name)


# ---------------------------------------------------------------- random data


@pytest.mark.parametrize("n", SIZES)
def test_ranking_metrics_match_sklearn_on_random_data(n: int) -> None:
    rng = np.random.default_rng(n)
    y, s = labels_with_both(rng, n), rng.normal(size=n)
    if n == 1:
        with pytest.raises(ValueError, match="Only one class present"):
            lg.roc_auc(y, s)
        return
    assert_ranking_match(y, s)


@pytest.mark.parametrize("n", SIZES)
def test_counting_metrics_match_sklearn_on_random_data(n: int) -> None:
    rng = np.random.default_rng(n)
    assert_labelled_match(labels_with_both(rng, n), (rng.random(n) < 0.5).astype(np.int64))


@pytest.mark.parametrize("n", SIZES)
def test_log_loss_matches_sklearn_on_random_data(n: int) -> None:
    rng = np.random.default_rng(n)
    y, p = labels_with_both(rng, n), rng.random(n)
    expected = _quiet(sk.log_loss, y, p, labels=[0, 1])
    np.testing.assert_allclose(lg.log_loss(y, p, labels=[0, 1]), expected, rtol=RTOL)
    if n >= 2:
        np.testing.assert_allclose(lg.log_loss(y, p), expected, rtol=RTOL)


@pytest.mark.parametrize("n", SIZES)
def test_regression_metrics_match_sklearn_on_random_data(n: int) -> None:
    rng = np.random.default_rng(n)
    t = rng.normal(size=n) * 10 + 3
    if n == 1:
        np.testing.assert_allclose(lg.mae(t, t + 1), 1.0)
        with pytest.warns(UserWarning, match="less than two samples"):
            assert np.isnan(lg.r2(t, t + 1))
        return
    assert_regression_match(t, t + rng.normal(size=n))


# ------------------------------------------------------------ adversarial data


@pytest.mark.parametrize("decimals", [0, 1, 2])
def test_ranking_metrics_with_heavy_ties(decimals: int) -> None:
    rng = np.random.default_rng(decimals)
    for n in (10, 1000, 100_000):
        y, s = labels_with_both(rng, n), rng.random(n).round(decimals)
        assert_ranking_match(y, s)


def test_ranking_metrics_with_all_scores_equal() -> None:
    y = np.array([0, 1, 1, 0, 1])
    s = np.full(5, 0.7)
    assert lg.roc_auc(y, s) == 0.5
    assert_ranking_match(y, s)


def test_ranking_metrics_with_negative_zero() -> None:
    y = np.array([0, 1, 1, 0])
    assert_ranking_match(y, np.array([-0.0, 0.0, 1.0, 0.0]))


def test_ranking_metrics_on_perfect_and_reversed_scores() -> None:
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4])
    assert lg.roc_auc(y, s) == 1.0 and lg.average_precision(y, s) == 1.0
    assert lg.roc_auc(y, -s) == 0.0
    assert_ranking_match(y, -s)


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e-320])
def test_ranking_metrics_at_extreme_magnitudes(scale: float) -> None:
    rng = np.random.default_rng(7)
    y, s = labels_with_both(rng, 1000), rng.normal(size=1000).round(1) * scale
    assert_ranking_match(y, s)


def test_ranking_metrics_rank_infinite_scores() -> None:
    """scikit-learn refuses ±inf; we rank them, so compare against finite stand-ins."""
    rng = np.random.default_rng(3)
    y, s = labels_with_both(rng, 1000), rng.random(1000)
    s[rng.choice(1000, 50, replace=False)] = np.inf
    s[rng.choice(1000, 50, replace=False)] = -np.inf
    assert_ranking_match(y, s, s_ref=np.clip(s, -10, 10))


@pytest.mark.parametrize(
    "y_dtype", [np.int64, np.int32, np.int16, np.int8, np.uint8, np.uint64, bool, np.float32, np.float64]
)
@pytest.mark.parametrize("s_dtype", [np.float64, np.float32, np.int64])
def test_ranking_metrics_on_every_dtype(y_dtype, s_dtype) -> None:
    rng = np.random.default_rng(11)
    y = labels_with_both(rng, 1000).astype(y_dtype)
    s = (rng.random(1000) * 50).astype(s_dtype)
    assert_ranking_match(y, s)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, bool, np.float32, np.float64])
def test_counting_metrics_on_every_dtype(dtype) -> None:
    rng = np.random.default_rng(5)
    t = labels_with_both(rng, 1000).astype(dtype)
    p = (rng.random(1000) < 0.4).astype(dtype)
    assert_labelled_match(t, p)
    assert_labelled_match(t, p.astype(bool))  # mixed dtypes


def test_counting_metrics_with_constant_predictions() -> None:
    t = np.array([0, 1, 1, 0, 1])
    for constant in (0, 1):
        assert_labelled_match(t, np.full(5, constant))
    assert_labelled_match(np.zeros(5, int), np.zeros(5, int))  # every ratio is 0/0
    assert lg.precision([0, 0], [0, 0]) == 0.0 and lg.f1([0, 0], [0, 0]) == 0.0


def test_counting_metrics_on_a_single_sample() -> None:
    for t, p in [([1], [1]), ([0], [1]), ([1], [0]), ([0], [0])]:
        assert_labelled_match(np.array(t), np.array(p))


def test_confusion_matrix_is_a_named_tuple_of_ints() -> None:
    c = lg.confusion_matrix([0, 1, 1, 0], [0, 1, 0, 1])
    assert c == (1, 1, 1, 1) and c.tp == 1
    assert all(type(v) is int for v in c)


def test_log_loss_clips_certain_predictions_like_sklearn() -> None:
    y = np.array([0, 1, 1, 0, 1, 0])
    p = np.array([0.0, 1.0, 0.0, 1.0, 1 - 1e-17, 1e-300])
    np.testing.assert_allclose(lg.log_loss(y, p), sk.log_loss(y, p), rtol=RTOL)
    np.testing.assert_allclose(lg.log_loss(y, p), naive.log_loss(y, p), rtol=RTOL)


def test_log_loss_on_float32_clips_with_float32_eps() -> None:
    rng = np.random.default_rng(2)
    y = labels_with_both(rng, 1000)
    p = rng.random(1000).astype(np.float32)
    p[:10] = [0, 1, 0, 1, 1e-9, 1 - 1e-9, 0.5, 1e-30, 0, 1]
    np.testing.assert_allclose(lg.log_loss(y, p), sk.log_loss(y, p), rtol=RTOL_F32)
    np.testing.assert_allclose(lg.log_loss(y, p), naive.log_loss(y, p), rtol=RTOL)


@pytest.mark.parametrize("y_dtype", [np.int64, bool, np.float32, np.int8])
def test_log_loss_on_label_dtypes(y_dtype) -> None:
    rng = np.random.default_rng(4)
    y, p = labels_with_both(rng, 500).astype(y_dtype), rng.random(500)
    np.testing.assert_allclose(lg.log_loss(y, p), sk.log_loss(y, p), rtol=RTOL)


def test_log_loss_with_one_class_needs_labels_like_sklearn() -> None:
    p = [0.2, 0.5, 0.9]
    for y in ([1, 1, 1], [0, 0, 0]):
        with pytest.raises(ValueError, match=r"y_true contains only one label \(\d\)"):
            lg.log_loss(y, p)
        np.testing.assert_allclose(lg.log_loss(y, p, labels=[0, 1]), sk.log_loss(y, p, labels=[0, 1]), rtol=RTOL)



# Lengths around the log-loss kernel's strides (one row per lane), its
# renormalisation blocks and the two-halves split.
LOG_LOSS_EDGES = [
    lg._LANES - 1,
    lg._LANES + 1,
    lg._RENORM_ROWS - 1,
    lg._RENORM_ROWS + 1,
    3 * lg._RENORM_ROWS + lg._LANES + 7,
    lg._SPLIT_MIN_PASS + 2 * lg._RENORM_ROWS + 5,
]


@pytest.mark.parametrize("n", LOG_LOSS_EDGES)
def test_log_loss_at_lane_and_block_edges(n: int) -> None:
    rng = np.random.default_rng(n)
    y, p = labels_with_both(rng, n), rng.random(n)
    p[-1] = 1 - y[-1]  # the last row's loss is the largest, so a dropped tail shows
    np.testing.assert_allclose(lg.log_loss(y, p), sk.log_loss(y, p), rtol=RTOL)
    np.testing.assert_allclose(lg.log_loss(y, p), naive.log_loss(y, p), rtol=RTOL)


def _extreme_probabilities(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    one = dtype(1)
    return np.array(
        [
            0, 1, -0.0, info.eps, one - info.eps, info.eps / 2, one - info.eps / 2,
            info.smallest_subnormal, info.smallest_normal, np.nextafter(one, dtype(0)), 0.5,
        ],
        dtype=dtype,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_loss_at_extreme_probabilities(dtype) -> None:
    """Clipping at eps and 1 - eps of p's dtype, for either label, in every lane."""
    extremes = _extreme_probabilities(dtype)
    rng = np.random.default_rng(15)
    n = 3 * lg._RENORM_ROWS + 11
    p = rng.choice(extremes, n)
    y = labels_with_both(rng, n)
    rtol = RTOL if dtype == np.float64 else RTOL_F32
    np.testing.assert_allclose(lg.log_loss(y, p), sk.log_loss(y, p), rtol=rtol)
    np.testing.assert_allclose(lg.log_loss(y, p), naive.log_loss(y, p), rtol=RTOL)
    # every extreme paired with both labels, on its own (tiny totals)
    y2 = np.repeat([0, 1], extremes.size)
    p2 = np.tile(extremes, 2)
    np.testing.assert_allclose(lg.log_loss(y2, p2), sk.log_loss(y2, p2), rtol=rtol)
    np.testing.assert_allclose(lg.log_loss(y2, p2), naive.log_loss(y2, p2), rtol=RTOL)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("gap", [1e-3, 1e-6, 2.0**-17, 1e-9, 1e-12])
def test_log_loss_of_confident_predictions(dtype, gap: float) -> None:
    """Every row within ``gap`` of certainty: a total near n * gap, where a bare
    product of the probabilities would be off by up to ~1e-16 per row."""
    rng = np.random.default_rng(16)
    n = 5000
    y = labels_with_both(rng, n)
    miss = (rng.random(n) * gap).astype(dtype)
    p = np.where(y == 1, dtype(1) - miss, miss).astype(dtype)
    rtol = RTOL if dtype == np.float64 else RTOL_F32
    np.testing.assert_allclose(lg.log_loss(y, p), sk.log_loss(y, p), rtol=rtol)
    np.testing.assert_allclose(lg.log_loss(y, p), naive.log_loss(y, p), rtol=RTOL)


def test_log_loss_around_the_near_one_threshold() -> None:
    """Rows just either side of the switch from product to series agree with scikit-learn."""
    threshold = lg._NEAR_ONE
    q = np.array([np.nextafter(threshold, 0), threshold, np.nextafter(threshold, 1)])
    rng = np.random.default_rng(17)
    y = labels_with_both(rng, 999)
    chosen = rng.choice(q, y.size)
    p = np.where(y == 1, chosen, 1 - chosen)
    np.testing.assert_allclose(lg.log_loss(y, p), sk.log_loss(y, p), rtol=RTOL)
    np.testing.assert_allclose(lg.log_loss(y, p), naive.log_loss(y, p), rtol=RTOL)

def test_r2_on_constant_truth_follows_sklearn() -> None:
    t = np.full(10, 0.1)
    assert lg.r2(t, t) == sk.r2_score(t, t) == 1.0
    assert lg.r2(t, t + 1) == sk.r2_score(t, t + 1) == 0.0
    # np.mean of 1000 x 0.1 is 0.1 + 1.4e-17, so scikit-learn sees a tiny
    # nonzero variance and returns about -5e27; we must say the same
    t = np.full(1000, 0.1)
    assert t.mean() != 0.1
    assert_regression_match(t, t + 1e-3)
    assert lg.r2(t, t + 1e-3) < -1e27


def test_regression_metrics_with_perfect_and_constant_predictions() -> None:
    rng = np.random.default_rng(8)
    t = rng.normal(size=1000)
    assert_regression_match(t, t)
    assert_regression_match(t, np.full(1000, t.mean()), atol=1e-12)  # r2 ~ 0


@pytest.mark.parametrize("scale", [1e300, 1e150, 1e-300, 1e-160])
def test_regression_metrics_at_extreme_magnitudes(scale: float) -> None:
    """Squares overflow to inf or underflow to 0 exactly where scikit-learn's do."""
    rng = np.random.default_rng(9)
    t = rng.normal(size=1000) * scale
    with np.errstate(all="ignore"):
        assert_regression_match(t, t * 0.5)


def test_regression_metrics_on_float32_and_ints() -> None:
    rng = np.random.default_rng(10)
    t32 = rng.normal(size=1000).astype(np.float32)
    p32 = (t32 + rng.normal(size=1000)).astype(np.float32)
    assert_regression_match(t32, p32, rtol=RTOL_F32)
    assert_regression_match(rng.integers(0, 100, 1000), rng.integers(0, 100, 1000))
    assert_regression_match(t32.astype(np.float64), p32)  # mixed



@pytest.mark.parametrize(
    "n", [lg._LANES - 1, lg._LANES + 1, lg._BLOCK - 1, lg._BLOCK + lg._LANES + 3, lg._SPLIT_MIN_PASS + 5]
)
def test_regression_metrics_at_lane_and_block_edges(n: int) -> None:
    rng = np.random.default_rng(n)
    t = rng.normal(size=n)
    p = t + rng.normal(size=n)
    p[-1] += 1e3  # a dropped tail row would show
    assert_regression_match(t, p)
    t32, p32 = t.astype(np.float32), p.astype(np.float32)
    assert_regression_match(t32, p32, rtol=RTOL_F32)
    for name in ("mae", "rmse", "r2"):  # both accumulate in float64
        np.testing.assert_allclose(getattr(lg, name)(t32, p32), getattr(naive, name)(t32, p32), rtol=RTOL)

# ------------------------------------------------------------ arrow and polars


def test_pyarrow_and_polars_inputs() -> None:
    rng = np.random.default_rng(12)
    y, s = labels_with_both(rng, 2000), rng.random(2000)
    p = (rng.random(2000) < 0.5).astype(np.int64)
    chunked_y = pa.chunked_array([y[:700], y[700:]])
    for yy, ss in [
        (pa.array(y), pa.array(s)),
        (chunked_y, pa.chunked_array([s[:100], s[100:]])),
        (pa.array(y.astype(bool)), pa.array(s.astype(np.float32))),
        (pl.Series(y), pl.Series(s)),
        (pl.Series(y.astype(bool)), pl.Series(s)),
        (pl.Series(y.astype(np.int8)), pl.Series(s.astype(np.float32))),
        (y.tolist(), s.tolist()),
    ]:
        assert_ranking_match(yy, ss, y_ref=y, s_ref=np.asarray(ss), rtol=RTOL_F32)
        np.testing.assert_allclose(lg.log_loss(yy, ss), sk.log_loss(y, np.asarray(ss)), rtol=RTOL_F32)
    assert_labelled_match(pl.Series(y), pa.array(p), t_ref=y, p_ref=p)
    assert_labelled_match(chunked_y, pl.Series(p.astype(bool)), t_ref=y, p_ref=p)
    np.testing.assert_allclose(lg.r2(pl.Series(s), pa.array(s[::-1])), sk.r2_score(s, s[::-1]), rtol=RTOL)


def test_arrow_nulls_are_rejected() -> None:
    with pytest.raises(ValueError, match="NaN|missing"):
        lg.roc_auc(pa.array([0, 1, None]), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="missing values"):
        lg.f1(pa.array([True, False, None]), [1, 0, 1])
    with pytest.raises(ValueError, match="y_true contains NaN"):
        lg.f1(pl.Series([1, 0, None]), [1, 0, 1])


# ------------------------------------------------------------ errors


ALL_LABELLED = [lg.confusion_matrix, lg.precision, lg.recall, lg.f1, lg.accuracy]
ALL_SCORED = [lg.roc_auc, lg.average_precision, lg.log_loss]
ALL_REGRESSION = [lg.mae, lg.rmse, lg.r2]
EVERY = ALL_LABELLED + ALL_SCORED + ALL_REGRESSION


@pytest.mark.parametrize("fn", EVERY, ids=lambda f: f.__name__)
def test_length_mismatch_is_an_error(fn) -> None:
    with pytest.raises(ValueError, match=r"differ in length: 3 != 2"):
        fn([0, 1, 1], [0.5, 0.5])


@pytest.mark.parametrize("fn", EVERY, ids=lambda f: f.__name__)
def test_empty_input_is_an_error(fn) -> None:
    with pytest.raises(ValueError, match="y_true is empty"):
        fn([], [])


@pytest.mark.parametrize("fn", EVERY, ids=lambda f: f.__name__)
def test_two_dimensional_input_is_an_error(fn) -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        fn(np.zeros((2, 2)), np.zeros((2, 2)))


@pytest.mark.parametrize("fn", ALL_LABELLED + ALL_SCORED, ids=lambda f: f.__name__)
def test_nan_label_is_an_error(fn) -> None:
    with pytest.raises(ValueError, match="y_true contains NaN"):
        fn([0.0, np.nan, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize("fn", ALL_LABELLED + ALL_SCORED, ids=lambda f: f.__name__)
def test_labels_other_than_0_and_1_name_the_values_found(fn) -> None:
    with pytest.raises(ValueError, match=r"binary labels 0 and 1.*found values 0, 2, 5"):
        fn([0, 2, 5, 2], [0, 1, 1, 0])


def test_label_views_report_the_callers_values() -> None:
    with pytest.raises(ValueError, match=r"found values -1, 0, 1"):
        lg.roc_auc(np.array([-1, 0, 1], dtype=np.int8), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"found values 'a', 'b'"):
        lg.f1(["a", "b"], [0, 1])


@pytest.mark.parametrize("fn", ALL_LABELLED, ids=lambda f: f.__name__)
def test_bad_prediction_labels_are_an_error(fn) -> None:
    with pytest.raises(ValueError, match=r"y_pred must hold binary labels.*found values 0.0, 0.5, 1.0"):
        fn([0, 1, 1], [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        fn([0, 1, 1], [0.0, np.nan, 1.0])


@pytest.mark.parametrize("fn", [lg.roc_auc, lg.average_precision], ids=lambda f: f.__name__)
def test_nan_score_is_an_error(fn) -> None:
    with pytest.raises(ValueError, match="y_score contains NaN"):
        fn([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match="y_score contains NaN"):  # the two-halves path
        fn(np.arange(200_000) % 2, np.r_[np.zeros(199_999), np.nan])


@pytest.mark.parametrize(
    ("fn", "metric"), [(lg.roc_auc, "ROC AUC score"), (lg.average_precision, "Average precision")]
)
@pytest.mark.parametrize("label", [0, 1])
def test_one_class_is_an_error_for_ranking_metrics(fn, metric: str, label: int) -> None:
    message = f"Only one class present in y_true. {metric} is not defined in that case."
    with pytest.raises(ValueError, match=message):
        fn([label] * 3, [0.1, 0.2, 0.3])


def test_log_loss_rejects_probabilities_outside_0_1() -> None:
    with pytest.raises(ValueError, match="p contains values greater than 1: 1.5"):
        lg.log_loss([0, 1], [0.2, 1.5])
    with pytest.raises(ValueError, match="p contains values lower than 0: -0.1"):
        lg.log_loss([0, 1], [-0.1, 0.5])
    with pytest.raises(ValueError, match="p contains NaN"):
        lg.log_loss([0, 1], [np.nan, 0.5])
    with pytest.raises(ValueError, match="p contains values greater than 1: inf"):
        lg.log_loss([0, 1], [np.inf, 0.5])



@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.nan, "p contains NaN"),
        (1.5, "p contains values greater than 1"),
        (np.inf, "p contains values greater than 1"),
        (-np.inf, "p contains values lower than 0"),
        (-1e-40, "p contains values lower than 0"),  # subnormal in float32, normal in float64
    ],
)
def test_log_loss_finds_one_bad_probability_anywhere(dtype, bad: float, message: str) -> None:
    """A single bad p is found in any lane, stride, half or tail, whatever its label."""
    rng = np.random.default_rng(18)
    n = lg._SPLIT_MIN_PASS + 3 * lg._LANES + 5  # two halves, each ending in a partial stride
    y, p = labels_with_both(rng, n), rng.random(n).astype(dtype)
    for where in (0, lg._LANES + 3, n // 2 - 1, n // 2, n - 1):
        for label in (0, 1):
            y_bad, p_bad = y.copy(), p.copy()
            y_bad[where], p_bad[where] = label, bad
            with pytest.raises(ValueError, match=message):
                lg.log_loss(y_bad, p_bad)


def test_log_loss_accepts_negative_zero_and_subnormal_probabilities() -> None:
    p = np.array([-0.0, 5e-324, 1.0, 0.5])
    y = np.array([0, 1, 1, 0])
    np.testing.assert_allclose(lg.log_loss(y, p), sk.log_loss(y, p), rtol=RTOL)


def test_log_loss_reports_bad_labels_before_bad_probabilities() -> None:
    y = np.array([0, 1] * 1000)
    p = np.full(y.size, 0.5)
    y[1500], p[10] = 2, np.nan
    with pytest.raises(ValueError, match=r"binary labels 0 and 1.*found values 0, 1, 2"):
        lg.log_loss(y, p)
    y[1500] = 1
    with pytest.raises(ValueError, match="p contains NaN"):
        lg.log_loss(y, p)

def test_log_loss_labels_must_be_0_and_1() -> None:
    with pytest.raises(ValueError, match=r"labels must be \[0, 1\]"):
        lg.log_loss([1, 1], [0.5, 0.5], labels=[1, 2])


@pytest.mark.parametrize("fn", ALL_REGRESSION, ids=lambda f: f.__name__)
def test_regression_rejects_nan_and_inf(fn) -> None:
    with pytest.raises(ValueError, match="y_true contains NaN"):
        fn([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="y_pred contains infinity"):
        fn([1.0, 2.0], [1.0, -np.inf])
    with pytest.raises(ValueError, match="y_true contains infinity"):  # inf - inf is NaN
        fn([np.inf, 2.0], [np.inf, 1.0])


@pytest.mark.parametrize("fn", EVERY, ids=lambda f: f.__name__)
def test_missing_values_in_lists_are_an_error(fn) -> None:
    with pytest.raises(ValueError, match="missing values"):
        fn([0, 1, None], [0, 1, 1])


def test_non_numeric_scores_are_an_error() -> None:
    with pytest.raises(ValueError, match="y_score must be numeric"):
        lg.roc_auc([0, 1], np.array(["a", "b"]))


# ------------------------------------------------------------ determinism


def test_results_do_not_depend_on_the_number_of_cores(monkeypatch) -> None:
    from lockgate.kernels import _parallel as parallel

    rng = np.random.default_rng(13)
    n = 300_001
    y, s, p = labels_with_both(rng, n), rng.random(n), (rng.random(n) < 0.5).astype(np.int64)
    fns = [
        lambda: lg.roc_auc(y, s),
        lambda: lg.average_precision(y, s),
        lambda: lg.log_loss(y, s),
        lambda: lg.mae(s, s[::-1]),
        lambda: lg.rmse(s, s[::-1]),
        lambda: lg.r2(s, s[::-1]),
        lambda: tuple(lg.confusion_matrix(y, p)),
    ]
    two_cores = [fn() for fn in fns]
    monkeypatch.setattr(parallel, "_cpus", lambda: 1)
    assert [fn() for fn in fns] == two_cores  # bit-identical


def test_helper_thread_work_is_taken_back_when_the_helper_is_busy(monkeypatch) -> None:
    """If the helper thread never starts the first half, the caller computes it."""

    from lockgate.kernels import _parallel as parallel

    class NeverRuns:
        def submit(self, fn, *args):
            from concurrent.futures import Future

            return Future()  # pending forever; cancel() succeeds

    monkeypatch.setattr(parallel, "_pool", lambda: NeverRuns())
    monkeypatch.setattr(parallel, "_cpus", lambda: 2)
    rng = np.random.default_rng(14)
    y, s = labels_with_both(rng, 100_000), rng.random(100_000)
    np.testing.assert_allclose(lg.roc_auc(y, s), sk.roc_auc_score(y, s), rtol=RTOL)


# ------------------------------------------------------------ properties

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

label_arrays = st.integers(2, 300).flatmap(
    lambda n: hnp.arrays(np.int64, n, elements=st.integers(0, 1)).filter(lambda y: 0 < y.sum() < y.size)
)


def _scores_like(y: np.ndarray) -> st.SearchStrategy[np.ndarray]:
    tied = hnp.arrays(np.float64, y.size, elements=st.integers(-3, 3).map(float))
    wide = hnp.arrays(
        np.float64, y.size, elements=st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)
    )
    return st.one_of(tied, wide)


@PROPERTY
@given(st.data())
def test_ranking_metrics_property(data) -> None:
    y = data.draw(label_arrays)
    s = data.draw(_scores_like(y))
    assert_ranking_match(y, s)
    np.testing.assert_allclose(lg.roc_auc(y, s), naive.roc_auc(y, s), rtol=RTOL)
    np.testing.assert_allclose(lg.average_precision(y, s), naive.average_precision(y, s), rtol=RTOL)


@PROPERTY
@given(
    st.integers(1, 300).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.int64, n, elements=st.integers(0, 1)),
            hnp.arrays(np.bool_, n),
        )
    )
)
def test_counting_metrics_property(pair) -> None:
    t, p = pair
    assert_labelled_match(t, p)
    assert tuple(lg.confusion_matrix(t, p)) == naive.confusion_matrix(t, p)
    for name in ("precision", "recall", "f1", "accuracy"):
        np.testing.assert_allclose(getattr(lg, name)(t, p), getattr(naive, name)(t, p), rtol=RTOL)


@PROPERTY
@given(st.data())
def test_log_loss_property(data) -> None:
    y = data.draw(label_arrays)
    dtype = data.draw(st.sampled_from([np.float64, np.float32]))
    p = data.draw(hnp.arrays(dtype, y.size, elements=st.floats(0, 1, width=32 if dtype == np.float32 else 64)))
    rtol = RTOL if dtype == np.float64 else RTOL_F32
    np.testing.assert_allclose(lg.log_loss(y, p), sk.log_loss(y, p), rtol=rtol)
    np.testing.assert_allclose(lg.log_loss(y, p), naive.log_loss(y, p), rtol=RTOL)


@PROPERTY
@given(
    st.integers(2, 300).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float64, n, elements=st.floats(-1e6, 1e6)),
            hnp.arrays(np.float64, n, elements=st.floats(-1e6, 1e6)),
        )
    )
)
def test_regression_metrics_property(pair) -> None:
    t, p = pair
    for name, ref in REF_REGRESSION.items():
        got = getattr(lg, name)(t, p)
        # r2 can cancel to ~0, where a relative bound means nothing
        atol = 1e-9 if name == "r2" else 0.0
        np.testing.assert_allclose(got, _quiet(ref, t, p), rtol=RTOL, atol=atol, err_msg=name)
        np.testing.assert_allclose(got, getattr(naive, name)(t, p), rtol=RTOL, atol=atol, err_msg=name)


@PROPERTY
@given(hnp.arrays(np.float64, st.integers(0, 40), elements=st.floats(allow_nan=False)))
def test_sort_keys_order_like_the_floats_and_keep_ties(values) -> None:
    keys = np.array([lg._sort_key(v) for v in values], dtype=np.uint64)
    assert np.array_equal(keys[:, None] < keys[None, :], values[:, None] < values[None, :])
    assert np.array_equal(keys[:, None] == keys[None, :], values[:, None] == values[None, :])  # -0.0 == 0.0


@PROPERTY
@given(hnp.arrays(np.uint64, st.integers(0, 2000)))
def test_radix_sort_sorts(keys) -> None:
    expected = np.sort(keys)
    got = lg._radix_sort(keys.copy(), np.empty_like(keys))
    assert np.array_equal(got, expected)
