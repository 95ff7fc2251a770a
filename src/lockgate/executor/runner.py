"""Run a pipeline: decide per stage (``executor.decide``: cached, restore, run, skip,
block), apply the verdict (hand jobs to an executor, restore from the cache,
record gate decisions), and record results in the run-cache and the lock file.
A dry run decides every stage and applies nothing.

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate.executor.base import Executor, OnEvent, Outcome, RunEvent, StageOutcome
from lockgate.executor.decide import AliasMetrics, Act, Decider, PipelineRun, Verdict, bad_parent
from lockgate.executor.state import Workspace
from lockgate.errors import LockgateError
from lockgate.fingerprint import Record
from lockgate.graph.pipeline import Pipeline, resolve_artifact
from lockgate.lock import LockFile, StageLock
from lockgate.runcache import RunCache

if TYPE_CHECKING:  # imported where used: a run with nothing to do (and `status`) needs none of them
    from concurrent.futures import Future

    from lockgate.executor.worker import Job, JobResult
    from lockgate.executor.effects import Effects
    from lockgate.gates import Decision
    from lockgate.graph.stage import Stage
    from lockgate.store.base import ObjectStore
    from lockgate.store.statcache import StatCache

log = logging.getLogger(__name__)

LOCK_WRITE_INTERVAL = 0.5
"""Seconds between lock rewrites during a run. A stage finished but not yet in the
lock is still in the run-cache, so a killed run loses no work; rewriting a
1000-stage lock after every stage would cost O(n^2)."""

@dataclass(frozen=True)
class RunOptions:
    targets: tuple[str, ...] = ()
    force: bool = False
    dry_run: bool = False
    keep_going: bool = False
    downstream: bool = False
    experiment: str = ""  # a `-p` run: its gates are not audited, its promotions held back ...
    allow_promote: bool = False  # ... unless this is set (`--allow-promote`)


@dataclass(frozen=True)
class _Running:
    name: str
    job: Job
    verdict: Verdict  # Act.RUN: the fingerprint, the gate decisions, why it runs


class Runner:
    """Runs pipelines on an executor. The store, stat cache and run-cache default to the
    repository's ``.lockgate/``; tests pass their own (an in-memory store, say)."""

    def __init__(
        self,
        root: Path,
        executor: Executor,
        *,
        options: RunOptions = RunOptions(),
        on_event: OnEvent | None = None,
        alias_metrics: AliasMetrics | None = None,
        effects: Effects | None = None,
        store: ObjectStore | None = None,
        stats: StatCache | None = None,
        runcache: RunCache | None = None,
    ) -> None:
        from lockgate.project import Layout, ensure_state_dir

        self.root = root
        self.executor = executor
        self.options = options
        self.on_event = on_event or (lambda event: None)
        self.effects = effects  # the registry and audit log, or None
        self.alias_metrics = alias_metrics or (
            effects.alias_metrics if effects is not None else (lambda pipeline, alias, stage: None)
        )
        self.layout = Layout(ensure_state_dir(Layout.of(root).state))
        if store is None:
            from lockgate.store.local import LocalStore

            store = LocalStore(self.layout.cache)
        if stats is None:
            from lockgate.store.statcache import StatCache

            stats = StatCache(self.layout.statcache)
        self.store = store
        self.stats = stats
        self.runcache = runcache if runcache is not None else RunCache(self.layout.runcache)
        self.workspace = Workspace(root, self.stats, self.store, keep_data=not options.dry_run)
        self.decider = Decider(self.workspace, self.runcache, self.alias_metrics,
                               experiment=bool(options.experiment), allow_promote=options.allow_promote)
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
        run = PipelineRun(pipeline, lock, lock_path, selected)
        if self.options.force:  # `run -f train` forces train, not the ancestors it needs
            downstream = self.options.downstream  # the targets and what follows: all forced
            run.forced = frozenset(selected if downstream or not targets else targets)
        run.lock_written = time.monotonic()  # the first rewrite waits for the interval too
        for name, entry in run.lock.stages.items():  # what earlier runs produced
            run.outputs[name] = entry.outputs
            self._remember_metrics(run, entry.outputs, entry.metrics, name)
        try:
            self._loop(run)
        finally:
            if not self.options.dry_run:
                self._write_lock(run, prune=not targets)
        return [run.outcomes[name] for name in selected if name in run.outcomes]

    # -- the scheduling loop ------------------------------------------------------

    def _loop(self, run: PipelineRun) -> None:
        pipeline = run.pipeline
        rank = {name: i for i, name in enumerate(run.selected)}
        pending = set(run.selected)
        # parents still to settle, per stage: a stage is ready when its count reaches 0
        waiting = {n: sum(1 for p in pipeline.parents(n) if p in pending) for n in run.selected}
        ready = [(rank[n], n) for n in run.selected if waiting[n] == 0]
        heapq.heapify(ready)
        running: dict[Future[JobResult], _Running] = {}
        stop = False

        def settle(name: str) -> None:
            for child in pipeline.children(name):
                if child in pending and child in waiting:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        heapq.heappush(ready, (rank[child], child))

        try:
            while (ready and not stop) or running:
                with self.executor.batch():  # stages ready together are placed together
                    while ready and not stop:
                        _, name = heapq.heappop(ready)
                        pending.discard(name)
                        submitted = self._start(run, name)
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
                    producers = self._rebuild_corrupt(run, job, future)
                    if producers:
                        pending.update([*producers, job.name])
                        waiting[job.name] = len(producers)
                        for producer in producers:
                            heapq.heappush(ready, (rank[producer], producer))
                        continue
                    ok = self._finish(run, job, future)
                    settle(job.name)
                    if not ok and not self.options.keep_going:
                        stop = True
            for name in sorted(pending, key=rank.__getitem__):  # parents are settled first
                upstream = bad_parent(run, name)
                if upstream:
                    self._end(run, name, Outcome.SKIPPED, message=upstream)
                else:
                    self._end(run, name, Outcome.CANCELLED,
                              message="not started: another stage failed (--keep-going runs the rest)")
        except KeyboardInterrupt:
            for future in running:
                future.cancel()  # a job still queued never starts
            self.executor.cancel_running()  # nor does one a worker is picking up right now
            for future, job in running.items():
                ended = future.done() and not future.cancelled()
                # a job the interrupt stopped, or kept from starting, is cancelled, not failed
                if ended and not (future.exception() is None and getattr(future.result(), "cancelled", False)):
                    self._finish(run, job, future)  # it ended on its own before the interrupt
                else:
                    self._end(run, job.name, Outcome.CANCELLED, message="interrupted")
            for name in sorted(pending - set(run.outcomes), key=rank.__getitem__):
                self._end(run, name, Outcome.CANCELLED, message="interrupted")
            raise

    # -- one stage: decide, then apply ------------------------------------------------

    def _start(self, run: PipelineRun, name: str) -> tuple[Future[JobResult], _Running] | None:
        verdict = self.decider.decide(run, name)
        if self.options.dry_run:
            self._preview(run, name, verdict)
            return None
        return self._apply(run, name, verdict)

    def _preview(self, run: PipelineRun, name: str, verdict: Verdict) -> None:
        """A dry run: say what would happen, change nothing."""
        if verdict.act in (Act.RUN, Act.RESTORE) or verdict.outcome is Outcome.STALE:
            run.stale.add(name)
            self._end(run, name, Outcome.STALE, reasons=verdict.preview_reasons)
        else:  # settled, or blocked: the gate decision is shown, not recorded
            self._end(run, name, verdict.outcome, reasons=list(verdict.reasons), message=verdict.message,
                      decisions=[d.to_record() for d in verdict.decisions])

    def _apply(self, run: PipelineRun, name: str, verdict: Verdict) -> tuple[Future[JobResult], _Running] | None:
        if verdict.act is Act.RUN:
            return self._submit(run, name, verdict)
        if verdict.act is Act.RESTORE:
            if not self._restored(name, verdict.outputs or {}, list(verdict.restore)):
                run.unrestorable.add(name)  # a stored copy was corrupt (now dropped): decide again
                return self._start(run, name)
            hit = verdict.from_runcache
            if hit is not None:
                assert verdict.record is not None
                self._record(run, name, verdict.record, hit["outputs"], hit.get("metrics", {}),
                             float(hit.get("duration", 0.0)), verdict.decisions)
        elif verdict.act is Act.BLOCK:
            self._block(run, name, verdict.decisions)
        self._end(run, name, verdict.outcome, reasons=list(verdict.reasons), message=verdict.message,
                  decisions=[d.to_record() for d in verdict.decisions])
        return None

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

    def _block(self, run: PipelineRun, name: str, decisions: tuple[Decision, ...]) -> None:
        """Record a gate that did not hold in the lock, and audit it when it is news."""
        entry = run.lock.stages.get(name)
        if entry is None:  # never ran: keep the decision in the lock all the same
            stage = run.pipeline.stages[name]
            entry = run.lock.stages[name] = StageLock(fingerprint="", kind=stage.kind, definition="")
        records = [d.to_record() for d in decisions]
        if entry.gates == records:
            return  # the same decision on the same values as last time is not news: audited once
        if self.effects is not None and not self.options.experiment:
            run.lock.audit = self.effects.gates(run.pipeline, name, records, False)
        entry.gates = records
        run.dirty = True

    # -- running ----------------------------------------------------------------------

    def _submit(self, run: PipelineRun, name: str, verdict: Verdict) -> tuple[Future[JobResult], _Running] | None:
        from lockgate.executor.worker import Job, run_job

        stage = run.pipeline.stages[name]
        record = verdict.record
        assert record is not None
        log_path = self.layout.log(run.pipeline.name, name)
        try:
            extra = self._job_extra(run, stage)
        except LockgateError as exc:  # e.g. a registry file that cannot be read
            self._end(run, name, Outcome.FAILED, message=str(exc))
            return None
        job = Job(
            stage=stage, root=str(self.root), layout=self.layout, log_path=str(log_path),
            inputs=verdict.job_inputs or {}, deps=dict(record.deps), input_paths=verdict.input_paths or {},
            input_digests=dict(record.inputs), extra=extra,
        )
        self.on_event(RunEvent(run.pipeline.name, name, "start"))
        future = self.executor.submit(run_job, job, resources=stage.resources or None)
        return future, _Running(name, job, verdict)

    def _job_extra(self, run: PipelineRun, stage: Stage) -> dict[str, Any]:
        extra: dict[str, Any] = {"pipeline": run.pipeline.name}
        alias = stage.with_.get("alias") if stage.kind == "uses" else None
        if isinstance(alias, str):
            extra["alias_metrics"] = self.alias_metrics(run.pipeline, alias, stage.name)
        return extra

    def _rebuild_corrupt(self, run: PipelineRun, job: _Running, future: Future[JobResult]) -> list[str]:
        """A stage whose input object was corrupt (and has been dropped): run its
        producer again, then the stage, once. Returns the producers to re-plan (the stage waits for them)."""
        try:
            result: JobResult = future.result()
        except Exception:
            return []
        if result.ok or not result.corrupt_inputs or job.name in run.retried:
            return []
        run.retried.add(job.name)
        stage = run.pipeline.stages[job.name]
        known = {**run.pipeline.producers}
        producers = []
        for arg in result.corrupt_inputs:
            artifact = resolve_artifact(stage.inputs[arg], stage, known)
            if artifact in run.pipeline.producers:
                producers.append(run.pipeline.producers[artifact])
        if not producers:
            return []
        log.warning("stage '%s': a cached input was corrupt; rebuilding %s", job.name, ", ".join(producers))
        for name in (*producers, job.name):
            run.outcomes.pop(name, None)
        # run them whatever their lock says: the record itself may be what is wrong
        run.forced = run.forced | frozenset(producers)
        return producers

    def _finish(self, run: PipelineRun, running: _Running, future: Future[JobResult]) -> bool:
        from lockgate.executor.worker import JobResult

        name, job, verdict = running.name, running.job, running.verdict
        record, decisions = verdict.record, verdict.decisions
        assert record is not None
        log_rel = self._rel(Path(job.log_path))
        try:
            result: JobResult = future.result()
        except Exception as exc:  # the executor itself failed (a worker died, ...)
            result = JobResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if not result.ok:
            message = result.error + (f"\n{result.log_tail}" if result.log_tail else "")
            self._end(run, name, Outcome.FAILED, duration=result.duration, message=message,
                      log_path=log_rel)
            return False
        applied = []
        if self.effects is not None and not self.options.dry_run:
            try:  # effects first: a run-cache entry means its promotion happened
                if decisions and not self.options.experiment:
                    records = [d.to_record() for d in decisions]
                    run.lock.audit = self.effects.gates(run.pipeline, name, records, True)
                for effect in result.effects if not verdict.rebuild else ():
                    applied.append(self.effects.apply(run.pipeline, name, effect))
                    run.lock.audit = applied[-1].get("audit", run.lock.audit)
            except (LockgateError, ValueError, TypeError, OSError) as exc:
                self._end(run, name, Outcome.FAILED, duration=result.duration, log_path=log_rel,
                          message=f"its outputs are stored, but recording the promotion failed: {exc}")
                return False
        stage = run.pipeline.stages[name]
        if stage.uses_run_cache:  # not for always_changed, persist or cache: false (DVC's rule)
            self.runcache.put(record.fingerprint, result.outputs, result.metrics, result.duration)
        self._record(run, name, record, result.outputs, result.metrics, result.duration, decisions)
        message = "; ".join(
            f"version {a['version']} already {_alias_of(result.effects, i)}" if a.get("unchanged")
            else f"promoted version {a['version']}" + (f" (was {a['previous']})" if a.get("previous") else "")
            for i, a in enumerate(applied)
        )
        self._end(run, name, Outcome.RAN, duration=result.duration, reasons=list(verdict.reasons),
                  log_path=log_rel, decisions=[d.to_record() for d in decisions], message=message)
        return True

    def _record(self, run: PipelineRun, name: str, record: Record, outputs: dict[str, dict[str, Any]],
                metrics: dict[str, Any], duration: float, decisions: tuple[Decision, ...]) -> None:
        stage = run.pipeline.stages[name]
        previous = run.lock.stages.get(name)
        gates = [d.to_record() for d in decisions]
        if (previous is not None and previous.fingerprint == record.fingerprint and previous.outputs == outputs
                and previous.metrics == metrics and (not decisions or previous.gates == gates)):
            # the same work gave the same result: the entry (its duration too) stays as it was,
            # so rebuilding outputs in a fresh clone leaves the committed lock byte-identical
            run.outputs[name] = outputs
            self._remember_metrics(run, outputs, metrics, name)
            return
        run.lock.stages[name] = StageLock(
            fingerprint=record.fingerprint, kind=stage.kind, definition=record.definition,
            code=record.code if isinstance(record.code, str) else dict(record.code),
            params=dict(record.params), inputs=dict(record.inputs),
            deps=dict(record.deps), outputs=outputs, metrics=metrics,
            gates=gates, duration=duration,
        )
        run.outputs[name] = outputs
        self._remember_metrics(run, outputs, metrics, name)
        run.dirty = True
        # at most every LOCK_WRITE_INTERVAL, and never more than ~10% of the time on big locks
        if time.monotonic() - run.lock_written >= max(LOCK_WRITE_INTERVAL, 10 * run.lock_cost):
            self._write_lock(run)

    def _remember_metrics(self, run: PipelineRun, outputs: dict[str, Any], metrics: dict[str, Any],
                          stage: str = "") -> None:
        for artifact, values in metrics.items():
            if artifact in outputs or artifact in run.pipeline.producers:
                run.metrics[artifact] = values
        spec = run.pipeline.stages.get(stage)
        if spec is not None and spec.kind == "cmd" and run.pipeline.producers.get(stage) == stage:
            merged: dict[str, Any] = {}
            for path in spec.metrics:  # every metrics file of the stage, in spec order
                merged.update(metrics.get(path, {}))
            run.metrics[stage] = merged

    def _write_lock(self, run: PipelineRun, prune: bool = False) -> None:
        if self.options.dry_run:
            return
        if prune:
            for gone in set(run.lock.stages) - set(run.pipeline.stages):
                del run.lock.stages[gone]
                run.dirty = True
        self._record_inputs(run, prune)
        if not run.dirty and run.lock_path.exists():
            return
        started = time.monotonic()
        run.lock.write(run.lock_path, cache_dir=self.layout.lockcache)
        run.lock_written = time.monotonic()
        run.lock_cost = run.lock_written - started
        run.dirty = False

    def _record_inputs(self, run: PipelineRun, prune: bool) -> None:
        """The ``inputs:`` paths this run hashed (and stored) go into the lock, so push,
        pull and gc see the raw data; with ``prune``, paths no longer inputs leave it."""
        paths = set(run.pipeline.inputs.values())
        for path, record in self.workspace.data.items():
            if path in paths and run.lock.inputs.get(path) != record:
                run.lock.inputs[path] = record
                run.dirty = True
        if prune:
            for gone in set(run.lock.inputs) - paths:
                del run.lock.inputs[gone]
                run.dirty = True

    def _end(self, run: PipelineRun, name: str, outcome: Outcome, *, duration: float = 0.0,
             reasons: list[str] | None = None, message: str = "", log_path: str = "",
             decisions: list[dict[str, Any]] | None = None) -> None:
        result = StageOutcome(
            stage=name, outcome=outcome, duration=duration, reasons=reasons or [],
            message=message, log_path=log_path, decisions=decisions or [],
            pipeline=run.pipeline.name,
        )
        run.outcomes[name] = result
        self.on_event(RunEvent(run.pipeline.name, name, "end", result))

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


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
