"""The audit log: ``registry/audit.jsonl``, append-only, hash-chained, kept in git.

Owns: the record format, appending, checking the chain, and merging two
branches' logs. One JSON object per line (``canonical_json``: sorted keys, no
whitespace), each with

* ``seq`` — 1 + the seq of the record(s) it follows;
* ``time`` (ISO-8601 UTC), ``who`` (the git author identity, else ``$USER``),
  ``commit`` (git HEAD, or "" outside git / before the first commit);
* ``event`` — ``gate``, ``promote``, ``rollback``, ``alias`` or ``merge`` —
  and the caller's fields;
* ``prev`` — the previous record's ``hash`` (64 zeros for the first); a
  ``merge`` record, written by the git merge driver, follows both branches'
  last records (``prev`` is a list) and names the first record of the branch
  merged in (``merged``), so that branch's first record may follow an earlier
  one;
* ``hash`` — BLAKE3 of the canonical JSON of the record without ``hash``.

Editing, removing, reordering or inserting a record breaks the chain at the
first record touched, and ``verify`` names that line and why. A chain alone
cannot show that records were cut off its *end*: committed files anchor it.
Each lock file and registry records the hash of the last record its run
appended (``audit:``), and ``verify(anchors=...)`` names an anchor the log
does not hold (a truncated tail, or a log that was not committed).

The log sits beside the registry so git keeps it: decisions made in CI are
committed with the lock and registry they produced. Two branches that both
appended merge with ``lockgate merge-driver install`` (records of both sides,
then a ``merge`` record joining them); nothing is rewritten, so every anchor
stays valid.

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
import errno
import fcntl
import getpass
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockgate import gitrev
from lockgate.errors import AuditError
from lockgate.hashing import canonical_json, digest_bytes

EVENTS: frozenset[str] = frozenset({"gate", "promote", "rollback", "alias", "merge"})
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
    """The audit log at ``path`` (a repository's is ``audit_path(root)``)."""

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
        try:  # never through a link: a committed one could aim the log at any file
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise AuditError(str(self.path), "the audit log is a symlink; it must be a regular file "
                                 "in the repository: remove the link and restore the log with git") from None
            raise
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

    def verify(self, anchors: Mapping[str, str] | None = None) -> VerifyResult:
        """Check every record's hash and its link to the one before; with ``anchors``
        (where -> record hash, e.g. ``{"pipelines/churn.lock": ...}``), also that the log
        still holds every record a committed file names (a cut tail is caught)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        lines = data.split(b"\n")
        complete = lines[-1] == b""
        if complete:
            lines.pop()
        count = len(lines)
        parsed: list[dict[str, Any] | None] = [_parse(line) for line in lines]
        merged = {h for r in parsed if r and r.get("event") == "merge" for h in r.get("merged") or []}

        def bad(number: int, reason: str) -> VerifyResult:
            return VerifyResult(False, count, number, f"line {number}: {reason}", head)

        head, seq = "", 0
        seqs: dict[str, int] = {GENESIS: 0}
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
            problem = _link_problem(record, number, head or GENESIS, seq, seqs, merged, lines[number:])
            if problem:
                return bad(number, problem)
            head, seq = record["hash"], record["seq"]
            seqs[head] = seq
        if count and not complete:
            return bad(count, "no newline at its end (the file was truncated?)")
        for where, anchor in sorted((anchors or {}).items()):
            if anchor and anchor not in seqs:
                reason = (f"{where} names record {anchor[:12]}, which the log does not hold: "
                          "records were removed from its end, or the log was not committed with it")
                return VerifyResult(False, count, count or None, reason, head)
        return VerifyResult(True, count, None, "", head)

    # -- who and where ------------------------------------------------------------------

    @property
    def who(self) -> str:
        """``Name <email>`` from git (honouring GIT_AUTHOR_*), else the login name; one lookup."""
        if self._who is None:
            self._who = gitrev.author(self._cwd()) or _login()
        return self._who

    @property
    def commit(self) -> str:
        """git HEAD, or "" outside git or before the first commit; one lookup."""
        if self._commit is None:
            self._commit = gitrev.current_commit(self._cwd())
        return self._commit

    def _cwd(self) -> Path:
        folder = self.path.parent
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        return folder


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


def _link_problem(record: dict[str, Any], number: int, previous: str, last_seq: int,
                  seqs: dict[str, int], merged: set[str], rest: list[bytes]) -> str:
    """Why ``record`` (at line ``number``) does not follow the records before it, or "".

    A record follows the line before it; the first record of a branch that a later
    ``merge`` record names may follow any earlier record; a ``merge`` record follows
    several."""
    prevs = record["prev"] if isinstance(record["prev"], list) else [record["prev"]]
    if not prevs or not all(isinstance(p, str) for p in prevs):
        return "not an audit record (prev is neither a hash nor a list of hashes)"
    if len(prevs) > 1 or record.get("event") == "merge":
        unknown = [p for p in prevs if p not in seqs]
        if unknown:
            return f"merge record follows {unknown[0][:12]}, which no earlier line holds (removed?)"
        expected = 1 + max(seqs[p] for p in prevs)
        return "" if record["seq"] == expected else f"seq {record['seq']} should be {expected} (edited?)"
    prev = prevs[0]
    if prev != previous and record["hash"] in merged and prev in seqs:
        expected = seqs[prev] + 1  # a merged branch's first record: it follows where it forked
        return "" if record["seq"] == expected else f"seq {record['seq']} should be {expected} (edited?)"
    if record["seq"] != last_seq + 1:
        hint = _seq_hint(record["seq"], last_seq, rest)
        follows = f"follows {last_seq}" if number > 1 else "is the first record"
        return f"seq {record['seq']} {follows} ({hint})"
    if prev != previous:
        if number == 1:
            return "prev is not the start of a chain (records before it removed?)"
        return f"prev does not match line {number - 1} (a record was removed, reordered or inserted)"
    return ""


def merge_logs(ours: str, theirs: str, join: Callable[[list[str], list[str]], dict[str, Any]]) -> str:
    """Two branches' logs as one: the records they share, ours' new ones, theirs' new ones
    (in their order), then the record ``join(prev, merged)`` returns, which follows both
    branches' last records. Nothing is rewritten, so every record keeps its hash (and
    every anchor its meaning). One side with nothing new: the other side, as is."""
    ours_lines = [line for line in ours.splitlines() if line.strip()]
    theirs_lines = [line for line in theirs.splitlines() if line.strip()]
    known = {_hash_of(line) for line in ours_lines}
    new = [line for line in theirs_lines if _hash_of(line) not in known]
    if not new:
        return ours if ours.endswith("\n") or not ours else ours + "\n"
    theirs_known = {_hash_of(line) for line in theirs_lines}
    if all(_hash_of(line) in theirs_known for line in ours_lines):
        return "\n".join(theirs_lines) + "\n"  # ours is a prefix of theirs: fast-forward
    tips = [_hash_of(ours_lines[-1]), _hash_of(new[-1])]
    record = join(tips, [_hash_of(new[0])])
    return "\n".join([*ours_lines, *new, canonical_json(record).decode()]) + "\n"


def _hash_of(line: str) -> str:
    record = _parse(line.encode())
    return str(record["hash"]) if record else line


def join_record(prev: list[str], merged: list[str], seqs: dict[str, int], who: str, commit: str) -> dict[str, Any]:
    """The ``merge`` record that follows ``prev`` (the branches' last records)."""
    record: dict[str, Any] = {
        "event": "merge", "merged": merged, "prev": prev, "seq": 1 + max(seqs.get(p, 0) for p in prev),
        "time": _utc_now(), "who": who, "commit": commit,
    }
    record["hash"] = record_hash(record)
    return record


def seqs_of(*texts: str) -> dict[str, int]:
    """hash -> seq of every record in the given log texts."""
    found: dict[str, int] = {}
    for text in texts:
        for line in text.splitlines():
            record = _parse(line.encode())
            if record is not None:
                found[str(record["hash"])] = int(record["seq"])
    return found


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


AUDIT_PATH = "registry/audit.jsonl"
OLD_AUDIT_PATH = ".lockgate/audit.jsonl"


def audit_path(root: Path) -> Path:
    """The repository's audit log, ``registry/audit.jsonl`` (committed); a log left at
    the old place (``.lockgate/audit.jsonl``, never committed) is moved there first."""
    path = Path(root) / AUDIT_PATH
    old = Path(root) / OLD_AUDIT_PATH
    if not path.exists() and old.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, path)
    return path


__all__ = ["AUDIT_PATH", "EVENTS", "GENESIS", "AuditLog", "VerifyResult", "audit_path", "merge_logs",
           "record_hash"]
