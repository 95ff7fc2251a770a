"""Which cached objects the repository still refers to, and where a named artifact is.

Read-only: lock files (in the workspace, or in every git commit), registry
files and the run-cache name objects; ``gc``, ``push`` and ``pull`` act on
that set. A folder's manifest object brings in the objects of its files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lockgate.errors import UsageError, did_you_mean
from lockgate.lock import LockFile
from lockgate.project import Project
from lockgate.tracked import DATA_LOCK, DataLock


def _records_in_lock(lock: LockFile) -> Iterator[dict[str, Any]]:
    yield from lock.inputs.values()
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
    from lockgate import gitrev

    seen: set[str] = set()
    for rev in gitrev.all_commits(root):
        for blob, path in gitrev.ls_tree(root, rev, ["pipelines", "registry", DATA_LOCK]):
            if blob in seen or not path.endswith((".lock", ".yaml")):
                continue
            seen.add(blob)
            yield gitrev.read_object(root, blob)


def referenced_records(project: Project, *, all_commits: bool = False,
                       run_cache: bool = False, experiments: bool = False) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = list(DataLock.read(project.root).entries.values())
    for lock_path in sorted(project.pipelines_dir.glob("*.lock")):
        records += _records_in_lock(LockFile.read(lock_path))
    for lock_path in sorted(project.layout.experiments.glob("*/*.lock")) if experiments else []:
        records += _records_in_lock(LockFile.read(lock_path))  # `exp apply` needs them
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
            elif isinstance(data, dict) and "data" in data and "versions" not in data:
                records += DataLock.from_text(text).entries.values()
            else:
                records += _records_in_registry(data)
    if run_cache:
        from lockgate.runcache import RunCache

        for entry in RunCache(project.layout.runcache).entries():
            records += [r for r in entry.get("outputs", {}).values() if isinstance(r, dict)]
    return records


def objects_of(records: Iterable[dict[str, Any]], store: Any) -> set[str]:
    """Store keys of the records, with the files of every folder manifest present locally."""
    keys: set[str] = set()
    for rec in records:
        obj = rec.get("object") or rec.get("digest")
        if not isinstance(obj, str) or rec.get("cache") is False:  # `cache: false`: never stored
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


def find_artifact(project: Project, name: str, *, keys: bool = False) -> FoundArtifact:
    """``NAME`` or ``PIPELINE:NAME``, as recorded by the last run.

    NAME is an ``out`` name, a ``cmd`` stage's out path, or the name of a ``cmd``
    stage whose ``metrics:`` files form one artifact (as gates read it). A record
    whose numbers the lock holds (a metrics artifact, a ``metrics:`` file) carries
    them under ``value``; the stage-named artifact has no stored object at all,
    only that ``value``. With ``keys``, NAME may go on with a dotted key path into the
    artifact (``scores.roc_auc``, ``evaluate.roc_auc.test``): the longest prefix
    that names an artifact wins, and the caller reads the key from the rest of
    NAME after ``found.name``. A miss is a UsageError listing what exists.
    """
    from lockgate.hashing import hash_value
    from lockgate.spec.names import NAME_RE

    wanted_pipeline, _, wanted = name.rpartition(":")
    lock_paths = sorted(project.pipelines_dir.glob("*.lock"))
    if not lock_paths:
        folder = project.relative(project.pipelines_dir)
        raise UsageError(f"no artifact '{name}': there are no lock files in {folder}/ yet; "
                         "run the pipeline first (lockgate run)")
    artifacts: dict[str, list[FoundArtifact]] = {}
    pipelines: list[str] = []
    for lock_path in lock_paths:
        lock = LockFile.read(lock_path, lock_path.stem)
        pipelines.append(lock.pipeline)
        if wanted_pipeline and lock.pipeline != wanted_pipeline:
            continue
        found_here: dict[str, FoundArtifact] = {}
        for stage, entry in sorted(lock.stages.items()):
            for out, rec in entry.outputs.items():
                if isinstance(entry.metrics.get(out), dict):  # the numbers the lock holds
                    rec = {**rec, "value": entry.metrics[out]}
                found_here[out] = FoundArtifact(lock.pipeline, stage, out, rec)
        for stage, entry in sorted(lock.stages.items()):
            # a cmd stage's metrics files are one artifact named after the stage
            if entry.kind == "cmd" and entry.metrics and NAME_RE.match(stage) and stage not in found_here:
                merged: dict[str, Any] = {}
                for values in entry.metrics.values():
                    if isinstance(values, dict):
                        merged.update(values)
                record = {"kind": "metrics", "digest": hash_value(merged), "value": merged,
                          "meta": {"files": sorted(entry.metrics)}}
                found_here[stage] = FoundArtifact(lock.pipeline, stage, stage, record)
        for out, found in found_here.items():
            artifacts.setdefault(out, []).append(found)
    if wanted_pipeline and wanted_pipeline not in pipelines:
        hint = did_you_mean(wanted_pipeline, pipelines, parens=True)
        raise UsageError(f"no lock file for pipeline '{wanted_pipeline}' "
                         f"(locks here: {', '.join(pipelines)}){hint}")
    match = wanted if wanted in artifacts else None
    if match is None and keys:
        parts = wanted.split(".")
        match = next((p for p in (".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1))
                      if p in artifacts), None)
    if match is None:
        known = sorted(artifacts)
        where = (f"pipelines/{wanted_pipeline}.lock" if wanted_pipeline else "pipelines/*.lock")
        listed = ", ".join(known[:20]) + (f", ... ({len(known) - 20} more)" if len(known) > 20 else "")
        hint = (did_you_mean(wanted, known, parens=True)
                or did_you_mean(wanted.split(".")[0], known, parens=True))
        raise UsageError(f"no artifact '{name}' in {where}; artifacts: {listed or 'none'}{hint}")
    found = artifacts[match]
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
        last = last_remote(project)
        if last:
            return last
        raise UsageError(
            "no remote: pass --remote URI (file:///path, s3://bucket/prefix) once, or set "
            "[remotes] default = \"NAME\" and [remotes.NAME] url = \"...\" in lockgate.toml "
            "(commit it, so every clone knows it)"
        )
    entry = remotes.get(name)
    if not isinstance(entry, dict) or "url" not in entry:
        raise UsageError(f"no remote named '{name}' in lockgate.toml; add [remotes.{name}] url = \"...\"")
    return str(entry["url"])


LAST_REMOTE = "last-remote"
"""``.lockgate/last-remote``: the URI a ``push``/``pull`` was last given with ``-r``; used
when lockgate.toml names no default, so ``push -r URI`` then ``pull`` works (in this clone)."""


def last_remote(project: Project) -> str | None:
    try:
        text = (project.state_dir / LAST_REMOTE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None
