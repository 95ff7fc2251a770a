"""Commands that read lock files across git revisions, and the lock merge driver.

``metrics show|diff``, ``params diff``, ``merge-driver install|run``. Lock files
at a revision come from git objects (``lockgate.gitrev``), so no checkout
and no cache is needed; the comparing is ``lockgate.diff``, the rendering
``lockgate.reports``. (``lockgate run --ci`` lives in ``cli.ci``.)
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lockgate.cli.main import Obj
from lockgate.errors import UsageError

REVS = click.argument("revs", nargs=-1, metavar="[A [B]]")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output (only JSON on stdout).")
AS_MD = click.option("--md", "as_md", is_flag=True, help="A Markdown table (for pull request comments).")
ALL = click.option("--all", "show_all", is_flag=True, help="List unchanged values too.")


def _sides(obj: Obj, revs: tuple[str, ...]) -> tuple[str | None, str | None, str, str]:
    """``[A [B]]`` -> (A, B, label A, label B): A defaults to HEAD, B to the workspace (None)."""
    from lockgate import gitrev

    if len(revs) > 2:
        raise UsageError(f"at most two revisions, got {len(revs)}: {' '.join(revs)}")
    root = obj.project.root
    gitrev.require_repo(root)
    a = revs[0] if revs else "HEAD"
    b = revs[1] if len(revs) > 1 else None
    for rev in (a, b):
        if not gitrev.is_workspace(rev):
            gitrev.resolve(root, rev)
    return (None if gitrev.is_workspace(a) else a, None if gitrev.is_workspace(b) else b,
            a if not gitrev.is_workspace(a) else gitrev.WORKSPACE, b or gitrev.WORKSPACE)


def _diff_command(obj: Obj, revs, as_json: bool, as_md: bool, show_all: bool, what: str) -> None:
    from lockgate import diff, gitrev
    from lockgate.reports import diff as render

    if as_json and as_md:
        raise UsageError("choose one of --json and --md")
    a, b, label_a, label_b = _sides(obj, revs)
    root = obj.project.root
    old, new = gitrev.read_locks(root, a), gitrev.read_locks(root, b)
    compare = diff.metrics_diff if what == "metric" else diff.params_diff
    changes = compare(old, new, include_unchanged=show_all)
    if as_json:
        click.echo(json.dumps(render.to_json(changes, label_a, label_b, f"{what}s"), indent=2, sort_keys=True))
    elif as_md:
        click.echo(render.to_markdown(changes, label_a, label_b, what))
    else:
        click.echo(render.to_text(changes, label_a, label_b, what))


@click.group()
def metrics() -> None:
    """Show or diff the metrics recorded in lock files."""


@metrics.command("show")
@click.argument("pipelines", nargs=-1, metavar="[PIPELINE...]")
@click.option("-r", "--rev", default=None, metavar="REV", help="Read the lock files at a git revision.")
@AS_JSON
@click.pass_obj
def metrics_show(obj: Obj, pipelines: tuple[str, ...], rev: str | None, as_json: bool) -> None:
    """Metrics in the lock files (the workspace's, or REV's): pipeline, stage, artifact, metric."""
    from lockgate import gitrev
    from lockgate.reports import diff as render

    root = obj.project.root
    if rev is not None and not gitrev.is_workspace(rev):
        gitrev.resolve(root, rev)
    locks = gitrev.read_locks(root, None if gitrev.is_workspace(rev) else rev)
    if pipelines:
        unknown = [p for p in pipelines if p not in locks]
        if unknown:
            known = ", ".join(sorted(locks)) or "none"
            raise UsageError(f"no lock file for pipeline '{unknown[0]}' (locks here: {known})")
        locks = {p: locks[p] for p in pipelines}
    table = {name: lock.all_metrics() for name, lock in sorted(locks.items())}
    if as_json:
        click.echo(json.dumps(render.metrics_show_json(table), indent=2, sort_keys=True))
    else:
        click.echo(render.metrics_show_text(table))


@metrics.command("diff")
@REVS
@AS_JSON
@AS_MD
@ALL
@click.pass_obj
def metrics_diff(obj: Obj, revs: tuple[str, ...], as_json: bool, as_md: bool, show_all: bool) -> None:
    """Metrics changed between revision A (default HEAD) and B (default the workspace).

    Per pipeline, stage and metric: old, new, absolute and relative change.
    Lock files are read from git objects: nothing is checked out.
    """
    _diff_command(obj, revs, as_json, as_md, show_all, "metric")


@click.group()
def params() -> None:
    """Diff the params recorded in lock files."""


@params.command("diff")
@REVS
@AS_JSON
@AS_MD
@ALL
@click.pass_obj
def params_diff(obj: Obj, revs: tuple[str, ...], as_json: bool, as_md: bool, show_all: bool) -> None:
    """Params each stage used, changed between revision A (default HEAD) and B (default the workspace)."""
    _diff_command(obj, revs, as_json, as_md, show_all, "param")


# -- the merge driver ------------------------------------------------------------------------

DRIVER_NAME = "lockgate lock files"
DRIVER_COMMAND = "lockgate merge-driver run %O %A %B %P"
ATTRIBUTES_LINE = "pipelines/*.lock merge=lockgate"
AUDIT_DRIVER_NAME = "lockgate audit log"
AUDIT_DRIVER_COMMAND = "lockgate merge-driver audit %O %A %B"
AUDIT_ATTRIBUTES_LINE = "registry/audit.jsonl merge=lockgate-audit"


@click.group("merge-driver")
def merge_driver() -> None:
    """Merge lock files stage by stage (git driver)."""


@merge_driver.command("install")
@click.pass_obj
def merge_driver_install(obj: Obj) -> None:
    """Register the merge drivers for lock files and the audit log with git.

    Writes ``[merge "lockgate"]`` and ``[merge "lockgate-audit"]`` to .git/config
    and routes ``pipelines/*.lock`` and ``registry/audit.jsonl`` to them in
    .gitattributes; running it again changes nothing.
    """
    from lockgate import gitrev

    root = obj.project.root
    gitrev.require_repo(root)
    gitrev.git(root, "config", "--local", "merge.lockgate.name", DRIVER_NAME)
    gitrev.git(root, "config", "--local", "merge.lockgate.driver", DRIVER_COMMAND)
    gitrev.git(root, "config", "--local", "merge.lockgate-audit.name", AUDIT_DRIVER_NAME)
    gitrev.git(root, "config", "--local", "merge.lockgate-audit.driver", AUDIT_DRIVER_COMMAND)
    attributes = root / ".gitattributes"
    text = attributes.read_text(encoding="utf-8") if attributes.exists() else ""
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in (ATTRIBUTES_LINE, AUDIT_ATTRIBUTES_LINE) if line not in present]
    if not missing:
        click.echo("merge drivers 'lockgate' and 'lockgate-audit' registered in .git/config; "
                   ".gitattributes already routes pipelines/*.lock and registry/audit.jsonl to them")
        return
    if text and not text.endswith("\n"):
        text += "\n"
    attributes.write_text(text + "".join(line + "\n" for line in missing), encoding="utf-8")
    click.echo("merge drivers 'lockgate' and 'lockgate-audit' registered in .git/config; added "
               + ", ".join(f"'{line}'" for line in missing)
               + " to .gitattributes (commit it so the team shares it)")


@merge_driver.command("audit", hidden=True)
@click.argument("base", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("ours", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("theirs", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def merge_driver_audit(obj: Obj, base: Path, ours: Path, theirs: Path) -> None:
    """What git runs (%O %A %B): both branches' records, then one joining them."""
    from lockgate._fs import atomic_write_text
    from lockgate.audit import AuditLog, join_record, merge_logs, seqs_of

    def read(p: Path) -> str:
        try:
            return p.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    a, b = read(ours), read(theirs)
    identity = AuditLog(obj.directory / "registry" / "audit.jsonl")  # who merges, and at which commit
    merged = merge_logs(a, b, lambda prev, names: join_record(prev, names, seqs_of(a, b),
                                                              identity.who, identity.commit))
    atomic_write_text(ours, merged)


@merge_driver.command("run", hidden=True)
@click.argument("base", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("ours", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("theirs", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("path", required=False, default="")
def merge_driver_run(base: Path, ours: Path, theirs: Path, path: str) -> None:
    """What git runs (%O %A %B %P): merge into OURS; conflicting stages are dropped (stale)."""
    from lockgate._fs import atomic_write_text
    from lockgate.merge import merge_locks

    def read(p: Path) -> str:
        try:
            return p.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    pipeline = Path(path).stem if path else ""
    result = merge_locks(read(base), read(ours), read(theirs), pipeline)
    atomic_write_text(ours, result.text)
    shown = path or ours.name
    for side in result.unreadable:
        click.echo(f"lockgate: {shown}: {side}'s version is not a readable lock file; "
                   "its stages were treated as absent", err=True)
    if result.stale:
        names = ", ".join(result.stale)
        click.echo(f"lockgate: {shown}: stages changed on both sides, marked stale: {names}; "
                   "run `lockgate run` to rebuild them, then commit the lock", err=True)


COMMANDS = [metrics, params, merge_driver]
