"""lockgate._fs: whole files or none, the umask's mode, never through a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lockgate._fs import atomic_path, atomic_write_bytes, atomic_write_text


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_a_written_file_gets_the_mode_the_umask_says(tmp_path: Path, umask: int):
    before = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a" / "b.txt", "héllo\n")
    finally:
        os.umask(before)
    path = tmp_path / "a" / "b.txt"
    assert path.read_bytes() == "héllo\n".encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_a_symlink_at_the_destination_is_replaced_not_written_through(tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    (tmp_path / "link.txt").symlink_to(outside)
    atomic_write_bytes(tmp_path / "link.txt", b"new", durable=False)
    assert not (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "link.txt").read_bytes() == b"new"
    assert outside.read_text() == "keep"


def test_parents_false_leaves_a_missing_folder_missing(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "missing" / "f.json", "{}", parents=False)
    assert not (tmp_path / "missing").exists()


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    path = tmp_path / "table.parquet"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".table.parquet.lockgate-")
        assert tmp.name.endswith(".tmp") and not tmp.exists()
        tmp.write_text("half")
        raise RuntimeError("writer died")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.parquet"]


def test_a_finished_writer_is_renamed_into_place(tmp_path: Path):
    with atomic_path(tmp_path / "link") as tmp:
        os.symlink("target", tmp)
    assert os.readlink(tmp_path / "link") == "target"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link"]
