"""The workspace as the run sees it: current fingerprint records, and whether a
stage's recorded outputs are in place, restorable, or gone.

Shared by ``run`` (which then acts) and ``status`` (which only reports), so
both always agree on what is stale. Reads files and the store; writes
nothing except the stat cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate.fingerprint import Record, definition_digest
from lockgate.graph.pipeline import Pipeline, resolve_artifact
from lockgate.graph.stage import Stage
from lockgate.lock import StageLock
from lockgate.steps import step_code

if TYPE_CHECKING:
    from lockgate.codegraph import CodeGraph
    from lockgate.store.base import ObjectStore
    from lockgate.store.statcache import StatCache


class MissingInput(Exception):
    """A dependency or ``inputs:`` path that does not exist (and no stage makes)."""


class UpstreamUnknown(Exception):
    """An upstream stage has not produced the artifact yet (it is stale or never ran)."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


@dataclass
class Workspace:
    root: Path
    stats: StatCache
    store: ObjectStore
    keep_data: bool = False  # store `inputs:` paths in the cache as they are hashed (a run, not status)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)  # input path -> record, as kept

    def path_digest(self, rel: str, exclude: tuple[str, ...] = ()) -> str:
        try:
            return path_digest(self.root, rel, self.stats, exclude)
        except OSError:
            if not (self.root / rel).exists():  # asked only on failure: one stat per path otherwise
                raise MissingInput(rel) from None
            raise

    def code_digest(self, stage: Stage) -> str | dict[str, str]:
        """What a stage's code fingerprint is made of: for ``call``, every repository
        file its module reaches and every distribution they import (path or
        ``pkg:NAME`` -> digest or version); for ``uses``, the step's version."""
        if stage.kind == "uses":
            return step_code(str(stage.run))
        if stage.kind == "call":
            return self.code_graph.record(str(stage.run).partition(":")[0])
        return ""

    @cached_property
    def code_graph(self) -> CodeGraph:
        """One per workspace (a run, a status): where modules live is looked up once,
        file digests come from the stat cache on every record."""
        from lockgate.codegraph import CodeGraph  # only `call` stages have code to map

        from lockgate.project import Layout

        return CodeGraph(self.root, self.stats.hash_file, packages_cache=Layout.of(self.root).packages)

    def record(
        self,
        pipeline: Pipeline,
        stage: Stage,
        outputs_of: dict[str, dict[str, dict[str, Any]]],
    ) -> tuple[Record, dict[str, dict[str, Any]], dict[str, str]]:
        """The stage's current Record, the input records for its job, and the digests
        of the ``inputs:`` paths it reads. ``outputs_of`` maps each upstream stage to
        its output records; an upstream missing there raises UpstreamUnknown."""
        known = pipeline.known_artifacts
        inputs: dict[str, str] = {}
        job_inputs: dict[str, dict[str, Any]] = {}
        input_paths: dict[str, str] = {}
        for arg, name in sorted(stage.inputs.items()):
            artifact = resolve_artifact(name, stage, known) or name
            if artifact in pipeline.inputs:
                path = pipeline.inputs[artifact]
                if self.keep_data and self._inside(path):
                    self.data[path] = self.store_data(path)
                    digest = str(self.data[path]["digest"])
                else:  # status; or shared data outside the repository: read-only, hashed, never stored
                    digest = self.path_digest(path)
                inputs[arg] = digest
                input_paths[path] = digest
                job_inputs[arg] = {"path": path}
                read = pipeline.reads.get(artifact)
                if read:  # how it is read is part of what the stage sees
                    from lockgate.hashing import hash_value

                    inputs[f"{READ_PREFIX}{arg}"] = hash_value(read)
                    job_inputs[arg] = {"path": path, "read": read}
            else:
                producer = pipeline.producers[artifact]
                records = outputs_of.get(producer)
                if records is None or artifact not in records:
                    raise UpstreamUnknown(producer)
                inputs[arg] = str(records[artifact]["digest"])
                job_inputs[arg] = records[artifact]
                writer = pipeline.stages[producer]
                if artifact in (*writer.outs, *writer.metrics):  # a file or folder a cmd stage wrote
                    job_inputs[arg] = {**records[artifact], "written_at": artifact}
        for artifact in expression_artifacts(pipeline, stage):  # what when/gates read
            records = outputs_of.get(pipeline.producers[artifact])
            if records is None:
                raise UpstreamUnknown(pipeline.producers[artifact])
            inputs[f"{EXPR_PREFIX}{artifact}"] = _artifact_digest(artifact, records)
        own = (*stage.outs, *stage.metrics)  # a folder dep holding the stage's own outputs
        deps = {path: self.path_digest(path, own) for path in sorted(stage.deps)}
        record = Record(
            definition=definition_digest(stage),
            params=stage.params,
            code=self.code_digest(stage),
            inputs=inputs,
            deps=deps,
        )
        return record, job_inputs, input_paths

    # -- outputs ------------------------------------------------------------------

    def outputs_state(self, stage: Stage, outputs: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
        """("ok" | "restore" | "missing", what): are the recorded outputs usable?

        Artifacts must be in the store; a ``cmd`` stage's files must be in the
        workspace with the recorded digest, or restorable from the store."""
        from lockgate.store.artifacts import ArtifactRef

        from lockgate.errors import StoreError

        to_restore: list[str] = []
        for name, rec in outputs.items():
            try:
                ref = ArtifactRef.from_record(rec)
            except StoreError:  # a damaged (hand-edited) lock record: as if missing
                return "missing", [name]
            if rec.get("cache") is False or (stage.kind == "cmd" and not stage.cached(name)):
                # `cache: false`: hashed and recorded, never stored: only the workspace can hold it
                if self.output_digest(name) != ref.digest:
                    return "missing", [name]
                continue
            if not self._stored(ref):
                return "missing", [name]
            if stage.kind == "cmd" and name in (*stage.outs, *stage.metrics):
                if self.output_digest(name) != ref.digest:
                    to_restore.append(name)
        return ("restore", to_restore) if to_restore else ("ok", [])

    def _stored(self, ref: Any) -> bool:
        if not self.store.has(ref.object):
            return False
        if ref.kind == "tree":
            from lockgate.store.artifacts import load_manifest

            try:
                return all(self.store.has(e["hash"]) for e in load_manifest(self.store, ref))
            except Exception:
                return False
        return True

    def output_digest(self, rel: str) -> str | None:
        """The digest of a ``cmd`` output path as the workspace holds it (a symlink as
        the link, never what it points to); None when it is missing, or lies in a
        folder that resolves outside the repository (never read there)."""
        target = os.path.join(self.root, rel)
        if not os.path.lexists(target) or not self._resolves_inside(os.path.dirname(rel.rstrip("/"))):
            return None
        return str(self.stats.hash_path(target, links=True)[0])

    def _resolves_inside(self, folder: str) -> bool:
        """Whether the repository-relative ``folder`` resolves inside the repository, as
        ``store.artifacts.outside_root`` decides (``os.path.realpath``), walking only the
        components below the root: the first symlink among them hands the whole path to
        ``realpath`` (the root is resolved once per Workspace, i.e. per run)."""
        real_root = self._real_root
        if os.path.isabs(folder):  # never a spec's path
            here = os.path.realpath(folder)
        else:
            here = real_root
            for part in folder.split("/"):
                if part in ("", "."):
                    continue
                here = os.path.dirname(here) if part == ".." else os.path.join(here, part)
                if part != ".." and os.path.islink(here):
                    here = os.path.realpath(os.path.join(self.root, folder))
                    break
        return here == real_root or here.startswith(real_root.rstrip(os.sep) + os.sep)

    @cached_property
    def _real_root(self) -> str:
        """The repository as the file system resolves it (one Workspace: one run)."""
        return os.path.realpath(self.root)

    def restore(self, outputs: dict[str, dict[str, Any]], paths: list[str]) -> None:
        """Put recorded outputs back from the store, each exactly as recorded (files,
        folders pruned to their manifest, symlinks as links). Never writes, deletes or
        follows a link outside the repository: a StoreError says which link is in the way."""
        from lockgate.store.artifacts import ArtifactRef, restore_output

        for path in paths:
            ref = ArtifactRef.from_record(outputs[path])
            target = self.root / path
            restore_output(self.store, ref, target, root=self.root)
            self.stats.forget(target) if hasattr(self.stats, "forget") else None


    # -- data: inputs and tracked files ---------------------------------------------

    def store_data(self, rel: str) -> dict[str, Any]:
        """Hash a data file or folder and keep its bytes in the store (DVC's ``dvc add``):
        the artifact record of ``rel``. A file the stat cache knows, whose object is
        stored, costs no read; any other is read once, copied into the store while it
        is hashed. A symlink inside a folder is kept as a link (its target text): what
        it points to is never read nor stored."""
        from lockgate.hashing import canonical_json

        target = self.root / rel
        if not target.exists():
            raise MissingInput(rel)
        if not target.is_dir():
            digest = self._store_file(target)
            return {"kind": "file", "digest": digest, "meta": {"size": target.stat().st_size}}
        import os

        from lockgate.hashing import folder_entries
        from lockgate.store.artifacts import tree_meta

        entries = folder_entries(target, self._store_file)  # a link inside: its text, not followed
        for entry in entries:
            if entry.link is not None:
                self.store.put_bytes(os.fsencode(entry.link), entry.hash)
        manifest = [entry.to_dict() for entry in entries]
        digest = self.store.put_bytes(canonical_json(manifest))
        return {"kind": "tree", "digest": digest, "meta": tree_meta(entries)}

    def _inside(self, rel: str) -> bool:
        """Whether ``rel`` (after following links) lies in the repository: only then are its
        bytes copied into the cache."""
        import os

        real = Path(os.path.realpath(self.root / rel))
        return real.is_relative_to(Path(os.path.realpath(self.root)))

    def _store_file(self, path: str | Path) -> str:
        digest = self.stats.hash_file(path, hasher=lambda p: self.store.put_file(p))
        if not self.store.has(digest):  # known to the stat cache, but not stored (gc, a new cache)
            self.store.put_file(path, digest)
        return str(digest)


def path_digest(root: Path, rel: str, stats: StatCache, exclude: tuple[str, ...] = ()) -> str:
    """The digest of a file or folder; a folder's digest leaves out ``exclude`` paths
    inside it (a stage's own outputs must not make its folder dependency change)."""
    target = os.path.join(root, rel)
    inside = [e for e in exclude if e.startswith(rel.rstrip("/") + "/")]
    if not inside or not os.path.isdir(target):
        return str(stats.hash_path(target)[0])
    from lockgate.hashing import folder_entries, hash_value

    skip = [e[len(rel.rstrip("/")) + 1:] for e in inside]
    entries = [
        e.to_dict() for e in folder_entries(target, stats.hash_file)
        if not any(e.path == s or e.path.startswith(s + "/") for s in skip)
    ]
    return hash_value(entries)


EXPR_PREFIX = "expr:"
"""Inputs read only by when/gates are recorded as ``expr:ARTIFACT``."""
READ_PREFIX = "read:"
"""The ``read:`` options of an ``inputs:`` entry an argument reads: ``read:ARG`` -> digest."""


def expression_artifacts(pipeline: Pipeline, stage: Stage) -> list[str]:
    """Artifacts produced in the pipeline that the stage's when/gates reference."""
    exprs = ([stage.when] if stage.when else []) + list(stage.gates)
    known = pipeline.known_artifacts
    found = []
    for expr in exprs:
        for ref in expr.refs:
            artifact = resolve_artifact(ref.name, stage, known)
            if artifact in pipeline.producers and artifact not in found:
                found.append(artifact)
    return sorted(found)


def _artifact_digest(artifact: str, records: dict[str, dict[str, Any]]) -> str:
    if artifact in records:
        return str(records[artifact]["digest"])
    # a cmd stage's metrics files, gated on by the stage's name: all of its outputs
    from lockgate.hashing import hash_value

    return hash_value({k: v.get("digest") for k, v in sorted(records.items())})


def is_current(record: Record, locked: StageLock | None) -> bool:
    return locked is not None and locked.fingerprint == record.fingerprint
