"""A model that treats a group unfairly is not deployed: the four-fifths gate blocks it
(exit 3), the registry stays as it was, and the audit log keeps the decision with the
sensitive attribute, the disparity that failed and the groups it lies between."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import write
from tests.e2e.helpers import lg

DATA = """
import numpy as np
import polars as pl


def make(*, rows, seed, bias):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, rows)
    group = rng.choice(["a", "b"], rows)
    logit = 1.5 * x + bias * (group == "a") - bias * (group == "b")
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pl.DataFrame({"x": x, "group": group, "y": y})
"""

SPEC = """
version: 1
params:
  bias: 0.0
stages:
  data:
    call: src.data:make
    with: {rows: 4000, seed: 3, bias: "${bias}"}
    out: [table]
  split:
    uses: split
    in: {table: table}
    with: {target: y, test_size: 0.5, seed: 1, stratify: true}
    out: [train, test]
  train:
    uses: train
    in: {table: train}
    with: {target: y, estimator: sklearn.linear_model.LogisticRegression}
    out: [model]
  fairness:
    uses: fairness
    in: {model: model, table: test}
    with: {target: y, sensitive: [group], n_resamples: 200}
    out: [fair, fair_groups]
  deploy:
    uses: promote
    in: {model: model}
    with: {model_name: demo}
    gates:
      - fair.group.demographic_parity_ratio >= 0.8
"""


def test_a_biased_model_is_blocked_and_the_audit_log_names_the_group(repo: Path):
    write(repo, "pipelines/fair.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/data.py", DATA)

    # an experiment on a parameter that makes the model biased: blocked, exit 3, said at once
    experiment = lg(repo, "run", "-p", "bias=1.5")
    assert experiment.returncode == 3, experiment.stderr
    assert "fair.group.demographic_parity_ratio = " in experiment.stderr
    assert "needs >= 0.8" in experiment.stderr
    assert "fair.group.worst_group: lowest selection_rate: b" in experiment.stderr  # which group, at once

    # the same change committed to the spec: blocked, and the audit log keeps the decision
    spec = repo / "pipelines/fair.yaml"
    spec.write_text(spec.read_text().replace("bias: 0.0", "bias: 1.5"))
    done = lg(repo, "run")
    assert done.returncode == 3, done.stderr
    assert not (repo / "registry/demo.yaml").exists()  # nothing was promoted
    records = [json.loads(line) for line in (repo / "registry/audit.jsonl").read_text().splitlines()]
    (blocked,) = records
    assert blocked["event"] == "gate" and blocked["holds"] is False and blocked["stage"] == "deploy"
    (decision,) = blocked["decisions"]
    assert decision["holds"] is False
    assert decision["values"]["fair.group.demographic_parity_ratio"] < 0.8
    assert decision["note"].startswith("fair.group.worst_group: lowest selection_rate: b (")  # the group
    assert lg(repo, "audit", "verify").returncode == 0

    # the artifact says between which groups the disparity lies
    shown = lg(repo, "show", "fair", check=0).stdout
    assert "lowest selection_rate: b" in shown and "highest: a" in shown
