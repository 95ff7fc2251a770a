"""run: the command that brings what is built up to date (`status` looks: status_cmd.py)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from lockgate.cli.ci import CiRun, ci_options
from lockgate.cli.main import Obj
from lockgate.errors import UsageError


def split_targets(obj: Obj, args: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """``[PIPELINE] [STAGE...]``: the first word names a pipeline if one has that name."""
    project = obj.project
    if not args:
        return [], []
    names = {p.stem for p in project.spec_paths()}
    first = args[0]
    if first in names or first.endswith((".yaml", ".yml")):
        return [first], list(args[1:])
    if len(names) == 1:
        return [], list(args)
    raise UsageError(
        f"'{first}' is not a pipeline ({', '.join(sorted(names)) or 'none here'}); "
        "write `lockgate run PIPELINE STAGE...`"
    )


@click.command(short_help="Run what is stale, in parallel.")
@click.argument("args", nargs=-1, metavar="[PIPELINE] [STAGE...]")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Stages to run at once [default: number of cores].")
@click.option("-f", "--force", is_flag=True, help="Run the selected stages even if nothing changed.")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would run; run nothing.")
@click.option("-k", "--keep-going", is_flag=True, help="After a failure, keep running stages that do not need it.")
@click.option("--downstream", is_flag=True, help="Run the named stages and everything after them (not before).")
@click.option("-p", "--param", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a param (repeatable): the run is an experiment (see `lockgate exp`).")
@click.option("--name", default=None, metavar="NAME", help="Name the experiment a -p run makes.")
@click.option("--allow-promote", is_flag=True,
              help="Let a run with -p overrides promote (the registry and audit log record them).")
@click.option("--no-wait", is_flag=True, help="Fail at once if another run holds the repository.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON on stdout.")
@click.option("--executor", "executor_name", default="local", show_default=True, metavar="local|dask|dask://HOST:PORT",
              help="Where stages run: threads here, a Dask LocalCluster, or a running Dask scheduler.")
@click.option("--pull", "pull_first", is_flag=True,
              help="First fetch what the lock files refer to from the default remote (restore, not re-run).")
@ci_options
@click.pass_obj
def run(obj: Obj, args, jobs, force, dry_run, keep_going, downstream, overrides, name, allow_promote, no_wait,
        as_json, executor_name, pull_first, ci, frozen, base, summary_file) -> None:
    """Run what is stale in PIPELINE (all pipelines when none), in parallel.

    Stages whose fingerprint is unchanged are skipped; known fingerprints are
    restored from the cache. Progress goes to stderr while the run goes on (a
    live display on a terminal, else one line per stage that ran); the record
    goes to stdout at the end (the summary table after a live display, and the
    counts line).

    Exit 0 done, 1 a stage failed, 3 a gate blocked. Ctrl-C or SIGTERM stops
    the run: running shell stages are killed, no stage starts, finished ones
    stay recorded in the lock; exit 130 (Ctrl-C) or 143 (SIGTERM).
    """
    from lockgate.cli.signals import install_interrupts

    interrupts = install_interrupts()  # first: a Ctrl-C while specs load exits as cleanly as one mid-run
    live = _LiveRun(obj.project, quiet=as_json)
    with live.interruptible(interrupts):
        from lockgate.executor.runner import RunOptions

        pipelines, stages = split_targets(obj, args)
        loaded = obj.project.load_all(pipelines, overrides)
        if stages and len(loaded) > 1:
            loaded = []  # stage names need their pipeline named first (split_targets says so)
        ci_run = CiRun.start(obj.project, ci=ci, frozen=frozen, base=base, summary=summary_file)
        options = RunOptions(tuple(stages), force, dry_run, keep_going, downstream, allow_promote=allow_promote)
        live.run(loaded, options, executor_name, jobs, wait=not no_wait, experiment_name=name,
                 pull_first=pull_first and not dry_run)
    code = live.report(dry_run=dry_run)
    if ci_run is not None:  # --ci/--frozen/--base/--summary: lock-is-stale check, then the summary
        code = ci_run.finish(loaded, live.result.outcomes, code, quiet=as_json)
    sys.exit(code)


class _LiveRun:
    """One `lockgate run` as the terminal sees it: the executor, the live display, the
    session, and the report at the end (or the clean exit after Ctrl-C or SIGTERM)."""

    def __init__(self, project, *, quiet: bool) -> None:
        self.project = project
        self.quiet = quiet
        self.executor = None  # set once the run begins
        self.display = None
        self.result = None  # the session's outcomes, filled in as stages end

    @contextmanager
    def interruptible(self, interrupts) -> Iterator[None]:
        try:
            yield
        except KeyboardInterrupt:
            # The lock was written by the runner; a `call` stage still running in a thread
            # cannot be stopped, and only ever writes temporary files: do not wait for it.
            if self.executor is not None:
                self.executor.close(wait=False)
            click.echo("interrupted: finished stages are recorded; cache and lock are consistent"
                       if self.executor is not None else "interrupted before the run began; nothing ran", err=True)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(interrupts.exit_code)  # 130 after Ctrl-C, 143 after SIGTERM

    def run(self, loaded, options, executor_name: str, jobs: int | None, *, wait: bool,
            experiment_name: str | None, pull_first: bool) -> None:
        from lockgate.cli.render import RunDisplay
        from lockgate.executor.local import LocalExecutor
        from lockgate.executor.session import SessionResult, run_session

        self.result = SessionResult()
        # Progress goes to stderr while the run goes on; the record goes to stdout at
        # the end; neither repeats the other (see lockgate.cli.render).
        self.display = RunDisplay(quiet=self.quiet)
        local = executor_name == "local"
        self.executor = LocalExecutor(jobs) if local else _make_executor(executor_name, jobs, options.dry_run)
        with self.display:
            run_session(self.project, loaded, self.executor, options, on_event=self.display.event, wait=wait,
                        on_wait=self.display.waiting, experiment_name=experiment_name,
                        before=(lambda: _pull_missing(self.project)) if pull_first else None, result=self.result)
        self.executor.close()

    def report(self, *, dry_run: bool) -> int:
        """The record on stdout (the summary, or JSON); returns the exit code."""
        result = self.result
        if self.quiet:
            data = {"stages": [o.to_dict() for o in result.outcomes], "exit_code": result.exit_code}
            if result.experiment is not None:
                data["experiment"] = result.experiment.name
            click.echo(json.dumps(data, indent=2))
        else:
            self.display.summary(result.outcomes, dry_run=dry_run)
        if result.experiment is not None:
            name = result.experiment.name
            click.echo(f"experiment '{name}' ({' '.join(result.experiment.overrides)}): the workspace's "
                       f"locks, params and registry are unchanged; `lockgate exp diff {name}` compares, "
                       f"`lockgate exp apply {name}` keeps it", err=True)
        return result.exit_code


def _make_executor(name: str, jobs: int | None, dry_run: bool):
    """``--executor``: a dry run decides only, so it never starts a cluster."""
    from lockgate.executor.local import LocalExecutor

    if name != "dask" and not name.startswith("dask://"):
        raise UsageError(f"--executor {name!r}: use local, dask, or dask://HOST:PORT")
    if dry_run:
        return LocalExecutor(jobs)
    from lockgate.executor.dask import DaskExecutor

    return DaskExecutor.from_option(name, jobs)


def _pull_missing(project) -> None:
    """``--pull``: objects the lock files name that the local cache lacks, then the data
    and outputs missing from the workspace; a failure only means that stage runs again,
    so it warns."""
    from lockgate.cli.cache_cmds import pull_referenced, restore_missing

    report = pull_referenced(project, None)
    if report.transferred:
        click.echo(f"pulled {len(report.transferred)} objects ({report.bytes / 1e6:.1f} MB)", err=True)
    for digest, reason in sorted(report.failed.items()):
        click.echo(f"warning: not pulled {digest[:12]}: {reason}; its stage will run", err=True)
    restored = restore_missing(project)
    if restored:
        click.echo(f"restored {len(restored)} missing paths: {', '.join(restored[:5])}", err=True)


def _ensure_state_dir(state: Path) -> None:
    from lockgate.project import ensure_state_dir

    ensure_state_dir(state)


COMMANDS = [run]
