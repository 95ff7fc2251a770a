"""Shell-stage processes a killed lockgate left running: recorded, then killed by the next run.

The second line of defence, behind ``executor.supervisor`` (which kills a
stage's process group when lockgate dies), for when the supervisor died too,
or a stage's process left its group. Every process of a command carries
``LOCKGATE_RUN_ID=<token>`` in its environment. Before the command starts,
``.lockgate/procs/<token>.json`` records the token and the lockgate process
that owns it (a ``lockgate.procid`` token); the record goes once the command's
processes have ended.

A run that starts, holding the repository lock, kills every process whose
environment holds the token of a record whose owner is provably gone, then
drops the record. A pid the kernel gave to another process carries no token,
so it is never killed; each process is pinned with a pidfd before its
environment is read, so the one signalled is the one whose environment matched.

Must not: kill on another machine's say (a record whose owner cannot be
checked from here is only dropped once old), or run without the repository lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from pathlib import Path

from lockgate import procid
from lockgate.project import Layout

RUN_ID_VAR = "LOCKGATE_RUN_ID"
#: A record whose owner cannot be proven gone is dropped (never acted on) after this long.
OLD_RECORD_SECONDS = 7 * 24 * 3600


def remember(state_dir: str | os.PathLike[str]) -> tuple[str, Path]:
    """A new token for one command, and its record: ``(token, record path)``. Written
    before the command starts, so it never runs unrecorded."""
    token = uuid.uuid4().hex
    folder = Layout(Path(state_dir)).procs
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{token}.json"
    path.write_text(json.dumps({"token": token, "owner": procid.token()}), encoding="utf-8")
    return token, path


def forget(path: Path) -> None:
    """The command's processes are gone: drop its record."""
    with contextlib.suppress(OSError):
        path.unlink()


def kill_leftovers(state_dir: str | os.PathLike[str]) -> int:
    """Kill what commands of a dead lockgate left running; the number of processes killed.
    Callers hold the repository lock, so no running run's commands are among them."""
    try:
        paths = sorted(Layout(Path(state_dir)).procs.glob("*.json"))
    except OSError:
        return 0
    killed = 0
    for path in paths:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            token, owner = str(record["token"]), str(record["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            forget(path)  # torn: its owner died while writing it, before the command started
            continue
        if procid.gone(owner):
            killed += _kill_carrying(token)
            forget(path)
            continue
        # alive (a `lockgate watch` between runs), or another machine's: not ours to kill
        with contextlib.suppress(OSError):
            if time.time() - path.stat().st_mtime > OLD_RECORD_SECONDS:
                forget(path)
    return killed


def _kill_carrying(token: str) -> int:
    """SIGKILL every process whose environment holds ``LOCKGATE_RUN_ID=token``."""
    needle = f"{RUN_ID_VAR}={token}".encode()
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        try:
            pidfd: int | None = os.pidfd_open(pid)  # pins the process: a successor with its pid is not it
        except (AttributeError, OSError):
            pidfd = None
        try:
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:  # gone, or another user's
                continue
            if needle not in environ.split(b"\0"):
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if pidfd is not None:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
                killed += 1
        finally:
            if pidfd is not None:
                os.close(pidfd)
    return killed
