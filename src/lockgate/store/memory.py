"""An in-memory twin of ``LocalStore`` for tests: same contract, no disk.

Owns: a dict of digest -> bytes behind a lock. Must not be used for real
runs (nothing survives the process) and has no local paths (``open_path``
returns None).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

from lockgate.errors import CorruptObject, ObjectMissing
from lockgate.hashing import digest_bytes
from lockgate.store.base import ObjectStore, check_digest, warn_corrupt


class MemoryStore(ObjectStore):
    """Objects in a dict; thread-safe."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._objects)} objects)"

    def has(self, digest: str) -> bool:
        with self._lock:
            return check_digest(digest) in self._objects

    def put_bytes(self, data: bytes, digest: str | None = None) -> str:
        actual = digest_bytes(data)
        if digest is not None and check_digest(digest) != actual:
            raise CorruptObject(digest, actual, "bytes given to put_bytes")
        with self._lock:
            self._objects.setdefault(actual, bytes(data))
        return actual

    def put_file(
        self, path: str | os.PathLike[str], digest: str | None = None, *, move: bool = False
    ) -> str:
        if digest is not None and self.has(digest):
            actual = digest
        else:
            data = Path(path).read_bytes()
            actual = digest_bytes(data)
            if digest is not None and actual != digest:
                raise CorruptObject(digest, actual, str(path))
            self.put_bytes(data)
        if move:
            Path(path).unlink(missing_ok=True)
        return actual

    def _drop_corrupt(self, digest: str, actual: str) -> CorruptObject:
        with self._lock:
            self._objects.pop(digest, None)
        return warn_corrupt(digest, actual, "memory")

    def get_bytes(self, digest: str) -> bytes:
        with self._lock:
            data = self._objects.get(check_digest(digest))
        if data is None:
            raise ObjectMissing(digest)
        actual = digest_bytes(data)
        if actual != digest:
            raise self._drop_corrupt(digest, actual)
        return data

    def verify(self, digest: str) -> bool:
        with self._lock:
            data = self._objects.get(check_digest(digest))
        if data is None:
            return False
        actual = digest_bytes(data)
        if actual != digest:
            self._drop_corrupt(digest, actual)
            return False
        return True

    def open_path(self, digest: str) -> str | None:
        check_digest(digest)
        return None

    def delete(self, digest: str) -> None:
        with self._lock:
            self._objects.pop(check_digest(digest), None)

    def digests(self) -> Iterator[str]:
        with self._lock:
            keys = list(self._objects)
        return iter(keys)

    def size(self, digest: str) -> int:
        with self._lock:
            data = self._objects.get(check_digest(digest))
        if data is None:
            raise ObjectMissing(digest)
        return len(data)
