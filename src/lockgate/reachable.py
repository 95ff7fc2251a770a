"""Which cached objects the repository still refers to, and where a named artifact is.

Read-only: lock files (in the workspace, or in every git commit), registry
files and the run-cache name objects; ``gc``, ``push`` and ``pull`` act on
that set. A folder's manifest object brings in the objects of its files.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lockgate.errors import UsageError
from lockgate.lock import LockFile
from lockgate.project import Project


def _records_in_lock(lock: LockFile) -> Iterator[dict[str, Any]]:
    for entry in lock.stages.values():
        yield from entry.outputs.values()


def _records_in_registry(data: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(data, dict):
        return
    for version in (data.get("versions") or {}).values() if isinstance(data.get("versions"), dict) else data.get("versions") or []:
        if isinstance(version, dict) and isinstance(version.get("artifact"), dict):
            yield version["artifact"]


def _git_lock_texts(root: Path) -> Iterator[str]:
    """Every version of every lock and registry file in any commit of the repository."""
    try:
        revs = subprocess.run(
            ["git", "rev-list", "--all"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return
    seen: set[str] = set()
    for rev in revs:
        listing = subprocess.run(
            ["git", "ls-tree", "-r", rev, "--", "pipelines", "registry"],
            cwd=root, capture_output=True, text=True,
        ).stdout
        for line in listing.splitlines():
            meta, _, path = line.partition("\t")
            blob = meta.split()[-1]
            if blob in seen or not path.endswith((".lock", ".yaml")):
                continue
            seen.add(blob)
            yield subprocess.run(["git", "cat-file", "-p", blob], cwd=root,
                                 capture_output=True, text=True).stdout


def referenced_records(project: Project, *, all_commits: bool = False,
                       run_cache: bool = False) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for lock_path in sorted(project.pipelines_dir.glob("*.lock")):
        records += _records_in_lock(LockFile.read(lock_path))
    for reg in sorted(project.registry_dir.glob("*.yaml")) if project.registry_dir.is_dir() else []:
        try:
            records += _records_in_registry(yaml.safe_load(reg.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError):
            continue
    if all_commits:
        for text in _git_lock_texts(project.root):
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            if isinstance(data, dict) and "stages" in data:
                records += _records_in_lock(LockFile.from_text(text))
            else:
                records += _records_in_registry(data)
    if run_cache:
        from lockgate.runcache import RunCache

        for entry in RunCache(project.state_dir / "runcache").entries():
            records += [r for r in entry.get("outputs", {}).values() if isinstance(r, dict)]
    return records


def objects_of(records: Iterable[dict[str, Any]], store: Any) -> set[str]:
    """Store keys of the records, with the files of every folder manifest present locally."""
    keys: set[str] = set()
    for rec in records:
        obj = rec.get("object") or rec.get("digest")
        if not isinstance(obj, str):
            continue
        keys.add(obj)
        if rec.get("kind") == "tree" and store is not None and store.has(obj):
            try:
                keys.update(e["hash"] for e in json.loads(store.get_bytes(obj)))
            except Exception:  # a corrupt manifest only means its files are not kept
                continue
    return keys


@dataclass(frozen=True)
class FoundArtifact:
    pipeline: str
    stage: str
    name: str
    record: dict[str, Any]


def find_artifact(project: Project, name: str) -> FoundArtifact:
    """``NAME`` or ``PIPELINE:NAME``, as recorded by the last run."""
    wanted_pipeline, _, wanted = name.rpartition(":")
    found: list[FoundArtifact] = []
    known: list[str] = []
    for lock_path in sorted(project.pipelines_dir.glob("*.lock")):
        lock = LockFile.read(lock_path, lock_path.stem)
        if wanted_pipeline and lock.pipeline != wanted_pipeline:
            continue
        for stage, entry in sorted(lock.stages.items()):
            for out, rec in entry.outputs.items():
                known.append(out)
                if out == wanted:
                    found.append(FoundArtifact(lock.pipeline, stage, out, rec))
    if not found:
        import difflib

        close = difflib.get_close_matches(wanted, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "; run the pipeline first (lockgate run)"
        raise UsageError(f"no artifact '{name}' in any lock file{hint}")
    if len(found) > 1:
        where = ", ".join(f"{f.pipeline}:{f.name}" for f in found)
        raise UsageError(f"'{name}' is in several pipelines ({where}); write PIPELINE:{wanted}")
    return found[0]


def remote_uri(project: Project, name_or_uri: str | None) -> str:
    """A remote from ``--remote`` (a URI or a name in lockgate.toml), else the default one."""
    import tomllib

    if name_or_uri and "://" in name_or_uri:
        return name_or_uri
    config_path = project.root / "lockgate.toml"
    config: dict[str, Any] = {}
    if config_path.is_file():
        try:
            config = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"lockgate.toml: {exc}") from None
    remotes = config.get("remotes", {})
    name = name_or_uri or remotes.get("default")
    if not name:
        raise UsageError(
            "no remote: pass --remote URI (file:///path, s3://bucket/prefix) or set "
            "[remotes] default = \"NAME\" and [remotes.NAME] url = \"...\" in lockgate.toml"
        )
    entry = remotes.get(name)
    if not isinstance(entry, dict) or "url" not in entry:
        raise UsageError(f"no remote named '{name}' in lockgate.toml; add [remotes.{name}] url = \"...\"")
    return str(entry["url"])
