"""Atomic file writes: a file lockgate writes appears whole or not at all.

Owns the one way to replace a file: write a temporary file in the destination's
folder, optionally ``fsync`` it, and rename it over the destination with
``os.replace``. A process killed at any point leaves the old file or the new one,
never a mix; at worst a temporary file stays behind, named
``.NAME.lockgate-XXXXXXXXXXXX.tmp`` (hidden; ``*.tmp`` is what ``watch`` ignores;
``spec/limits.py`` leaves room for it in a name). The rename replaces a symlink
at the destination, never writes through it, and a temporary file is created
with ``O_EXCL | O_NOFOLLOW``, so no planted link redirects the write. A new file
gets 0666 less the umask, like any file the user creates (``mkstemp`` would
give 0600, and a committed file must be readable by others). The folder is not
fsynced after the rename.

Must not: import anything from lockgate (the bottom layer), or decide where a
path may resolve (callers that refuse a symlinked parent check before writing,
as ``store.artifacts`` does).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = True,
                       parents: bool = True) -> None:
    """Replace ``path`` with ``data``. ``durable=False`` skips the fsync, for files
    that can be rebuilt (caches, run-cache entries); ``parents=False`` leaves a
    missing folder an error (FileNotFoundError) instead of creating it."""
    path = Path(path)
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with os.fdopen(os.open(tmp, _CREATE, 0o666), "wb") as handle:  # 0o666: the umask applies
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str, *, durable: bool = True,
                      parents: bool = True) -> None:
    """``atomic_write_bytes`` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable, parents=parents)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A fresh temporary path beside ``path``, for a writer that creates the file
    itself (pyarrow, a copy, a symlink): renamed over ``path`` when the block ends,
    removed when it raises. Nothing exists at the path until the writer makes it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.lockgate-{os.urandom(6).hex()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]
