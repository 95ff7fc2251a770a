"""The stat cache: unchanged files are not re-read; changes and racy stats are."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lockgate.hashing import digest_bytes, hash_file, hash_tree
from lockgate.store.statcache import RACY_WINDOW_NS, StatCache


class CountingHash:
    """A file hash that records every file it reads."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, path: str) -> str:
        with self._lock:
            self.calls.append(path)
        return hash_file(path)


def _age(path: Path, seconds: float = 10.0, *, ns: int | None = None) -> int:
    """Set the file's mtime into the past (out of the racy window)."""
    mtime_ns = ns if ns is not None else time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return mtime_ns


@pytest.fixture
def counting() -> CountingHash:
    return CountingHash()


@pytest.fixture
def cache(tmp_path: Path, counting: CountingHash) -> StatCache:
    return StatCache(tmp_path / ".lockgate" / "stat.db", file_hash=counting)


def test_unchanged_file_is_not_reread(
    tmp_path: Path, cache: StatCache, counting: CountingHash
) -> None:
    f = tmp_path / "data.csv"
    f.write_text("a,b\n1,2\n")
    _age(f)
    first = cache.hash_file(f)
    assert first == digest_bytes(b"a,b\n1,2\n")
    for _ in range(3):
        assert cache.hash_file(f) == first
        assert cache.hash_file(str(f)) == first
    assert len(counting.calls) == 1


def test_cache_persists_across_instances(
    tmp_path: Path, cache: StatCache, counting: CountingHash
) -> None:
    f = tmp_path / "data.csv"
    f.write_text("x")
    _age(f)
    cache.hash_file(f)
    cache.close()
    again = StatCache(cache.db_path, file_hash=counting)
    assert again.hash_file(f) == digest_bytes(b"x")
    assert len(counting.calls) == 1


def test_same_size_rewrite_with_new_mtime_is_rehashed(
    tmp_path: Path, cache: StatCache, counting: CountingHash
) -> None:
    f = tmp_path / "data.csv"
    f.write_text("aaaa")
    _age(f, 20)
    assert cache.hash_file(f) == digest_bytes(b"aaaa")
    f.write_text("bbbb")
    _age(f, 10)
    assert cache.hash_file(f) == digest_bytes(b"bbbb")
    assert len(counting.calls) == 2


def test_replaced_file_with_same_size_and_mtime_is_rehashed(
    tmp_path: Path, cache: StatCache, counting: CountingHash
) -> None:
    f = tmp_path / "data.csv"
    f.write_text("aaaa")
    mtime = _age(f)
    assert cache.hash_file(f) == digest_bytes(b"aaaa")
    other = tmp_path / "other"
    other.write_text("bbbb")
    _age(other, ns=mtime)
    os.replace(other, f)  # a new inode behind the same name, size and mtime
    assert cache.hash_file(f) == digest_bytes(b"bbbb")


def test_racy_entry_is_not_trusted(
    tmp_path: Path, cache: StatCache, counting: CountingHash
) -> None:
    # A file hashed right after it was written, then rewritten with the same
    # size inside the same timestamp tick: its stat looks unchanged.
    f = tmp_path / "data.csv"
    f.write_text("aaaa")
    mtime = f.stat().st_mtime_ns
    assert cache.hash_file(f) == digest_bytes(b"aaaa")
    f.write_text("bbbb")
    os.utime(f, ns=(mtime, mtime))
    assert cache.hash_file(f) == digest_bytes(b"bbbb")
    assert len(counting.calls) == 2


def test_racy_entry_becomes_trusted_once_the_file_is_quiet(
    tmp_path: Path, cache: StatCache, counting: CountingHash, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "data.csv"
    f.write_text("aaaa")
    cache.hash_file(f)
    cache.hash_file(f)
    assert len(counting.calls) == 2  # still racy: re-read
    later = time.time_ns() + RACY_WINDOW_NS + 1
    monkeypatch.setattr(time, "time_ns", lambda: later)
    cache.hash_file(f)  # re-read, recorded with a hash time past the window
    monkeypatch.undo()
    cache.hash_file(f)
    assert len(counting.calls) == 3


def test_hash_path_for_files_and_folders(
    tmp_path: Path, cache: StatCache, counting: CountingHash
) -> None:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    for name in ("a", "sub/b", "sub/c"):
        (folder / name).write_text(name)
        _age(folder / name)
    digest, kind = cache.hash_path(folder)
    assert (digest, kind) == (hash_tree(folder)[0], "tree")
    assert cache.hash_path(folder) == (digest, "tree")
    assert len(counting.calls) == 3
    assert cache.hash_path(folder / "a") == (digest_bytes(b"a"), "file")
    assert len(counting.calls) == 3


def test_many_threads_share_one_cache(
    tmp_path: Path, cache: StatCache, counting: CountingHash
) -> None:
    files = []
    for i in range(40):
        f = tmp_path / f"f{i}"
        f.write_text(str(i))
        _age(f)
        files.append(f)
    results: dict[str, str] = {}

    def work() -> None:
        for f in files:
            results[f.name] = cache.hash_file(f)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {f.name: digest_bytes(f.read_bytes()) for f in files}
    before = len(counting.calls)
    work()
    assert len(counting.calls) == before


_PROCESS = """
import os, sys, time
from lockgate.store.statcache import StatCache
cache = StatCache(sys.argv[1])
for name in sorted(os.listdir(sys.argv[2])):
    cache.hash_file(os.path.join(sys.argv[2], name))
print("ok")
"""


def test_several_processes_share_one_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(100):
        (data / f"f{i:03}").write_text(str(i) * 100)
        _age(data / f"f{i:03}")
    db = tmp_path / "stat.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS, str(db), str(data)], stdout=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs == [b"ok\n"] * 4
    counting = CountingHash()
    cache = StatCache(db, file_hash=counting)
    for f in sorted(data.iterdir()):
        assert cache.hash_file(f) == digest_bytes(f.read_bytes())
    assert counting.calls == []
