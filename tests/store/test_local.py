"""LocalStore on a real disk: layout, read-only objects, crash safety, gc."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lockgate.errors import CorruptObject
from lockgate.hashing import digest_bytes, hash_file
from lockgate.store.local import LocalStore


def test_layout_is_objects_ab_cdef(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    digest = store.put_bytes(b"layout")
    path = tmp_path / "objects" / digest[:2] / digest[2:]
    assert path.read_bytes() == b"layout"
    assert store.open_path(digest) == str(path)
    assert store.open_path(digest_bytes(b"absent")) is None


def test_objects_are_read_only(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    digest = store.put_bytes(b"frozen")
    mode = os.stat(store.path_of(digest)).st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_no_temporary_files_are_left_after_writes(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 << 20))
    store.put_file(src)
    store.put_bytes(b"x")
    with pytest.raises(CorruptObject):
        store.put_file(src, digest_bytes(b"wrong"))
    assert list(store.tmp.iterdir()) == []


def test_objects_survive_a_new_instance(tmp_path: Path) -> None:
    digest = LocalStore(tmp_path).put_bytes(b"persisted")
    assert LocalStore(tmp_path).get_bytes(digest) == b"persisted"


_WRITER = """
import sys
from lockgate.store.local import LocalStore
store = LocalStore(sys.argv[1])
print("ready", flush=True)
store.put_file(sys.argv[2])
print("done", flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3])
def test_sigkill_mid_write_leaves_no_partial_object(tmp_path: Path, delay: float) -> None:
    big = tmp_path / "big.bin"
    chunk = os.urandom(1 << 20)
    with open(big, "wb") as f:
        for i in range(200):
            f.write(chunk[:-8] + i.to_bytes(8, "little"))
    digest = hash_file(big)
    root = tmp_path / "cache"
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), str(big)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode in (-signal.SIGKILL, 0)  # 0: it finished first, on a fast disk

    store = LocalStore(root)
    # Whatever exists under a final name is complete and verifies.
    for existing in store.digests():
        assert store.verify(existing)
    assert not store.has(digest) or store.verify(digest)
    # The dead writer's temporary file (if any) is stale and gc removes it.
    leftovers = list(store.tmp.iterdir()) if store.tmp.exists() else []
    assert store.stale_tmp_files() == leftovers
    store.gc(keep=set(store.digests()))
    assert not store.tmp.exists() or list(store.tmp.iterdir()) == []
    # And the next attempt simply completes.
    assert store.put_file(big) == digest
    assert store.verify(digest)


def test_gc_removes_unreferenced_objects_and_stale_temp_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    keep = store.put_bytes(b"keep me")
    drop = store.put_bytes(b"drop me!")
    store.tmp.mkdir(parents=True, exist_ok=True)
    dead = store.tmp / f"999999999-{'d' * 32}.tmp"  # no such PID
    dead.write_bytes(b"12345")
    live = store.tmp / f"{os.getpid()}-{'e' * 32}.tmp"  # a writer in progress
    live.write_bytes(b"123")

    assert store.gc({keep}, dry_run=True) == (2, len(b"drop me!") + 5)
    assert store.has(drop) and dead.exists()

    assert store.gc({keep}) == (2, len(b"drop me!") + 5)
    assert store.has(keep) and not store.has(drop)
    assert not dead.exists() and live.exists()

    old = time.time() - 2 * 24 * 3600
    os.utime(live, (old, old))
    assert store.gc({keep}) == (1, 3)
    assert store.gc({keep}) == (0, 0)


def test_gc_on_an_empty_store(tmp_path: Path) -> None:
    assert LocalStore(tmp_path / "nothing").gc(set()) == (0, 0)


def test_gc_removes_only_temp_files_lockgate_named_and_never_follows_a_link(tmp_path: Path) -> None:
    """Someone else's file in tmp/ stays; a tmp/ that is a link is not followed (its
    target's files would all look like a dead writer's), and the next write replaces it."""
    store = LocalStore(tmp_path / "cache")
    store.tmp.mkdir(parents=True)
    theirs = store.tmp / "table.csv"
    theirs.write_bytes(b"not ours")
    assert store.stale_tmp_files() == []
    theirs.unlink()
    store.tmp.rmdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / f"999999999-{'d' * 32}.tmp").write_bytes(b"looks stale")
    store.tmp.symlink_to(victim)
    assert store.gc(set()) == (0, 0)
    assert sorted(p.name for p in victim.iterdir()) == [f"999999999-{'d' * 32}.tmp"]
    digest = store.put_bytes(b"new")
    assert store.has(digest) and not store.tmp.is_symlink()
    assert len(list(victim.iterdir())) == 1
