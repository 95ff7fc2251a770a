"""The ``fairness`` and ``explain`` steps report what fairlearn, scikit-learn and shap
compute on the same model and rows, under the keys gates read."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import fairlearn.metrics as fm
import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance

from lockgate.errors import StageFailed
from lockgate.steps.base import StepContext
from lockgate.steps.builtins import explain, fairness
from lockgate.steps.builtins.train import build_pipeline
from lockgate.steps.options import ExplainOptions, FairnessOptions


@dataclass
class _Stage:
    outputs: list[str] = field(default_factory=lambda: ["out"])


def ctx(outputs: int = 1) -> StepContext:
    return StepContext(stage=_Stage([f"o{i}" for i in range(outputs)]), root=Path("."))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 1200
    region = rng.choice(["north", "south", "east"], n)
    band = rng.choice(["young", "old"], n)
    x = rng.normal(size=n)
    y = (x + 0.8 * (region == "south") + rng.normal(size=n) > 0.3).astype(np.int64)
    table = pl.DataFrame({"x": x, "noise": rng.normal(size=n), "region": region, "band": band, "y": y})
    features = ["x", "noise", "region", "band"]
    model = build_pipeline(RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0),
                           ["region", "band"]).fit(table.select(features), y)
    return table, model, features


def test_fairness_equals_fairlearn_per_column_and_worst(data):
    table, model, features = data
    options = FairnessOptions(sensitive=["region", "band"], target="y", intersections=True, n_resamples=100)
    result, groups = fairness.run({"model": model, "table": table}, options, ctx(2))
    predicted = (model.predict_proba(table.select(features))[:, 1] >= 0.5).astype(int)
    y = table["y"].to_numpy()
    frames = {"region": table["region"].to_pandas(), "band": table["band"].to_pandas(),
              "region_x_band": table.select("region", "band").to_pandas()}
    for key, sf in frames.items():
        for name in fairness.DISPARITIES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = getattr(fm, name)(y, predicted, sensitive_features=sf)
            assert result[key][name] == pytest.approx(theirs, rel=1e-9, abs=1e-12), (key, name)
    assert result["demographic_parity_ratio"] == min(result[k]["demographic_parity_ratio"] for k in frames)
    assert result["equalized_odds_difference"] == max(result[k]["equalized_odds_difference"] for k in frames)
    ci = result["region"]
    assert ci["ci_low"]["demographic_parity_ratio"] <= ci["demographic_parity_ratio"] <= ci["ci_high"]["demographic_parity_ratio"]
    assert "south" in result["region"]["worst_group"]
    assert set(groups["attribute"].unique()) == set(frames)
    assert groups.filter(pl.col("attribute") == "region_x_band").height == 6


def test_small_groups_are_flagged_in_table_and_keys(data):
    table, model, _ = data
    rare = table.with_columns(pl.when(pl.int_range(pl.len()) < 5).then(pl.lit("rare"))
                              .otherwise(pl.col("region")).alias("region"))
    options = FairnessOptions(sensitive=["region"], target="y", n_resamples=50, min_group_size=30)
    result, groups = fairness.run({"model": model, "table": rare}, options, ctx(2))
    assert result["n_small_groups"] == 1 and result["region"]["small_groups"] == ["rare"]
    assert groups.filter(pl.col("small"))["group"].to_list() == ["rare"]
    assert result["region"]["missed_group_resamples"] >= 0  # reported, never a crash


def test_bias_in_the_data_without_a_model(data):
    table, _, _ = data
    skewed = pl.concat([table.filter(pl.col("region") != "east"), table.filter(pl.col("region") == "east").head(40)])
    result = fairness.run({"table": skewed, "reference": table},
                          FairnessOptions(sensitive=["region"], target="y"), ctx())
    shares = skewed["region"].value_counts(normalize=True)
    east = shares.filter(pl.col("region") == "east")["proportion"][0]
    assert result["region"]["min_share"] == pytest.approx(east)
    assert result["min_share"] == pytest.approx(east)
    before = table["region"].value_counts(normalize=True).sort("region")["proportion"].to_numpy()
    after = shares.sort("region")["proportion"].to_numpy()
    assert result["region"]["share_shift"] == pytest.approx(np.abs(after - before).max(), rel=1e-9)
    assert result["region"]["share_shift_group"] == "east"
    rates = skewed.group_by("region").agg(pl.col("y").mean())["y"]
    assert result["region"]["base_rate_ratio"] == pytest.approx(rates.min() / rates.max())
    assert "demographic_parity_ratio" not in result


def test_a_scored_table_needs_no_model(data):
    table, model, features = data
    scored = table.with_columns(pl.Series("decision", model.predict(table.select(features))))
    result = fairness.run({"table": scored}, FairnessOptions(sensitive=["band"], target="y",
                                                             prediction_column="decision", n_resamples=0), ctx())
    theirs = fm.demographic_parity_ratio(table["y"].to_numpy(), scored["decision"].to_numpy(),
                                         sensitive_features=table["band"].to_numpy())
    assert result["band"]["demographic_parity_ratio"] == pytest.approx(theirs, rel=1e-9)


def test_explain_permutation_equals_scikit_learn(data):
    table, model, features = data
    result, importances = explain.run({"model": model, "table": table},
                                      ExplainOptions(target="y", n_repeats=3, seed=4), ctx(2))
    theirs = permutation_importance(model, table.select(features).to_pandas(), table["y"].to_numpy(),
                                    scoring="roc_auc", n_repeats=3, random_state=4)
    for name, value in zip(features, theirs.importances_mean, strict=True):
        assert result[name] == pytest.approx(value, rel=1e-9, abs=1e-12)
    top = features[int(np.argmax(theirs.importances_mean))]
    positive = theirs.importances_mean[theirs.importances_mean > 0].sum()
    assert result["top_feature"] == top
    assert result["top_share"] == pytest.approx(theirs.importances_mean.max() / positive)
    assert importances["feature"][0] == top and importances["rank"].to_list() == [1, 2, 3, 4]


def test_explain_attribution_drift(data):
    table, model, _ = data
    same = explain.run({"model": model, "table": table, "current": table},
                       ExplainOptions(target="y", n_repeats=2), ctx())
    assert same["ndcg"] == pytest.approx(1.0) and same["rank_correlation"] == pytest.approx(1.0)
    assert same["largest_shift"] == 0 and same["attribution_drift"] is False
    # the label no longer depends on x in the current table: the ranking changes
    rng = np.random.default_rng(9)
    shifted = table.with_columns(pl.Series("y", (rng.random(table.height) < 0.5).astype(np.int64)))
    drifted = explain.run({"model": model, "table": table, "current": shifted},
                          ExplainOptions(target="y", n_repeats=2), ctx())
    assert drifted["largest_shift_feature"] == "x" and drifted["largest_shift"] > 0.1


def test_ndcg_is_clarifys_and_spearman_is_scipys():
    from scipy.stats import spearmanr
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(2)
    for _ in range(20):
        ref = rng.random(6)
        cur = np.round(rng.random(6), 1)  # ties too
        ours = explain.ndcg(dict(zip("abcdef", ref, strict=True)), dict(zip("abcdef", cur, strict=True)))
        assert ours == pytest.approx(ndcg_score([ref], [cur]), rel=1e-12)
        assert explain.spearman(ref, cur) == pytest.approx(spearmanr(ref, cur).statistic, rel=1e-12)


def test_explain_shap_is_mean_absolute_shap_per_source_column(data):
    shap = pytest.importorskip("shap")
    table, model, features = data
    result = explain.run({"model": model, "table": table},
                         ExplainOptions(target="y", method="shap", max_rows=300), ctx())
    encoder, forest = model.named_steps["encode"], model.named_steps["model"]
    encoded = encoder.transform(table.select(features).head(300))
    values = np.asarray(shap.TreeExplainer(forest).shap_values(np.asarray(encoded, dtype=float)))[:, :, 1]
    names = list(encoder.get_feature_names_out())
    region = sum(np.abs(values[:, i]).mean() for i, n in enumerate(names) if n.startswith("region_"))
    assert result["region"] == pytest.approx(region, rel=1e-9)
    assert result["x"] == pytest.approx(np.abs(values[:, names.index("x")]).mean(), rel=1e-9)


def test_clear_failures(data):
    table, model, _ = data
    with pytest.raises(StageFailed, match="column 'regoin' is not in the table; did you mean 'region'"):
        fairness.run({"model": model, "table": table}, FairnessOptions(sensitive=["regoin"], target="y"), ctx())
    with pytest.raises(StageFailed, match="need the labels"):
        fairness.run({"model": model, "table": table}, FairnessOptions(sensitive=["region"]), ctx())
    with pytest.raises(StageFailed, match="scoring must be one of"):
        explain.run({"model": model, "table": table}, ExplainOptions(target="y", scoring="brier"), ctx())


def test_options_are_checked_when_the_spec_loads():
    with pytest.raises(ValueError):
        FairnessOptions(sensitive=[], target="y")
    with pytest.raises(ValueError):
        ExplainOptions(target="y", method="lime")
    assert pd.api.types.is_scalar(FairnessOptions(sensitive=["a"]).pos_label)


def test_gate_keys_are_known_before_the_run(data):
    from lockgate.steps.options import output_keys

    table, model, _ = data
    with_ = {"sensitive": ["region", "band"], "target": "y", "intersections": True, "n_resamples": 0}
    keys = output_keys("fairness", with_)
    result = fairness.run({"model": model, "table": table}, FairnessOptions(**with_), ctx())
    assert set(result) <= keys  # every key the step returns is one validate accepts
    assert {"region", "band", "region_x_band", "demographic_parity_ratio"} <= keys
    assert output_keys("fairness", {"sensitive": "${cols}"}) is None  # not known until interpolated


def test_shap_without_the_extra_names_it(data, monkeypatch):
    import sys

    table, model, _ = data
    monkeypatch.setitem(sys.modules, "shap", None)  # as if the extra were not installed
    with pytest.raises(StageFailed, match=r'pip install "lockgate\[explain\]"'):
        explain.run({"model": model, "table": table}, ExplainOptions(target="y", method="shap"), ctx())
