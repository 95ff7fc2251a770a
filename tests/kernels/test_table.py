"""drift_table picks Evidently's test per column and flags what Evidently flags; profiles change nothing."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lockgate.kernels import DriftResult, Profile, drift_table, profile

from . import naive_drift as naive

rng = np.random.default_rng(7)


def dtype_name(series: pl.Series) -> str:
    dtype = series.dtype
    if dtype.is_float():
        return "float"
    if dtype.is_integer():
        return "int"
    if dtype == pl.Boolean:
        return "bool"
    if dtype in (pl.Categorical, pl.Enum):
        return "dict"
    return "str"


def expected(ref: pl.DataFrame, cur: pl.DataFrame, **choice) -> dict[str, dict]:
    return {
        name: naive.evidently_column(ref[name].to_list(), cur[name].to_list(), dtype_name(cur[name]), **choice)
        for name in cur.columns
    }


def assert_like_evidently(result: DriftResult, ref: pl.DataFrame, cur: pl.DataFrame, **choice) -> None:
    want = expected(ref, cur, **choice)
    assert result.table["column"].to_list() == list(want)
    for row in result.table.iter_rows(named=True):
        w = want[row["column"]]
        assert (row["kind"], row["test"], row["threshold"]) == (w["kind"], w["test"], w["threshold"]), (row, w)
        score = row["p_value"] if row["test"] in ("ks", "chisquare", "z") else row["statistic"]
        assert score == pytest.approx(w["score"], rel=1e-6, abs=1e-12), (row, w)
        assert row["drifted"] == w["drifted"], (row, w)
    n_drifted = sum(w["drifted"] for w in want.values())
    assert result.n_drifted == n_drifted
    assert result.share_drifted == n_drifted / len(want)
    assert result.dataset_drift == (n_drifted / len(want) >= 0.5)


def mixed_frame(n: int, shift: float, seed: int) -> pl.DataFrame:
    g = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "normal": g.normal(shift, 1, n),
            "scaled": g.normal(0, 1 + shift, n) * 1e6,
            "tiny": g.exponential(1, n) * 1e-200,
            "f32": g.normal(shift, 1, n).astype(np.float32),
            "counts": g.poisson(20 + 10 * shift, n),
            "level": g.integers(0, 4, n),
            "flag": g.random(n) < 0.3 + shift / 4,
            "city": g.choice(["oslo", "rome", "lima", "pune"], n, p=[0.4, 0.3, 0.2 - shift / 10, 0.1 + shift / 10]),
            "tier": pl.Series(g.choice(["gold", "silver"], n)).cast(pl.Categorical),
        }
    )


@pytest.mark.parametrize("n_ref", [10, 200, 999, 1000, 1001, 3000])
@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_mixed_frame_matches_evidently(n_ref, shift):
    ref = mixed_frame(n_ref, 0.0, n_ref)
    cur = mixed_frame(max(n_ref // 2, 5), shift, n_ref + 1)
    assert_like_evidently(drift_table(ref, cur), ref, cur)


def test_rule_boundary_counts_cleaned_rows():
    # 1003 rows with 3 NaN/inf: Evidently sees 1000 rows, so KS, not Wasserstein.
    values = np.concatenate([rng.normal(size=1000), [np.nan, np.inf, -np.inf]])
    ref = pl.DataFrame({"x": values})
    cur = pl.DataFrame({"x": rng.normal(0.2, size=500)})
    result = drift_table(ref, cur)
    assert result.table["test"].to_list() == ["ks"]
    assert_like_evidently(result, ref, cur)
    ref2 = pl.DataFrame({"x": np.concatenate([values, [0.5]])})
    assert drift_table(ref2, cur).table["test"].to_list() == ["wasserstein"]


@pytest.mark.parametrize("n_ref", [300, 3000])
@pytest.mark.parametrize(("ref_values", "cur_values"), [
    ([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 1.0]),        # 5 together: few values
    ([0.0, 1.0, 2.0, 3.0, 4.0], [5.0]),             # 6 together: continuous test
    ([0.0, 1.0], [1.0]),                            # 2: binary
    ([0.0, 1.0], [2.0]),                            # 3: chi-square / JS
    ([0.5], [0.5]),                                 # 1: constant
])
def test_unique_value_boundaries(n_ref, ref_values, cur_values):
    ref = pl.DataFrame({"x": rng.choice(ref_values, n_ref)})
    cur = pl.DataFrame({"x": rng.choice(cur_values + ref_values, 400)})
    assert_like_evidently(drift_table(ref, cur), ref, cur)


@pytest.mark.parametrize("n_unique", [10, 11])
def test_int_column_kind_follows_current_cardinality(n_unique):
    ref = pl.DataFrame({"k": rng.integers(0, 30, 2000)})
    cur = pl.DataFrame({"k": np.arange(400) % n_unique})
    result = drift_table(ref, cur)
    assert result.table["kind"].to_list() == (["cat"] if n_unique <= 10 else ["num"])
    assert_like_evidently(result, ref, cur)


def test_int_column_with_nulls_is_numeric():
    ref = pl.DataFrame({"k": rng.integers(0, 3, 500)})
    cur = pl.DataFrame({"k": [1, None, 2, 0, 1, None, 2, 2]})
    result = drift_table(ref, cur)
    assert result.table["kind"].to_list() == ["num"]
    assert result.table["missing_share"].to_list() == [0.25]
    assert_like_evidently(result, ref, cur)


def test_categories_missing_on_one_side_and_nulls():
    ref = pl.DataFrame({"s": ["a", "b", "c", None] * 50, "d": pl.Series(["x", "y"] * 100).cast(pl.Categorical)})
    cur = pl.DataFrame({"s": ["a", "b", "e", "e"] * 20, "d": pl.Series(["x", "z"] * 40).cast(pl.Categorical)})
    result = drift_table(ref, cur)
    assert_like_evidently(result, ref, cur)
    assert result.table["test"].to_list() == ["chisquare", "chisquare"]
    assert result.table["statistic"][0] == float("inf")  # 'e' never seen in the reference


def test_large_categorical_uses_jensen_shannon():
    ref = pl.DataFrame({"s": rng.choice(list("abcdefg"), 5000)})
    cur = pl.DataFrame({"s": rng.choice(list("abcdefgh"), 800)})
    assert_like_evidently(drift_table(ref, cur), ref, cur)


@pytest.mark.parametrize("method", ["ks", "wasserstein", "psi", "jensenshannon"])
@pytest.mark.parametrize("n_ref", [500, 4000])
def test_numeric_method_override(method, n_ref):
    ref = pl.DataFrame({"a": rng.normal(size=n_ref), "few": rng.integers(0, 15, n_ref).astype(float)})
    cur = pl.DataFrame({"a": rng.normal(0.1, size=700), "few": rng.integers(0, 16, 700).astype(float)})
    assert_like_evidently(drift_table(ref, cur, method=method), ref, cur, method=method)


@pytest.mark.parametrize("method", ["chisquare", "z", "psi", "jensenshannon"])
def test_categorical_method_override(method):
    ref = pl.DataFrame({"s": rng.choice(["a", "b", "c"], 600), "b": rng.random(600) < 0.5})
    cur = pl.DataFrame({"s": rng.choice(["a", "b", "d"], 300), "b": rng.random(300) < 0.6})
    result = drift_table(ref, cur, method=method, threshold=0.2)
    assert_like_evidently(result, ref, cur, method=method, threshold=0.2)


def test_per_column_overrides():
    ref = pl.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    cur = pl.DataFrame({"a": rng.normal(0.3, size=300), "b": rng.normal(size=300)})
    result = drift_table(ref, cur, threshold=0.5, per_column={"a": {"method": "psi", "threshold": 0.2}})
    rows = {r["column"]: r for r in result.table.iter_rows(named=True)}
    assert (rows["a"]["test"], rows["a"]["threshold"]) == ("psi", 0.2)
    assert (rows["b"]["test"], rows["b"]["threshold"]) == ("ks", 0.5)
    want_a = naive.evidently_column(ref["a"].to_list(), cur["a"].to_list(), "float", "psi", 0.2)
    assert rows["a"]["statistic"] == pytest.approx(want_a["score"], rel=1e-9)


def test_columns_argument_and_skipped_types():
    ref = pl.DataFrame({"a": rng.normal(size=50), "when": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 2, 19), eager=True)})
    cur = ref.with_columns(pl.col("a") + 1)
    assert drift_table(ref, cur).table["column"].to_list() == ["a"]
    with pytest.raises(ValueError, match="column 'when' has type date32"):
        drift_table(ref, cur, columns=["a", "when"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "ks", "columns": ["s"]}, "method 'ks' applies to numeric columns, but column 's' is categorical"),
        ({"method": "chisquare", "columns": ["x"]}, "method 'chisquare' applies to categorical columns, but column 'x' is numeric"),
        ({"method": "anderson"}, "unknown drift method 'anderson'"),
        ({"per_column": {"nope": {"method": "ks"}}}, r"per_column names columns that are not compared: \['nope'\]"),
        ({"per_column": {"x": {"metod": "ks"}}}, r"per_column\['x'\] has unknown keys \['metod'\]"),
    ],
)
def test_errors_name_the_column_and_the_fix(kwargs, message):
    ref = pl.DataFrame({"x": rng.normal(size=30), "s": ["a", "b", "c"] * 10})
    with pytest.raises(ValueError, match=message):
        drift_table(ref, ref, **kwargs)


def test_empty_after_dropping_is_an_error():
    ref = pl.DataFrame({"x": rng.normal(size=30)})
    cur = pl.DataFrame({"x": [np.nan, np.inf, None]})
    with pytest.raises(ValueError, match="column 'x' is empty in the current data after dropping missing"):
        drift_table(ref, cur)


def test_type_mismatch_between_sides_is_an_error():
    with pytest.raises(ValueError, match="column 'x' is (large_)?string.* was numeric in the reference"):
        drift_table(pl.DataFrame({"x": [1.0, 2.0]}), pl.DataFrame({"x": ["a", "b"]}))


def test_pyarrow_and_polars_inputs_agree():
    ref, cur = mixed_frame(1500, 0.0, 1), mixed_frame(700, 0.2, 2)
    a = drift_table(ref, cur).table
    b = drift_table(ref.to_arrow(), cur.to_arrow()).table
    assert a.equals(b)


def test_dataset_drift_is_share_at_least_half():
    ref = pl.DataFrame({c: rng.normal(size=500) for c in "abcd"})
    cur = pl.DataFrame({c: rng.normal(3.0 if c in "ab" else 0.0, size=500) for c in "abcd"})
    result = drift_table(ref, cur)
    assert result.drifted_columns == ["a", "b"]
    assert (result.n_drifted, result.share_drifted, result.dataset_drift) == (2, 0.5, True)
    assert drift_table(ref, cur, columns=["a", "c", "d"]).dataset_drift is False


@pytest.mark.parametrize("n_ref", [800, 5000])
def test_profile_gives_identical_results_and_round_trips(n_ref):
    ref = mixed_frame(n_ref, 0.0, 11).with_columns(
        pl.Series("gappy", np.where(rng.random(n_ref) < 0.1, np.nan, rng.normal(size=n_ref)))
    )
    cur = mixed_frame(600, 0.25, 12).with_columns(pl.Series("gappy", rng.normal(size=600)))
    direct = drift_table(ref, cur)
    prof = profile(ref)
    buffer = io.BytesIO()
    pq.write_table(prof.to_arrow(), buffer)
    restored = Profile.from_arrow(pq.read_table(io.BytesIO(buffer.getvalue())))
    for p in (prof, restored):
        assert drift_table(p, cur).table.equals(direct.table)
    assert restored.columns.keys() == prof.columns.keys()
    for name, col in prof.columns.items():
        other = restored[name]
        assert (col.storage, col.n_rows, col.n_missing, col.n_unique) == (other.storage, other.n_rows, other.n_missing, other.n_unique)
        if col.values is not None:
            assert np.array_equal(col.values, other.values)
        assert np.array_equal(col.counts, other.counts)
        assert col.std == other.std or (np.isnan(col.std) and np.isnan(other.std))


def test_profile_keeps_only_what_is_needed():
    ref = pl.DataFrame({"x": [3.0, np.nan, 1.0, 2.0], "s": ["b", "a", None, "b"]})
    prof = profile(ref)
    assert prof["x"].values.tolist() == [1.0, 2.0, 3.0] and prof["x"].n_missing == 1
    assert prof["s"].keys.tolist() == ["a", "b"] and prof["s"].counts.tolist() == [1, 2]
    assert prof.to_arrow().schema.metadata[b"lockgate.format"] == b"lockgate.drift-profile/1"


def test_from_arrow_refuses_other_tables():
    with pytest.raises(ValueError, match="not a lockgate drift profile"):
        Profile.from_arrow(pa.table({"x": [1]}))
