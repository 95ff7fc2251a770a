"""One ``lockgate run`` at a time per repository.

An exclusive ``flock`` on ``.lockgate/run.lock``: the kernel drops it when the
process dies, so a crashed run never leaves a stale lock behind. The holder
writes its pid and command into the file so a waiting run can say who it waits
for. Read-only commands never take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lockgate.errors import RepoLocked


@contextlib.contextmanager
def repo_lock(
    state_dir: Path, *, wait: bool = True, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    from lockgate.project import Layout, ensure_state_dir

    ensure_state_dir(state_dir)
    path = Layout(state_dir).run_lock
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if not wait:
                raise RepoLocked(str(path), holder) from None
            if on_wait:
                on_wait(holder)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {' '.join(sys.argv)}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    pid, _, command = text.partition(" ")
    return f"pid {pid} ({command})" if pid else ""
