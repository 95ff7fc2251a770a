"""``lockgate add``: version a data file or folder that no pipeline has to produce (DVC's ``dvc add``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from lockgate.cli.main import Obj
from lockgate.errors import UsageError


def repo_relative(obj: Obj, path: Path) -> str:
    """``path`` (relative to the folder lockgate was started in, like git) as a
    repository-relative POSIX path; a UsageError for anything outside the
    repository, the repository itself, or lockgate's and git's own folders."""
    root = obj.project.root
    absolute = Path(os.path.normpath(obj.directory / path))
    try:
        rel = absolute.relative_to(root)
    except ValueError:
        raise UsageError(f"{path}: outside the repository ({root}); lockgate versions data inside it") from None
    real = Path(os.path.realpath(absolute))
    if real != absolute and not real.is_relative_to(Path(os.path.realpath(root))):
        raise UsageError(f"{path}: a symlink to {real}, outside the repository; copy the data in instead")
    if not rel.parts:
        raise UsageError(f"{path}: the repository itself; name a data file or folder inside it")
    if rel.parts[0] in (".git", ".lockgate"):
        raise UsageError(f"{path}: inside {rel.parts[0]}/, which lockgate never versions")
    return rel.as_posix()


def _stage_writing(obj: Obj, rel: str) -> str | None:
    """The stage whose ``outs`` hold ``rel``: its output is versioned already."""
    from lockgate.errors import LockgateError
    from lockgate.graph.stage import paths_overlap

    try:
        pipelines = obj.project.load_all()
    except LockgateError:
        return None  # a broken spec must not stop `add`; validate says what is wrong
    for pipeline in pipelines:
        for stage in pipeline.stages.values():
            if any(paths_overlap(rel, out) for out in (*stage.outs, *stage.metrics)):
                return f"{pipeline.name}:{stage.name}"
    return None


@click.command(short_help="Version a data file or folder (like dvc add).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--no-gitignore", is_flag=True, help="Do not add the paths to .gitignore.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def add(obj: Obj, paths: tuple[Path, ...], no_gitignore: bool, as_json: bool) -> None:
    """Store PATHS (files or folders) in the cache and record them in data.lock.

    Commit data.lock: `lockgate push` uploads the data, and `lockgate pull` in a
    fresh clone puts it back. Run it again after the data changes. The paths
    are added to .gitignore (git keeps data.lock, lockgate keeps the bytes).
    """
    from lockgate.cli.run_cmds import _ensure_state_dir
    from lockgate.executor.repolock import repo_lock
    from lockgate.executor.state import MissingInput, Workspace
    from lockgate.store.local import LocalStore
    from lockgate.store.statcache import StatCache
    from lockgate.tracked import DATA_LOCK, DataLock, gitignore_paths

    project = obj.project
    rels = [repo_relative(obj, p) for p in paths]
    for rel in rels:
        writer = _stage_writing(obj, rel)
        if writer:
            raise UsageError(f"{rel}: an output of stage '{writer}', which lockgate versions already")
    added = []
    with repo_lock(project.state_dir, wait=True):
        _ensure_state_dir(project.state_dir)
        data = DataLock.read(project.root)
        with StatCache(project.layout.statcache) as stats:
            workspace = Workspace(project.root, stats, LocalStore(project.cache_dir))
            for rel in rels:
                try:
                    record = workspace.store_data(rel)
                except MissingInput:
                    raise UsageError(f"{rel}: no such file or folder") from None
                changed = data.entries.get(rel) != record
                data.entries[rel] = record
                added.append({"path": rel, "changed": changed, **record})
        data.write(project.root)
    ignored = [] if no_gitignore else [line[1:] for line in gitignore_paths(project.root, rels)]
    if as_json:
        click.echo(json.dumps({"added": added, "gitignored": ignored}, indent=2, sort_keys=True))
        return
    for item in added:
        size = item["meta"].get("size", 0)
        what = f"{item['meta']['files']} files, " if item["kind"] == "tree" else ""
        state = "" if item["changed"] else " (unchanged)"
        click.echo(f"added {item['path']} ({what}{size / 1e6:.1f} MB, {item['digest'][:12]}){state}")
    also = " and .gitignore" if ignored else ""
    click.echo(f"commit {DATA_LOCK}{also}; `lockgate push` uploads the data")


COMMANDS = [add]
