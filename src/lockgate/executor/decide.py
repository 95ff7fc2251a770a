"""What to do with one stage, decided from values: the runner's pure half.

``Decider.decide(run, name)`` reads the pipeline, the lock, what upstream stages
produced in this run, the workspace's digests, the run-cache and the registry's
alias metrics, and returns a :class:`Verdict`: settled at once (up to date,
skipped, failed to start, stale in a dry run), restore outputs from the cache,
blocked by a gate, or run. It writes nothing: no lock, no registry, no audit
record, no workspace file (hashing an ``inputs:`` path during a run keeps a
copy in the content-addressed cache, which is idempotent). The runner applies
the verdict (``Runner._apply``); a dry run applies none.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lockgate.executor.base import Outcome, StageOutcome
from lockgate.executor.state import MissingInput, UpstreamUnknown, Workspace, is_current
from lockgate.fingerprint import Record, explain
from lockgate.graph.pipeline import Pipeline, resolve_artifact
from lockgate.graph.stage import Stage, paths_overlap
from lockgate.lock import LockFile, StageLock
from lockgate.runcache import RunCache

if TYPE_CHECKING:
    from lockgate.gates import Decision
    from lockgate.spec.expr import Ref

AliasMetrics = Callable[[Pipeline, str, str], dict[str, Any] | None]
"""(pipeline, alias, stage) -> that registry alias's recorded metrics, or None if it has no version."""


@dataclass
class PipelineRun:
    """One pipeline's run so far: what the decisions read, and the runner writes."""

    pipeline: Pipeline
    lock: LockFile
    lock_path: Path
    selected: list[str]
    outcomes: dict[str, StageOutcome] = field(default_factory=dict)
    outputs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # artifact -> numbers
    stale: set[str] = field(default_factory=set)  # dry run: stages that would run
    retried: set[str] = field(default_factory=set)  # stages re-planned after a corrupt input
    unrestorable: set[str] = field(default_factory=set)  # a restore failed: run instead
    forced: frozenset[str] = frozenset()  # --force: the named stages (every selected one when none)
    lock_written: float = 0.0
    lock_cost: float = 0.0  # seconds the last lock write took
    dirty: bool = False  # the lock in memory differs from the file


class Act(enum.Enum):
    SETTLE = "settle"  # nothing to do but record the outcome
    RESTORE = "restore"  # copy outputs back from the cache
    BLOCK = "block"  # a gate did not hold: record the decision
    RUN = "run"  # hand a job to the executor


class Verdict(NamedTuple):
    """A stage's verdict. A named tuple, not a dataclass: `status` decides every stage
    and starts in ~0.1 s, and a frozen dataclass costs ~1 ms to create at import."""

    act: Act
    outcome: Outcome  # SETTLE: the outcome; RESTORE: RESTORED; BLOCK: BLOCKED; RUN: RAN if it succeeds
    reasons: tuple[str, ...] = ()
    message: str = ""
    decisions: tuple[Decision, ...] = ()
    record: Record | None = None  # RESTORE from the run-cache, RUN: the fingerprint's parts
    outputs: dict[str, dict[str, Any]] | None = None  # RESTORE: the records to restore
    restore: tuple[str, ...] = ()  # RESTORE: the workspace paths to copy back
    from_runcache: dict[str, Any] | None = None  # RESTORE: the run-cache entry (recorded into the lock)
    job_inputs: dict[str, dict[str, Any]] | None = None  # RUN
    input_paths: dict[str, str] | None = None  # RUN
    rebuild: bool = False  # RUN: outputs rebuilt at the locked fingerprint: no gates, no effects

    @classmethod
    def settle(cls, outcome: Outcome, *, reasons: list[str] | tuple[str, ...] = (), message: str = "",
               decisions: list[Decision] | tuple[Decision, ...] = ()) -> Verdict:
        return cls(Act.SETTLE, outcome, tuple(reasons), message, tuple(decisions))

    @property
    def preview_reasons(self) -> list[str]:
        """Why a dry run says the stage is stale."""
        if self.from_runcache is not None:
            return [*self.reasons, "restorable from run-cache"]
        return list(self.reasons)


class Decider:
    """Decides stages from the workspace, the run-cache and the registry's alias metrics."""

    def __init__(self, workspace: Workspace, runcache: RunCache, alias_metrics: AliasMetrics, *,
                 experiment: bool = False, allow_promote: bool = False) -> None:
        self.workspace = workspace
        self.runcache = runcache
        self.alias_metrics = alias_metrics
        self.experiment = experiment  # a `-p` run: promotions are held back ...
        self.allow_promote = allow_promote  # ... unless this is set

    def decide(self, run: PipelineRun, name: str) -> Verdict:
        stage = run.pipeline.stages[name]
        blocked_by = bad_parent(run, name)
        if blocked_by:
            return Verdict.settle(Outcome.SKIPPED, message=blocked_by)
        if stage.frozen:  # DVC's frozen: never run, its dependencies never checked
            return self._frozen(run, stage)
        try:
            record, job_inputs, input_paths = self.workspace.record(run.pipeline, stage, run.outputs)
        except MissingInput as exc:
            return _missing_input(run, str(exc))
        except UpstreamUnknown as exc:  # only with --downstream or a partial selection
            if exc.stage in run.stale:
                return Verdict.settle(Outcome.STALE, reasons=[f"upstream stale ({exc.stage})"])
            return Verdict.settle(Outcome.FAILED, message=f"needs stage '{exc.stage}', which has not run yet; "
                                                          "run it first")
        locked = run.lock.stages.get(name)
        stale_parents = sorted(set(run.pipeline.parents(name)) & run.stale)
        if stale_parents:  # a dry run: a stage after a stale one is stale too
            own = [r for r in explain(record, locked) if r != "new"] if locked else ["new"]
            return Verdict.settle(Outcome.STALE, reasons=[*own, f"upstream stale ({', '.join(stale_parents)})"])
        # Up to date: the recorded decision stands; gates are not asked again, so running
        # twice with nothing changed does nothing (even if the registry moved meanwhile).
        forced = name in run.forced
        always = stage.always_changed  # DVC's always_changed: runs every time
        # It ran at this very fingerprint (the lock says so): up to date, or, if only its
        # outputs are gone (a fresh clone, gc), rebuild them; the decisions recorded then
        # stand, and a promotion that happened then does not happen again.
        rebuild = not forced and not always and is_current(record, locked)
        if rebuild:
            assert locked is not None
            verdict = self._up_to_date(run, stage, locked)
            if verdict is not None:
                return verdict
        decisions: list[Decision] = []
        if not rebuild:
            conditions = self._conditions(run, stage)
            if isinstance(conditions, Verdict):
                return conditions
            decisions = conditions
        if not forced and stage.uses_run_cache:
            verdict = self._from_runcache(run, stage, record, locked, decisions)
            if verdict is not None:
                return verdict
        if not rebuild and self.experiment and not self.allow_promote and _promotes(stage):
            return Verdict.settle(Outcome.SKIPPED, decisions=decisions, message=(
                "gates hold, but this run overrides params (-p): an experiment promotes only with --allow-promote"))
        if forced:
            reasons = ["forced"]
        elif rebuild:
            reasons = ["outputs missing from the cache"]
        else:
            reasons = explain(record, locked) or (["always changed"] if always else ["missing output"])
        return Verdict(Act.RUN, Outcome.RAN, tuple(reasons), decisions=tuple(decisions), record=record,
                       job_inputs=job_inputs, input_paths=input_paths, rebuild=rebuild)

    # -- the cases ---------------------------------------------------------------------

    def _frozen(self, run: PipelineRun, stage: Stage) -> Verdict:
        """A frozen stage: what its lock entry records stands (outputs missing from the
        workspace are put back from the cache); it is never run, not even with -f."""
        locked = run.lock.stages.get(stage.name)
        if locked is None or not locked.fingerprint:
            return Verdict.settle(Outcome.FAILED, message=(
                "frozen (frozen: true), and it never ran, so there is nothing to keep; unfreeze it "
                "(remove frozen: true) to run it once"))
        status, what = self.workspace.outputs_state(stage, locked.outputs)
        if status == "ok":
            return Verdict.settle(Outcome.CACHED, reasons=["frozen"])
        if status == "restore" and stage.name not in run.unrestorable:
            return Verdict(Act.RESTORE, Outcome.RESTORED, ("frozen", *(f"missing output {p}" for p in what)),
                           outputs=locked.outputs, restore=tuple(what))
        return Verdict.settle(Outcome.FAILED, message=(
            f"frozen, and its output {', '.join(what) or 'files'} cannot be put back (not in the "
            "workspace nor the cache); `lockgate pull` it, or unfreeze the stage to run it"))

    def _up_to_date(self, run: PipelineRun, stage: Stage, locked: StageLock) -> Verdict | None:
        """The lock matches: CACHED, or RESTORED when a workspace output must be copied back
        (None when it cannot be: the stage runs instead)."""
        status, what = self.workspace.outputs_state(stage, locked.outputs)
        if status == "ok":
            return Verdict.settle(Outcome.CACHED)
        if status == "restore" and stage.name not in run.unrestorable:
            root = self.workspace.root
            reasons = [f"{'modified' if (root / p).exists() else 'missing'} output {p}" for p in what]
            return Verdict(Act.RESTORE, Outcome.RESTORED, tuple(reasons), outputs=locked.outputs,
                           restore=tuple(what))
        return None

    def _from_runcache(self, run: PipelineRun, stage: Stage, record: Record, locked: StageLock | None,
                       decisions: list[Decision]) -> Verdict | None:
        """A fingerprint the run-cache knows: restore its outputs instead of running.
        (A restored promote stage does not promote again: that happened when it ran.)"""
        hit = self.runcache.get(record.fingerprint)
        if hit is None or stage.name in run.unrestorable:
            return None
        status, what = self.workspace.outputs_state(stage, hit["outputs"])
        if status == "missing":
            return None
        return Verdict(Act.RESTORE, Outcome.RESTORED, tuple(explain(record, locked)), decisions=tuple(decisions),
                       record=record, outputs=hit["outputs"], restore=tuple(what), from_runcache=hit)

    def _conditions(self, run: PipelineRun, stage: Stage) -> list[Decision] | Verdict:
        """``when`` then ``gates``: the gate decisions (all holding) to record, or the
        verdict that settles the stage (skipped, blocked, or cannot decide)."""
        from lockgate.gates import GateError, decide

        where = f"{stage.file}:{stage.line}"
        lookup = self._lookup(run, stage)
        try:
            if stage.when is not None:
                decision = decide(stage.when, lookup, where=where)
                if not decision.holds:
                    return Verdict.settle(Outcome.SKIPPED, message=f"when: {decision.render()}",
                                          decisions=[decision])
            decisions = [decide(g, lookup, where=where) for g in stage.gates]
        except GateError as exc:  # a typo or a wrong type is an error, never a decision
            return Verdict.settle(Outcome.FAILED, message=f"cannot decide: {exc}")
        if not all(d.holds for d in decisions):
            failed = "; ".join(d.render() for d in decisions if not d.holds)
            return Verdict(Act.BLOCK, Outcome.BLOCKED, message=failed, decisions=tuple(decisions))
        return decisions

    def _lookup(self, run: PipelineRun, stage: Stage) -> Callable[[Ref], Any]:
        from lockgate.gates import MissingValue, NoChampion, value_at

        known = run.pipeline.known_artifacts

        def lookup(ref: Ref) -> Any:
            artifact = resolve_artifact(ref.name, stage, known)
            if artifact is None:
                metrics = self.alias_metrics(run.pipeline, ref.name, stage.name)
                if metrics is None:
                    raise NoChampion(f"no model has the alias '{ref.name}' yet, so there is no champion to beat")
                return value_at(metrics, ref.key, f"{ref.name}")
            values = run.metrics.get(artifact)
            if values is None:
                raise MissingValue(f"'{artifact}' has no recorded values (did its stage run?)")
            return value_at(values, ref.key, artifact)

        return lookup


def bad_parent(run: PipelineRun, name: str) -> str:
    """Why ``name`` cannot run because of a stage before it ("" when none stops it)."""
    for parent in run.pipeline.parents(name):
        if run.pipeline.why(parent, name) == "alias":
            continue  # only orders reading an alias after promoting it: no data flows
        outcome = run.outcomes.get(parent)
        if outcome is None:
            continue
        if outcome.outcome in (Outcome.FAILED, Outcome.BLOCKED, Outcome.SKIPPED, Outcome.CANCELLED):
            return f"upstream stage '{parent}' {outcome.outcome.value}"
    return ""


def _missing_input(run: PipelineRun, path: str) -> Verdict:
    writer = _writer_of(run.pipeline, path)
    if writer is None and path in run.lock.inputs:
        return Verdict.settle(Outcome.FAILED,
                              message=f"'{path}' is missing; the lock versions it: `lockgate pull` puts it back")
    if writer is None:
        return Verdict.settle(Outcome.FAILED,
                              message=f"'{path}' does not exist and no stage writes it; create it or fix the path")
    if writer in run.stale:  # a dry run: the stage that writes it would run first
        return Verdict.settle(Outcome.STALE, reasons=[f"upstream stale ({writer})"])
    # a requested stage that cannot run is a failure of the request (exit 1)
    return Verdict.settle(Outcome.FAILED,
                          message=f"needs '{path}' from stage '{writer}', which has not run yet; run it first")


def _writer_of(pipeline: Pipeline, path: str) -> str | None:
    """The stage whose outs hold ``path`` (the path or a folder above it)."""
    for stage in pipeline.stages.values():
        if any(paths_overlap(path, out) for out in (*stage.outs, *stage.metrics)):
            return stage.name
    return None


def _promotes(stage: Stage) -> bool:
    return stage.kind == "uses" and stage.run == "promote"
