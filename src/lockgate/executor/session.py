"""One run session: everything around ``Runner.run`` that `lockgate run`, `watch` and
``lockgate.api.run`` share, written once.

The repository lock (one run at a time), ``.lockgate/`` and its .gitignore, the
processes of shell stages a killed lockgate left running (killed), an
experiment's set-up and clean-up when params are overridden, the effects
(registry and audit log), the runner, and each pipeline's lock path. The
caller owns the executor (and closes it: only it knows whether an interrupted
run may wait for its threads) and the rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from lockgate.executor.base import Executor, OnEvent, StageOutcome
from lockgate.executor.runner import Runner, RunOptions, exit_code


@dataclass
class SessionResult:
    outcomes: list[StageOutcome] = field(default_factory=list)
    experiment: Any = None  # executor.experiment.Experiment, for a run with -p overrides
    put_back: list[str] = field(default_factory=list)  # outputs restored after an experiment

    @property
    def exit_code(self) -> int:
        return exit_code(self.outcomes)


def run_session(
    project: Any,
    pipelines: list[Any],
    executor: Executor,
    options: RunOptions = RunOptions(),
    *,
    on_event: OnEvent | None = None,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    experiment_name: str | None = None,
    before: Callable[[], None] | None = None,
    result: SessionResult | None = None,
) -> SessionResult:
    """Run ``pipelines`` (in order) holding the repository lock. Pipelines loaded with
    ``-p`` overrides run as one experiment (see ``executor.experiment``). ``before`` runs
    under the lock first (``--pull``). Pass ``result`` to keep what finished when the run
    is interrupted (KeyboardInterrupt propagates; the lock files are written)."""
    from lockgate.executor import experiment as experiments
    from lockgate.executor.effects import Effects
    from lockgate.executor.repolock import repo_lock
    from lockgate.executor.worker import accept_new_stages

    result = result if result is not None else SessionResult()
    overridden = any(p.overrides for p in pipelines)
    with repo_lock(project.state_dir, wait=wait, on_wait=on_wait):
        experiments.undo_interrupted(project.state_dir)  # an experiment killed mid-run
        _stop_leftovers(project.state_dir)  # shell stages a killed lockgate left running
        accept_new_stages()  # an earlier run in this process (`watch`) may have been interrupted
        if before is not None:
            before()
        exp = None
        if overridden and not options.dry_run:
            overrides = next(p.overrides for p in pipelines if p.overrides)
            exp = result.experiment = experiments.start(project, pipelines, overrides, experiment_name)
            options = replace(options, experiment=exp.name)
        runner = Runner(project.root, executor, options=options, on_event=on_event,
                        effects=Effects(project.root, experiment=exp.name if exp else ""))
        code: int | None = None
        try:
            for pipeline in pipelines:
                lock_path = exp.lock_path(pipeline.name) if exp else project.lock_path(pipeline.name)
                result.outcomes += runner.run(pipeline, lock_path)
            code = result.exit_code
        finally:
            runner.close()
            if exp is not None:
                result.put_back = experiments.finish(project, exp, code)
    return result


def _stop_leftovers(state_dir: Any) -> None:
    """Kill the processes of shell stages whose lockgate died with their supervisor (see
    ``executor.leftovers``); under the repository lock, no live run's are among them."""
    import logging

    from lockgate.executor.leftovers import kill_leftovers

    killed = kill_leftovers(state_dir)
    if killed:
        logging.getLogger(__name__).warning(
            "killed %d process%s that shell stages of a killed lockgate left running",
            killed, "" if killed == 1 else "es")
