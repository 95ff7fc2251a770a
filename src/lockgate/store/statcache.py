"""The stat cache: (path, size, mtime_ns, inode) -> BLAKE3, so an unchanged
file is never re-read.

Owns: one SQLite table under ``.lockgate/`` (WAL mode; one connection per
thread; safe across processes, writers wait up to 30 s for each other).

Racy-stat policy (git's "racy git" rule). A file rewritten within the same
mtime tick it was hashed in keeps its size and mtime, so its stat alone
cannot prove it unchanged. Each entry records when the hash was taken (wall
clock, read *before* the file); a lookup trusts an entry only if the file's
mtime is at least ``RACY_WINDOW_NS`` (2 s: coarser than any filesystem's
timestamp granularity we support, FAT's included) older than that moment.
Otherwise the file is re-hashed and the entry refreshed, so it becomes
trusted once it has been quiet for the window. Racy files therefore cost a
read, never a wrong hash. As in git, ctime is not part of the key, so a tool
that rewrites a file in place with the same size and then restores its old
mtime (``touch -r``) defeats the cache; delete ``.lockgate/stat.db`` to reset.

Must not: decide what to hash or store objects; it only remembers hashes.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from lockgate.hashing import hash_file as _hash_file
from lockgate.hashing import hash_tree, link_digest

RACY_WINDOW_NS = 2_000_000_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat_cache (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    hash TEXT NOT NULL,
    hashed_at_ns INTEGER NOT NULL
)
"""


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


class StatCache:
    """Hashes of files keyed by their stat, in SQLite at ``db_path``."""

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        file_hash: Callable[[str], str] = _hash_file,
    ) -> None:
        self.db_path = Path(db_path)
        self.file_hash = file_hash
        self._local = threading.local()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connection() as db:
                db.execute(_SCHEMA)
            self._known()  # a damaged file fails here, at start-up, not half-way through a run
        except sqlite3.DatabaseError as exc:
            self._rebuild(exc)

    def _rebuild(self, exc: Exception) -> None:
        """A damaged database (a crash, a disk error, a stray write) is only a cache:
        start a new one, with a warning, instead of failing every command."""
        import logging

        logging.getLogger(__name__).warning(
            "%s is damaged (%s); it is a cache of file hashes: starting a new one", self.db_path, exc)
        self.close()
        self.__dict__.pop("_rows", None)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
        with self._connection() as db:
            db.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"StatCache({str(self.db_path)!r})"

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
            _use_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def close(self) -> None:
        """Close this thread's connection (other threads close theirs on exit)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def hash_file(
        self, path: str | os.PathLike[str], hasher: Callable[[str], str] | None = None
    ) -> str:
        """The file's BLAKE3: from the cache when its stat is unchanged and
        not racy, else by reading it (and then recorded). ``hasher`` replaces
        the plain read on a miss, e.g. a store's ``put_file``, which copies the
        file into the cache and returns its digest in the same single read."""
        key = os.path.abspath(path)
        return self._hash_file(key, os.stat(key), hasher)

    def _hash_file(self, key: str, st: os.stat_result, hasher: Callable[[str], str] | None) -> str:
        """``hash_file`` of the absolute path ``key``, whose stat the caller just took."""
        row = self._known().get(key)
        if row is not None:
            size, mtime_ns, inode, digest, hashed_at_ns = row
            if (size, mtime_ns, inode) == _stat_key(
                st
            ) and st.st_mtime_ns + RACY_WINDOW_NS <= hashed_at_ns:
                return str(digest)
        hashed_at_ns = time.time_ns()  # taken before the read: see "racy" above
        digest = (hasher or self.file_hash)(key)
        if _stat_key(os.stat(key)) == _stat_key(st):  # not rewritten while we read it
            self._connection().execute(
                "INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?)",
                (key, st.st_size, st.st_mtime_ns, st.st_ino, digest, hashed_at_ns),
            )
            self._known()[key] = (st.st_size, st.st_mtime_ns, st.st_ino, digest, hashed_at_ns)
        return digest

    def _known(self) -> dict[str, tuple[int, int, int, str, int]]:
        """Every entry, read once per StatCache: one query instead of one per file (a
        1000-stage status looks up thousands of paths). Entries another process adds
        meanwhile are simply missed and re-hashed."""
        rows = self.__dict__.get("_rows")
        if rows is None:
            query = "SELECT path, size, mtime_ns, inode, hash, hashed_at_ns FROM stat_cache"
            rows = {r[0]: tuple(r[1:]) for r in self._connection().execute(query)}
            self.__dict__["_rows"] = rows
        return rows

    def hash_path(
        self, path: str | os.PathLike[str], *, links: bool = False
    ) -> tuple[str, Literal["file", "tree", "link"]]:
        """The digest of a file, or of a folder's manifest (files via the cache; a
        symlink inside the folder by its target text, never followed: see
        ``hashing.walk_tree``). ``path`` itself is followed when it is a symlink (a
        dependency or data path is what it points to), unless ``links``: then a
        symlink at ``path`` is hashed as the link (``hashing.link_digest``), as a
        ``cmd`` stage's output path is kept, and nothing it points to is read."""
        key = os.path.abspath(path)
        st = os.lstat(key) if links else os.stat(key)  # one stat call decides, and keys the cache
        if links and stat.S_ISLNK(st.st_mode):
            return link_digest(os.readlink(key)), "link"
        if stat.S_ISDIR(st.st_mode):
            digest, _ = hash_tree(path, file_hash=self.hash_file)
            return digest, "tree"
        return self._hash_file(key, st, None), "file"

    def forget(self, path: str | os.PathLike[str]) -> None:
        """Drop the entry for ``path`` (e.g. after lockgate rewrote it)."""
        self._connection().execute(
            "DELETE FROM stat_cache WHERE path = ?", (os.path.abspath(path),)
        )
        self._known().pop(os.path.abspath(path), None)


def _use_wal(db: sqlite3.Connection, attempts: int = 200) -> None:
    """Switch to WAL (persistent in the file, so usually already on). Changing the
    journal mode needs an exclusive lock and SQLite does not wait for it (the busy
    timeout does not apply), so processes opening a new database together retry."""
    for _ in range(attempts):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(0.02)
    db.execute("PRAGMA journal_mode=WAL")
