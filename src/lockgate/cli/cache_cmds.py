"""Commands over the cache: show, export, gc, push, pull."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from lockgate.cli.main import Obj
from lockgate.errors import LockgateError, UsageError


def _store(obj: Obj):
    from lockgate.store.local import LocalStore

    return LocalStore(obj.project.cache_dir)


def _load(obj: Obj, name: str, *, keys: bool = False):
    """(found, ref, value, key): the artifact NAME names, loaded (a file: the numbers
    of a metrics file, else None; a folder: its manifest), and with ``keys`` the
    dotted key path after it."""
    from lockgate.reachable import find_artifact
    from lockgate.store.artifacts import ArtifactRef, load_any

    found = find_artifact(obj.project, name, keys=keys)
    wanted = name.rpartition(":")[2]
    key = wanted[len(found.name) + 1:] if wanted != found.name else ""
    ref = ArtifactRef.from_record(found.record)
    recorded = found.record.get("value")  # the numbers the lock holds, if any
    store = _store(obj)
    if not store.has(ref.object):
        if recorded is not None and (key or ref.kind == "metrics"):
            return found, ref, recorded, key  # a value needs no cache, as in `metrics show`
        raise UsageError(
            f"'{found.name}' (from stage '{found.stage}') is not in the local cache; "
            "run `lockgate pull` or `lockgate run`"
        )
    return found, ref, recorded if ref.kind == "file" else load_any(store, ref), key


@click.command(short_help="Show an artifact (schema and head, metrics, model), or one value.")
@click.argument("artifact")
@click.option("-n", "--rows", default=10, show_default=True, help="Rows of the head to show.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def show(obj: Obj, artifact: str, rows: int, as_json: bool) -> None:
    """Show an artifact: a table's schema, row count and head; metrics; a model's
    metadata; a cmd stage's file (a table by its suffix) or folder.

    ARTIFACT is a name (`scores`), a cmd stage's out path (`data/customers.parquet`),
    or, as `metrics show` prints them, a value inside one (`scores.roc_auc`,
    `evaluate.roc_auc.test`); prefix PIPELINE: when several pipelines have it."""
    import shutil

    from lockgate.reports.artifact import describe, describe_key

    found, ref, value, key = _load(obj, artifact, keys=True)
    if key:
        info = describe_key(found, ref, value, key)
    else:
        info = describe(found, ref, value, _store(obj), rows, width=shutil.get_terminal_size().columns)
    if as_json:
        click.echo(json.dumps(info["json"], indent=2, default=str))
    else:
        click.echo(info["text"])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@click.command(short_help="Write an artifact to a file.")
@click.argument("artifact")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def export(obj: Obj, artifact: str, path: Path) -> None:
    """Write an artifact to PATH: tables as .parquet, .csv or .arrow (by suffix).

    The file gets the mode of any file the user creates (0666 less the umask),
    never the cache's read-only or temporary-file modes."""
    from lockgate._fs import atomic_write_text
    from lockgate.store.artifacts import restore_file
    from lockgate.tables import TableFileError, write_table

    found, ref, value, _ = _load(obj, artifact)
    target = path if path.is_absolute() else Path.cwd() / path
    if ref.kind == "table":
        try:
            write_table(value, target)
        except TableFileError as exc:
            raise UsageError(str(exc)) from None
    elif ref.kind in ("metrics", "json"):
        atomic_write_text(target, json.dumps(value, indent=2, sort_keys=True) + "\n")
    elif ref.kind in ("model", "file"):
        restore_file(_store(obj), ref, target)
    else:
        raise UsageError(f"'{artifact}' is a folder; it is already in the workspace at {found.name}")
    os.chmod(target, 0o666 & ~_umask())
    click.echo(f"wrote {found.name} ({ref.kind}) to {path}")


@click.command(short_help="Remove cached objects nothing refers to.")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would be removed.")
@click.option("--all-commits", is_flag=True, help="Keep what any git commit's lock files refer to.")
@click.option("--keep-run-cache", is_flag=True, help="Keep every object the run-cache refers to.")
@click.option("--no-wait", is_flag=True, help="Fail at once if a run holds the repository.")
@click.pass_obj
def gc(obj: Obj, dry_run: bool, all_commits: bool, keep_run_cache: bool, no_wait: bool) -> None:
    """Remove cached objects that no lock file or registry refers to.

    A run stores its outputs before its lock file names them, so gc holds the
    repository lock: it waits for a running `lockgate run` to finish (exit 1 at
    once with --no-wait), and a run started meanwhile waits for gc."""
    from lockgate.executor.repolock import repo_lock
    from lockgate.reachable import objects_of, referenced_records
    from lockgate.runcache import RunCache

    def waiting(holder: str) -> None:
        click.echo(f"waiting for {holder or 'another lockgate command'} to finish: it holds the "
                   "repository lock...", err=True)

    project = obj.project
    store = _store(obj)
    with repo_lock(project.state_dir, wait=not no_wait, on_wait=waiting):
        records = referenced_records(project, all_commits=all_commits, run_cache=keep_run_cache,
                                     experiments=True)
        keep = objects_of(records, store)
        count, size = store.gc(keep, dry_run=dry_run)
        dropped = 0 if dry_run else RunCache(project.layout.runcache).drop_missing(store.has)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {count} objects ({size / 1e6:.1f} MB); kept {len(keep)}"
               + (f"; dropped {dropped} run-cache entries" if dropped else ""))


def _transfer_summary(verb: str, report) -> None:
    click.echo(f"{verb} {len(report.transferred)} objects ({report.bytes / 1e6:.1f} MB), "
               f"{len(report.skipped)} already there")
    for digest, reason in sorted(report.failed.items()):
        click.echo(f"error: {digest[:12]}: {reason}", err=True)
    if report.failed:
        sys.exit(1)


@click.command(short_help="Upload cached objects a remote lacks.")
@click.option("-r", "--remote", help="A pyarrow.fs URI, or a remote's name in lockgate.toml.")
@click.option("--all-commits", is_flag=True, help="Push what any commit's lock files refer to.")
@click.pass_obj
def push(obj: Obj, remote: str | None, all_commits: bool) -> None:
    """Upload the cached objects the lock files refer to (only those the remote lacks)."""
    from lockgate.reachable import objects_of, referenced_records
    from lockgate.store.remote import Remote

    store = _store(obj)
    keep = objects_of(referenced_records(obj.project, all_commits=all_commits), store)
    present = {d for d in keep if store.has(d)}
    _transfer_summary("pushed", Remote(remote_or_default(obj, remote)).push(store, sorted(present)))


@click.command()
@click.argument("targets", nargs=-1, metavar="[STAGE|ARTIFACT...]")
@click.option("-r", "--remote", help="A pyarrow.fs URI, or a remote's name in lockgate.toml.")
@click.pass_obj
def pull(obj: Obj, targets: tuple[str, ...], remote: str | None) -> None:
    """Download what the lock files and data.lock refer to (or only what the named
    stages produced / the named artifacts) that is missing locally, each object
    verified; then put back data files and outputs missing from the workspace."""
    report = pull_referenced(obj.project, remote, targets)
    restored = restore_missing(obj.project)
    if restored:
        shown = ", ".join(restored[:5]) + (f" (+{len(restored) - 5} more)" if len(restored) > 5 else "")
        click.echo(f"restored {len(restored)} missing path{'s' if len(restored) != 1 else ''}: {shown}")
    _transfer_summary("pulled", report)


def pull_referenced(project, remote: str | None, targets: tuple[str, ...] | list[str] = ()):
    """Pull the objects behind the lock files' records (all, or ``targets``'); a
    TransferReport. Folder manifests arrive first, then the files they list."""
    from lockgate.reachable import objects_of, referenced_records
    from lockgate.store.local import LocalStore
    from lockgate.store.remote import Remote

    store = LocalStore(project.cache_dir)
    source = Remote(_remote(project, remote))
    records = _target_records(project, targets) if targets else referenced_records(project)
    report = source.pull(store, sorted(objects_of(records, store)))
    done = set(report.transferred) | set(report.skipped) | set(report.failed)
    second = source.pull(store, sorted(objects_of(records, store) - done))
    report.transferred += second.transferred
    report.skipped += second.skipped
    report.failed.update(second.failed)
    report.bytes += second.bytes
    return report


def restore_missing(project) -> list[str]:
    """Copy back, from the local cache, every tracked data path (data.lock), pipeline
    input and ``cmd`` output the lock files record that is missing from the workspace
    (DVC's checkout after a pull). A path that exists is never touched, even if it
    differs: it is the user's newer data. Returns the paths restored."""
    from pathlib import PurePosixPath

    from lockgate.executor.state import Workspace
    from lockgate.lock import LockFile
    from lockgate.store.local import LocalStore
    from lockgate.store.statcache import StatCache
    from lockgate.tracked import DataLock

    wanted: dict[str, dict] = dict(DataLock.read(project.root).entries)
    for lock_path in sorted(project.pipelines_dir.glob("*.lock")):
        lock = LockFile.read(lock_path, lock_path.stem)
        wanted.update(lock.inputs)
        for entry in lock.stages.values():
            if entry.kind == "cmd":  # not `cache: false` outputs: never stored, so never restored
                wanted.update({p: r for p, r in entry.outputs.items() if r.get("cache") is not False})
    store = LocalStore(project.cache_dir)
    with StatCache(project.layout.statcache) as stats:
        workspace = Workspace(project.root, stats, store)
        restored = []
        for path, record in sorted(wanted.items()):
            rel = PurePosixPath(path)
            if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] in ((".git",), (".lockgate",)):
                continue  # never write outside the repository (a hand-edited lock)
            if (project.root / path).exists() or os.path.lexists(project.root / path):
                continue
            try:
                workspace.restore({path: record}, [path])
            except LockgateError as exc:  # not in the local cache: `run` rebuilds it
                click.echo(f"warning: cannot restore {path}: {exc}", err=True)
                continue
            restored.append(path)
    return restored


def _target_records(project, targets) -> list[dict]:
    """Records of ``STAGE`` / ``PIPELINE:STAGE`` (all its outputs) or ``ARTIFACT`` names."""
    from lockgate.lock import LockFile
    from lockgate.reachable import find_artifact

    locks = [LockFile.read(p, p.stem) for p in sorted(project.pipelines_dir.glob("*.lock"))]
    records: list[dict] = []
    for target in targets:
        pipeline, _, name = target.rpartition(":")
        stages = [entry for lock in locks if not pipeline or lock.pipeline == pipeline
                  for stage, entry in lock.stages.items() if stage == name]
        if stages:
            records += [rec for entry in stages for rec in entry.outputs.values()]
            continue
        try:
            records.append(find_artifact(project, target).record)
        except UsageError as exc:
            raise UsageError(f"'{target}' is neither a stage in a lock file nor an artifact: {exc}") from None
    return records


def remote_or_default(obj: Obj, remote: str | None) -> str:
    return _remote(obj.project, remote)


def _remote(project, remote: str | None) -> str:
    """The remote's URI; a URI given with ``-r`` is remembered for the next push or pull
    in this clone (when lockgate.toml names no default)."""
    from lockgate._fs import atomic_write_text
    from lockgate.reachable import LAST_REMOTE, remote_uri

    uri = remote_uri(project, remote)
    if remote and "://" in remote and project.state_dir.is_dir():
        atomic_write_text(project.state_dir / LAST_REMOTE, uri + "\n", durable=False)
    return uri


COMMANDS = [show, export, gc, push, pull]
