"""Who a process is, written down so that another process can later prove it gone.

A pid alone names no process: the kernel reuses pids. A pid and its start time
do, on one boot of one machine, in one pid namespace. :func:`token` spells this
process's identity as ``PID-START-BOOT-PIDNS`` (digits, hex and dashes, so it
fits in a file name); :func:`gone` is True only when it is provable from here
that the process no longer runs: the same boot and pid namespace as ours, and
no process with that pid and start time. Another machine's or container's
token, or a system without ``/proc``, gives "cannot tell": False.

Must not: import anything from lockgate (the store and the executor use it).
"""

from __future__ import annotations

import os
from pathlib import Path

_OWN: dict[int, str] = {}  # pid -> token: recomputed in a forked child


def token() -> str:
    """This process's identity (empty fields where there is no /proc)."""
    pid = os.getpid()
    if pid not in _OWN:
        _OWN.clear()
        _OWN[pid] = f"{pid}-{start_time(pid)}-{_boot()}-{_pidns()}"
    return _OWN[pid]


def gone(other: str) -> bool:
    """The process ``other`` (a :func:`token`) has provably ended."""
    parts = other.split("-")
    if len(parts) != 4 or not all(parts) or not parts[0].isdigit():
        return False
    pid, start, boot, pidns = parts
    if (boot, pidns) != (_boot(), _pidns()) or not boot:
        return False  # another machine or container: its pids are not ours to check
    return start_time(int(pid)) != start


def start_time(pid: int) -> str:
    """When ``pid`` started, in clock ticks after boot; "" when there is no such process."""
    stat = _read(f"/proc/{pid}/stat")
    try:
        return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name before ")" may hold spaces
    except IndexError:
        return ""


def _boot() -> str:
    return _read("/proc/sys/kernel/random/boot_id").replace("-", "")


def _pidns() -> str:
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return ""
    return "".join(c for c in link if c.isdigit())


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return ""
