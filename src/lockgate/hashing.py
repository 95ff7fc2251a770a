"""Canonical encodings and BLAKE3 digests: bytes, files, folders, JSON values, tables.

Owns: every content digest lockgate writes into fingerprints and lock files,
and the encodings behind them (``canonical_json`` for params, metrics and
manifests; our own column encoding for tables). BLAKE3 is the only hash.

Must not: touch the object store, cache anything (that is ``store.statcache``),
or import pyarrow, numpy or polars at module level. ``import lockgate.hashing``
loads only blake3 and the standard library; ``hash_table`` imports pyarrow and
numpy when it is first called.

Folders: a manifest of every file and every symlink under the folder. A
symlink is an entry of its own, hashed by its target text as git keeps it; a
walk never enters a symlinked folder and never reads what a link points to, so
hashing (and storing) a folder never leaves it. A folder without links has the
manifest, and the digest, it always had.

Table encoding (version ``lockgate-table-v1``), pinned by a golden-digest test:

* The digest is a function of the schema's column names, their logical types
  and the values only. Chunking, slice offsets, buffer padding, the bytes
  under null slots, and schema or field metadata do not enter it; nor does a
  field's ``nullable`` flag (a constraint, not data).
* Each column is hashed as a tree of streams, each fed chunk by chunk so that
  the concatenation of chunks gives the same stream as one contiguous array:
  ``nulls`` (the int64 row positions of null rows), ``values`` (fixed-width
  values as little-endian bytes, null slots zeroed), ``lengths`` (int64 per
  row, 0 for null rows) and ``data`` (the concatenated bytes of var-width
  values). Lists and maps hash their lengths and then their flattened child
  as a nested column; structs hash their own nulls and then each field.
  A column's digest is BLAKE3 over its type token, row count and stream
  digests; the table's digest is BLAKE3 over the row count and each column's
  name and digest, in column order.
* Floats are hashed by bit pattern, with one exception: every NaN becomes the
  one quiet NaN (NaN payloads and signs carry no meaning and differ between
  libraries). ``-0.0`` and ``0.0`` stay distinct: a cache key errs towards
  "changed" (a rerun) rather than "unchanged" (a stale result).
* Types: different types give different digests (``int32`` vs ``int64``,
  ``string`` vs ``large_string``, timestamp units and zones). Dictionary and
  run-end encodings are storage choices, not types: they are decoded and hash
  as their value type. Extension types hash as their storage plus their name.
  Union and list-view columns are refused with a TypeError.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blake3 import blake3

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = [
    "FolderEntry",
    "canonical_json",
    "digest_bytes",
    "hash_file",
    "hash_table",
    "hash_tree",
    "hash_value",
    "is_digest",
    "link_digest",
    "link_entry",
    "walk_tree",
]

DIGEST_HEX_LEN = 64
SKIPPED_DIRS = frozenset({".git", ".lockgate", "__pycache__"})
#: Written by Python itself as a side effect of importing a folder's code: never content.
SKIPPED_SUFFIXES = (".pyc", ".pyo")
#: Files at least this big are hashed through a memory map with all cores.
MMAP_THRESHOLD = 1 << 20
TABLE_ENCODING = b"lockgate-table-v1"
_HEX = "0123456789abcdef"


# -- bytes, files, JSON ------------------------------------------------------


def digest_bytes(data: bytes | bytearray | memoryview) -> str:
    """The 64-hex BLAKE3 digest of ``data``."""
    return blake3(data).hexdigest()


def is_digest(value: object) -> bool:
    """True when ``value`` is a 64-character lowercase hex string."""
    # strip() leaves nothing exactly when every character is one of _HEX (no set built)
    return isinstance(value, str) and len(value) == DIGEST_HEX_LEN and not value.strip(_HEX)


def hash_file(path: str | os.PathLike[str]) -> str:
    """BLAKE3 of a file's bytes; big files go through a multi-threaded mmap."""
    size = os.stat(path).st_size
    if size < MMAP_THRESHOLD:
        with open(path, "rb") as f:
            return blake3(f.read()).hexdigest()
    hasher = blake3(max_threads=blake3.AUTO)
    hasher.update_mmap(os.fspath(path))
    return hasher.hexdigest()


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays (from steps and metrics) become plain values;
    # checked by module name so numpy is never imported here.
    if type(obj).__module__ == "numpy" and hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable: {obj!r}")


def canonical_json(obj: Any) -> bytes:
    """The canonical JSON bytes of ``obj``: the record behind ``hash_value``.

    Sorted keys, no whitespace, UTF-8, floats by ``repr`` (so 0.1 round-trips),
    tuples as lists, numpy scalars as Python numbers. NaN and infinities raise
    ValueError. Non-string keys are stringified by ``json`` (``{1: x}`` and
    ``{"1": x}`` encode alike), so records should use string keys.
    """
    return _CANONICAL.encode(obj).encode("utf-8")


# json.dumps(obj, **these) builds this very encoder on every call; one is enough (it keeps no
# state between calls): a status computes two record digests per stage
_CANONICAL = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    default=_json_default,
)


def hash_value(obj: Any) -> str:
    """BLAKE3 of ``canonical_json(obj)``."""
    return digest_bytes(canonical_json(obj))


# -- folders -------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class FolderEntry:
    """One entry of a folder manifest; ``path`` is POSIX and relative.

    A file's ``hash`` and ``size`` are those of its bytes. A symlink is an entry
    of its own, never what it points to (as git keeps it): ``link`` is its target
    as written, and ``hash`` and ``size`` are those of that text, which is also
    its stored object. ``link`` appears in the manifest only for links, so the
    manifest, and the digest, of a folder without links is what it always was.
    """

    path: str
    hash: str
    size: int
    link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "hash": self.hash, "size": self.size}
        if self.link is not None:
            entry["link"] = self.link
        return entry


def link_entry(rel: str, target: str) -> FolderEntry:
    """The manifest entry of a symlink at ``rel`` whose target text is ``target``."""
    text = os.fsencode(target)
    return FolderEntry(path=rel, hash=digest_bytes(text), size=len(text), link=target)


def walk_tree(root: str | os.PathLike[str]) -> Iterator[tuple[Path, bool]]:
    """Every regular file and symlink under ``root``, as ``(path, is_link)``.

    A symlink is yielded as itself, whatever it points to (a file, a folder,
    nothing, something outside the repository): the walk never descends into a
    symlinked folder, so it never leaves ``root`` and never loops. ``root``
    itself is listed even when it is a symlink (the caller named it). Skipped:
    ``.git``, ``.lockgate`` and ``__pycache__`` folders (and links so named),
    ``.pyc``/``.pyo`` files, and anything that is neither a file nor a link
    (fifos, sockets, devices).
    """
    for dirpath, dirnames, filenames in os.walk(root):  # followlinks=False
        folders = []
        for name in dirnames:  # os.walk lists a link to a folder here, and does not enter it
            path = Path(dirpath, name)
            if name in SKIPPED_DIRS:
                continue
            if path.is_symlink():
                yield path, True
            else:
                folders.append(name)
        dirnames[:] = sorted(folders)
        for name in filenames:
            path = Path(dirpath, name)
            if name.endswith(SKIPPED_SUFFIXES):
                continue
            if path.is_symlink():
                if name not in SKIPPED_DIRS:
                    yield path, True
            elif path.is_file():
                yield path, False


def folder_entries(
    path: str | os.PathLike[str], file_hash: Callable[[str], str] = hash_file
) -> list[FolderEntry]:
    """The manifest entries of a folder, sorted by path (empty folders vanish).

    Files are hashed with ``file_hash``; a symlink is hashed by its target text
    (``link_entry``), and nothing it points to is ever read."""
    root = Path(path)
    entries = []
    for item, is_link in walk_tree(root):
        rel = item.relative_to(root).as_posix()
        if is_link:
            entries.append(link_entry(rel, os.readlink(item)))
        else:
            entries.append(FolderEntry(path=rel, hash=file_hash(str(item)), size=item.stat().st_size))
    return sorted(entries)


def hash_tree(
    path: str | os.PathLike[str], file_hash: Callable[[str], str] = hash_file
) -> tuple[str, list[dict[str, Any]]]:
    """A folder's digest and manifest.

    The manifest is the sorted list of ``{"path", "hash", "size"}`` of every
    file under ``path`` (``.git`` and ``.lockgate`` folders skipped), and of
    ``{"path", "hash", "size", "link"}`` of every symlink (see ``FolderEntry``);
    the digest is ``hash_value(manifest)``, so the stored manifest object
    (``canonical_json(manifest)``) has the folder's digest as its key.
    """
    manifest = [entry.to_dict() for entry in folder_entries(path, file_hash)]
    return hash_value(manifest), manifest


def link_digest(target: str) -> str:
    """The digest of a symlink standing alone (an output path that is itself a link):
    ``hash_value({"link": target})``. Its stored object is that canonical record, so
    the digest is the object key, as for a file; nothing the link points to is read."""
    return hash_value({"link": target})


# -- tables --------------------------------------------------------------------


def _u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def _frame(data: bytes) -> bytes:
    return _u64(len(data)) + data


def as_arrow_table(table: Any) -> pa.Table:
    """A pyarrow Table from a Table, RecordBatch or polars DataFrame."""
    import pyarrow as pa

    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    if type(table).__module__.startswith("polars") and hasattr(table, "to_arrow"):
        return table.to_arrow()
    raise TypeError(f"expected a pyarrow Table or polars DataFrame, got {type(table).__name__}")


def hash_table(table: Any) -> str:
    """The canonical digest of a table's schema and values (see module docstring)."""
    if sys.byteorder != "little":  # pragma: no cover - every supported host is LE
        raise NotImplementedError("hash_table assumes a little-endian host")
    table = as_arrow_table(table)
    hasher = blake3()
    hasher.update(_frame(TABLE_ENCODING))
    hasher.update(_u64(table.num_rows) + _u64(table.num_columns))
    for field, column in zip(table.schema, table.columns, strict=True):
        hasher.update(_frame(field.name.encode("utf-8")))
        hasher.update(_column_digest(field, column))
    return hasher.hexdigest()


def _column_digest(field: pa.Field, column: pa.ChunkedArray) -> bytes:
    node = _node_for(field.type, field.name)
    for chunk in column.chunks:
        node.feed(chunk)
    return node.digest()


def _type_token(t: pa.DataType) -> str:
    """Our own name for a logical type (pyarrow's str() may change)."""
    import pyarrow as pa
    import pyarrow.types as pt

    if pt.is_dictionary(t):
        return _type_token(t.value_type)
    if pt.is_run_end_encoded(t):
        return _type_token(t.value_type)
    if isinstance(t, pa.ExtensionType):
        return f"ext<{len(t.extension_name)}:{t.extension_name},{_type_token(t.storage_type)}>"
    if pt.is_timestamp(t):
        return f"timestamp[{t.unit},{t.tz or ''}]"
    if pt.is_time32(t) or pt.is_time64(t) or pt.is_duration(t):
        return f"{_simple_kinds()[t.id]}[{t.unit}]"
    if pt.is_decimal(t):
        return f"decimal{t.bit_width}({t.precision},{t.scale})"
    if pt.is_fixed_size_binary(t):
        return f"fixed_size_binary[{t.byte_width}]"
    if pt.is_map(t):
        return f"map<{_type_token(t.key_type)},{_type_token(t.item_type)}>"
    if pt.is_fixed_size_list(t):
        return f"fixed_size_list[{t.list_size}]<{_type_token(t.value_type)}>"
    if pt.is_list(t) or pt.is_large_list(t):
        kind = "list" if pt.is_list(t) else "large_list"
        return f"{kind}<{_type_token(t.value_type)}>"
    if pt.is_struct(t):
        fields = ",".join(f"{len(f.name.encode())}:{f.name}:{_type_token(f.type)}" for f in t)
        return f"struct<{fields}>"
    try:
        return _simple_kinds()[t.id]
    except KeyError:
        raise TypeError(f"lockgate cannot hash a column of type {t}") from None


@functools.cache
def _simple_kinds() -> dict[int, str]:
    import pyarrow as pa

    types = {
        "null": pa.null(), "bool": pa.bool_(),
        "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
        "uint8": pa.uint8(), "uint16": pa.uint16(), "uint32": pa.uint32(),
        "uint64": pa.uint64(), "float16": pa.float16(), "float32": pa.float32(),
        "float64": pa.float64(), "string": pa.string(), "large_string": pa.large_string(),
        "string_view": pa.string_view(), "binary": pa.binary(),
        "large_binary": pa.large_binary(), "binary_view": pa.binary_view(),
        "date32": pa.date32(), "date64": pa.date64(), "time32": pa.time32("s"),
        "time64": pa.time64("us"), "duration": pa.duration("s"),
    }  # fmt: skip
    return {t.id: name for name, t in types.items()}


def _unpack_bits(buf: pa.Buffer, offset: int, n: int) -> np.ndarray:
    """Bits ``offset .. offset+n`` of an Arrow bitmap as a uint8 0/1 array."""
    import numpy as np

    raw = np.frombuffer(buf, dtype=np.uint8)[offset // 8 : (offset + n + 7) // 8 + 1]
    return np.unpackbits(raw, bitorder="little")[offset % 8 : offset % 8 + n]


def _u8(arr: np.ndarray) -> memoryview:
    """A contiguous uint8 view, the only buffer format blake3 accepts."""
    import numpy as np

    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data


def _valid_mask(arr: pa.Array) -> np.ndarray:
    import numpy as np

    bitmap = arr.buffers()[0]
    if bitmap is None:  # a null-typed array has no bitmap: every slot is null
        return np.zeros(len(arr), dtype=bool)
    return _unpack_bits(bitmap, arr.offset, len(arr)).view(bool)


def _normalize(arr: pa.Array) -> pa.Array:
    """Decode storage-only encodings so a chunk holds plain logical values."""
    import pyarrow as pa
    import pyarrow.types as pt

    t = arr.type
    if pt.is_dictionary(t):
        return _normalize(arr.dictionary_decode())
    if pt.is_run_end_encoded(t):
        import pyarrow.compute as pc

        return _normalize(pc.run_end_decode(arr))
    if isinstance(t, pa.ExtensionType):
        return _normalize(arr.storage)
    if t.id == pa.string_view().id:
        return arr.cast(pa.large_string())
    if t.id == pa.binary_view().id:
        return arr.cast(pa.large_binary())
    if pt.is_map(t):
        entries = pa.struct([t.key_field, t.item_field])
        return arr.view(pa.list_(pa.field("entries", entries, nullable=False)))
    return arr


def _storage_type(t: pa.DataType) -> pa.DataType:
    import pyarrow as pa
    import pyarrow.types as pt

    if pt.is_dictionary(t) or pt.is_run_end_encoded(t):
        return _storage_type(t.value_type)
    if isinstance(t, pa.ExtensionType):
        return _storage_type(t.storage_type)
    if t.id == pa.string_view().id:
        return pa.large_string()
    if t.id == pa.binary_view().id:
        return pa.large_binary()
    if pt.is_map(t):
        return pa.list_(pa.struct([t.key_field, t.item_field]))
    return t


class _Node:
    """The streams of one column (or nested child), fed chunk by chunk."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.rows = 0
        self.nulls = blake3()

    def feed(self, arr: pa.Array) -> None:
        import numpy as np

        arr = _normalize(arr)
        n = len(arr)
        if n == 0:
            return
        valid = None
        if arr.null_count:
            valid = _valid_mask(arr)
            positions = np.flatnonzero(~valid).astype("<i8") + self.rows
            self.nulls.update(_u8(positions))
        self._feed(arr, valid)
        self.rows += n

    def _feed(self, arr: pa.Array, valid: np.ndarray | None) -> None:
        """Hash the type-specific streams of one non-empty chunk."""

    def _parts(self) -> list[bytes]:
        return []

    def digest(self) -> bytes:
        head = _frame(self.token.encode("utf-8")) + _u64(self.rows) + self.nulls.digest()
        return blake3(head + b"".join(self._parts())).digest()


class _Fixed(_Node):
    """Fixed-width values: ints, floats, temporal types, decimals, fixed binary."""

    def __init__(self, token: str, t: pa.DataType) -> None:
        import numpy as np
        import pyarrow.types as pt

        super().__init__(token)
        self.width = t.byte_width if pt.is_fixed_size_binary(t) else t.bit_width // 8
        floats: dict[int, Any] = {2: np.float16, 4: np.float32, 8: np.float64}
        self.float_dtype: Any = floats[self.width] if pt.is_floating(t) else None
        self.values = blake3(max_threads=blake3.AUTO)

    def _feed(self, arr: pa.Array, valid: np.ndarray | None) -> None:
        import numpy as np

        n, w = len(arr), self.width
        raw = np.frombuffer(arr.buffers()[1], dtype=np.uint8)[arr.offset * w : (arr.offset + n) * w]
        if self.float_dtype is not None:
            values = raw.view(self.float_dtype)
            nan = np.isnan(values)
            if nan.any():
                values = np.where(nan, self.float_dtype(np.nan), values)  # the one quiet NaN
        elif w in (1, 2, 4, 8):
            values = raw.view(f"<u{w}")
        else:  # decimals, fixed-size binary: one row of w bytes per value
            values = raw.reshape(n, w)
        if valid is not None:
            mask = valid if values.ndim == 1 else valid[:, None]
            values = np.where(mask, values, values.dtype.type(0))
        self.values.update(_u8(values))

    def _parts(self) -> list[bytes]:
        return [self.values.digest()]


class _Bool(_Node):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.values = blake3()

    def _feed(self, arr: pa.Array, valid: np.ndarray | None) -> None:
        bits = _unpack_bits(arr.buffers()[1], arr.offset, len(arr))
        if valid is not None:
            bits = bits * valid
        self.values.update(_u8(bits))

    def _parts(self) -> list[bytes]:
        return [self.values.digest()]


def _offsets(arr: pa.Array, large: bool) -> np.ndarray:
    import numpy as np

    dtype = np.int64 if large else np.int32
    return np.frombuffer(arr.buffers()[1], dtype=dtype)[arr.offset : arr.offset + len(arr) + 1]


class _VarWidth(_Node):
    """Strings and binaries: int64 lengths, then the concatenated bytes."""

    def __init__(self, token: str, large: bool) -> None:
        super().__init__(token)
        self.large = large
        self.lengths = blake3()
        self.data = blake3(max_threads=blake3.AUTO)

    def _feed(self, arr: pa.Array, valid: np.ndarray | None) -> None:
        import numpy as np

        offsets = _offsets(arr, self.large)
        lengths = np.diff(offsets)
        if valid is not None and lengths[~valid].any():
            # Arrow allows bytes under a null slot: blank them out first.
            import pyarrow as pa
            import pyarrow.compute as pc

            blank = pa.scalar(b"" if "binary" in self.token else "", arr.type)
            arr = pc.if_else(pc.is_valid(arr), arr, blank)
            offsets = _offsets(arr, self.large)
            lengths = np.diff(offsets)
        self.lengths.update(_u8(lengths.astype("<i8")))
        data = arr.buffers()[2]
        if data is not None and offsets[-1] > offsets[0]:
            self.data.update(_u8(np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]))

    def _parts(self) -> list[bytes]:
        return [self.lengths.digest(), self.data.digest()]


class _List(_Node):
    """Lists (and maps, as lists of key/value structs): lengths, then the child."""

    def __init__(self, token: str, t: pa.DataType) -> None:
        import pyarrow.types as pt

        super().__init__(token)
        self.fixed = t.list_size if pt.is_fixed_size_list(t) else None
        self.large = pt.is_large_list(t)
        self.lengths = blake3()
        self.child = _node_for(t.value_type)

    def _feed(self, arr: pa.Array, valid: np.ndarray | None) -> None:
        import numpy as np

        if self.fixed is not None:
            lengths = np.full(len(arr), self.fixed, dtype=np.int64)
        else:
            lengths = np.diff(_offsets(arr, self.large)).astype(np.int64)
        if valid is not None:
            lengths[~valid] = 0
        self.lengths.update(_u8(lengths.astype("<i8")))
        self.child.feed(arr.flatten())  # flatten() honours the offset and skips nulls

    def _parts(self) -> list[bytes]:
        return [self.lengths.digest(), self.child.digest()]


class _Struct(_Node):
    def __init__(self, token: str, t: pa.DataType) -> None:
        super().__init__(token)
        self.children = [_node_for(f.type) for f in t]

    def _feed(self, arr: pa.Array, valid: np.ndarray | None) -> None:
        # flatten() applies the struct's offset and merges its nulls into children
        for child, values in zip(self.children, arr.flatten(), strict=True):
            child.feed(values)

    def _parts(self) -> list[bytes]:
        return [child.digest() for child in self.children]


def _byte_aligned(t: pa.DataType) -> bool:
    try:
        return bool(t.bit_width) and t.bit_width % 8 == 0
    except ValueError:  # not a fixed-width type
        return False


def _node_for(t: pa.DataType, column: str = "") -> _Node:
    import pyarrow as pa
    import pyarrow.types as pt

    try:
        token = _type_token(t)
    except TypeError:
        where = f"column {column!r}: " if column else ""
        raise TypeError(f"{where}lockgate cannot hash a column of type {t}") from None
    s = _storage_type(t)
    if pt.is_null(s):
        return _Node(token)
    if pt.is_boolean(s):
        return _Bool(token)
    if pt.is_string(s) or pt.is_binary(s):
        return _VarWidth(token, large=False)
    if pt.is_large_string(s) or pt.is_large_binary(s):
        return _VarWidth(token, large=True)
    if pt.is_list(s) or pt.is_large_list(s) or pt.is_fixed_size_list(s):
        return _List(token, s)
    if pt.is_struct(s):
        return _Struct(token, s)
    if isinstance(s, pa.FixedSizeBinaryType) or _byte_aligned(s):
        return _Fixed(token, s)
    raise TypeError(f"column {column!r}: lockgate cannot hash a column of type {t}")
