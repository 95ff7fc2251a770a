"""The object-store contract: a small ABC every store (local, memory) fulfils.

Owns: the ``ObjectStore`` interface and the one key scheme all stores share.

Key scheme and verification. Every object is keyed by the BLAKE3 digest of
the bytes stored for it, whatever those bytes are (a file, a folder manifest,
an Arrow IPC table, a model file). Verification is therefore uniform and
needs no sidecar or index: re-hash the bytes and compare with the key. An
artifact's *canonical* digest (a table's ``hash_table``, which does not
depend on how the IPC bytes were written) may differ from its object key;
mapping one to the other is the job of the typed layer
(``store.artifacts.ArtifactRef``: ``digest`` vs ``object``), whose records
the lock file keeps.

``put_*(..., digest=D)`` therefore means "the caller already knows this
object's BLAKE3 (say, from the stat cache)": an object already present under
``D`` is not written again, and new bytes that do not hash to ``D`` are
refused with ``CorruptObject``.

Reads verify: ``get_bytes`` re-hashes, and a mismatch is logged as a warning,
the object is dropped (so ``has`` turns False and the next run rewrites it)
and ``CorruptObject`` is raised. ``has`` only checks existence; ``verify``
re-hashes on demand.

Must not: know about tables, models or lock files (that is
``store.artifacts``) or import pyarrow.
"""

from __future__ import annotations

import contextlib
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from lockgate.errors import CorruptObject
from lockgate.hashing import is_digest

log = logging.getLogger(__name__)


def check_digest(digest: str) -> str:
    """``digest`` if it is 64 lowercase hex characters, else ValueError."""
    if not is_digest(digest):
        raise ValueError(f"not a BLAKE3 digest (64 lowercase hex characters): {digest!r}")
    return digest


def object_relpath(digest: str) -> str:
    """The ``ab/cdef...`` location of an object under an ``objects/`` folder."""
    check_digest(digest)
    return f"{digest[:2]}/{digest[2:]}"


def warn_corrupt(digest: str, actual: str, where: str) -> CorruptObject:
    """Log a corrupt object once and return the error to raise."""
    log.warning(
        "object %s (%s) is corrupt: its content hashes to %s; dropping it, "
        "so it will be fetched or rebuilt as if missing",
        digest[:12],
        where,
        actual[:12],
    )
    return CorruptObject(digest, actual, where)


class ObjectStore(ABC):
    """A content-addressed store of immutable byte objects keyed by BLAKE3."""

    @abstractmethod
    def has(self, digest: str) -> bool:
        """True when an object exists under ``digest`` (existence only: cheap)."""

    @abstractmethod
    def put_bytes(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data`` and return its key, ``blake3(data)``."""

    @abstractmethod
    def put_file(
        self, path: str | os.PathLike[str], digest: str | None = None, *, move: bool = False
    ) -> str:
        """Stream a file into the store and return its key.

        With ``move=True`` the store may take the file itself (rename instead
        of copy); callers pass it only for their own temporary files.
        """

    @abstractmethod
    def get_bytes(self, digest: str) -> bytes:
        """The verified bytes of an object; ObjectMissing or CorruptObject."""

    @abstractmethod
    def open_path(self, digest: str) -> str | None:
        """A read-only local path to the object's bytes, if the store has one.

        The path is not verified: call ``verify`` first when it matters.
        """

    @abstractmethod
    def delete(self, digest: str) -> None:
        """Remove an object; removing a missing object is not an error."""

    @abstractmethod
    def digests(self) -> Iterator[str]:
        """Every object key in the store, in no particular order."""

    @abstractmethod
    def size(self, digest: str) -> int:
        """The size of an object in bytes; ObjectMissing when absent."""

    @abstractmethod
    def verify(self, digest: str) -> bool:
        """Re-hash an object: True when intact; a corrupt one is dropped."""

    def copy_to(self, digest: str, dest: str | os.PathLike[str]) -> None:
        """Write the object's verified bytes to a new file at ``dest``.

        ``dest`` is a temporary path the caller will rename; stores with
        local files override this to stream instead of loading in memory.
        """
        Path(dest).write_bytes(self.get_bytes(digest))

    @contextlib.contextmanager
    def staging_path(self, suffix: str = "") -> Iterator[Path]:
        """A fresh temporary file path to write an object into before
        ``put_file(path, move=True)``; whatever is left there is removed."""
        import shutil
        import tempfile

        folder = tempfile.mkdtemp(prefix="lockgate-stage-")
        try:
            yield Path(folder) / f"object{suffix}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
