"""The ``evaluate`` step on multiclass targets and with ``weight_column`` (issue 21): its gate
keys hold scikit-learn's numbers for the model's own predictions."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn import metrics as sk
from sklearn.linear_model import LinearRegression, LogisticRegression

from lockgate.gates import value_at
from lockgate.steps.builtins import evaluate
from lockgate.steps.options import EvaluateOptions, output_keys

FEATURES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    animal = np.array(["cat", "dog", "pig"])[np.argmax(X + rng.normal(size=X.shape), axis=1)]
    return pl.DataFrame({
        "a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "animal": animal,
        "grade": np.argmax(X + rng.normal(size=X.shape), axis=1) + 1,  # 1, 2, 3: integers
        "churn": (X[:, 0] + rng.normal(size=400) > 0).astype(np.int64),
        "exposure": rng.random(400) * 3,
    })


def _run(model, table, **options):
    return evaluate.run({"model": model, "table": table}, EvaluateOptions(**options), None)


def test_multiclass_scores_equal_sklearn_with_and_without_weights(table) -> None:
    model = LogisticRegression().fit(table.select(FEATURES), table["animal"].to_numpy())
    y = table["animal"].to_numpy()
    proba = model.predict_proba(table.select(FEATURES))
    predicted = model.classes_[proba.argmax(axis=1)]
    for weights in (None, table["exposure"].to_numpy()):
        scores = _run(model, table, target="animal", weight_column=None if weights is None else "exposure")
        for average in ("macro", "micro", "weighted"):
            assert scores[f"f1_{average}"] == pytest.approx(
                sk.f1_score(y, predicted, average=average, sample_weight=weights), rel=1e-9)
            assert scores[f"recall_{average}"] == pytest.approx(
                sk.recall_score(y, predicted, average=average, sample_weight=weights), rel=1e-9)
        per_class = sk.precision_score(y, predicted, average=None, sample_weight=weights)
        assert [scores["precision"][c] for c in ("cat", "dog", "pig")] == pytest.approx(per_class, rel=1e-9)
        assert scores["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted, sample_weight=weights), rel=1e-9)
        assert scores["log_loss"] == pytest.approx(sk.log_loss(y, proba, sample_weight=weights), rel=1e-9)
        assert scores["roc_auc_ovr"] == pytest.approx(
            sk.roc_auc_score(y, proba, multi_class="ovr", sample_weight=weights), rel=1e-9)
        assert scores["average_precision_macro"] == pytest.approx(
            sk.average_precision_score(y, proba, sample_weight=weights), rel=1e-9)
        matrix = sk.confusion_matrix(y, predicted, sample_weight=weights)
        assert scores["confusion"]["dog"]["pig"] == pytest.approx(matrix[1, 2])
        assert scores["rows"] == 400
    assert _run(model, table, target="animal")["roc_auc_ovo"] == pytest.approx(
        sk.roc_auc_score(y, proba, multi_class="ovo"), rel=1e-9)


def test_gates_read_the_multiclass_keys(table) -> None:
    model = LogisticRegression().fit(table.select(FEATURES), table["grade"].to_numpy())
    scores = _run(model, table, target="grade")  # integers with a classifier: multiclass
    assert value_at(scores, "f1.2", "scores") == scores["f1"]["2"]
    assert value_at(scores, "f1_macro", "scores") == scores["f1_macro"]
    known = output_keys("evaluate", {"target": "grade"})
    assert {"f1", "f1_macro", "roc_auc_ovr", "roc_auc_ovo", "confusion", "support"} <= known
    with pytest.raises(Exception, match="cost"):
        _run(model, table, target="grade", cost={"fn": 1, "fp": 1})


def test_binary_with_weight_column_and_the_unweighted_keys_unchanged(table) -> None:
    model = LogisticRegression().fit(table.select(FEATURES), table["churn"].to_numpy())
    y = table["churn"].to_numpy()
    score = model.predict_proba(table.select(FEATURES))[:, 1]
    predicted = (score >= 0.5).astype(int)
    plain = _run(model, table, target="churn")
    assert set(plain) == {"roc_auc", "average_precision", "f1", "precision", "recall", "accuracy", "log_loss",
                          "tn", "fp", "fn", "tp", "rows"}
    assert plain["roc_auc"] == pytest.approx(sk.roc_auc_score(y, score), rel=1e-9)
    w = table["exposure"].to_numpy()
    weighted = _run(model, table, target="churn", weight_column="exposure")
    assert weighted["roc_auc"] == pytest.approx(sk.roc_auc_score(y, score, sample_weight=w), rel=1e-9)
    assert weighted["f1"] == pytest.approx(sk.f1_score(y, predicted, sample_weight=w), rel=1e-9)
    assert weighted["tp"] == pytest.approx(sk.confusion_matrix(y, predicted, sample_weight=w)[1, 1], rel=1e-9)


def test_regression_is_inferred_and_overridable(table) -> None:
    reg = LinearRegression().fit(table.select(FEATURES), table["grade"].to_numpy().astype(float))
    scores = _run(reg, table, target="grade", weight_column="exposure")  # a regressor has no classes_
    prediction = reg.predict(table.select(FEATURES))
    w = table["exposure"].to_numpy()
    assert scores["mae"] == pytest.approx(sk.mean_absolute_error(table["grade"], prediction, sample_weight=w))
    clf = LogisticRegression().fit(table.select(FEATURES), table["grade"].to_numpy())
    assert set(_run(clf, table, target="grade", task="regression")) == {"mae", "rmse", "r2"}
