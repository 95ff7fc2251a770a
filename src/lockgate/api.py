"""The Python entry points for people who drive lockgate from code or notebooks.

Thin: each function does what one CLI command does, with the same core calls,
and returns values instead of printing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_pipeline(name_or_path: str, *, root: str | Path = ".", params: list[str] | tuple[str, ...] = ()) -> Any:
    """Load and compile one pipeline (a spec path or a name under pipelines/)."""
    from lockgate.project import Project

    return Project.find(root).load(name_or_path, tuple(params))


def run(
    pipeline: str | None = None,
    stages: tuple[str, ...] = (),
    *,
    root: str | Path = ".",
    params: tuple[str, ...] = (),
    jobs: int | None = None,
    force: bool = False,
    keep_going: bool = False,
    dry_run: bool = False,
) -> list[Any]:
    """Run what is stale, like `lockgate run`; returns each stage's StageOutcome.
    With ``params`` overrides it is an experiment (see `lockgate exp`): the
    workspace's lock files and registry are left as they were."""
    from lockgate.executor.local import LocalExecutor
    from lockgate.executor.runner import RunOptions
    from lockgate.executor.session import run_session
    from lockgate.project import Project

    project = Project.find(root)
    pipelines = project.load_all([pipeline] if pipeline else [], params)
    options = RunOptions(tuple(stages), force, dry_run, keep_going)
    executor = LocalExecutor(jobs)
    try:
        return run_session(project, pipelines, executor, options).outcomes
    finally:
        executor.close()
