"""``lockgate verify``: re-hash cached objects (fsck) and say which are corrupt or missing."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from lockgate.cli.main import Obj


def _named_records(project: Any) -> list[tuple[str, dict[str, Any]]]:
    """(where it is named, record) for every record the workspace's files name."""
    from lockgate.errors import LockgateError
    from lockgate.lock import LockFile
    from lockgate.registry import Registry, registry_names
    from lockgate.tracked import DATA_LOCK, DataLock

    named = [(f"{DATA_LOCK}: {path}", rec) for path, rec in DataLock.read(project.root).entries.items()]
    for lock_path in sorted(project.pipelines_dir.glob("*.lock")):
        lock = LockFile.read(lock_path, lock_path.stem)
        where = project.relative(lock_path)
        named += [(f"{where}: input {path}", rec) for path, rec in lock.inputs.items()]
        named += [(f"{where}: {stage} -> {name}", rec)
                  for stage, entry in sorted(lock.stages.items()) for name, rec in entry.outputs.items()]
    for name in registry_names(project.root):
        try:
            registry = Registry.open(project.root, name)
        except LockgateError:
            continue
        named += [(f"registry/{name}.yaml: v{n}", v.artifact) for n, v in sorted(registry.versions.items())]
    return named


@click.command(short_help="Re-hash cached objects; report corrupt and missing ones.")
@click.option("--all", "every", is_flag=True, help="Check every object in the cache, not only those referenced.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def verify(obj: Obj, every: bool, as_json: bool) -> None:
    """Re-hash the objects the lock files, data.lock and registries refer to (all
    objects with --all). A corrupt object is removed so the next run rebuilds it (or
    `lockgate pull` fetches it again). Exit 1 when anything is corrupt or missing."""
    from lockgate.store.local import LocalStore

    project = obj.project
    store = LocalStore(project.cache_dir)
    wanted: dict[str, list[str]] = {}
    for where, record in _named_records(project):
        obj_key = record.get("object") or record.get("digest")
        if isinstance(obj_key, str) and record.get("cache") is not False:  # `cache: false`: never stored
            wanted.setdefault(obj_key, []).append(where)
            if record.get("kind") == "tree" and store.has(obj_key):
                try:
                    for entry in json.loads(store.get_bytes(obj_key)):
                        wanted.setdefault(entry["hash"], []).append(f"{where}/{entry['path']}")
                except Exception:  # noqa: BLE001 - the manifest itself is reported below
                    continue
    if every:
        for digest in store.digests():
            wanted.setdefault(digest, [])
    missing, corrupt, size = [], [], 0
    for digest in sorted(wanted):
        if not store.has(digest):
            missing.append(digest)
            continue
        size += store.size(digest)
        if not store.verify(digest):  # drops a corrupt object
            corrupt.append(digest)
    if as_json:
        click.echo(json.dumps({
            "checked": len(wanted) - len(missing), "bytes": size, "ok": not (missing or corrupt),
            "corrupt": [{"object": d, "named_by": wanted[d]} for d in corrupt],
            "missing": [{"object": d, "named_by": wanted[d]} for d in missing],
        }, indent=2, sort_keys=True))
    else:
        for label, found, fix in (("corrupt (removed; the next run rebuilds it)", corrupt, ""),
                                  ("missing", missing, "")):
            for digest in found:
                where = "; ".join(wanted[digest][:3]) or "not referenced"
                click.echo(f"{label}: {digest[:12]}  {where}{fix}")
        verdict = "ok" if not (missing or corrupt) else f"{len(corrupt)} corrupt, {len(missing)} missing"
        click.echo(f"checked {len(wanted) - len(missing)} objects ({size / 1e6:.1f} MB): {verdict}")
        if missing and not corrupt:
            click.echo("missing objects come back with `lockgate pull` (or a run rebuilds them)")
    sys.exit(1 if missing or corrupt else 0)


COMMANDS = [verify]
