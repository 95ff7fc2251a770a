"""One contract, run over every ObjectStore implementation (LocalStore, MemoryStore)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from lockgate.errors import CorruptObject, ObjectMissing
from lockgate.hashing import digest_bytes
from lockgate.store.artifacts import restore_file
from lockgate.store.base import ObjectStore

Corrupt = Callable[[ObjectStore, str], None]


def test_put_bytes_keys_by_blake3(store: ObjectStore) -> None:
    digest = store.put_bytes(b"hello")
    assert digest == digest_bytes(b"hello")
    assert store.has(digest)
    assert store.get_bytes(digest) == b"hello"
    assert store.size(digest) == 5
    assert list(store.digests()) == [digest]
    assert store.verify(digest)


def test_put_is_idempotent_and_empty_objects_work(store: ObjectStore) -> None:
    a = store.put_bytes(b"")
    assert store.put_bytes(b"") == a
    assert store.get_bytes(a) == b""
    assert store.size(a) == 0
    assert sorted(store.digests()) == [a]


def test_put_bytes_with_the_right_digest(store: ObjectStore) -> None:
    digest = digest_bytes(b"x")
    assert store.put_bytes(b"x", digest) == digest


def test_put_bytes_refuses_a_wrong_digest(store: ObjectStore) -> None:
    wrong = digest_bytes(b"something else")
    with pytest.raises(CorruptObject):
        store.put_bytes(b"x", wrong)
    assert not store.has(wrong)
    assert not store.has(digest_bytes(b"x"))


def test_put_file_streams_a_file(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(b"abc" * 1000)
    digest = store.put_file(src)
    assert digest == digest_bytes(b"abc" * 1000)
    assert store.get_bytes(digest) == b"abc" * 1000
    assert src.exists()


def test_put_file_with_known_digest_skips_existing(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(b"abc")
    digest = store.put_file(src)
    src.write_bytes(b"changed but digest claims the old content")
    # The object is there, so nothing is read: the caller's digest is trusted.
    assert store.put_file(src, digest) == digest
    assert store.get_bytes(digest) == b"abc"


def test_put_file_refuses_content_that_does_not_match(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(b"new content")
    claimed = digest_bytes(b"old content")
    with pytest.raises(CorruptObject) as info:
        store.put_file(src, claimed)
    assert info.value.actual == digest_bytes(b"new content")
    assert list(store.digests()) == []


def test_put_file_move_consumes_the_source(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "tmp.bin"
    src.write_bytes(b"moved")
    digest = store.put_file(src, move=True)
    assert not src.exists()
    assert store.get_bytes(digest) == b"moved"
    again = tmp_path / "again.bin"
    again.write_bytes(b"moved")
    assert store.put_file(again, digest, move=True) == digest
    assert not again.exists()


def test_missing_objects(store: ObjectStore) -> None:
    digest = digest_bytes(b"never stored")
    assert not store.has(digest)
    assert not store.verify(digest)
    with pytest.raises(ObjectMissing, match=digest[:12]):
        store.get_bytes(digest)
    with pytest.raises(ObjectMissing):
        store.size(digest)
    store.delete(digest)  # not an error


def test_delete(store: ObjectStore) -> None:
    digest = store.put_bytes(b"bye")
    store.delete(digest)
    assert not store.has(digest)
    assert list(store.digests()) == []


@pytest.mark.parametrize("bad", ["abc", "../" + "a" * 61, "A" * 64, "g" * 64])
def test_malformed_digests_are_refused(store: ObjectStore, bad: str) -> None:
    with pytest.raises(ValueError, match="BLAKE3"):
        store.has(bad)
    with pytest.raises(ValueError):
        store.get_bytes(bad)


def test_corrupt_object_is_detected_logged_and_treated_as_missing(
    store: ObjectStore, corrupt: Corrupt, caplog: pytest.LogCaptureFixture
) -> None:
    digest = store.put_bytes(b"precious")
    corrupt(store, digest)
    assert store.has(digest)  # existence only: cheap
    with caplog.at_level(logging.WARNING, logger="lockgate"), pytest.raises(CorruptObject) as info:
        store.get_bytes(digest)
    assert info.value.digest == digest
    assert info.value.actual == digest_bytes(b"tampered")
    assert any(
        "corrupt" in r.getMessage() and digest[:12] in r.getMessage() for r in caplog.records
    )
    assert not store.has(digest)
    assert store.put_bytes(b"precious") == digest  # the next run simply rewrites it
    assert store.get_bytes(digest) == b"precious"


def test_verify_detects_corruption(store: ObjectStore, corrupt: Corrupt) -> None:
    digest = store.put_bytes(b"precious")
    assert store.verify(digest)
    corrupt(store, digest)
    assert not store.verify(digest)
    assert not store.has(digest)


def test_restore_file_is_verified_and_atomic(
    store: ObjectStore, corrupt: Corrupt, tmp_path: Path
) -> None:
    digest = store.put_bytes(b"payload")
    dest = tmp_path / "out" / "deep" / "file.txt"
    restore_file(store, digest, dest)
    assert dest.read_bytes() == b"payload"
    dest.write_bytes(b"user edits the restored copy")  # writable, and the cache is unaffected
    assert store.get_bytes(digest) == b"payload"
    corrupt(store, digest)
    with pytest.raises(CorruptObject):
        restore_file(store, digest, dest)
    assert dest.read_bytes() == b"user edits the restored copy"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.txt"]


def test_concurrent_writers_of_the_same_and_different_objects(store: ObjectStore) -> None:
    blobs = [bytes([i]) * 100_000 for i in range(8)]
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for blob in blobs:
                store.put_bytes(blob)
            store.put_bytes(blobs[i] + b"!")
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(store.digests())) == 16
    assert all(store.verify(d) for d in store.digests())
