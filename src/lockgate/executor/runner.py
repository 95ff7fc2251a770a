"""Run a pipeline: decide per stage (cached, restore, run, skip, block), hand jobs
to an executor, and record results in the run-cache and the lock file.

Decisions are made when a stage becomes ready, from its upstream stages'
*actual* output digests, so an upstream stage that reran but produced the
same bytes leaves its dependents cached. The lock file is rewritten
(atomically) after each stage whose outputs are safely in the store, so a
run killed at any moment leaves a consistent lock; the next run redoes only
what is missing.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate.executor.base import Executor, OnEvent, Outcome, RunEvent, StageOutcome
from lockgate.executor.state import MissingInput, UpstreamUnknown, Workspace, is_current
from lockgate.errors import LockgateError
from lockgate.fingerprint import Record, explain
from lockgate.graph.pipeline import Pipeline, resolve_artifact
from lockgate.graph.stage import paths_overlap
from lockgate.lock import LockFile, StageLock
from lockgate.runcache import RunCache

if TYPE_CHECKING:  # imported where used: a run with nothing to do (and `status`) needs none of them
    from concurrent.futures import Future

    from lockgate.executor.worker import Job, JobResult
    from lockgate.gates import Decision
    from lockgate.spec.expr import Ref

log = logging.getLogger(__name__)

LOCK_WRITE_INTERVAL = 0.5
"""Seconds between lock rewrites during a run. A stage finished but not yet in the
lock is still in the run-cache, so a killed run loses no work; rewriting a
1000-stage lock after every stage would cost O(n^2)."""

AliasMetrics = Callable[[Pipeline, str, str], dict[str, Any] | None]
"""(pipeline, alias, stage) -> that registry alias's recorded metrics, or None if it has no version."""


@dataclass(frozen=True)
class RunOptions:
    targets: tuple[str, ...] = ()
    force: bool = False
    dry_run: bool = False
    keep_going: bool = False
    downstream: bool = False
    experiment: str = ""  # a `-p` run: its gates are not audited, its promotions held back ...
    allow_promote: bool = False  # ... unless this is set (`--allow-promote`)


@dataclass
class _State:
    """Per-run bookkeeping for one pipeline."""

    pipeline: Pipeline
    lock: LockFile
    lock_path: Path
    selected: list[str]
    outcomes: dict[str, StageOutcome] = field(default_factory=dict)
    outputs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # artifact -> numbers
    stale: set[str] = field(default_factory=set)  # dry-run: stages that would run
    retried: set[str] = field(default_factory=set)  # stages re-planned after a corrupt input
    forced: frozenset[str] = frozenset()  # --force: the named stages (every selected one when none)
    lock_written: float = 0.0
    lock_cost: float = 0.0  # seconds the last lock write took
    dirty: bool = False  # the lock in memory differs from the file


@dataclass(frozen=True)
class _Running:
    name: str
    record: Record
    job: Job
    decisions: list[Decision]
    rebuild: bool = False  # outputs rebuilt at a fingerprint the lock records: no gates, no effects


class Runner:
    def __init__(
        self,
        root: Path,
        executor: Executor,
        *,
        options: RunOptions = RunOptions(),
        on_event: OnEvent | None = None,
        alias_metrics: AliasMetrics | None = None,
        effects: Any = None,
    ) -> None:
        from lockgate.store.local import LocalStore
        from lockgate.store.statcache import StatCache

        self.root = root
        self.executor = executor
        self.options = options
        self.on_event = on_event or (lambda event: None)
        self.effects = effects  # executor.effects.Effects: registry and audit log, or None
        self.alias_metrics = alias_metrics or (
            effects.alias_metrics if effects is not None else (lambda pipeline, alias, stage=None: None)
        )
        from lockgate.project import Layout, ensure_state_dir

        self.layout = Layout(ensure_state_dir(Layout.of(root).state))
        self.store = LocalStore(self.layout.cache)
        self.stats = StatCache(self.layout.statcache)
        self.runcache = RunCache(self.layout.runcache)
        self.workspace = Workspace(root, self.stats, self.store, keep_data=not options.dry_run)
        self._recovered = False

    def close(self) -> None:
        self.stats.close()

    # -- public -----------------------------------------------------------------

    def run(self, pipeline: Pipeline, lock_path: Path) -> list[StageOutcome]:
        if self.effects is not None and not self.options.dry_run and not self._recovered:
            self._recovered = True
            self.effects.recover()  # a promotion the audit log holds but a registry missed
        targets: list[str] = []
        if self.options.targets:  # only then is networkx needed
            from lockgate.graph.plan import resolve_targets, select

            targets = resolve_targets(pipeline.graph, self.options.targets)
            chosen = select(pipeline.graph, targets, downstream=self.options.downstream)
            selected = [name for name in pipeline.order() if name in chosen]
        else:
            selected = pipeline.order()
        lock = LockFile.read(lock_path, pipeline.name, cache_dir=self.layout.lockcache)
        state = _State(pipeline, lock, lock_path, selected)
        if self.options.force:  # `run -f train` forces train, not the ancestors it needs
            downstream = self.options.downstream  # the targets and what follows: all forced
            state.forced = frozenset(selected if downstream or not targets else targets)
        state.lock_written = time.monotonic()  # the first rewrite waits for the interval too
        for name, entry in state.lock.stages.items():  # what earlier runs produced
            state.outputs[name] = entry.outputs
            self._remember_metrics(state, entry.outputs, entry.metrics, name)
        try:
            self._loop(state)
        finally:
            if not self.options.dry_run:
                self._write_lock(state, prune=not targets)
        return [state.outcomes[name] for name in selected if name in state.outcomes]

    # -- the scheduling loop ------------------------------------------------------

    def _loop(self, state: _State) -> None:
        pipeline = state.pipeline
        rank = {name: i for i, name in enumerate(state.selected)}
        pending = set(state.selected)
        # parents still to settle, per stage: a stage is ready when its count reaches 0
        waiting = {n: sum(1 for p in pipeline.parents(n) if p in pending) for n in state.selected}
        ready = [(rank[n], n) for n in state.selected if waiting[n] == 0]
        heapq.heapify(ready)
        running: dict[Future, _Running] = {}
        stop = False

        def settle(name: str) -> None:
            for child in pipeline.children(name):
                if child in pending and child in waiting:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        heapq.heappush(ready, (rank[child], child))

        try:
            while (ready and not stop) or running:
                while ready and not stop:
                    _, name = heapq.heappop(ready)
                    pending.discard(name)
                    submitted = self._start(state, name)
                    if submitted is None:
                        settle(name)  # decided at once: cached, restored, skipped, blocked
                    else:
                        running[submitted[0]] = submitted[1]
                if not running:
                    break
                from concurrent.futures import FIRST_COMPLETED, wait

                # a timeout, so the main thread wakes to run signal handlers (Ctrl-C, SIGTERM)
                # even when the signal was delivered to a worker thread
                done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    producers = self._rebuild_corrupt(state, job, future)
                    if producers:
                        pending.update([*producers, job.name])
                        waiting[job.name] = len(producers)
                        for producer in producers:
                            heapq.heappush(ready, (rank[producer], producer))
                        continue
                    ok = self._finish(state, job, future)
                    settle(job.name)
                    if not ok and not self.options.keep_going:
                        stop = True
            for name in sorted(pending, key=rank.__getitem__):  # parents are settled first
                upstream = self._bad_parent(state, name)
                if upstream:
                    self._end(state, name, Outcome.SKIPPED, message=upstream)
                else:
                    self._end(state, name, Outcome.CANCELLED,
                              message="not started: another stage failed (--keep-going runs the rest)")
        except KeyboardInterrupt:
            for future in running:
                future.cancel()  # a job still queued never starts
            self.executor.cancel_running()  # nor does one a worker is picking up right now
            for future, job in running.items():
                ended = future.done() and not future.cancelled()
                # a job the interrupt stopped, or kept from starting, is cancelled, not failed
                if ended and not (future.exception() is None and getattr(future.result(), "cancelled", False)):
                    self._finish(state, job, future)  # it ended on its own before the interrupt
                else:
                    self._end(state, job.name, Outcome.CANCELLED, message="interrupted")
            for name in sorted(pending - set(state.outcomes), key=rank.__getitem__):
                self._end(state, name, Outcome.CANCELLED, message="interrupted")
            raise

    # -- deciding one stage ---------------------------------------------------------

    def _start(self, state: _State, name: str) -> tuple[Future, _Running] | None:
        stage = state.pipeline.stages[name]
        blocked_by = self._bad_parent(state, name)
        if blocked_by:
            self._end(state, name, Outcome.SKIPPED, message=blocked_by)
            return None
        if stage.frozen:  # DVC's frozen: never run, its dependencies never checked
            self._frozen(state, name)
            return None
        try:
            record, job_inputs, input_paths = self.workspace.record(state.pipeline, stage, state.outputs)
        except MissingInput as exc:
            writer = self._writer_of(state, str(exc))
            if writer is None and str(exc) in state.lock.inputs:
                self._end(state, name, Outcome.FAILED,
                          message=f"'{exc}' is missing; the lock versions it: `lockgate pull` puts it back")
            elif writer is None:
                self._end(state, name, Outcome.FAILED,
                          message=f"'{exc}' does not exist and no stage writes it; create it or fix the path")
            elif self.options.dry_run:
                state.stale.add(name)
                self._end(state, name, Outcome.STALE, reasons=[f"upstream stale ({writer})"])
            else:  # a requested stage that cannot run is a failure of the request (exit 1)
                self._end(state, name, Outcome.FAILED,
                          message=f"needs '{exc}' from stage '{writer}', which has not run yet; run it first")
            return None
        except UpstreamUnknown as exc:  # only with --downstream or a partial selection
            if self.options.dry_run:
                state.stale.add(name)
                self._end(state, name, Outcome.STALE, reasons=[f"upstream stale ({exc.stage})"])
            else:
                self._end(state, name, Outcome.FAILED,
                          message=f"needs stage '{exc.stage}', which has not run yet; run it first")
            return None
        locked = state.lock.stages.get(name)
        stale_parents = sorted(set(state.pipeline.parents(name)) & state.stale)
        if self.options.dry_run and stale_parents:
            state.stale.add(name)
            own = [r for r in explain(record, locked) if r != "new"] if locked else ["new"]
            self._end(state, name, Outcome.STALE,
                      reasons=[*own, f"upstream stale ({', '.join(stale_parents)})"])
            return None
        # Up to date: the recorded decision stands; gates are not asked again, so running
        # twice with nothing changed does nothing (even if the registry moved meanwhile).
        forced = name in state.forced
        always = stage.always_changed  # DVC's always_changed: runs every time
        if not forced and not always and self._up_to_date(state, name, record, locked):
            return None
        # It ran at this very fingerprint (the lock says so) and only its outputs are gone
        # (a fresh clone, gc): rebuild them; the decisions recorded then stand, and a
        # promotion that happened then does not happen again.
        rebuild = not forced and not always and is_current(record, locked)
        decisions = [] if rebuild else self._conditions(state, name)
        if decisions is None:
            return None
        if not forced and stage.uses_run_cache and self._restore(state, name, record, locked, decisions):
            return None
        if not rebuild and self.options.experiment and not self.options.allow_promote and _promotes(stage):
            self._end(state, name, Outcome.SKIPPED, decisions=[d.to_record() for d in decisions],
                      message="gates hold, but this run overrides params (-p): an experiment promotes "
                              "only with --allow-promote")
            return None
        if self.options.dry_run:
            state.stale.add(name)
            reasons = ["forced"] if forced else ["always changed"] if always and is_current(record, locked) \
                else explain(record, locked) or ["missing output"]
            self._end(state, name, Outcome.STALE, reasons=reasons)
            return None
        return self._submit(state, name, record, job_inputs, input_paths, decisions, rebuild)

    def _frozen(self, state: _State, name: str) -> None:
        """A frozen stage: what its lock entry records stands (outputs missing from the
        workspace are put back from the cache); it is never run, not even with -f."""
        stage = state.pipeline.stages[name]
        locked = state.lock.stages.get(name)
        if locked is None or not locked.fingerprint:
            self._end(state, name, Outcome.FAILED, message=(
                "frozen (frozen: true), and it never ran, so there is nothing to keep; unfreeze it "
                "(remove frozen: true) to run it once"))
            return
        status, what = self.workspace.outputs_state(stage, locked.outputs)
        if status == "ok":
            self._end(state, name, Outcome.CACHED, reasons=["frozen"])
        elif status == "restore" and self.options.dry_run:
            state.stale.add(name)
            self._end(state, name, Outcome.STALE, reasons=["frozen", *(f"missing output {p}" for p in what)])
        elif status == "restore" and self._restored(name, locked.outputs, what):
            self._end(state, name, Outcome.RESTORED, reasons=["frozen"])
        else:
            self._end(state, name, Outcome.FAILED, message=(
                f"frozen, and its output {', '.join(what) or 'files'} cannot be put back (not in the "
                "workspace nor the cache); `lockgate pull` it, or unfreeze the stage to run it"))

    def _writer_of(self, state: _State, path: str) -> str | None:
        """The stage whose outs hold ``path`` (the path or a folder above it)."""
        for stage in state.pipeline.stages.values():
            if any(paths_overlap(path, out) for out in (*stage.outs, *stage.metrics)):
                return stage.name
        return None

    def _conditions(self, state: _State, name: str) -> list[Decision] | None:
        """``when`` then ``gates``: None when the stage is skipped or blocked, else the
        gate decisions (all holding) to record."""
        from lockgate.gates import GateError, decide

        stage = state.pipeline.stages[name]
        where = f"{stage.file}:{stage.line}"
        try:
            if stage.when is not None:
                decision = decide(stage.when, self._lookup(state, stage), where=where)
                if not decision.holds:
                    self._end(state, name, Outcome.SKIPPED, message=f"when: {decision.render()}",
                              decisions=[decision.to_record()])
                    return None
            decisions = [decide(g, self._lookup(state, stage), where=where) for g in stage.gates]
        except GateError as exc:  # a typo or a wrong type is an error, never a decision
            self._end(state, name, Outcome.FAILED, message=f"cannot decide: {exc}")
            return None
        if not all(d.holds for d in decisions):
            self._block(state, name, decisions)
            return None
        return decisions

    def _bad_parent(self, state: _State, name: str) -> str:
        for parent in state.pipeline.parents(name):
            if state.pipeline.why(parent, name) == "alias":
                continue  # only orders reading an alias after promoting it: no data flows
            outcome = state.outcomes.get(parent)
            if outcome is None:
                continue
            if outcome.outcome in (Outcome.FAILED, Outcome.BLOCKED, Outcome.SKIPPED, Outcome.CANCELLED):
                return f"upstream stage '{parent}' {outcome.outcome.value}"
        return ""

    def _up_to_date(self, state: _State, name: str, record: Record, locked: StageLock | None) -> bool:
        """The lock matches: CACHED, or RESTORED when a workspace output had to be copied back."""
        if not is_current(record, locked):
            return False
        assert locked is not None
        stage = state.pipeline.stages[name]
        status, what = self.workspace.outputs_state(stage, locked.outputs)
        if status == "ok":
            self._end(state, name, Outcome.CACHED)
            return True
        if status == "restore":
            reasons = [f"{'modified' if (self.root / p).exists() else 'missing'} output {p}" for p in what]
            if self.options.dry_run:
                state.stale.add(name)
                self._end(state, name, Outcome.STALE, reasons=reasons)
            elif not self._restored(name, locked.outputs, what):
                return False  # a stored copy was corrupt (now dropped): run the stage instead
            else:
                self._end(state, name, Outcome.RESTORED, reasons=reasons)
            return True
        return False

    def _restored(self, name: str, outputs: dict[str, dict[str, Any]], paths: list[str]) -> bool:
        """Copy outputs back from the store; False (with a warning) when an object turns out
        corrupt or missing on the way: the caller runs the stage instead of aborting."""
        from lockgate.errors import StoreError

        try:
            self.workspace.restore(outputs, paths)
        except StoreError as exc:
            log.warning("stage '%s': cannot restore its outputs (%s); running it instead", name, exc)
            return False
        return True

    def _restore(self, state: _State, name: str, record: Record, locked: StageLock | None,
                 decisions: list[Decision]) -> bool:
        """A fingerprint the run-cache knows: restore its outputs instead of running.
        (A restored promote stage does not promote again: that happened when it ran.)"""
        stage = state.pipeline.stages[name]
        hit = self.runcache.get(record.fingerprint)
        if hit is None:
            return False
        status, what = self.workspace.outputs_state(stage, hit["outputs"])
        if status == "missing":
            return False
        if self.options.dry_run:
            state.stale.add(name)
            self._end(state, name, Outcome.STALE, reasons=[*explain(record, locked), "restorable from run-cache"])
            return True
        if not self._restored(name, hit["outputs"], what):
            return False
        self._record(state, name, record, hit["outputs"], hit.get("metrics", {}),
                     float(hit.get("duration", 0.0)), decisions)
        self._end(state, name, Outcome.RESTORED, reasons=explain(record, locked))
        return True

    def _block(self, state: _State, name: str, decisions: list[Decision]) -> None:
        failed = [d for d in decisions if not d.holds]
        entry = state.lock.stages.get(name)
        if not self.options.dry_run:
            if entry is None:  # never ran: keep the decision in the lock all the same
                stage = state.pipeline.stages[name]
                entry = state.lock.stages[name] = StageLock(fingerprint="", kind=stage.kind, definition="")
            records = [d.to_record() for d in decisions]
            # the same decision on the same values as last time is not news: audit it once
            if self.effects is not None and not self.options.experiment and entry.gates != records:
                state.lock.audit = self.effects.gates(state.pipeline, name, records, False)
            if entry.gates != records:
                entry.gates = records
                state.dirty = True
        self._end(state, name, Outcome.BLOCKED,
                  message="; ".join(d.render() for d in failed),
                  decisions=[d.to_record() for d in decisions])

    def _lookup(self, state: _State, stage) -> Callable[[Ref], Any]:
        from lockgate.gates import MissingValue, NoChampion, value_at

        known = state.pipeline.known_artifacts

        def lookup(ref: Ref) -> Any:
            artifact = resolve_artifact(ref.name, stage, known)
            if artifact is None:
                metrics = self.alias_metrics(state.pipeline, ref.name, stage.name)
                if metrics is None:
                    raise NoChampion(f"no model has the alias '{ref.name}' yet, so there is no champion to beat")
                return value_at(metrics, ref.key, f"{ref.name}")
            values = state.metrics.get(artifact)
            if values is None:
                raise MissingValue(f"'{artifact}' has no recorded values (did its stage run?)")
            return value_at(values, ref.key, artifact)

        return lookup

    # -- running ----------------------------------------------------------------------

    def _submit(self, state, name, record, job_inputs, input_paths, decisions, rebuild=False):
        from lockgate.executor.worker import Job, run_job

        stage = state.pipeline.stages[name]
        log_path = self.layout.log(state.pipeline.name, name)
        try:
            extra = self._job_extra(state, stage)
        except LockgateError as exc:  # e.g. a registry file that cannot be read
            self._end(state, name, Outcome.FAILED, message=str(exc))
            return None
        job = Job(
            stage=stage, root=str(self.root), layout=self.layout, log_path=str(log_path),
            inputs=job_inputs, deps=dict(record.deps), input_paths=input_paths,
            input_digests=dict(record.inputs), extra=extra,
        )
        self.on_event(RunEvent(state.pipeline.name, name, "start"))
        future = self.executor.submit(run_job, job, resources=stage.resources or None)
        return future, _Running(name, record, job, decisions, rebuild)

    def _job_extra(self, state: _State, stage) -> dict[str, Any]:
        extra: dict[str, Any] = {"pipeline": state.pipeline.name}
        alias = stage.with_.get("alias") if stage.kind == "uses" else None
        if isinstance(alias, str):
            extra["alias_metrics"] = self.alias_metrics(state.pipeline, alias, stage.name)
        return extra

    def _rebuild_corrupt(self, state: _State, job: _Running, future: Future) -> list[str]:
        """A stage whose input object was corrupt (and has been dropped): run its
        producer again, then the stage, once. Returns the producers to re-plan (the stage waits for them)."""
        try:
            result: JobResult = future.result()
        except Exception:
            return []
        if result.ok or not result.corrupt_inputs or job.name in state.retried:
            return []
        state.retried.add(job.name)
        stage = state.pipeline.stages[job.name]
        known = {**state.pipeline.producers}
        producers = []
        for arg in result.corrupt_inputs:
            artifact = resolve_artifact(stage.inputs[arg], stage, known)
            if artifact in state.pipeline.producers:
                producers.append(state.pipeline.producers[artifact])
        if not producers:
            return []
        log.warning("stage '%s': a cached input was corrupt; rebuilding %s", job.name, ", ".join(producers))
        for name in (*producers, job.name):
            state.outcomes.pop(name, None)
        # run them whatever their lock says: the record itself may be what is wrong
        state.forced = state.forced | frozenset(producers)
        return producers

    def _finish(self, state: _State, running: _Running, future: Future) -> bool:
        from lockgate.executor.worker import JobResult

        name, record, job, decisions = running.name, running.record, running.job, running.decisions
        log_rel = self._rel(Path(job.log_path))
        try:
            result: JobResult = future.result()
        except Exception as exc:  # the executor itself failed (a worker died, ...)
            result = JobResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if not result.ok:
            message = result.error + (f"\n{result.log_tail}" if result.log_tail else "")
            self._end(state, name, Outcome.FAILED, duration=result.duration, message=message,
                      log_path=log_rel)
            return False
        applied = []
        if self.effects is not None and not self.options.dry_run:
            try:  # effects first: a run-cache entry means its promotion happened
                if decisions and not self.options.experiment:
                    state.lock.audit = self.effects.gates(state.pipeline, name, [d.to_record() for d in decisions], True)
                for effect in result.effects if not running.rebuild else ():
                    applied.append(self.effects.apply(state.pipeline, name, effect))
                    state.lock.audit = applied[-1].get("audit", state.lock.audit)
            except (LockgateError, ValueError, TypeError, OSError) as exc:
                self._end(state, name, Outcome.FAILED, duration=result.duration, log_path=log_rel,
                          message=f"its outputs are stored, but recording the promotion failed: {exc}")
                return False
        stage = state.pipeline.stages[name]
        if stage.uses_run_cache:  # not for always_changed, persist or cache: false (DVC's rule)
            self.runcache.put(record.fingerprint, result.outputs, result.metrics, result.duration)
        locked = state.lock.stages.get(name)
        self._record(state, name, record, result.outputs, result.metrics, result.duration, decisions)
        message = "; ".join(
            f"version {a['version']} already {_alias_of(result.effects, i)}" if a.get("unchanged")
            else f"promoted version {a['version']}" + (f" (was {a['previous']})" if a.get("previous") else "")
            for i, a in enumerate(applied)
        )
        why = ["outputs missing from the cache"] if running.rebuild else explain(record, locked) or (
            ["always changed"] if stage.always_changed else [])
        self._end(state, name, Outcome.RAN, duration=result.duration,
                  reasons=["forced"] if name in state.forced else why,
                  log_path=log_rel, decisions=[d.to_record() for d in decisions], message=message)
        return True

    def _record(self, state, name, record, outputs, metrics, duration, decisions) -> None:
        stage = state.pipeline.stages[name]
        previous = state.lock.stages.get(name)
        gates = [d.to_record() for d in decisions]
        if (previous is not None and previous.fingerprint == record.fingerprint and previous.outputs == outputs
                and previous.metrics == metrics and (not decisions or previous.gates == gates)):
            # the same work gave the same result: the entry (its duration too) stays as it was,
            # so rebuilding outputs in a fresh clone leaves the committed lock byte-identical
            state.outputs[name] = outputs
            self._remember_metrics(state, outputs, metrics, name)
            return
        state.lock.stages[name] = StageLock(
            fingerprint=record.fingerprint, kind=stage.kind, definition=record.definition,
            code=record.code, params=dict(record.params), inputs=dict(record.inputs),
            deps=dict(record.deps), outputs=outputs, metrics=metrics,
            gates=gates, duration=duration,
        )
        state.outputs[name] = outputs
        self._remember_metrics(state, outputs, metrics, name)
        state.dirty = True
        # at most every LOCK_WRITE_INTERVAL, and never more than ~10% of the time on big locks
        if time.monotonic() - state.lock_written >= max(LOCK_WRITE_INTERVAL, 10 * state.lock_cost):
            self._write_lock(state)

    def _remember_metrics(self, state: _State, outputs: dict, metrics: dict, stage: str = "") -> None:
        for artifact, values in metrics.items():
            if artifact in outputs or artifact in state.pipeline.producers:
                state.metrics[artifact] = values
        spec = state.pipeline.stages.get(stage)
        if spec is not None and spec.kind == "cmd" and state.pipeline.producers.get(stage) == stage:
            merged: dict[str, Any] = {}
            for path in spec.metrics:  # every metrics file of the stage, in spec order
                merged.update(metrics.get(path, {}))
            state.metrics[stage] = merged

    def _write_lock(self, state: _State, prune: bool = False) -> None:
        if self.options.dry_run:
            return
        if prune:
            for gone in set(state.lock.stages) - set(state.pipeline.stages):
                del state.lock.stages[gone]
                state.dirty = True
        self._record_inputs(state, prune)
        if not state.dirty and state.lock_path.exists():
            return
        started = time.monotonic()
        state.lock.write(state.lock_path, cache_dir=self.layout.lockcache)
        state.lock_written = time.monotonic()
        state.lock_cost = state.lock_written - started
        state.dirty = False

    def _record_inputs(self, state: _State, prune: bool) -> None:
        """The ``inputs:`` paths this run hashed (and stored) go into the lock, so push,
        pull and gc see the raw data; with ``prune``, paths no longer inputs leave it."""
        paths = set(state.pipeline.inputs.values())
        for path, record in self.workspace.data.items():
            if path in paths and state.lock.inputs.get(path) != record:
                state.lock.inputs[path] = record
                state.dirty = True
        if prune:
            for gone in set(state.lock.inputs) - paths:
                del state.lock.inputs[gone]
                state.dirty = True

    def _end(self, state: _State, name: str, outcome: Outcome, *, duration: float = 0.0,
             reasons: list[str] | None = None, message: str = "", log_path: str = "",
             decisions: list[dict[str, Any]] | None = None) -> None:
        result = StageOutcome(
            stage=name, outcome=outcome, duration=duration, reasons=reasons or [],
            message=message, log_path=log_path, decisions=decisions or [],
            pipeline=state.pipeline.name,
        )
        state.outcomes[name] = result
        self.on_event(RunEvent(state.pipeline.name, name, "end", result))

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def _promotes(stage: Any) -> bool:
    return stage.kind == "uses" and stage.run == "promote"


def _alias_of(effects: list[dict[str, Any]], index: int) -> str:
    alias = effects[index].get("alias", "") if index < len(effects) else ""
    return f"'{alias}'" if alias else "promoted"


def exit_code(outcomes: list[StageOutcome]) -> int:
    """0 done; 1 a stage failed; 3 nothing failed but a gate blocked a stage."""
    kinds = {o.outcome for o in outcomes}
    if Outcome.FAILED in kinds:
        return 1
    if Outcome.BLOCKED in kinds:
        return 3
    return 0
