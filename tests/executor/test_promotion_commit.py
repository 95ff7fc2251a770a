"""A promotion is part of its stage's commit: if recording it fails, the stage fails and
no run-cache entry claims it ran, so the next run promotes instead of "restoring"."""

from __future__ import annotations

from pathlib import Path

from lockgate.errors import RegistryError
from lockgate.executor.base import Outcome
from lockgate.executor.effects import Effects
from lockgate.executor.local import LocalExecutor
from lockgate.executor.runner import Runner
from lockgate.project import Project
from lockgate.registry import Registry
from lockgate.runcache import RunCache
from tests.conftest import write

SPEC = """
version: 1
stages:
  data: {call: "src.ml:data", out: [table]}
  train:
    uses: train
    in: {table: table}
    with: {target: y, estimator: sklearn.linear_model.LogisticRegression}
    out: [model]
  deploy:
    uses: promote
    in: {model: model}
    with: {model_name: demo, alias: production}
"""


class FailingEffects(Effects):
    def apply(self, pipeline, stage, effect):
        raise RegistryError("registry/demo.yaml: disk full")


def _run(repo: Path, effects: Effects) -> dict[str, Outcome]:
    project = Project.find(repo)
    pipeline = project.load("ml")
    executor = LocalExecutor(2)
    runner = Runner(repo, executor, effects=effects)
    try:
        return {o.stage: o for o in runner.run(pipeline, project.lock_path("ml"))}
    finally:
        runner.close()
        executor.close()


def test_a_failed_promotion_leaves_no_run_cache_entry_and_promotes_next_time(repo: Path):
    write(repo, "pipelines/ml.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/ml.py", "import polars as pl\n\ndef data():\n"
                             "    return pl.DataFrame({'x': [0.0, 1.0, 2.0, 3.0] * 5, 'y': [0, 0, 1, 1] * 5})\n")
    got = _run(repo, FailingEffects(repo))
    assert got["deploy"].outcome is Outcome.FAILED
    assert "recording the promotion failed: registry/demo.yaml: disk full" in got["deploy"].message
    assert not Registry.open(repo, "demo").versions
    entries = RunCache(repo / ".lockgate/runcache").entries()
    assert all("promoted" not in str(e) for e in entries) and len(entries) == 2  # data and train only
    got = _run(repo, Effects(repo))
    assert got["deploy"].outcome is Outcome.RAN and "promoted version 1" in got["deploy"].message
    assert Registry.open(repo, "demo").aliases == {"production": 1}
