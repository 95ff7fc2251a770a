"""Typed artifacts over an object store: tables, models, metrics, JSON, files, folders.

Owns: the stored formats and the ``ArtifactRef`` record the lock file keeps.
An ``ArtifactRef`` carries two digests:

* ``digest`` — the canonical content hash used in fingerprints and lock
  files: ``hash_table`` for a table (independent of chunking and of how the
  IPC bytes were written), BLAKE3 of the bytes for a file, the manifest digest
  for a folder, ``hash_value`` for metrics and JSON, and for a model the
  BLAKE3 of its (deterministic) model file;
* ``object`` — the store key (BLAKE3 of the stored bytes) to fetch it by.
  For everything but tables the two are equal.

Formats:

* table: Arrow IPC file format, zstd-compressed, chunks combined first.
* metrics / json: ``canonical_json`` bytes (so the object key is the digest).
* tree: the manifest's ``canonical_json`` bytes, each file a blob of its own;
  a symlink in it is kept as a link, its target text being its blob.
* file that is a symlink (an output path that is itself a link): the
  ``canonical_json`` bytes of ``{"link": target}``, with ``meta["link"]``.
* model: a model file of ``models.py`` (skops inside Arrow IPC, the same
  bytes for the same fitted model), loaded with trusted types only.

Restoring never writes, removes or follows anything outside the repository
through a symlink (see ``restore_output``).

``load_model`` (an object of lockgate's own hash-verified cache) also trusts
``models.VETTED_TYPES``; see the trust policy in ``models.py``.

Must not: decide what is stale or write lock files (the executor and
``lock`` do), or import pyarrow, polars, skops or scikit-learn at module
level (they load when an artifact of that kind is touched).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, get_args

from lockgate._fs import atomic_path
from lockgate.errors import StoreError
from lockgate.hashing import (
    as_arrow_table,
    canonical_json,
    digest_bytes,
    folder_entries,
    hash_file,
    hash_table,
    is_digest,
    link_digest,
    walk_tree,
)
from lockgate.store.base import ObjectStore
from lockgate.store.models import (  # the model codec; the file helpers are re-exported
    VETTED_TYPES,
    canonical_skops,
    content_digest,
    decode_metadata,
    decode_model,
    decode_payload,
    encode_model,
    encode_model_with_digest,
    file_content_digest,
    load_model_file,
    model_file_metadata,
    read_payload,
    save_model_file,
)

if TYPE_CHECKING:
    import pyarrow as pa

Kind = Literal["table", "model", "metrics", "file", "tree", "json"]
KINDS: tuple[str, ...] = get_args(Kind)


@dataclass(frozen=True)
class ArtifactRef:
    """A typed pointer to an artifact in the store (see the module docstring)."""

    kind: Kind
    digest: str
    object: str
    meta: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_record(self) -> dict[str, Any]:
        """A plain dict for the lock file; ``object`` only when it differs."""
        record: dict[str, Any] = {"kind": self.kind, "digest": self.digest}
        if self.object != self.digest:
            record["object"] = self.object
        if self.meta:
            record["meta"] = dict(self.meta)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ArtifactRef:
        kind, digest = record.get("kind"), record.get("digest")
        obj = record.get("object", digest)
        if kind not in KINDS or not is_digest(digest) or not is_digest(obj):
            raise StoreError(f"not an artifact record (kind, digest, object): {dict(record)!r}")
        return cls(kind, digest, obj, dict(record.get("meta") or {}))  # type: ignore[arg-type]


class WrongRecord(StoreError):
    """A record whose object is intact but holds something else than its digest names
    (a hand-edited or tampered lock): the producer is rebuilt, never trusted."""


def _expect(ref: ArtifactRef, *kinds: str) -> None:
    if ref.kind not in kinds:
        raise StoreError(f"artifact {ref.digest[:12]} is a {ref.kind}, not a {' or '.join(kinds)}")


# -- tables ----------------------------------------------------------------------


def _write_ipc(table: pa.Table, path: Path) -> None:
    import pyarrow as pa

    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with (
        pa.OSFile(str(path), "wb") as sink,
        pa.ipc.new_file(sink, table.schema, options=options) as w,
    ):
        w.write_table(table)


def _read_ipc(data: bytes, what: str) -> pa.Table:
    import pyarrow as pa

    try:
        return pa.ipc.open_file(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise StoreError(f"{what} is not a readable Arrow IPC file: {exc}") from exc


def save_table(store: ObjectStore, table: Any) -> ArtifactRef:
    """Store a pyarrow Table or polars DataFrame; ``digest`` is ``hash_table``."""
    table = as_arrow_table(table)
    digest = hash_table(table)
    with store.staging_path(".arrow") as tmp:
        _write_ipc(table.combine_chunks(), tmp)
        obj = store.put_file(tmp, move=True)
    meta = {"rows": table.num_rows, "columns": table.num_columns}
    return ArtifactRef("table", digest, obj, meta)


def load_table(store: ObjectStore, ref: ArtifactRef, *, check_digest: bool = False) -> pa.Table:
    """The table behind ``ref``; bytes are verified, and with ``check_digest``
    the canonical digest too (a StoreError if the record does not match)."""
    _expect(ref, "table")
    table = _read_ipc(store.get_bytes(ref.object), f"table object {ref.object[:12]}")
    if check_digest and hash_table(table) != ref.digest:
        raise WrongRecord(
            f"table object {ref.object[:12]} does not hold table {ref.digest[:12]}; "
            "the record is wrong: rerun the stage that produced it"
        )
    return table


# -- metrics and JSON ------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float):
        return True
    # numpy scalars (shape ()) count; checked by module so numpy is not imported
    return type(value).__module__ == "numpy" and getattr(value, "shape", None) == ()


def metrics_problem(value: Any, where: str = "") -> str | None:
    """Why ``value`` is not a metrics dict (numbers, nested dicts), or None."""
    if not isinstance(value, Mapping):
        return f"{where or 'metrics'} is a {type(value).__name__}, not a dict"
    for key, item in value.items():
        path = f"{where}.{key}" if where else str(key)
        if not isinstance(key, str):
            return f"key {path!r} is not a string"
        if isinstance(item, Mapping):
            problem = metrics_problem(item, path)
            if problem:
                return problem
        elif not _is_number(item):
            return f"{path} is a {type(item).__name__}, not a number"
    return None


def _put_json(store: ObjectStore, kind: Kind, value: Any) -> ArtifactRef:
    digest = store.put_bytes(canonical_json(value))
    return ArtifactRef(kind, digest, digest)


def save_metrics(store: ObjectStore, metrics: Mapping[str, Any]) -> ArtifactRef:
    """Store a dict of numbers (nested dicts allowed) as canonical JSON."""
    problem = metrics_problem(metrics)
    if problem:
        raise TypeError(f"metrics must be a dict of numbers: {problem}")
    return _put_json(store, "metrics", metrics)


def load_metrics(store: ObjectStore, ref: ArtifactRef) -> dict[str, Any]:
    _expect(ref, "metrics")
    value: dict[str, Any] = json.loads(store.get_bytes(ref.object))
    return value


def save_json(store: ObjectStore, value: Any) -> ArtifactRef:
    """Store any JSON-able value (e.g. a drift report) as canonical JSON."""
    return _put_json(store, "json", value)


def load_json(store: ObjectStore, ref: ArtifactRef) -> Any:
    _expect(ref, "json", "metrics")
    return json.loads(store.get_bytes(ref.object))


# -- files and folders -------------------------------------------------------------


def save_file(
    store: ObjectStore, path: str | os.PathLike[str], digest: str | None = None
) -> ArtifactRef:
    """Store a file as a blob; pass ``digest`` from the stat cache to skip
    the copy when the object is already there."""
    obj = store.put_file(path, digest)
    return ArtifactRef("file", obj, obj, {"size": os.stat(path).st_size})


def save_link(store: ObjectStore, path: str | os.PathLike[str]) -> ArtifactRef:
    """Store a symlink standing alone (a ``cmd`` output path that is itself a link)
    as the canonical record ``{"link": target}``: a ``file`` artifact whose
    ``meta["link"]`` says to restore it as a link. What it points to is never read."""
    target = os.readlink(path)
    digest = store.put_bytes(canonical_json({"link": target}))
    return ArtifactRef("file", digest, digest, {"link": target})


def tree_meta(entries: list[Any]) -> dict[str, Any]:
    """A folder record's ``meta``: how many files (and links, if any) and their size."""
    links = sum(1 for e in entries if e.link is not None)
    meta: dict[str, Any] = {"files": len(entries) - links, "size": sum(e.size for e in entries)}
    if links:
        meta["links"] = links
    return meta


def save_tree(
    store: ObjectStore,
    path: str | os.PathLike[str],
    file_hash: Callable[[str], str] = hash_file,
) -> ArtifactRef:
    """Store every file of a folder, then its manifest (whose key is the
    folder's digest, ``hash_tree(path)[0]``). A symlink in the folder is stored
    as its target text (its entry's object), never as what it points to."""
    root = Path(path)
    entries = folder_entries(root, file_hash)
    for entry in entries:
        if entry.link is not None:
            store.put_bytes(os.fsencode(entry.link), entry.hash)
        else:
            store.put_file(root / entry.path, entry.hash)
    manifest = [entry.to_dict() for entry in entries]
    digest = store.put_bytes(canonical_json(manifest))
    return ArtifactRef("tree", digest, digest, tree_meta(entries))


def load_manifest(store: ObjectStore, ref: ArtifactRef) -> list[dict[str, Any]]:
    """The verified manifest of a stored folder: relative paths only, no path twice,
    nothing under a link, and each link's hash that of its target text."""
    _expect(ref, "tree")
    manifest: list[dict[str, Any]] = json.loads(store.get_bytes(ref.object))
    links = {entry["path"] for entry in manifest if "link" in entry}
    seen: set[str] = set()
    for entry in manifest:
        rel = PurePosixPath(entry["path"])
        problem = ""
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            problem = "an unsafe path"
        elif entry["path"] in seen:
            problem = "a path listed twice"
        elif links and any(parent.as_posix() in links for parent in rel.parents):
            problem = "a path under a link"
        elif "link" in entry and (
            not isinstance(entry["link"], str)
            or entry["hash"] != digest_bytes(os.fsencode(entry["link"]))
        ):
            problem = "a link whose hash is not that of its target"
        if problem:
            raise StoreError(f"manifest {ref.digest[:12]} has {problem}: {entry['path']!r}")
        seen.add(entry["path"])
    return manifest


# -- restoring: never write, delete or follow a link out of the repository ----------------


def _within(real: str, base: str) -> bool:
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def outside_root(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str | None:
    """Why ``path`` (which need not exist) resolves outside ``root``, naming the
    symlink that leads out (``out/ext is a symlink to /data, outside the repository``);
    None when it resolves inside. Only symlinks are followed, never created."""
    base = os.path.realpath(root)
    if _within(os.path.realpath(path), base):
        return None
    top = Path(os.path.abspath(root))
    try:
        rel = Path(os.path.abspath(path)).relative_to(top)
    except ValueError:
        return f"{path} is outside the repository ({root})"
    here = top
    for part in rel.parts:
        here = here / part
        if here.is_symlink() and not _within(os.path.realpath(here), base):
            link = here.relative_to(top).as_posix()
            return f"{link} is a symlink to {os.readlink(here)}, outside the repository"
    return f"{rel.as_posix()} resolves to {os.path.realpath(path)}, outside the repository"


def _refuse_outside(folder: Path, root: str | os.PathLike[str] | None) -> None:
    """A StoreError when ``folder`` (where something is to be written or removed)
    resolves outside ``root``; the message names the link that leads out."""
    why = outside_root(folder, root) if root is not None else None
    if why:
        raise StoreError(
            f"{why}; lockgate never writes through a link out of the repository "
            "(remove the link or move the data in, then run again)"
        )


def _clear_folder(dest: Path) -> None:
    """Remove an empty folder tree standing where a file or link belongs (after a prune);
    a folder still holding anything is an error, not something to delete."""
    if not dest.is_dir() or dest.is_symlink():
        return
    for folder, _, _ in sorted(os.walk(dest), key=lambda item: -len(item[0])):
        try:
            os.rmdir(folder)
        except OSError:
            raise StoreError(
                f"{dest}: a folder that is not empty stands where the stored folder has a file or link"
            ) from None


def restore_file(
    store: ObjectStore,
    ref: ArtifactRef | str,
    dest: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
) -> Path:
    """Copy an object out to ``dest`` atomically (temp + rename), creating
    parent folders; the copy is verified and writable. A symlink at ``dest`` is
    replaced, never written through. With ``root``, a ``dest`` whose folder
    resolves outside ``root`` (a parent is a symlink out of it) is refused
    (StoreError) before anything is created."""
    obj = ref.object if isinstance(ref, ArtifactRef) else ref
    dest = Path(dest)
    _refuse_outside(dest.parent, root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _refuse_outside(dest.parent, root)  # a parent swapped for a link meanwhile
    with atomic_path(dest) as tmp:
        store.copy_to(obj, tmp)
    return dest


def restore_link(
    target: str, dest: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> Path:
    """Make ``dest`` a symlink to ``target`` (its text as recorded), atomically: a
    new link renamed over whatever file or link stands there. Nothing is written
    through ``dest`` or read from ``target``; with ``root``, a ``dest`` whose
    folder resolves outside it is refused, as in ``restore_file``."""
    dest = Path(dest)
    _refuse_outside(dest.parent, root)
    if dest.is_symlink() and os.readlink(dest) == target:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    _refuse_outside(dest.parent, root)
    with atomic_path(dest) as tmp:
        os.symlink(target, tmp)
    return dest


def _prune(dest: Path, wanted: set[str], root: str | os.PathLike[str]) -> None:
    """Remove the files and links under ``dest`` that ``wanted`` does not list. The
    walk never enters a symlinked folder, so each path lies under ``dest`` by its own
    name; a link is removed, never its target; and nothing is removed from a folder
    that resolves outside ``root``."""
    for path, _ in walk_tree(dest):
        if path.relative_to(dest).as_posix() not in wanted:
            _refuse_outside(path.parent, root)
            path.unlink()


def restore_tree(
    store: ObjectStore,
    ref: ArtifactRef,
    dest: str | os.PathLike[str],
    *,
    prune: bool = False,
    root: str | os.PathLike[str] | None = None,
) -> Path:
    """Restore a stored folder's files and links under ``dest``, each atomically.

    With ``prune``, files and links under ``dest`` that the manifest does not
    list are removed first (``.git`` and ``.lockgate`` are left alone), so
    ``dest`` then hashes to ``ref.digest``. Nothing is written or removed
    outside ``root`` (the repository; by default ``dest`` itself): ``dest`` must
    resolve inside it, a link inside ``dest`` is never entered, and a file whose
    folder resolves outside it is refused with a StoreError.
    """
    dest = Path(dest)
    boundary = root if root is not None else dest
    manifest = load_manifest(store, ref)
    _refuse_outside(dest, boundary)
    if prune and dest.is_dir():
        _prune(dest, {entry["path"] for entry in manifest}, boundary)
    for entry in manifest:
        target = dest.joinpath(*PurePosixPath(entry["path"]).parts)
        if prune:
            _clear_folder(target)
        if "link" in entry:
            restore_link(entry["link"], target, root=boundary)
        else:
            restore_file(store, entry["hash"], target, root=boundary)
    dest.mkdir(parents=True, exist_ok=True)
    return dest


def restore_output(
    store: ObjectStore, ref: ArtifactRef, dest: str | os.PathLike[str], *, root: str | os.PathLike[str]
) -> Path:
    """Put the stored file, folder or link ``ref`` at ``dest`` exactly as it was
    recorded, replacing whatever stands there (a folder is pruned to its
    manifest). Nothing outside ``root`` (the repository) is written, removed or
    followed: a ``dest`` whose folder resolves outside it is a StoreError."""
    import shutil

    dest = Path(dest)
    _refuse_outside(dest.parent, root)
    if ref.kind == "tree":
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            dest.unlink()  # a link or a file where the folder belongs: the link, not its target
        return restore_tree(store, ref, dest, prune=True, root=root)
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)  # a folder where the file belongs (rmtree never follows links)
    link = ref.meta.get("link")
    if link is None:
        return restore_file(store, ref, dest, root=root)
    if not isinstance(link, str) or link_digest(link) != ref.digest:
        raise StoreError(f"artifact {ref.digest[:12]}: its record names a link it does not hold")
    return restore_link(link, dest, root=root)


# -- models (the format is models.py's) ------------------------------------------


def save_model(
    store: ObjectStore,
    model: Any,
    *,
    feature_names: list[str] | None = None,
    training_data_hash: str | None = None,
) -> ArtifactRef:
    """Store a fitted model (skops inside Arrow IPC). Its digest is the model's content
    digest, its object the file's (``models.content_digest`` says why they differ)."""
    data, digest = encode_model_with_digest(model, feature_names=feature_names,
                                            training_data_hash=training_data_hash)
    obj = store.put_bytes(data)
    cls = type(model)
    return ArtifactRef("model", digest, obj, {"class": f"{cls.__module__}.{cls.__qualname__}"})


def load_model(store: ObjectStore, ref: ArtifactRef, trusted: list[str] | None = None) -> Any:
    """The model behind ``ref``; UntrustedModel names any type not trusted."""
    _expect(ref, "model")
    what = f"model {ref.digest[:12]}"
    payload, meta = read_payload(store.get_bytes(ref.object), what)  # read (decompressed) once
    if ref.object != ref.digest and content_digest(payload, meta) != ref.digest:
        raise WrongRecord(f"model object {ref.object[:12]} does not hold model {ref.digest[:12]}; "
                          "the record that names it was edited")
    return decode_payload(payload, meta, trusted, what=what, vetted=True)


def model_metadata(store: ObjectStore, ref: ArtifactRef) -> dict[str, Any]:
    """Class, library versions, feature names and training-data hash, without
    loading the model."""
    _expect(ref, "model")
    return decode_metadata(store.get_bytes(ref.object), f"model {ref.digest[:12]}")


# -- any value ---------------------------------------------------------------------------


def _is_table(value: Any) -> bool:
    module = type(value).__module__
    if module.startswith("pyarrow"):
        import pyarrow as pa

        return isinstance(value, pa.Table | pa.RecordBatch)
    return module.startswith("polars") and type(value).__name__ == "DataFrame"


def save_any(store: ObjectStore, value: Any) -> ArtifactRef:
    """Save by kind: a table (pyarrow, polars, pandas), a metrics dict, other JSON
    (dict/list), else a model."""
    from lockgate.tables import from_pandas, is_pandas

    if is_pandas(value):
        return save_table(store, from_pandas(value))
    if _is_table(value):
        return save_table(store, value)
    if isinstance(value, Mapping) and metrics_problem(value) is None:
        return save_metrics(store, value)
    if isinstance(value, Mapping | list):
        return save_json(store, value)
    return save_model(store, value)


def load_any(store: ObjectStore, ref: ArtifactRef, trusted: list[str] | None = None) -> Any:
    """Load any artifact by its kind (files and folders return their local
    object path or manifest)."""
    loaders: dict[str, Callable[[], Any]] = {
        "table": lambda: load_table(store, ref),
        "model": lambda: load_model(store, ref, trusted),
        "metrics": lambda: load_metrics(store, ref),
        "json": lambda: load_json(store, ref),
        "tree": lambda: load_manifest(store, ref),
        "file": lambda: store.get_bytes(ref.object),
    }
    return loaders[ref.kind]()


__all__ = [
    "KINDS",
    "VETTED_TYPES",
    "ArtifactRef",
    "WrongRecord",
    "Kind",
    "canonical_skops",
    "decode_model",
    "encode_model",
    "encode_model_with_digest",
    "file_content_digest",
    "load_any",
    "load_json",
    "load_manifest",
    "load_metrics",
    "load_model",
    "load_model_file",
    "load_table",
    "metrics_problem",
    "model_file_metadata",
    "model_metadata",
    "outside_root",
    "restore_file",
    "restore_link",
    "restore_output",
    "restore_tree",
    "save_any",
    "save_file",
    "save_json",
    "save_link",
    "save_metrics",
    "save_model",
    "save_model_file",
    "save_table",
    "save_tree",
    "tree_meta",
]
