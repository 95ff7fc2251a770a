"""The runner's decisions, tested without subprocesses: an in-memory store and a fake
executor that "runs" a stage by returning the outputs a test gives it.

Each test drives whole runs through ``Runner.run`` (decide, then apply) and checks
what was decided, what the executor was asked to do, and what was written."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from lockgate.executor.base import Outcome
from lockgate.executor.decide import Act
from lockgate.executor.runner import Runner, RunOptions
from lockgate.executor.worker import Job, JobResult
from lockgate.project import Project
from lockgate.runcache import RunCache
from lockgate.store.artifacts import save_file, save_metrics
from lockgate.store.memory import MemoryStore
from lockgate.store.statcache import StatCache
from tests.conftest import write

SPEC = """
version: 1
params: {lr: 0.1, min_auc: 0.8, ship: 1}
inputs: {raw: data/raw.csv}
stages:
  prepare:
    call: "src.steps:prepare"
    in: {raw: raw}
    with: {lr: "${lr}"}
    out: [table]
  score:
    call: "src.steps:score"
    in: {table: table}
    out: [scores]
  ship:
    call: "src.steps:ship"
    in: {table: table}
    when: "${ship} == 1"
    gates: ["scores.auc >= ${min_auc}"]
    out: [shipped]
  export:
    cmd: "never run: the fake executor writes export.txt"
    deps: [data/raw.csv]
    outs: [export.txt]
"""


class FakeExecutor:
    """Runs nothing: ``produce(job)`` gives each submitted job's result at once."""

    name = "fake"
    workers = 1

    def __init__(self, produce: Callable[[Job], JobResult]) -> None:
        self.produce = produce
        self.submitted: list[str] = []

    def submit(self, fn: Callable[..., Any], job: Job, *, resources: dict[str, Any] | None = None) -> Future:
        self.submitted.append(job.stage.name)
        future: Future = Future()
        future.set_result(self.produce(job))
        return future

    def batch(self) -> Any:
        from contextlib import nullcontext

        return nullcontext()

    def cancel_running(self) -> None:
        pass

    def close(self, wait: bool = True) -> None:
        pass


class World:
    """A repository, the stores a runner is given, and what the fake stages produce."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.store = MemoryStore()
        self.runcache = RunCache(repo / "runcache")
        self.auc = 0.9
        self.table = b"rows v1"
        self.failing: set[str] = set()
        write(repo, "pipelines/ml.yaml", SPEC)
        write(repo, "src/__init__.py", "")
        write(repo, "src/steps.py", "def prepare(raw, lr): ...\ndef score(table): ...\ndef ship(table): ...\n")
        write(repo, "data/raw.csv", "x,y\n1,0\n")

    def produce(self, job: Job) -> JobResult:
        name = job.stage.name
        if name in self.failing:
            return JobResult(ok=False, error="boom")
        if name == "export":
            write(self.repo, "export.txt", "exported\n")
            record = save_file(self.store, self.repo / "export.txt").to_record()
            return JobResult(ok=True, outputs={"export.txt": record})
        if name == "score":
            values = {"auc": self.auc}
            return JobResult(ok=True, outputs={"scores": save_metrics(self.store, values).to_record()},
                             metrics={"scores": values})
        artifact = "table" if name == "prepare" else "shipped"
        digest = self.store.put_bytes(self.table if name == "prepare" else b"shipped")
        return JobResult(ok=True, outputs={artifact: {"kind": "json", "digest": digest}})

    def run(self, *, overrides: tuple[str, ...] = (), **options: Any) -> tuple[dict[str, Any], FakeExecutor]:
        project = Project.find(self.repo)
        pipeline = project.load("ml", list(overrides))
        executor = FakeExecutor(self.produce)
        stats = StatCache(self.repo / "stat.db")
        runner = Runner(self.repo, executor, options=RunOptions(**options), store=self.store, stats=stats,
                        runcache=self.runcache)
        try:
            outcomes = runner.run(pipeline, project.lock_path("ml"))
        finally:
            runner.close()
        return {o.stage: o for o in outcomes}, executor

    @property
    def lock(self) -> bytes:
        return (self.repo / "pipelines/ml.lock").read_bytes()


@pytest.fixture
def world(repo: Path) -> World:
    return World(repo)


def kinds(outcomes: dict[str, Any]) -> dict[str, str]:
    return {name: o.outcome.value for name, o in outcomes.items()}


def test_a_first_run_runs_every_stage_then_a_second_does_nothing(world: World):
    first, executor = world.run()
    assert kinds(first) == {"prepare": "ran", "score": "ran", "ship": "ran", "export": "ran"}
    assert set(executor.submitted) == {"prepare", "score", "ship", "export"}
    assert first["prepare"].reasons == ["new"]
    lock = world.lock
    second, executor = world.run()
    assert kinds(second) == dict.fromkeys(first, "cached")
    assert executor.submitted == []
    assert world.lock == lock  # a no-op run rewrites nothing


def test_an_upstream_that_reruns_to_the_same_bytes_leaves_its_dependents_cached(world: World):
    world.run()
    again, executor = world.run(overrides=("lr=0.2",))
    assert executor.submitted == ["prepare"]
    assert "changed param lr" in again["prepare"].reasons
    assert kinds(again)["score"] == "cached" and kinds(again)["ship"] == "cached"


def test_a_changed_output_reruns_the_dependents_and_a_known_fingerprint_is_restored(world: World):
    world.run()
    world.table = b"rows v2"
    changed, executor = world.run(overrides=("lr=0.2",))
    assert executor.submitted[0] == "prepare" and {"score", "ship"} <= set(executor.submitted)
    assert "changed input table" in changed["score"].reasons
    # back to lr=0.1: every stage's fingerprint is one the run-cache knows
    back, executor = world.run()
    assert executor.submitted == []
    assert kinds(back) == {"prepare": "restored", "score": "restored", "ship": "restored", "export": "cached"}


def test_a_gate_that_does_not_hold_blocks_without_running_and_is_recorded_once(world: World):
    world.auc = 0.5
    first, executor = world.run()
    assert first["ship"].outcome is Outcome.BLOCKED and "ship" not in executor.submitted
    assert first["ship"].message.startswith("scores.auc = 0.5, needs >= 0.8")
    lock = world.lock
    assert b"gates" in lock
    again, executor = world.run()
    assert again["ship"].outcome is Outcome.BLOCKED and executor.submitted == []
    assert world.lock == lock  # the same decision on the same values is not written again


def test_when_false_skips(world: World):
    outcomes, executor = world.run(overrides=("ship=0",))
    assert outcomes["ship"].outcome is Outcome.SKIPPED and outcomes["ship"].message.startswith("when:")
    assert "ship" not in executor.submitted


def test_a_failure_stops_the_run_and_its_dependents_are_skipped(world: World):
    world.failing = {"prepare"}
    outcomes, _ = world.run()
    assert outcomes["prepare"].outcome is Outcome.FAILED and outcomes["prepare"].message == "boom"
    assert outcomes["score"].outcome is Outcome.SKIPPED
    assert outcomes["score"].message == "upstream stage 'prepare' failed"


def test_a_dry_run_decides_every_stage_and_writes_nothing(world: World):
    world.run()
    world.table = b"rows v2"
    lock, objects, entries = world.lock, set(world.store.digests()), world.runcache.entries()
    (world.repo / "export.txt").unlink()
    outcomes, executor = world.run(overrides=("lr=0.3",), dry_run=True)
    assert executor.submitted == []
    assert outcomes["prepare"].outcome is Outcome.STALE and "changed param lr" in outcomes["prepare"].reasons
    assert outcomes["score"].outcome is Outcome.STALE
    assert outcomes["score"].reasons[-1] == "upstream stale (prepare)"
    assert outcomes["export"].reasons == ["missing output export.txt"]
    assert world.lock == lock and set(world.store.digests()) == objects and world.runcache.entries() == entries
    assert not (world.repo / "export.txt").exists()  # a dry run restores nothing


def test_a_missing_output_is_restored_and_a_corrupt_copy_makes_the_stage_run(world: World):
    world.run()
    (world.repo / "export.txt").unlink()
    restored, executor = world.run()
    assert restored["export"].outcome is Outcome.RESTORED and executor.submitted == []
    assert (world.repo / "export.txt").read_text() == "exported\n"
    (world.repo / "export.txt").unlink()
    digest = next(d for d in world.store.digests() if world.store.get_bytes(d) == b"exported\n")
    world.store._objects[digest] = b"bit rot"  # the only way to damage a MemoryStore object
    ran, executor = world.run()
    assert ran["export"].outcome is Outcome.RAN and executor.submitted == ["export"]
    assert (world.repo / "export.txt").read_text() == "exported\n"


def test_decide_is_a_value(world: World):
    """decide() returns what to do and does it not: deciding twice gives the same verdict."""
    from lockgate.executor.decide import PipelineRun
    from lockgate.lock import LockFile

    project = Project.find(world.repo)
    pipeline = project.load("ml")
    runner = Runner(world.repo, FakeExecutor(world.produce), store=world.store,
                    stats=StatCache(world.repo / "stat.db"), runcache=world.runcache)
    run = PipelineRun(pipeline, LockFile.read(project.lock_path("ml"), "ml"), project.lock_path("ml"),
                      pipeline.order())
    try:
        first = runner.decider.decide(run, "prepare")
        assert first.act is Act.RUN and first.reasons == ("new",)
        assert runner.decider.decide(run, "prepare") == first
        assert runner.decider.decide(run, "score").outcome is Outcome.FAILED  # its upstream never ran
        assert not project.lock_path("ml").exists() and world.runcache.entries() == []
    finally:
        runner.close()
