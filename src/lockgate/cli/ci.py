"""``lockgate run --ci --frozen --base --summary``: the options, the revisions checked
before anything runs, and the lock-is-stale check and Markdown summary after it.

Its own module so that `run` does not load the git-revision commands to start;
git, diffs and reports load only when one of these options is given.
"""

from __future__ import annotations

import os
from pathlib import Path

import click


def ci_options(fn):
    """The ``--ci --frozen --base --summary`` options of ``lockgate run``."""
    options = [
        click.option("--ci", is_flag=True,
                     help="CI mode: after the run, write a Markdown summary (to --summary, or "
                          "appended to $GITHUB_STEP_SUMMARY when set)."),
        click.option("--frozen", is_flag=True,
                     help="Exit 1 if the lock files differ from the ones committed in HEAD "
                          "(a change was committed without its lock)."),
        click.option("--base", default=None, metavar="REV",
                     help="Revision to diff metrics against in the summary [default: HEAD]."),
        click.option("--summary", "summary_file", default=None,
                     type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the Markdown summary to FILE."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


class CiRun:
    """The CI part of a run: revisions checked before anything runs, then the lock-is-stale
    check and the summary after it."""

    def __init__(self, root: Path, *, frozen: bool, base: str, summary: Path | None) -> None:
        self.root = root
        self.frozen = frozen
        self.base = base
        self.summary = summary

    @classmethod
    def start(cls, project, *, ci: bool, frozen: bool, base: str | None,
              summary: Path | None) -> CiRun | None:
        """None unless one of the options was given; a bad revision is a UsageError now,
        before anything runs (exit 2)."""
        from lockgate import gitrev

        if not (ci or frozen or base or summary):
            return None
        gitrev.require_repo(project.root)
        base = base or "HEAD"
        gitrev.resolve(project.root, base)
        if frozen:
            gitrev.resolve(project.root, "HEAD")
        return cls(project.root, frozen=frozen, base=base, summary=summary)

    def finish(self, pipelines: list, outcomes: list, code: int, *, quiet: bool = False) -> int:
        """Check the locks, write the summary; the run's exit code, or 1 when a lock is stale."""
        from lockgate import diff, gitrev
        from lockgate.reports.summary import CiReport, render, render_drift_text

        names = [p.name for p in pipelines]
        current = gitrev.read_locks(self.root, None, names)
        drift = None
        if self.frozen:
            committed = gitrev.read_locks(self.root, "HEAD", names)
            drift = [d for name in names for d in diff.lock_drift(committed.get(name), current.get(name), name)]
            if drift:
                click.echo(render_drift_text(drift), err=True)
                if code in (0, 3):
                    code = 1
            elif not quiet:
                click.echo("lock files match HEAD", err=True)
        base_locks = gitrev.read_locks(self.root, self.base, names)
        report = CiReport(outcomes=outcomes, locks=current, exit_code=code, base=self.base,
                          metric_changes=diff.metrics_diff(base_locks, current), drift=drift)
        self._write(render(report))
        return code

    def _write(self, text: str) -> None:
        if self.summary is not None:
            self.summary.parent.mkdir(parents=True, exist_ok=True)
            self.summary.write_text(text, encoding="utf-8")
            return
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(text + "\n")
