"""A push killed mid-transfer: its temporary file on a folder remote goes with the next push,
and only then (a live push's file is never touched)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from lockgate import procid
from lockgate.store.local import STALE_TMP_SECONDS, LocalStore
from lockgate.store.remote import Remote

PUSH = textwrap.dedent("""
    import sys

    import lockgate.store.remote as remote
    from lockgate.store.local import LocalStore

    remote.CHUNK = 4096  # slow enough to be caught mid-transfer
    remote.Remote(sys.argv[2]).push(LocalStore(sys.argv[1]), [sys.argv[3]])
""")


def _big_object(store: LocalStore, tmp_path: Path, megabytes: int) -> str:
    source = tmp_path / "big.bin"
    with open(source, "wb") as f:
        for _ in range(megabytes):
            f.write(os.urandom(1 << 20))
    return store.put_file(source, move=True)


def test_the_next_push_removes_what_a_killed_push_left(tmp_path: Path):
    here = LocalStore(tmp_path / "here")
    digest = _big_object(here, tmp_path, 32)
    there = tmp_path / "there"
    uri = there.as_uri()
    tmp = there / "objects/tmp"

    pusher = subprocess.Popen([sys.executable, "-c", PUSH, str(here.root), uri, digest], start_new_session=True)
    deadline = time.monotonic() + 60
    while not (tmp.is_dir() and any(p.stat().st_size > 0 for p in tmp.iterdir())):
        assert pusher.poll() is None, "the push ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(pusher.pid, signal.SIGKILL)
    pusher.wait(timeout=30)
    left = list(tmp.iterdir())
    assert len(left) == 1 and left[0].stat().st_size < here.size(digest)  # precondition: mid-transfer
    assert not LocalStore(there).has(digest)

    report = Remote(uri).push(here, [digest])
    assert report.transferred == [digest]
    assert list(tmp.iterdir()) == []
    assert LocalStore(there).verify(digest)


def test_only_temporary_files_of_dead_or_idle_pushes_are_removed(tmp_path: Path):
    there = tmp_path / "there"
    tmp = there / "objects/tmp"
    tmp.mkdir(parents=True)
    digest = "ab" * 32
    dead = subprocess.run([sys.executable, "-c", "from lockgate import procid; print(procid.token())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    pid, start, boot, pidns = procid.token().split("-")
    elsewhere = f"{pid}-{start}-{'0' * 32}-{pidns}"  # another machine's process: cannot be checked
    files = {
        "live": f"{digest}.{procid.token()}.0123456789abcdef.tmp",  # this process: pushing now
        "dead": f"{digest}.{dead}.0123456789abcdef.tmp",
        "elsewhere": f"{digest}.{elsewhere}.0123456789abcdef.tmp",
        "elsewhere_idle": f"{digest}.{elsewhere}.fedcba9876543210.tmp",
        "old_name": f"{digest}.0123456789abcdef0123456789abcdef.tmp",  # before writers were named
        "old_name_idle": f"{digest}.fedcba9876543210fedcba9876543210.tmp",
    }
    for name in files.values():
        (tmp / name).write_bytes(b"partial")
    idle = time.time() - STALE_TMP_SECONDS - 60
    for key in ("elsewhere_idle", "old_name_idle"):
        os.utime(tmp / files[key], (idle, idle))

    removed = Remote(there.as_uri()).remove_stale_tmp()
    gone = ("dead", "elsewhere_idle", "old_name_idle")
    assert sorted(Path(p).name for p in removed) == sorted(files[k] for k in gone)
    assert sorted(p.name for p in tmp.iterdir()) == sorted(files[k] for k in files if k not in gone)
