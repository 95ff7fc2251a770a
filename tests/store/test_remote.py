"""Push and pull between LocalStores through a file:// remote (pyarrow.fs)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from lockgate.errors import StoreError
from lockgate.hashing import digest_bytes
from lockgate.store.local import LocalStore
from lockgate.store.remote import Remote

from .conftest import corrupt_object


@pytest.fixture
def stores(tmp_path: Path) -> tuple[LocalStore, LocalStore, Remote]:
    here = LocalStore(tmp_path / "here")
    there = LocalStore(tmp_path / "there")
    return here, there, Remote((tmp_path / "there").as_uri(), jobs=4)


def test_push_sends_only_missing_objects(stores: tuple[LocalStore, LocalStore, Remote]) -> None:
    here, there, remote = stores
    digests = [here.put_bytes(os.urandom(1000 + i)) for i in range(20)]
    already = digests[:5]
    for d in already:
        there.put_bytes(here.get_bytes(d))

    report = remote.push(here, digests)
    assert report.ok
    assert sorted(report.skipped) == sorted(already)
    assert sorted(report.transferred) == sorted(digests[5:])
    assert report.bytes == sum(here.size(d) for d in digests[5:])
    # the remote uses LocalStore's layout, so it is itself a readable store
    assert sorted(there.digests()) == sorted(digests)
    assert all(there.verify(d) for d in digests)
    assert sorted(remote.digests()) == sorted(digests)
    assert not list(there.tmp.iterdir())

    again = remote.push(here, digests)
    assert again.transferred == [] and sorted(again.skipped) == sorted(digests)


def test_pull_fetches_only_missing_objects(
    stores: tuple[LocalStore, LocalStore, Remote], tmp_path: Path
) -> None:
    here, there, remote = stores
    digests = [there.put_bytes(os.urandom(5000) * (i + 1)) for i in range(10)]
    here.put_bytes(there.get_bytes(digests[0]))
    report = remote.pull(here, digests)
    assert report.ok
    assert report.skipped == [digests[0]]
    assert sorted(report.transferred) == sorted(digests[1:])
    assert all(here.get_bytes(d) == there.get_bytes(d) for d in digests)
    assert remote.pull(here, digests).transferred == []


def test_corrupt_remote_object_is_rejected(
    stores: tuple[LocalStore, LocalStore, Remote], caplog: pytest.LogCaptureFixture
) -> None:
    here, there, remote = stores
    good = there.put_bytes(b"good object")
    bad = there.put_bytes(b"object that will rot")
    corrupt_object(there, bad)
    with caplog.at_level(logging.WARNING, logger="lockgate"):
        report = remote.pull(here, [good, bad])
    assert report.transferred == [good]
    assert list(report.failed) == [bad]
    assert "corrupt" in report.failed[bad]
    assert not here.has(bad)
    assert any(bad[:12] in r.getMessage() for r in caplog.records)
    assert sorted(here.digests()) == [good]
    assert list(here.tmp.iterdir()) == []


def test_missing_objects_are_reported(stores: tuple[LocalStore, LocalStore, Remote]) -> None:
    here, _, remote = stores
    absent = digest_bytes(b"nowhere")
    assert remote.pull(here, [absent]).failed == {absent: "not on the remote"}
    assert remote.push(here, [absent]).failed == {absent: "missing from the local cache"}


def test_corrupt_local_object_is_not_pushed(stores: tuple[LocalStore, LocalStore, Remote]) -> None:
    here, there, remote = stores
    digest = here.put_bytes(b"local rot")
    corrupt_object(here, digest)
    report = remote.push(here, [digest])
    assert list(report.failed) == [digest]
    assert not there.has(digest)
    assert not here.has(digest)  # dropped: it will be rebuilt as missing
    assert not remote.digests()


def test_bad_remote_uri_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open remote"):
        Remote("nosuchscheme://bucket/path")
