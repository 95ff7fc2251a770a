"""watch: run what is stale, then again whenever something a pipeline reads changes.

Each cycle re-loads the specs (an invalid spec is reported, located, and the
watcher waits for the next save), re-computes what to watch (specs, params
files, ``deps``, ``inputs`` paths, ``call`` modules), and runs the stale part
of the DAG with the same Runner, effects and repository lock as
``lockgate run``, holding the lock only while it runs. Events for paths a
stage writes (``outs``, ``metrics``) are ignored, so a run never triggers
itself. One line per cycle on stderr: what changed, what ran, the outcome.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from lockgate.cli.main import OVERRIDES, Obj
from lockgate.cli.signals import install_interrupts
from lockgate.errors import LockgateError, SpecError, UsageError

SHOW_CHANGED = 3  # paths named per cycle line
SHOW_STAGES = 6  # stage names per outcome kind


@click.command()
@click.argument("pipeline", required=False, metavar="[PIPELINE]")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Stages to run at once [default: number of cores].")
@OVERRIDES
@click.option("--debounce", type=click.FloatRange(min=0.0), default=0.2, show_default=True,
              metavar="SECONDS", help="Wait this long after the last change before running.")
@click.pass_obj
def watch(obj: Obj, pipeline, jobs, overrides, debounce) -> None:
    """Run what is stale in PIPELINE (all pipelines when none), then again on every change.

    Watches the specs, params files, every dependency and input path, and the
    code of `call` stages; a burst of saves starts one run. A failing stage or
    an invalid spec is reported and watching goes on. Ctrl-C stops: 0 when
    idle, 130 when it interrupted a run (143 for SIGTERM; cache and lock stay
    consistent).
    """
    from lockgate.executor.local import LocalExecutor
    from lockgate.watch import Watcher

    if overrides:  # an experiment rewrites the params file it watches: it would never settle
        raise UsageError("watch runs the committed params (edit them and save); for an experiment, "
                         "use `lockgate run -p KEY=VALUE`")
    project = obj.project
    names = [str(project.spec_path(pipeline))] if pipeline else []
    interrupts = install_interrupts()
    executor = LocalExecutor(jobs)
    session = _Session(project, names, tuple(overrides), executor)
    watcher = None
    code = 0
    try:
        session.load(startup=True)
        watcher = session.watcher = Watcher(session.paths(), session.cycle, debounce, ignore=session.ignored)
        watcher.start()  # before the first run: a save during it starts the next one
        session.cycle(set())
        click.echo(f"watching {len(watcher.paths)} paths (Ctrl-C to stop)", err=True)
        watcher.serve()
    except KeyboardInterrupt:
        if session.interrupted:
            click.echo("interrupted: finished stages are recorded; cache and lock are consistent", err=True)
            code = interrupts.exit_code  # 130 after Ctrl-C, 143 after SIGTERM
        else:
            click.echo("stopped watching", err=True)
    finally:
        if watcher is not None:
            watcher.stop()
        executor.close()
    sys.exit(code)


class _Session:
    """What one ``lockgate watch`` remembers between cycles."""

    def __init__(self, project, names: list[str], overrides: tuple[str, ...], executor) -> None:
        self.project = project
        self.names = names
        self.overrides = overrides
        self.executor = executor
        self.pipelines: list = []
        self.watched: set[Path] = set()
        self.outs: tuple[Path, ...] = ()
        self.modules: set[Path] = set()
        self.watcher = None
        self.interrupted = False

    # -- what to watch ------------------------------------------------------------------

    def load(self, *, startup: bool = False) -> bool:
        """Re-load the specs; False (errors printed) when they are invalid."""
        try:
            self.pipelines = self.project.load_all(self.names, self.overrides)
        except SpecError as exc:
            for issue in exc.issues:
                click.echo(str(issue), err=True)
            return False
        except LockgateError as exc:
            if startup:
                raise  # no such pipeline, no pipelines at all: a usage error (exit 2)
            click.echo(f"error: {exc}", err=True)
            return False
        self._compute()
        return True

    def _compute(self) -> None:
        root = self.project.root
        from lockgate.codegraph import CodeGraph
        from lockgate.hashing import hash_file

        # every repository module a `call` stage's module imports, transitively: an edit
        # to any of them changes the stage's fingerprint (a new graph: files come and go)
        graph = CodeGraph(root, hash_file, packages_cache=self.project.layout.packages)
        watched: set[Path] = set()
        outs: set[Path] = set()
        calls: set[str] = set()
        for pipeline in self.pipelines:
            watched.update(root / path for path in pipeline.read_paths())
            outs.update(root / path for path in pipeline.written_paths())
            calls.update(str(s.run).partition(":")[0] for s in pipeline.stages.values() if s.kind == "call")
        modules = {m.path for module in sorted(calls) for m in graph.modules(module)}
        self.watched = watched | modules
        self.outs = tuple(sorted(outs))
        self.modules = modules

    def paths(self) -> set[Path]:
        """The specs (or the pipelines folder, so new specs count) plus the last valid
        spec's inputs: a broken spec keeps the last watched set."""
        base = {Path(name) for name in self.names} if self.names else {self.project.pipelines_dir}
        return base | self.watched

    def ignored(self, path: Path) -> bool:
        """Paths the run itself writes, and files beside the specs that are not specs
        (a temporary file an editor renames over a spec still counts: as the rename)."""
        if path.parent == self.project.pipelines_dir and path.suffix not in (".yaml", ".yml"):
            return True
        return any(path == out or out in path.parents for out in self.outs)

    # -- one cycle -----------------------------------------------------------------------

    def cycle(self, changed: set[Path]) -> None:
        head = self._changed(changed)
        started = time.monotonic()
        if changed and not self.load():
            click.echo(f"{head} -> spec error; fix it and save (still watching)", err=True)
            self._rewatch()
            return
        self._rewatch()
        if not self.pipelines:
            click.echo(f"{head} -> spec error; fix it and save (still watching)", err=True)
            return
        self._forget_bytecode(changed)
        try:
            outcomes = self._run()
        except LockgateError as exc:
            click.echo(f"{head} -> error: {exc} (still watching)", err=True)
            return
        click.echo(f"{head} -> {summarize(outcomes, time.monotonic() - started, several=len(self.pipelines) > 1)}",
                   err=True)
        details(outcomes)

    def _rewatch(self) -> None:
        if self.watcher is not None:
            self.watcher.set_paths(self.paths())

    def _run(self) -> list:
        from lockgate.executor.session import SessionResult, run_session

        def waiting(holder: str) -> None:
            click.echo(f"waiting for another lockgate run to finish ({holder or 'unknown'})...", err=True)

        result = SessionResult()
        try:
            run_session(self.project, self.pipelines, self.executor, on_wait=waiting, result=result)
        except KeyboardInterrupt:
            self.interrupted = True  # the runner cancelled the rest and wrote the lock
            raise
        return result.outcomes

    def _forget_bytecode(self, changed: set[Path]) -> None:
        from lockgate.codegraph import forget_bytecode

        for path in changed & self.modules:  # an edited `call` module: never its stale .pyc
            forget_bytecode(path)

    def _changed(self, changed: set[Path]) -> str:
        if not changed:
            return "start"
        shown = sorted(self.project.relative(p) for p in changed)
        more = f" (+{len(shown) - SHOW_CHANGED} more)" if len(shown) > SHOW_CHANGED else ""
        return "changed " + ", ".join(shown[:SHOW_CHANGED]) + more


def summarize(outcomes: list, seconds: float, *, several: bool = False) -> str:
    """``ran features, train; cached 5 (1.4s) ok``: named stages for what happened,
    counts for what did not, then the outcome."""
    from lockgate.executor.base import Outcome

    by: dict[Outcome, list[str]] = {}
    for o in outcomes:
        by.setdefault(o.outcome, []).append(f"{o.pipeline}:{o.stage}" if several else o.stage)
    parts = []
    for kind in (Outcome.RAN, Outcome.RESTORED, Outcome.FAILED, Outcome.BLOCKED):
        if by.get(kind):
            names = by[kind]
            more = f" (+{len(names) - SHOW_STAGES} more)" if len(names) > SHOW_STAGES else ""
            parts.append(f"{kind.value} {', '.join(names[:SHOW_STAGES])}{more}")
    if not parts:
        parts.append("nothing ran")
    for kind in (Outcome.CACHED, Outcome.SKIPPED, Outcome.CANCELLED):
        if by.get(kind):
            parts.append(f"{kind.value} {len(by[kind])}")
    if Outcome.FAILED in by:
        verdict = "failed"
    elif Outcome.CANCELLED in by:
        verdict = "interrupted"
    elif Outcome.BLOCKED in by:
        verdict = "blocked"
    else:
        verdict = "ok"
    return f"{'; '.join(parts)} ({seconds:.1f}s) {verdict}"


def details(outcomes: list) -> None:
    """Why a stage failed or was blocked, indented under the cycle line."""
    from lockgate.executor.base import Outcome

    for o in outcomes:
        if o.outcome not in (Outcome.FAILED, Outcome.BLOCKED) or not o.message:
            continue
        click.echo(f"  {o.stage}: {o.message.splitlines()[0]}", err=True)
        for line in o.message.splitlines()[1:]:
            click.echo(f"    {line}", err=True)
        if o.log_path:
            click.echo(f"    log: {o.log_path}", err=True)


COMMANDS = [watch]
