"""The MLOps loop end to end: builtin steps, gates against the registry, retraining
on drift, the audit log; bad input fails clearly and leaves registry and lock alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lockgate.lock import LockFile
from lockgate.registry import Registry
from tests.conftest import write
from tests.e2e.helpers import lg

DATA = """
import numpy as np
import polars as pl


def make(*, rows, seed, shift):
    rng = np.random.default_rng(seed)

    def table(n, s):
        x1 = rng.normal(s, 1, n)
        x2 = rng.normal(0, 1, n)
        color = rng.choice(["red", "green", "blue"], n)
        logit = 1.5 * x1 - 1.0 * x2 + 0.5 * (color == "red")
        y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
        return pl.DataFrame({"x1": x1, "x2": x2, "color": color, "y": y})

    return table(rows, 0.0), table(rows // 2, shift)


class Custom:
    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


def custom_model():
    return Custom()
"""

SPEC = """
version: 1
params:
  shift: 0.0
  min_auc: 0.6
  retrain_at: 0.3
  estimator: sklearn.linear_model.LogisticRegression
  target: y
  C: 1.0
stages:
  data:
    call: src.data:make
    with: {rows: 600, seed: 3, shift: "${shift}"}
    out: [base, live]
  split:
    uses: split
    in: {table: base}
    with: {target: y, test_size: 0.3, seed: 1, stratify: true}
    out: [train, test]
  train:
    uses: train
    in: {table: train}
    with: {target: "${target}", estimator: "${estimator}", params: {max_iter: 200, C: "${C}"}}
    out: [model]
  evaluate:
    uses: evaluate
    in: {model: model, table: test}
    with: {target: y, cost: {fn: 10, fp: 1}}
    out: [scores]
  drift:
    uses: drift
    in: {reference: train, current: live}
    with: {exclude: [y]}
    out: [drift]
  deploy:
    uses: promote
    in: {model: model, metrics: scores}
    with: {model_name: demo, alias: production}
    gates:
      - scores.roc_auc >= ${min_auc}
      - scores.f1 >= production.f1 - 0.02
  retrain:
    uses: train
    in: {table: live}
    when: drift.share_drifted >= ${retrain_at}
    with: {target: y, estimator: "${estimator}"}
    out: [challenger]
"""


@pytest.fixture
def ml(repo: Path) -> Path:
    write(repo, "pipelines/ml.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/data.py", DATA)
    return repo


def run_json(repo: Path, *args: str, code: int = 0) -> dict[str, dict]:
    done = lg(repo, "run", "--json", *args, check=code)
    return {s["stage"]: s for s in json.loads(done.stdout)["stages"]}


def test_gates_pass_promote_register_and_audit(ml: Path):
    got = run_json(ml)
    assert got["deploy"]["outcome"] == "ran"
    assert "promoted version 1" in got["deploy"]["message"]
    assert got["retrain"]["outcome"] == "skipped"  # no drift at shift 0
    registry = Registry.open(ml, "demo")
    assert registry.aliases == {"production": 1}
    version = registry.versions[1]
    scores = LockFile.read(ml / "pipelines/ml.lock").stages["evaluate"].metrics["scores"]
    assert version.metrics["roc_auc"] == pytest.approx(scores["roc_auc"])
    assert version.metrics["expected_cost"] == scores["fn"] * 10 + scores["fp"] * 1
    assert version.stage == "deploy" and version.pipeline == "ml"
    assert set(version.data) == {"model", "metrics"}
    decisions = LockFile.read(ml / "pipelines/ml.lock").stages["deploy"].gates
    assert [d["holds"] for d in decisions] == [True, True]
    assert "no champion" in decisions[1]["note"]
    verify = lg(ml, "audit", "verify", check=0)
    assert "chain intact" in verify.stdout
    events = [json.loads(line)["event"] for line in (ml / "registry/audit.jsonl").read_text().splitlines()]
    assert events == ["gate", "promote"]
    assert run_json(ml)["deploy"]["outcome"] == "cached"  # nothing changed: nothing promoted again


def test_impossible_threshold_blocks_and_leaves_registry_unchanged(ml: Path):
    run_json(ml)
    before = (ml / "registry/demo.yaml").read_bytes()
    spec = ml / "pipelines/ml.yaml"
    spec.write_text(spec.read_text().replace("min_auc: 0.6", "min_auc: 1.01"))
    done = lg(ml, "run")
    assert done.returncode == 3, done.stderr
    assert "needs >= 1.01" in done.stderr
    assert (ml / "registry/demo.yaml").read_bytes() == before
    gates = LockFile.read(ml / "pipelines/ml.lock").stages["deploy"].gates
    assert gates[0]["holds"] is False and gates[0]["values"]["scores.roc_auc"] < 1.01
    assert json.loads((ml / "registry/audit.jsonl").read_text().splitlines()[-1])["holds"] is False


def test_champion_comparison_uses_the_alias_recorded_metrics(ml: Path):
    registry = Registry.open(ml, "demo")
    fake = {"kind": "model", "digest": "a" * 64}
    version = registry.add_version(artifact=fake, metrics={"f1": 0.99}, params={}, git_commit="",
                                   pipeline="ml", stage="deploy", data={})
    registry.set_alias("production", version.version)
    registry.save()
    got = run_json(ml, code=3)
    assert got["deploy"]["outcome"] == "blocked"
    assert "production.f1 = 0.99" in got["deploy"]["message"]


def test_retrain_fires_only_on_drift(ml: Path):
    assert run_json(ml)["retrain"]["outcome"] == "skipped"
    got = run_json(ml, "-p", "shift=2.5", "--name", "shifted")  # an experiment: its own lock
    assert got["drift"]["outcome"] == "ran" and got["retrain"]["outcome"] == "ran"
    drift = LockFile.read(ml / ".lockgate/experiments/shifted/ml.lock").stages["drift"].metrics["drift"]
    assert drift["share_drifted"] >= 0.3 and drift["n_drifted"] >= 1


def test_when_false_skips_stage_and_dependents(ml: Path):
    write(ml, "pipelines/ml.yaml", SPEC + """
  evaluate_challenger:
    uses: evaluate
    in: {model: challenger, table: test}
    with: {target: y}
    out: [challenger_scores]
""")
    got = run_json(ml)
    assert got["retrain"]["outcome"] == "skipped" and "when:" in got["retrain"]["message"]
    assert got["evaluate_challenger"]["outcome"] == "skipped"
    assert lg(ml, "status", "--check").returncode == 0  # skipped by `when` is not stale


def test_unknown_estimator_is_a_clear_failure(ml: Path):
    done = lg(ml, "run", "-p", "estimator=sklearn.ensemble.RandomForestClasifier", check=1)
    assert "has no 'RandomForestClasifier'; did you mean 'sklearn.ensemble.RandomForestClassifier'?" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (ml / "registry").exists()
    assert "train" not in LockFile.read(ml / "pipelines/ml.lock").stages


def test_missing_target_column_is_a_clear_failure(ml: Path):
    done = lg(ml, "run", "-p", "target=churned", check=1)
    assert "train: column 'churned' is not in the table" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (ml / "registry").exists()


def test_untrusted_model_is_refused(ml: Path):
    write(ml, "pipelines/bad.yaml", """
    version: 1
    stages:
      data:
        call: src.data:make
        with: {rows: 100, seed: 1, shift: 0}
        out: [base, live]
      custom:
        call: src.data:custom_model
        out: [model]
      evaluate:
        uses: evaluate
        in: {model: model, table: base}
        with: {target: y}
        out: [scores]
    """)
    done = lg(ml, "run", "bad", check=1)
    assert "src.data.Custom" in done.stderr and "trusted" in done.stderr
    assert "evaluate" not in LockFile.read(ml / "pipelines/bad.lock").stages


def test_step_options_are_checked_before_anything_runs(ml: Path):
    write(ml, "pipelines/ml.yaml", SPEC.replace("test_size: 0.3", "test_sise: 0.3"))
    done = lg(ml, "run", check=2)
    assert "step 'split' has no option 'test_sise' (did you mean 'test_size'?)" in done.stderr
    assert not (ml / "pipelines/ml.lock").exists()


def test_streaming_drift_step_agrees_with_in_memory(ml: Path):
    write(ml, "pipelines/ml.yaml", SPEC + """
  drift_streamed:
    uses: drift
    in: {reference: train, current: live}
    with: {exclude: [y], streaming: true, batch_rows: 50}
    out: [drift_streamed]
""")
    got = run_json(ml, "-p", "shift=2.5", "--name", "shifted", "drift", "drift_streamed")
    assert got["drift_streamed"]["outcome"] == "ran"
    lock = LockFile.read(ml / ".lockgate/experiments/shifted/ml.lock")
    assert lock.stages["drift_streamed"].metrics["drift_streamed"] == lock.stages["drift"].metrics["drift"]


def test_an_experiment_promotes_only_when_asked_and_says_so_everywhere(ml: Path):
    run_json(ml)
    registry_before = (ml / "registry/demo.yaml").read_bytes()
    audit_before = (ml / "registry/audit.jsonl").read_bytes()
    got = run_json(ml, "-p", "C=0.5")
    assert got["train"]["outcome"] == "ran" and got["deploy"]["outcome"] == "skipped"
    assert "this run overrides params (-p): an experiment promotes only with --allow-promote" in got["deploy"]["message"]
    assert (ml / "registry/demo.yaml").read_bytes() == registry_before
    assert (ml / "registry/audit.jsonl").read_bytes() == audit_before  # experiments' gates are not audited

    got = run_json(ml, "-p", "C=0.5", "--allow-promote")
    assert "promoted version 2 (was 1)" in got["deploy"]["message"]
    version = Registry.open(ml, "demo").versions[2]
    assert version.overrides == {"C": 0.5} and version.params["C"] == 0.5
    record = json.loads((ml / "registry/audit.jsonl").read_text().splitlines()[-1])
    assert record["event"] == "promote" and record["overrides"] == {"C": 0.5}
    assert record["experiment"].startswith("exp-")
    assert Registry.open(ml, "demo").versions[1].overrides == {}  # the committed params' version
    lg(ml, "audit", "verify", check=0)
