"""The on-disk object store: ``ROOT/objects/ab/cdef...``, one file per object.

Owns: atomic writes, verification on read, read-only object files, and
garbage collection of unreferenced objects and stale temporary files.

Writes go to ``ROOT/objects/tmp/PID-RANDOM.tmp`` (same filesystem), are
fsynced, made read-only (so a user editing a restored copy in place can never
reach the cache: restores copy, never link), hashed, and only then renamed
to their final name with ``os.replace``. A process killed at any point leaves
at most a temporary file, never a partial object under a final name; ``gc``
removes temporary files whose writer is gone. The folder itself is not
fsynced after the rename: a power cut may lose a just-written object (it is
then missing, never corrupt, and is rebuilt).

Must not: interpret object bytes (tables, models: ``store.artifacts``) or
decide which objects are referenced (the caller passes ``keep`` to ``gc``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from lockgate.errors import CorruptObject, ObjectMissing
from lockgate.hashing import digest_bytes, hash_file, is_digest
from lockgate.store.base import ObjectStore, check_digest, object_relpath, warn_corrupt

log = logging.getLogger(__name__)

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
#: A temporary file this old is stale even if a process with its PID lives.
STALE_TMP_SECONDS = 24 * 3600


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# the names _new_tmp gives (and a ".part" of a download): gc removes only what lockgate wrote
_TMP_NAME = re.compile(r"\d+-[0-9a-f]{32}[\w.-]*\.tmp")


def _is_stale_tmp(path: Path, now: float) -> bool:
    """A temp file is stale when its writer is dead or it is very old."""
    try:
        age = now - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if age > STALE_TMP_SECONDS:
        return True
    pid_text = path.name.split("-", 1)[0]
    return not (pid_text.isdigit() and _pid_alive(int(pid_text)))


class LocalStore(ObjectStore):
    """Objects as read-only files under ``root/objects/``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.tmp = self.objects / "tmp"

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path_of(self, digest: str) -> Path:
        """Where the object for ``digest`` lives (whether or not it exists)."""
        return self.objects / object_relpath(digest)

    # -- writing -------------------------------------------------------------

    def _new_tmp(self, suffix: str = "") -> Path:
        if self.tmp.is_symlink():  # planted: lockgate made a folder here, never a link
            self.tmp.unlink()
        self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / f"{os.getpid()}-{uuid.uuid4().hex}{suffix}.tmp"

    def _commit(self, tmp: Path, digest: str) -> str:
        """Rename a complete, fsynced, verified temp file to its final name."""
        final = self.path_of(digest)
        if final.exists():
            tmp.unlink(missing_ok=True)
            return digest
        os.chmod(tmp, READ_ONLY)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return digest

    def put_bytes(self, data: bytes, digest: str | None = None) -> str:
        actual = digest_bytes(data)
        if digest is not None and check_digest(digest) != actual:
            raise CorruptObject(digest, actual, "bytes given to put_bytes")
        if self.has(actual):
            return actual
        tmp = self._new_tmp()
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return self._commit(tmp, actual)

    def _take(self, path: Path, move: bool) -> Path:
        """A temp copy of ``path`` inside the store (renamed when allowed)."""
        tmp = self._new_tmp()
        if move:
            try:
                os.replace(path, tmp)
                return tmp
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        import shutil  # here, not at the top: `status` and a no-op run never copy

        shutil.copyfile(path, tmp)
        if move:
            path.unlink(missing_ok=True)
        return tmp

    def put_file(
        self, path: str | os.PathLike[str], digest: str | None = None, *, move: bool = False
    ) -> str:
        path = Path(path)
        if digest is not None and self.has(check_digest(digest)):
            if move:
                path.unlink(missing_ok=True)
            return digest
        tmp = self._take(path, move)
        try:
            _fsync(tmp)
            # The key is the hash of the bytes that landed, not of the source.
            actual = hash_file(tmp)
            if digest is not None and actual != digest:
                raise CorruptObject(digest, actual, str(path))
            return self._commit(tmp, actual)
        finally:
            tmp.unlink(missing_ok=True)

    # -- reading -------------------------------------------------------------

    def has(self, digest: str) -> bool:
        return os.path.isfile(os.path.join(self.objects, object_relpath(digest)))  # path_of, without pathlib

    def _drop_corrupt(self, digest: str, actual: str) -> CorruptObject:
        path = self.path_of(digest)
        error = warn_corrupt(digest, actual, str(path))
        path.unlink(missing_ok=True)
        return error

    def get_bytes(self, digest: str) -> bytes:
        try:
            data = self.path_of(digest).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(digest) from None
        actual = digest_bytes(data)
        if actual != digest:
            raise self._drop_corrupt(digest, actual)
        return data

    def verify(self, digest: str) -> bool:
        try:
            actual = hash_file(self.path_of(digest))
        except FileNotFoundError:
            return False
        if actual != digest:
            self._drop_corrupt(digest, actual)
            return False
        return True

    def copy_to(self, digest: str, dest: str | os.PathLike[str]) -> None:
        import shutil

        try:
            shutil.copyfile(self.path_of(digest), dest)
        except FileNotFoundError:
            if not self.has(digest):
                raise ObjectMissing(digest) from None
            raise
        actual = hash_file(dest)
        if actual != digest:
            Path(dest).unlink(missing_ok=True)
            raise self._drop_corrupt(digest, actual)

    def open_path(self, digest: str) -> str | None:
        path = self.path_of(digest)
        return str(path) if path.is_file() else None

    def size(self, digest: str) -> int:
        try:
            return self.path_of(digest).stat().st_size
        except FileNotFoundError:
            raise ObjectMissing(digest) from None

    def delete(self, digest: str) -> None:
        self.path_of(digest).unlink(missing_ok=True)

    def digests(self) -> Iterator[str]:
        if not self.objects.is_dir():
            return
        for folder in self.objects.iterdir():
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for file in folder.iterdir():
                digest = folder.name + file.name
                if is_digest(digest):
                    yield digest

    @contextlib.contextmanager
    def staging_path(self, suffix: str = "") -> Iterator[Path]:
        path = self._new_tmp(suffix)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    # -- maintenance -----------------------------------------------------------

    def stale_tmp_files(self) -> list[Path]:
        """Temporary files left behind by writers that are gone."""
        if self.tmp.is_symlink() or not self.tmp.is_dir():  # a link here is never ours: not followed
            return []
        now = time.time()
        return [p for p in self.tmp.iterdir() if _TMP_NAME.fullmatch(p.name) and not p.is_symlink()
                and p.is_file() and _is_stale_tmp(p, now)]

    def gc(self, keep: set[str], dry_run: bool = False) -> tuple[int, int]:
        """Remove every object not in ``keep``, and stale temporary files.

        Returns ``(removed_count, removed_bytes)``, temp files included; with
        ``dry_run`` nothing is removed and the counts say what would be.
        """
        count = size = 0
        doomed = [self.path_of(d) for d in self.digests() if d not in keep]
        for path in doomed + self.stale_tmp_files():
            with contextlib.suppress(FileNotFoundError):
                size += path.stat().st_size
                count += 1
                if not dry_run:
                    path.unlink()
        if count:
            log.info(
                "gc %s %d files (%d bytes)", "would remove" if dry_run else "removed", count, size
            )
        return count, size
