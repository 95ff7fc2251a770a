"""Models: a fitted model as one file, skops inside Arrow IPC, loaded with trusted types only.

Owns the model format and its trust policy; ``artifacts.py`` stores the bytes
as an object (``save_model``/``load_model``), ``registry export`` and
``save_model_file`` write them to a path.

Format: an Arrow IPC file with one ``large_binary`` column ``skops`` holding
one ``skops.io.dumps`` payload, and schema metadata ``lockgate.format`` and
``lockgate.model`` (JSON: class path, library versions, feature names,
training-data hash). skops names the members of its zip after ``id()`` of
the objects and stamps them with the current time; we renumber them in
document order and zero the timestamps, so the same fitted model gives
the same bytes in any process and retraining an identical model leaves
its dependents fresh. A model artifact's digest is its content digest (:func:`content_digest`: the
payload, class, feature names and training-data hash), not the file's: the
library versions recorded beside them say where it was trained, and a Python
patch release or a NumPy upgrade must not make every model look changed (it
did: the README example, committed with one Python 3.11 build, reran its
gates on another). Loading checks ``skops.io.get_untrusted_types``
and refuses (``UntrustedModel``) any type not trusted by skops or by the
caller, never falling back to plain pickle.

Trust policy. skops deliberately leaves tree internals untrusted (a crafted
node array can crash ``predict``: skops PR #535), which would make every
random forest or boosted model fail to load. ``artifacts.load_model``
(objects from lockgate's own hash-verified cache, written by lockgate, in a
repository whose ``cmd:`` stages lockgate already runs) additionally trusts
``VETTED_TYPES``, those tree types only. ``load_model_file`` (a file from
anywhere) does not, unless asked with ``vetted=True``: a foreign file gets
exactly skops' defaults plus the caller's ``trusted`` list.

Must not: know the object store or artifact records, or import pyarrow,
skops, scikit-learn or zipfile at module level (``artifacts.py`` imports this
module, and reading an artifact record loads none of them).
"""

from __future__ import annotations

import io
import json
import logging
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate._fs import atomic_write_bytes
from lockgate.errors import StoreError, UntrustedModel
from lockgate.hashing import canonical_json, digest_bytes

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

MODEL_FORMAT = "lockgate-model/1"
MODEL_COLUMN = "skops"
#: Tree internals skops leaves untrusted (malformed nodes can crash predict,
#: never run code: they are rebuilt from plain arrays, not by pickle). Trusted
#: for models from lockgate's own cache only; see "Trust policy" in the module docstring.
VETTED_TYPES: frozenset[str] = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)


def _renumbered(schema: Any, ids: dict[int, int], files: dict[str, str]) -> Any:
    """``schema`` with skops' id()-based numbers replaced in document order."""
    if isinstance(schema, list):
        return [_renumbered(item, ids, files) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
            value = ids.setdefault(value, len(ids))
        elif key == "file" and isinstance(value, str):
            stem, dot, ext = value.partition(".")
            if not stem.isdigit():
                raise ValueError(f"unexpected skops member name {value!r}")
            files[value] = f"{ids.setdefault(int(stem), len(ids))}{dot}{ext}"
            value = files[value]
        out[key] = _renumbered(value, ids, files)
    return out


def canonical_skops(payload: bytes) -> bytes:
    """The same skops payload with stable member names and zeroed timestamps.

    Falls back to the payload unchanged (and logs why) if its layout is not
    the one we know, so an unusual model still saves, just not reproducibly.
    """
    import zipfile  # loaded with the first model: reading an artifact record (every `status`) needs no zip

    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as src:
            names = set(src.namelist()) - {"schema.json"}
            files: dict[str, str] = {}
            schema = _renumbered(json.loads(src.read("schema.json")), {}, files)
            if set(files) != names:
                raise ValueError("schema.json and the zip members disagree")
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
                members = [(new, src.read(old)) for old, new in files.items()]
                members.append(("schema.json", json.dumps(schema).encode("utf-8")))
                for name, data in sorted(members):
                    dst.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
            return out.getvalue()
    except (ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning(
            "model payload kept as skops wrote it (%s): its digest is not reproducible", exc
        )
        return payload


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in ("scikit-learn", "skops", "numpy", "scipy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def _model_meta(
    model: Any, feature_names: list[str] | None, training_data_hash: str | None
) -> dict[str, Any]:
    if feature_names is None and getattr(model, "feature_names_in_", None) is not None:
        feature_names = [str(name) for name in model.feature_names_in_]
    cls = type(model)
    return {
        "format": MODEL_FORMAT,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "versions": _library_versions(),
        "feature_names": list(feature_names) if feature_names is not None else None,
        "training_data_hash": training_data_hash,
    }


def content_digest(payload: bytes, meta: dict[str, Any]) -> str:
    """What a model is: its skops payload (which carries scikit-learn's version), class,
    feature names and training-data hash; not the environment's library versions."""
    what = {key: value for key, value in meta.items() if key != "versions"}
    return digest_bytes(canonical_json({"meta": what, "payload": digest_bytes(payload)}))


def encode_model(
    model: Any,
    *,
    feature_names: list[str] | None = None,
    training_data_hash: str | None = None,
) -> bytes:
    """The bytes of a model file: skops payload + metadata in Arrow IPC."""
    return encode_model_with_digest(model, feature_names=feature_names, training_data_hash=training_data_hash)[0]


def encode_model_with_digest(
    model: Any,
    *,
    feature_names: list[str] | None = None,
    training_data_hash: str | None = None,
) -> tuple[bytes, str]:
    """The bytes of a model file, and the model's :func:`content_digest`."""
    import pyarrow as pa
    import skops.io

    payload = canonical_skops(skops.io.dumps(model))
    meta = _model_meta(model, feature_names, training_data_hash)
    schema = pa.schema(
        [pa.field(MODEL_COLUMN, pa.large_binary(), nullable=False)],
        metadata={"lockgate.format": MODEL_FORMAT, "lockgate.model": canonical_json(meta)},
    )
    table = pa.table({MODEL_COLUMN: pa.array([payload], pa.large_binary())}, schema=schema)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_file(sink, schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes()), content_digest(payload, meta)


def file_content_digest(data: bytes, what: str = "model") -> str:
    """The :func:`content_digest` of a model file's bytes."""
    return content_digest(*read_payload(data, what))


def _model_table(data: bytes, what: str) -> tuple[pa.Table, dict[str, Any]]:
    import pyarrow as pa

    try:
        table = pa.ipc.open_file(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        raise StoreError(
            f"{what} is not a lockgate model file (an Arrow IPC file holding a skops payload)"
        ) from None
    raw = table.schema.metadata or {}
    if (
        raw.get(b"lockgate.format") != MODEL_FORMAT.encode()
        or MODEL_COLUMN not in table.column_names
    ):
        raise StoreError(
            f"{what} is an Arrow file but not a lockgate model (no {MODEL_FORMAT} metadata)"
        )
    meta: dict[str, Any] = json.loads(raw[b"lockgate.model"])
    return table, meta


def read_payload(data: bytes, what: str = "model") -> tuple[bytes, dict[str, Any]]:
    """A model file's skops payload (decompressed) and its metadata."""
    table, meta = _model_table(data, what)
    return table.column(MODEL_COLUMN)[0].as_py(), meta


def decode_model(
    data: bytes, trusted: list[str] | None = None, what: str = "model", *, vetted: bool = False
) -> Any:
    """Load a model file's payload with skops: only types skops trusts, the
    caller's ``trusted`` list, and with ``vetted`` also ``VETTED_TYPES``."""
    return decode_payload(*read_payload(data, what), trusted, what, vetted=vetted)


def decode_payload(
    payload: bytes, meta: dict[str, Any], trusted: list[str] | None = None, what: str = "model", *,
    vetted: bool = False,
) -> Any:
    """:func:`decode_model` of a payload already read (:func:`read_payload`)."""
    import skops.io

    try:
        unknown = skops.io.get_untrusted_types(data=payload)
    except Exception as exc:  # skops raises assorted errors on a bad payload
        raise StoreError(f"{what}: the skops payload is unreadable: {exc}") from exc
    allowed = set(trusted or ()) | (VETTED_TYPES if vetted else set())
    refused = sorted(set(unknown) - allowed)
    if refused:
        raise UntrustedModel(what=what, types=refused, model_class=str(meta.get("class", "")))
    return skops.io.loads(payload, trusted=list(unknown))


def decode_metadata(data: bytes, what: str = "model") -> dict[str, Any]:
    """A model file's class, library versions, feature names and training-data hash,
    without loading the model."""
    return _model_table(data, what)[1]


def save_model_file(
    model: Any,
    path: str | os.PathLike[str],
    *,
    feature_names: list[str] | None = None,
    training_data_hash: str | None = None,
) -> str:
    """Write the model format to a plain path atomically; returns its digest."""
    data = encode_model(model, feature_names=feature_names, training_data_hash=training_data_hash)
    atomic_write_bytes(path, data, durable=False, parents=False)
    return digest_bytes(data)


def load_model_file(
    path: str | os.PathLike[str], trusted: list[str] | None = None, *, vetted: bool = False
) -> Any:
    """Load a model file written by ``save_model_file`` or ``registry export``
    (skops' trust defaults; ``vetted=True`` adds ``VETTED_TYPES``)."""
    return decode_model(Path(path).read_bytes(), trusted, what=str(path), vetted=vetted)


def model_file_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    return decode_metadata(Path(path).read_bytes(), str(path))


__all__ = [
    "MODEL_COLUMN",
    "MODEL_FORMAT",
    "VETTED_TYPES",
    "canonical_skops",
    "content_digest",
    "decode_metadata",
    "decode_model",
    "decode_payload",
    "encode_model",
    "encode_model_with_digest",
    "file_content_digest",
    "load_model_file",
    "model_file_metadata",
    "read_payload",
    "save_model_file",
]
