"""A remote cache on any ``pyarrow.fs`` filesystem: push and pull missing objects.

Owns: moving objects between a ``LocalStore`` and a URI (``file://`` now,
``s3://`` and friends by URI alone), with the same ``objects/ab/cdef...``
layout as ``LocalStore``, so a ``file://`` remote can itself be opened as a
``LocalStore``.

Only the generic ``pyarrow.fs`` API is used (``open_input_stream``,
``open_output_stream``, ``get_file_info``, ``create_dir``, ``move``,
``delete_file``). Every object is hashed while it streams and checked
against its key: a pulled object that does not match is rejected (reported
in ``TransferReport.failed`` and never stored); a push is refused when the
local object is corrupt. On filesystems with real folders (local, HDFS) a
push writes ``objects/tmp/...`` and then moves it into place; object stores
(S3, GCS) publish an object only when its upload completes, so they are
written in place.

A push killed mid-transfer leaves its ``objects/tmp/`` file behind; the next
push removes such files: at once when the writer is provably gone (its name
holds the writer's ``lockgate.procid`` token: a process of this machine that
no longer runs), else once idle for ``STALE_TMP_SECONDS`` (a writer on
another machine cannot be checked from here; a live one writes every chunk).

Must not: decide which objects to transfer (callers pass digests) or touch
lock files.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from blake3 import blake3

from lockgate import procid
from lockgate.errors import StoreError
from lockgate.hashing import is_digest
from lockgate.store.base import check_digest, object_relpath
from lockgate.store.local import STALE_TMP_SECONDS, LocalStore

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

CHUNK = 8 << 20
#: Filesystems where a write is visible while in progress, so it needs temp + move.
_FOLDER_FILESYSTEMS = frozenset({"local", "hdfs", "mock"})


@dataclass
class TransferReport:
    """What a push or pull did, digest by digest."""

    transferred: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


#: (what happened, digest, bytes moved, why it failed or "")
Outcome = tuple[Literal["transferred", "skipped", "failed"], str, int, str]
MoveOne = Callable[[LocalStore, str], Outcome]


class Remote:
    """An object cache at ``uri`` (anything ``FileSystem.from_uri`` accepts)."""

    def __init__(self, uri: str, jobs: int = 8) -> None:
        import pyarrow.fs as pafs

        self.uri = uri
        self.jobs = jobs
        try:
            self.fs, base = pafs.FileSystem.from_uri(uri)
        except (ValueError, OSError) as exc:
            raise StoreError(f"cannot open remote {uri!r}: {exc}") from exc
        self.objects = f"{base.rstrip('/')}/objects"
        self._folders = self.fs.type_name in _FOLDER_FILESYSTEMS

    def __repr__(self) -> str:
        return f"Remote({self.uri!r})"

    def path_of(self, digest: str) -> str:
        return f"{self.objects}/{object_relpath(digest)}"

    def has(self, digest: str) -> bool:
        import pyarrow.fs as pafs

        return bool(self.fs.get_file_info(self.path_of(digest)).type == pafs.FileType.File)

    def digests(self) -> list[str]:
        """Every object key on the remote (a full listing: not for hot paths)."""
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self.objects, allow_not_found=True, recursive=True)
        found = []
        for info in self.fs.get_file_info(selector):
            parts = info.path.rsplit("/", 2)
            if info.type == pafs.FileType.File and len(parts) == 3 and len(parts[1]) == 2:
                found.append(parts[1] + parts[2])
        return sorted(d for d in found if is_digest(d))

    # -- push ------------------------------------------------------------------

    def _upload(self, local: LocalStore, digest: str) -> Outcome:
        if self.has(digest):
            return "skipped", digest, 0, ""
        source = local.open_path(digest)
        if source is None:
            return "failed", digest, 0, "missing from the local cache"
        final = self.path_of(digest)
        # DIGEST.WRITER.RANDOM.tmp: the writer's identity lets a later push prove it gone
        tmp = f"{self.objects}/tmp/{digest}.{procid.token()}.{uuid.uuid4().hex[:16]}.tmp"
        target = tmp if self._folders else final
        if self._folders:
            self.fs.create_dir(f"{self.objects}/tmp", recursive=True)
            self.fs.create_dir(final.rsplit("/", 1)[0], recursive=True)
        try:
            actual, size = self._send(source, target)
        except BaseException:
            with contextlib.suppress(OSError):
                self.fs.delete_file(target)
            raise
        if actual != digest:
            self.fs.delete_file(target)
            local.verify(digest)  # logs and drops the corrupt local object
            return "failed", digest, 0, "the local object is corrupt; not pushed"
        if self._folders:
            self.fs.move(target, final)
        return "transferred", digest, size, ""

    def _send(self, source: str, target: str) -> tuple[str, int]:
        """Stream a local file to ``target``; the BLAKE3 and size of what was sent."""
        hasher, size = blake3(), 0
        with open(source, "rb") as src, self.fs.open_output_stream(target) as dst:
            while chunk := src.read(CHUNK):
                hasher.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        return hasher.hexdigest(), size

    def push(self, local: LocalStore, digests: Iterable[str]) -> TransferReport:
        """Upload the objects the remote lacks, ``jobs`` at a time (first removing the
        temporary files killed pushes left)."""
        if self._folders:
            self.remove_stale_tmp()
        return self._run(self._upload, local, digests, "push")

    def remove_stale_tmp(self) -> list[str]:
        """Delete the ``objects/tmp/`` files of pushes that died: a writer of this machine
        that provably no longer runs, or any file idle for ``STALE_TMP_SECONDS``. A file of
        a live push (here or elsewhere) is never touched. Returns the paths deleted."""
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(f"{self.objects}/tmp", allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as exc:  # e.g. no permission to list: the push itself may still work
            log.warning("cannot list %s/tmp on %s: %s", self.objects, self.uri, exc)
            return []
        now, removed = time.time(), []
        for info in infos:
            if info.type == pafs.FileType.File and _stale_tmp(info.base_name, info.mtime, now):
                with contextlib.suppress(OSError):  # another push removed it first
                    self.fs.delete_file(info.path)
                    removed.append(info.path)
        if removed:
            log.info("removed %d temporary files killed pushes left on %s", len(removed), self.uri)
        return removed

    # -- pull ------------------------------------------------------------------

    def _download(self, local: LocalStore, digest: str) -> Outcome:
        if local.has(digest):
            return "skipped", digest, 0, ""
        if not self.has(digest):
            return "failed", digest, 0, "not on the remote"
        hasher, size = blake3(), 0
        with local.staging_path() as tmp:
            with self.fs.open_input_stream(self.path_of(digest)) as src, open(tmp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    hasher.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            actual = hasher.hexdigest()
            if actual != digest:
                log.warning(
                    "remote object %s (%s) is corrupt: its content hashes to %s; not stored",
                    digest[:12],
                    self.uri,
                    actual[:12],
                )
                return (
                    "failed",
                    digest,
                    0,
                    f"the remote object is corrupt (hashes to {actual[:12]})",
                )
            local.put_file(tmp, digest, move=True)
        return "transferred", digest, size, ""

    def pull(self, local: LocalStore, digests: Iterable[str]) -> TransferReport:
        """Download the objects the local store lacks, each verified on arrival."""
        return self._run(self._download, local, digests, "pull")

    # -- both ------------------------------------------------------------------

    def _run(
        self, move_one: MoveOne, local: LocalStore, digests: Iterable[str], verb: str
    ) -> TransferReport:
        report = TransferReport()
        wanted = sorted({check_digest(d) for d in digests})

        def attempt(digest: str) -> Outcome:
            try:
                return move_one(local, digest)
            except OSError as exc:  # one object's I/O error must not stop the rest
                return "failed", digest, 0, f"I/O error: {exc}"

        with ThreadPoolExecutor(max_workers=max(1, self.jobs)) as pool:
            for outcome, digest, size, reason in pool.map(attempt, wanted):
                if outcome == "failed":
                    report.failed[digest] = reason
                    continue
                getattr(report, outcome).append(digest)
                report.bytes += size
        log.info(
            "%s %s: %d transferred, %d already there, %d failed",
            verb,
            self.uri,
            len(report.transferred),
            len(report.skipped),
            len(report.failed),
        )
        return report


def _stale_tmp(name: str, mtime: object, now: float) -> bool:
    """``DIGEST.WRITER.RANDOM.tmp`` whose writer is provably gone, or any name idle too long."""
    parts = name.split(".")
    if len(parts) == 4 and parts[3] == "tmp" and procid.gone(parts[1]):
        return True
    stamp = getattr(mtime, "timestamp", None)  # a datetime, or None where the filesystem has none
    return stamp is not None and now - stamp() > STALE_TMP_SECONDS
