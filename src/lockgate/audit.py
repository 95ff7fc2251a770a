"""The audit log: ``.lockgate/audit.jsonl``, append-only and hash-chained.

Owns: the record format, appending, and checking the chain. One JSON object
per line (``canonical_json``: sorted keys, no whitespace), each with

* ``seq`` — 1, 2, 3, ... in file order;
* ``time`` (ISO-8601 UTC), ``who`` (the git author identity, else ``$USER``),
  ``commit`` (git HEAD, or "" outside git / before the first commit);
* ``event`` — ``gate``, ``promote``, ``rollback`` or ``alias`` — and the
  caller's fields;
* ``prev`` — the previous record's ``hash`` (64 zeros for the first);
* ``hash`` — BLAKE3 of the canonical JSON of the record without ``hash``.

Editing, removing, reordering or inserting a record breaks the chain at the
first record touched, and ``verify`` names that line and why. A chain cannot
show that records were cut off its *end*, nor that it was rewritten whole
from some point on; ``VerifyResult.head`` is the last hash, which can be
kept elsewhere (a commit message, a CI log) to pin the chain down to there.

Appends are safe across processes: an exclusive ``flock`` is held while the
last record is read and the new one written, with ``O_APPEND``, one write per
record and ``fsync``.

Must not: decide what to record (gates, promote and the CLI do), or print.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import enum
import fcntl
import getpass
import json
import math
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockgate.errors import AuditError
from lockgate.hashing import canonical_json, digest_bytes

EVENTS: frozenset[str] = frozenset({"gate", "promote", "rollback", "alias"})
GENESIS = "0" * 64
#: Keys the log fills in itself; callers' fields may not use them.
RESERVED: frozenset[str] = frozenset({"seq", "time", "who", "commit", "event", "prev", "hash"})
_TAIL_CHUNK = 64 * 1024


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain.

    ``count`` is the number of lines in the log; when ``ok`` is False,
    ``first_bad`` is the 1-based line of the first bad record and ``reason``
    says why. ``head`` is the hash of the last good record ("" when none).
    """

    ok: bool
    count: int
    first_bad: int | None = None
    reason: str = ""
    head: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "count": self.count, "first_bad": self.first_bad,
                "reason": self.reason, "head": self.head}


def record_hash(record: Mapping[str, Any]) -> str:
    """BLAKE3 of the canonical JSON of ``record`` without its ``hash`` key."""
    return digest_bytes(canonical_json({k: v for k, v in record.items() if k != "hash"}))


class AuditLog:
    """The audit log at ``path`` (usually ``Project.state_dir / "audit.jsonl"``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._who: str | None = None
        self._commit: str | None = None

    # -- writing ----------------------------------------------------------------------

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Add one record and return it (with its ``seq`` and ``hash``)."""
        if event not in EVENTS:
            raise ValueError(f"audit event {event!r} is not one of {', '.join(sorted(EVENTS))}")
        clash = RESERVED & set(fields)
        if clash:
            raise ValueError(f"audit fields may not be named {', '.join(sorted(clash))}")
        body = _jsonable(fields)
        who, commit = self.who, self.commit
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked() as fd:
            last = self._last_record(fd)
            record: dict[str, Any] = {
                **body,
                "seq": (last["seq"] + 1) if last else 1,
                "time": _utc_now(),
                "who": who,
                "commit": commit,
                "event": event,
                "prev": last["hash"] if last else GENESIS,
            }
            record["hash"] = record_hash(record)
            _write_all(fd, canonical_json(record) + b"\n")
            os.fsync(fd)
        return record

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _last_record(self, fd: int) -> dict[str, Any] | None:
        """The last record's ``seq`` and ``hash``, read from the end of the file."""
        size = os.fstat(fd).st_size
        if size == 0:
            return None
        if os.pread(fd, 1, size - 1) != b"\n":
            raise AuditError(str(self.path), "its last line is incomplete (truncated?), "
                                             "so no record can be chained after it")
        end, start, tail = size - 1, size - 1, b""
        while start > 0 and b"\n" not in tail:
            start = max(0, start - _TAIL_CHUNK)
            tail = os.pread(fd, end - start, start)
        line = tail.rsplit(b"\n", 1)[-1]
        record = _parse(line)
        if record is None:
            raise AuditError(str(self.path), "its last line is not an audit record")
        return record

    # -- reading ----------------------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        """Every record in file order (an empty list when there is no log yet);
        a line that is not a record raises AuditError naming it."""
        out = []
        for number, line in enumerate(self._lines(), 1):
            try:
                record = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                record = None
            if not isinstance(record, dict):
                raise AuditError(str(self.path), f"line {number} is not a JSON record")
            out.append(record)
        return out

    def _lines(self) -> list[bytes]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return lines

    def verify(self) -> VerifyResult:
        """Check every record's hash and its link to the one before."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return VerifyResult(True, 0)
        lines = data.split(b"\n")
        complete = lines[-1] == b""
        if complete:
            lines.pop()
        count = len(lines)

        def bad(number: int, reason: str) -> VerifyResult:
            return VerifyResult(False, count, number, f"line {number}: {reason}", head)

        head, seq = "", 0
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                what = "cut short" if number == count and not complete else "garbled"
                return bad(number, f"not a JSON record ({what}: truncated or edited?)")
            if not isinstance(record, dict):
                return bad(number, "not a JSON record (garbled?)")
            missing = [k for k in ("seq", "prev", "hash") if k not in record]
            if missing or not isinstance(record["seq"], int) or isinstance(record["seq"], bool):
                return bad(number, f"not an audit record (no valid {', '.join(missing) or 'seq'})")
            try:
                actual = record_hash(record)
            except (TypeError, ValueError):
                actual = ""
            if record["hash"] != actual:
                return bad(number, "hash does not match its content (edited?)")
            if record["seq"] != seq + 1:
                hint = _seq_hint(record["seq"], seq, lines[number:])
                follows = f"follows {seq}" if number > 1 else "is the first record"
                return bad(number, f"seq {record['seq']} {follows} ({hint})")
            expected = head or GENESIS
            if record["prev"] != expected:
                if number == 1:
                    return bad(number, "prev is not the start of a chain (records before it removed?)")
                return bad(number, f"prev does not match line {number - 1} "
                                   "(a record was removed, reordered or inserted)")
            head, seq = record["hash"], record["seq"]
        if count and not complete:
            return bad(count, "no newline at its end (the file was truncated?)")
        return VerifyResult(True, count, None, "", head)

    # -- who and where ------------------------------------------------------------------

    @property
    def who(self) -> str:
        """``Name <email>`` from git (honouring GIT_AUTHOR_*), else the login name; one lookup."""
        if self._who is None:
            ident = _git(self._cwd(), "var", "GIT_AUTHOR_IDENT")
            # "Name <email> 1700000000 +0000": drop the timestamp
            parts = ident.rsplit(" ", 2)
            self._who = parts[0] if len(parts) == 3 and ">" in parts[0] else _login()
        return self._who

    @property
    def commit(self) -> str:
        """git HEAD, or "" outside git or before the first commit; one lookup."""
        if self._commit is None:
            self._commit = _git(self._cwd(), "rev-parse", "--verify", "-q", "HEAD")
        return self._commit

    def _cwd(self) -> Path:
        folder = self.path.parent
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        return folder


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _login() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _utc_now() -> str:
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if (not isinstance(record, dict) or not isinstance(record.get("seq"), int)
            or not isinstance(record.get("hash"), str)):
        return None
    return record


def _seq_hint(found: int, last: int, rest: list[bytes]) -> str:
    """Why ``found`` follows ``last``: is the missing number further down the file?"""
    if found > last + 1:
        later = {r["seq"] for r in map(_parse, rest) if r is not None}
        return "reordered?" if last + 1 in later else "removed?"
    return "duplicated or inserted?" if found == last else "reordered?"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _jsonable(value: Any) -> Any:
    """Plain JSON data: non-finite floats as text ("nan", "inf"), since canonical
    JSON has no spelling for them; numpy scalars as numbers; paths and other
    objects as text."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return _jsonable(value.item())
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(float(value))
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if value is None:
        return None
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    return str(value)


__all__ = ["EVENTS", "GENESIS", "AuditLog", "VerifyResult", "record_hash"]
