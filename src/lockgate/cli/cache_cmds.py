"""Commands over the cache: show, export, gc, push, pull."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lockgate.cli.main import Obj
from lockgate.errors import UsageError


def _store(obj: Obj):
    from lockgate.store.local import LocalStore

    return LocalStore(obj.project.cache_dir)


def _load(obj: Obj, name: str):
    from lockgate.reachable import find_artifact
    from lockgate.store.artifacts import ArtifactRef, load_any

    found = find_artifact(obj.project, name)
    ref = ArtifactRef.from_record(found.record)
    store = _store(obj)
    if not store.has(ref.object):
        raise UsageError(
            f"'{name}' (from stage '{found.stage}') is not in the local cache; "
            "run `lockgate pull` or `lockgate run`"
        )
    return found, ref, load_any(store, ref) if ref.kind not in ("file", "tree") else None


@click.command(short_help="Show an artifact (schema and head, metrics, model).")
@click.argument("artifact")
@click.option("-n", "--rows", default=10, show_default=True, help="Rows of the head to show.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def show(obj: Obj, artifact: str, rows: int, as_json: bool) -> None:
    """Show an artifact: a table's schema, row count and head; metrics; a model's metadata."""
    from lockgate.reports.artifact import describe

    found, ref, value = _load(obj, artifact)
    info = describe(found, ref, value, _store(obj), rows)
    if as_json:
        click.echo(json.dumps(info["json"], indent=2, default=str))
    else:
        click.echo(info["text"])


@click.command(short_help="Write an artifact to a file.")
@click.argument("artifact")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def export(obj: Obj, artifact: str, path: Path) -> None:
    """Write an artifact to PATH: tables as .parquet, .csv or .arrow (by suffix)."""
    from lockgate.store.artifacts import restore_file, save_model_file
    from lockgate.tables import TableFileError, write_table

    found, ref, value = _load(obj, artifact)
    target = path if path.is_absolute() else Path.cwd() / path
    if ref.kind == "table":
        try:
            write_table(value, target)
        except TableFileError as exc:
            raise UsageError(str(exc)) from None
    elif ref.kind in ("metrics", "json"):
        target.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    elif ref.kind == "model":
        restore_file(_store(obj), ref, target)
    elif ref.kind == "file":
        restore_file(_store(obj), ref, target)
    else:
        raise UsageError(f"'{artifact}' is a folder; it is already in the workspace at {found.name}")
    click.echo(f"wrote {found.name} ({ref.kind}) to {path}")


@click.command(short_help="Remove cached objects nothing refers to.")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would be removed.")
@click.option("--all-commits", is_flag=True, help="Keep what any git commit's lock files refer to.")
@click.option("--keep-run-cache", is_flag=True, help="Keep every object the run-cache refers to.")
@click.pass_obj
def gc(obj: Obj, dry_run: bool, all_commits: bool, keep_run_cache: bool) -> None:
    """Remove cached objects that no lock file or registry refers to."""
    from lockgate.executor.repolock import repo_lock
    from lockgate.reachable import objects_of, referenced_records
    from lockgate.runcache import RunCache

    project = obj.project
    store = _store(obj)
    with repo_lock(project.state_dir, wait=False):
        records = referenced_records(project, all_commits=all_commits, run_cache=keep_run_cache)
        keep = objects_of(records, store)
        count, size = store.gc(keep, dry_run=dry_run)
        dropped = 0 if dry_run else RunCache(project.state_dir / "runcache").drop_missing(store.has)
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
    """Download what the lock files refer to (or only what the named stages
    produced / the named artifacts) that is missing locally, each object verified."""
    _transfer_summary("pulled", pull_referenced(obj.project, remote, targets))


def pull_referenced(project, remote: str | None, targets: tuple[str, ...] | list[str] = ()):
    """Pull the objects behind the lock files' records (all, or ``targets``'); a
    TransferReport. Folder manifests arrive first, then the files they list."""
    from lockgate.reachable import objects_of, referenced_records, remote_uri
    from lockgate.store.local import LocalStore
    from lockgate.store.remote import Remote

    store = LocalStore(project.cache_dir)
    source = Remote(remote_uri(project, remote))
    records = _target_records(project, targets) if targets else referenced_records(project)
    report = source.pull(store, sorted(objects_of(records, store)))
    done = set(report.transferred) | set(report.skipped) | set(report.failed)
    second = source.pull(store, sorted(objects_of(records, store) - done))
    report.transferred += second.transferred
    report.skipped += second.skipped
    report.failed.update(second.failed)
    report.bytes += second.bytes
    return report


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
    from lockgate.reachable import remote_uri

    return remote_uri(obj.project, remote)


COMMANDS = [show, export, gc, push, pull]
