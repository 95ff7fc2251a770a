"""A model file a `cmd` stage writes (DVC-style) can be evaluated, gated and registered;
a pickle is loaded only when the spec says it is trusted; a stage may share its name
with its output; a path a cmd stage writes is named by its path."""

from __future__ import annotations

import json
from pathlib import Path

from lockgate.registry import Registry
from tests.conftest import write
from tests.e2e.helpers import lg

TRAIN = """
import json, pickle, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
import pyarrow as pa, pyarrow.parquet as pq

rng = np.random.default_rng(0)
x = rng.normal(size=(200, 2))
y = (x[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(int)
pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "y": y}), "test.parquet")
model = LogisticRegression().fit(__import__("pandas").DataFrame(x, columns=["a", "b"]), y)
pickle.dump(model, open("model.pkl", "wb"))
json.dump({"train": {"accuracy": float(model.score(x, y))}}, open("train_metrics.json", "w"))
"""

SPEC = """
version: 1
stages:
  train:
    cmd: python src/train.py
    deps: [src/train.py]
    outs: [model.pkl, test.parquet]
    metrics: [train_metrics.json]
  evaluate:
    uses: evaluate
    in: {model: model.pkl, table: test.parquet}
    with: {target: y, trust_pickle: TRUST}
    out: [scores]
  deploy:
    uses: promote
    in: {model: model.pkl, metrics: scores}
    with: {model_name: clf, alias: production}
    gates: ["scores.roc_auc >= 0.9", "train.train.accuracy >= 0.8"]
  scores_table:                     # a stage named like its output
    call: src.more:table
    in: {t: test.parquet}
    out: [scores_table]
  uses_it:
    call: src.more:rows
    in: {t: scores_table}
    out: [n]
"""

MORE = """
def table(t):
    return t.head(5)


def rows(t):
    return {"rows": t.height}
"""


def test_a_cmd_stages_model_file_is_scored_gated_and_registered(repo: Path):
    write(repo, "src/train.py", TRAIN)
    write(repo, "src/__init__.py", "")
    write(repo, "src/more.py", MORE)
    write(repo, "pipelines/p.yaml", SPEC.replace("TRUST", "false"))
    done = lg(repo, "run", "--json", "-k", check=1)
    got = {s["stage"]: s for s in json.loads(done.stdout)["stages"]}
    assert got["evaluate"]["outcome"] == "failed"
    assert "model.pkl is a pickle file: loading it runs any code it holds" in got["evaluate"]["message"]
    assert "with: {trust_pickle: true}" in got["evaluate"]["message"]
    assert got["uses_it"]["outcome"] == "ran"  # a stage may share its name with its output

    write(repo, "pipelines/p.yaml", SPEC.replace("TRUST", "true"))
    done = lg(repo, "run", "--json", check=0)
    got = {s["stage"]: s for s in json.loads(done.stdout)["stages"]}
    assert got["deploy"]["outcome"] == "ran" and "promoted version 1" in got["deploy"]["message"]
    version = Registry.open(repo, "clf").versions[1]
    assert version.artifact["kind"] == "file"
    assert version.artifact["meta"]["format"] == "pickle" and version.artifact["meta"]["file"] == "model.pkl"
    assert version.metrics["roc_auc"] >= 0.9


def test_a_path_a_cmd_stage_writes_is_named_by_its_path(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    stages:
      train: {cmd: "mkdir -p models && echo m > models/model.pkl", outs: [models]}
      deploy:
        uses: promote
        in: {model: model}
        with: {model_name: clf}
      look:
        uses: promote
        in: {model: models/model.pkl}
        with: {model_name: clf}
    """)
    err = lg(repo, "validate", check=2).stderr
    assert "stage 'deploy' reads 'model', which nothing produces; did you mean 'models', " \
           "the path stage 'train' writes (line 3)?" in err
    assert "stage 'look' reads 'models/model.pkl', which nothing produces; it lies inside 'models', " \
           "which cmd stage 'train' writes: read the folder" in err


def test_a_file_is_judged_by_its_bytes_not_its_name(tmp_path: Path):
    """A pickle named model.skops is a pickle (it needs trust_pickle); a damaged skops
    file is a clear stage failure, not a zipfile traceback."""
    import pickle

    import pytest

    from lockgate.errors import StageFailed
    from lockgate.steps.base import load_model_input, model_file_format

    disguised = tmp_path / "model.skops"
    disguised.write_bytes(pickle.dumps({"not": "a model"}))
    assert model_file_format(disguised) == "pickle"
    with pytest.raises(StageFailed, match="model.skops is a pickle file: loading it runs any code"):
        load_model_input(disguised, trust_pickle=False, step="predict")
    damaged = tmp_path / "damaged.skops"
    damaged.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(StageFailed, match=r"damaged.skops is not a readable skops file \(BadZipFile"):
        load_model_input(damaged, trust_pickle=False, step="predict")
