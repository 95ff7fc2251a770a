"""Group metrics and disparities equal fairlearn 0.15 on the same data (1e-9), on random
and adversarial groupings: one-class groups, one-row groups, string, integer, boolean and
null labels, several columns and their intersections, weights."""

from __future__ import annotations

import warnings

import fairlearn.metrics as fm
import hypothesis.extra.numpy as hnp
import numpy as np
import pandas as pd
import polars as pl
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockgate.kernels import fairness as lg

RTOL = 1e-9
PROPERTY = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DISPARITY_FUNCTIONS = (
    "demographic_parity_difference", "demographic_parity_ratio",
    "equalized_odds_difference", "equalized_odds_ratio",
    "equal_opportunity_difference", "equal_opportunity_ratio",
)
NULL = "~null"  # fairlearn refuses missing labels: ours is a group, equal to one new label sorted last


def close(ours: float, theirs: float) -> bool:
    if np.isnan(theirs):
        return bool(np.isnan(ours))
    return bool(np.isclose(ours, theirs, rtol=RTOL, atol=1e-12))


def assert_disparities_match(y, p, ours_sf, theirs_sf, sample_weight=None, methods=("between_groups", "to_overall")):
    for name in DISPARITY_FUNCTIONS:
        for method in methods:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = getattr(fm, name)(y, p, sensitive_features=theirs_sf, method=method,
                                           sample_weight=sample_weight)
            ours = getattr(lg, name)(y, p, sensitive_features=ours_sf, method=method, sample_weight=sample_weight)
            assert close(ours, theirs), (name, method, ours, theirs)


def fairlearn_table(y, p, sf) -> pd.DataFrame:
    def precision(t, q):
        return skm.precision_score(t, q, zero_division=0)

    def base_rate(t, q):
        return float(np.mean(t))

    metrics = {
        "n": fm.count, "selection_rate": fm.selection_rate, "tpr": fm.true_positive_rate,
        "fpr": fm.false_positive_rate, "fnr": fm.false_negative_rate, "precision": precision,
        "accuracy": skm.accuracy_score, "base_rate": base_rate,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = fm.MetricFrame(metrics=metrics, y_true=y, y_pred=p, sensitive_features=sf)
    return frame.by_group.dropna(how="all")  # fairlearn lists unobserved combinations as NaN rows


def assert_table_matches(y, p, ours_sf, theirs_sf):
    ours = lg.group_metrics(y, p, ours_sf)
    theirs = fairlearn_table(y, p, theirs_sf)
    assert len(ours.groups) == len(theirs)
    for k, (index, row) in enumerate(theirs.iterrows()):
        labels = index if isinstance(index, tuple) else (index,)
        assert tuple(NULL if v is None else v for v in ours.groups[k]) == labels
        assert ours.n[k] == row["n"]
        for metric in ("selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy", "base_rate"):
            assert close(getattr(ours, metric)[k], row[metric]), (metric, labels)


# ------------------------------------------------------------ hand-made groupings


def test_strings_ints_bools_and_their_intersection():
    rng = np.random.default_rng(0)
    n = 600
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    band = rng.integers(1, 4, n)
    senior = rng.random(n) < 0.2
    for sf in (region, band, senior):
        assert_table_matches(y, p, sf, sf)
    frame = pd.DataFrame({"region": region, "band": band, "senior": senior})
    assert_disparities_match(y, p, frame, frame)
    assert_table_matches(y, p, frame, frame)
    polars_frame = pl.from_pandas(frame).with_columns(pl.col("region").cast(pl.Categorical))
    assert_table_matches(y, p, polars_frame, frame)  # a polars frame (categorical too) is intersected the same way
    assert lg.group_metrics(y, p, [region, band]).groups == lg.group_metrics(y, p, frame[["region", "band"]]).groups


def test_one_class_groups_one_row_groups_and_zero_rates():
    y = np.array([1, 1, 1, 0, 0, 0, 1, 0, 1, 0])
    p = np.array([1, 0, 1, 0, 0, 0, 0, 1, 1, 0])
    groups = np.array(["a", "a", "a", "b", "b", "b", "c", "d", "e", "e"])  # a: positives only, b: negatives only
    assert_disparities_match(y, p, groups, groups)
    assert_table_matches(y, p, groups, groups)
    nobody = np.zeros_like(p)  # every selection rate 0: the ratio is 0/0
    assert_disparities_match(y, nobody, groups, groups)
    assert np.isnan(lg.demographic_parity_ratio(y, nobody, sensitive_features=groups))


def test_null_is_a_group_of_its_own_sorted_last():
    rng = np.random.default_rng(1)
    n = 500
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    values = rng.choice(np.array(["x", "y", None], dtype=object), n)
    theirs = np.where(pd.isna(values), NULL, values)
    assert_disparities_match(y, p, values, theirs)
    assert_table_matches(y, p, values, theirs)
    assert lg.group_metrics(y, p, pl.Series("g", values.tolist())).groups[-1] == (None,)
    floats = np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 3, n).astype(float))
    assert lg.group_metrics(y, p, floats).groups[-1] == (None,)
    assert_disparities_match(y, p, floats, np.where(np.isnan(floats), 9.0, floats))


def test_wide_integer_codes_and_many_combinations():
    rng = np.random.default_rng(2)
    n = 2000
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    # few distinct values, wide ranges: codes by sort (a) and by offset over 60000 values
    # (b, c), whose product is more combinations than a dense table holds
    frame = pd.DataFrame({"a": rng.choice([0, 5 * 10**8, 10**9], n), "b": rng.choice([-30000, 0, 29999], n),
                          "c": rng.choice([0, 59999], n)})
    assert_disparities_match(y, p, frame, frame, methods=("between_groups",))
    assert_table_matches(y, p, frame, frame)


def test_sample_weight():
    rng = np.random.default_rng(3)
    n = 1000
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    groups = rng.choice(["a", "b", "c"], n)
    assert_disparities_match(y, p, groups, groups, sample_weight=rng.random(n) * 3)


def test_mean_aggregation_and_bad_agg():
    rng = np.random.default_rng(4)
    y, p, g = rng.integers(0, 2, 300), rng.integers(0, 2, 300), rng.integers(0, 3, 300)
    for name in ("equalized_odds_difference", "equalized_odds_ratio"):
        theirs = getattr(fm, name)(y, p, sensitive_features=g, agg="mean")
        assert close(getattr(lg, name)(y, p, sensitive_features=g, agg="mean"), theirs)
        with pytest.raises(ValueError, match="agg must be one of"):
            getattr(lg, name)(y, p, sensitive_features=g, agg="median")


def test_roc_auc_per_group_equals_scikit_learn_and_is_nan_for_one_class():
    rng = np.random.default_rng(5)
    n = 800
    y = rng.integers(0, 2, n)
    s = rng.random(n)
    g = rng.choice(["a", "b", "c"], n)
    y[g == "c"] = 1
    result = lg.group_metrics(y, (s >= 0.5).astype(int), g, s)
    for k, (label,) in enumerate(result.groups):
        members = g == label
        if label == "c":
            assert np.isnan(result.roc_auc[k])
        else:
            assert close(result.roc_auc[k], skm.roc_auc_score(y[members], s[members]))
    assert close(result.overall["roc_auc"], skm.roc_auc_score(y, s))


def test_small_groups_are_flagged_not_dropped():
    rng = np.random.default_rng(6)
    g = np.array(["big"] * 100 + ["tiny"] * 3)
    y = rng.integers(0, 2, 103)
    result = lg.group_metrics(y, y, g, min_group_size=30)
    assert [(r["sensitive_feature_0"], r["n"], r["small"]) for r in result.to_dicts()] == [
        ("big", 100, False), ("tiny", 3, True)]


def test_without_a_model_shares_and_base_rates():
    g = np.array(["a"] * 6 + ["b"] * 2)
    y = np.array([1, 1, 1, 0, 0, 0, 1, 1])
    result = lg.group_metrics(y, None, g)
    assert list(result.n) == [6, 2]
    assert list(result.base_rate) == [0.5, 1.0]
    assert np.isnan(result.selection_rate).all()


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="y_true contains NaN"):
        lg.demographic_parity_difference(np.array([np.nan, 1.0]), [1, 0], sensitive_features=["a", "b"])
    with pytest.raises(ValueError, match="has 3 values, y has 2"):
        lg.demographic_parity_difference([1, 0], [1, 0], sensitive_features=["a", "b", "c"])


# ------------------------------------------------------------ bootstrap


def test_bootstrap_is_seeded_and_reports_a_missed_group():
    rng = np.random.default_rng(7)
    n = 400
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    g = np.where(np.arange(n) < 2, "rare", rng.choice(["a", "b"], n))  # 2 rows: most resamples miss it sometimes
    first = lg.bootstrap_disparities(y, p, sensitive_features=g, n_resamples=300, seed=3)
    again = lg.bootstrap_disparities(y, p, sensitive_features=g, n_resamples=300, seed=3)
    assert first == again
    assert first.missed_group_resamples > 0 and first.missed_groups == [("rare",)]
    point = lg.demographic_parity_difference(y, p, sensitive_features=g)
    assert first.low["demographic_parity_difference"] <= point <= first.high["demographic_parity_difference"]
    weighted = lg.bootstrap_disparities(y, p, sensitive_features=g, n_resamples=50, seed=3,
                                        sample_weight=np.ones(n))
    assert weighted.missed_group_resamples > 0


# ------------------------------------------------------------ properties

@st.composite
def groupings(draw):
    n = draw(st.integers(1, 60))
    kind = draw(st.sampled_from(["str", "int", "bool"]))
    columns = draw(st.integers(1, 3))
    frame = {}
    for c in range(columns):
        if kind == "str":
            values = draw(st.lists(st.sampled_from(["a", "b", "c", NULL]), min_size=n, max_size=n))
        elif kind == "int":
            values = draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n))
        else:
            values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        frame[f"c{c}"] = values
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1)))
    p = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1)))
    return y, p, pd.DataFrame(frame)


@PROPERTY
@given(groupings())
def test_property_equals_fairlearn(case):
    y, p, frame = case
    assert_disparities_match(y, p, frame, frame, methods=("between_groups",))
    assert_table_matches(y, p, frame, frame)


def test_polars_strings_short_long_empty_and_unicode():
    rng = np.random.default_rng(8)
    n = 400
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    # inline views (<= 12 bytes, empty and multi-byte included), and a column with a long value
    short = rng.choice(["", "a", "exactly12chr", "Zürich", "b"], n)
    long = rng.choice(["x", "a value longer than twelve bytes"], n)
    for values in (short, long):
        theirs = pd.Series(values, name="g")
        assert_table_matches(y, p, pl.Series("g", values), theirs)
        assert_disparities_match(y, p, pl.Series("g", values), theirs, methods=("between_groups",))


def test_polars_booleans_read_as_bitmaps():
    rng = np.random.default_rng(9)
    for n in (1, 7, 9, 1000):  # bitmaps shorter than a byte, and a row count not a multiple of 8
        y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
        flags, region = rng.random(n) < 0.4, rng.choice(["a", "b"], n)
        theirs = pd.DataFrame({"region": region, "flag": flags})
        for ours in (pl.from_pandas(theirs), pl.from_pandas(theirs[["flag", "region"]]),
                     pl.DataFrame({"flag": flags, "other": ~flags, "region": region})):
            assert_table_matches(y, p, ours, ours.to_pandas())
