"""Symlinks in folders: kept as links (their target text), never followed out of the
repository, never read for caching, and never written or pruned through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lockgate.errors import StoreError
from lockgate.hashing import canonical_json, digest_bytes, hash_tree, hash_value
from lockgate.store.artifacts import ArtifactRef, load_manifest, restore_file, restore_tree, save_tree
from lockgate.store.base import ObjectStore

SECRET = b"VICTIM-SECRET-7f3a"


def _victim(tmp_path: Path) -> Path:
    """A folder outside the repository, with files only its owner should ever touch."""
    victim = tmp_path / "victim"
    (victim / "deep").mkdir(parents=True)
    (victim / "a.txt").write_bytes(SECRET + b"-a")
    (victim / "deep" / "b.txt").write_bytes(SECRET + b"-b")
    return victim


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()
    }


def _folder_with_links(root: Path, victim: Path) -> Path:
    """out/: a file, a link to a file and to a folder outside, links to a file and a
    folder inside, and a dangling link."""
    (root / "sub").mkdir(parents=True)
    (root / "f.txt").write_text("mine")
    (root / "sub" / "g.txt").write_text("inside")
    (root / "ext").symlink_to(victim)  # a folder outside, absolute
    (root / "h").symlink_to(victim / "a.txt")  # a file outside
    (root / "alias").symlink_to("sub")  # a folder inside, relative
    (root / "sub" / "up").symlink_to("../f.txt")  # a file inside, relative
    (root / "dangling").symlink_to("nowhere/at/all")
    return root


def _objects(store: ObjectStore) -> list[bytes]:
    return [store.get_bytes(d) for d in store.digests()]


LINKS = {"alias": "sub", "dangling": "nowhere/at/all", "sub/up": "../f.txt"}


def test_links_are_recorded_as_links_and_nothing_they_point_to_is_read(
    store: ObjectStore, tmp_path: Path
) -> None:
    victim = _victim(tmp_path)
    src = _folder_with_links(tmp_path / "repo" / "out", victim)
    hashed: list[str] = []

    def spy(path: str) -> str:
        hashed.append(path)
        return digest_bytes(Path(path).read_bytes())

    ref = save_tree(store, src, spy)
    assert sorted(Path(p).relative_to(src).as_posix() for p in hashed) == ["f.txt", "sub/g.txt"]
    manifest = load_manifest(store, ref)
    links = {**LINKS, "ext": str(victim), "h": str(victim / "a.txt")}
    assert {e["path"]: e.get("link") for e in manifest} == {**links, "f.txt": None, "sub/g.txt": None}
    for entry in manifest:
        if "link" in entry:  # hashed (and stored) by its target text, as git keeps a link
            text = entry["link"].encode()
            assert entry["hash"] == digest_bytes(text) and entry["size"] == len(text)
            assert store.get_bytes(entry["hash"]) == text
    assert ref.meta == {"files": 2, "links": 5, "size": 4 + 6 + sum(len(t.encode()) for t in links.values())}
    assert not any(SECRET in data for data in _objects(store))
    assert (ref.digest, manifest) == hash_tree(src)


def test_a_link_is_hashed_by_its_text_not_by_what_it_points_to(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    src = _folder_with_links(tmp_path / "out", victim)
    before = hash_tree(src)[0]
    (victim / "a.txt").write_bytes(b"changed outside")
    (victim / "new.txt").write_bytes(b"new outside")
    assert hash_tree(src)[0] == before
    (src / "h").unlink()
    (src / "h").symlink_to(victim / "new.txt")
    assert hash_tree(src)[0] != before
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "f.txt").write_text("mine")
    assert hash_tree(plain) == (
        hash_value([{"path": "f.txt", "hash": digest_bytes(b"mine"), "size": 4}]),
        [{"path": "f.txt", "hash": digest_bytes(b"mine"), "size": 4}],
    )


def test_the_walk_never_enters_a_linked_folder(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "out").symlink_to(_victim(tmp_path / "elsewhere"))
    _, manifest = hash_tree(tmp_path / "d")
    assert [(e["path"], "link" in e) for e in manifest] == [("f", False), ("loop", True), ("out", True)]


def test_restore_recreates_the_links(store: ObjectStore, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    ref = save_tree(store, _folder_with_links(tmp_path / "repo" / "out", victim))
    dest = tmp_path / "repo" / "copy"
    restore_tree(store, ref, dest, prune=True)
    for path, target in {**LINKS, "ext": str(victim), "h": str(victim / "a.txt")}.items():
        assert (dest / path).is_symlink() and os.readlink(dest / path) == target
    assert (dest / "f.txt").read_text() == "mine" and not (dest / "f.txt").is_symlink()
    assert hash_tree(dest)[0] == ref.digest
    assert _snapshot(victim) == {"a.txt": SECRET + b"-a", "deep/b.txt": SECRET + b"-b"}


def test_prune_removes_links_never_what_they_point_to(store: ObjectStore, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    repo = tmp_path / "repo"
    out = _folder_with_links(repo / "out", victim)
    ref = save_tree(store, out)
    (victim / "new.txt").write_bytes(SECRET + b"-new")  # unknown to the manifest, but not ours
    before = _snapshot(victim)
    (out / "f.txt").write_text("edited")
    (out / "stray").symlink_to(victim / "deep")  # links the manifest does not list
    (out / "sub" / "stray.txt").symlink_to(victim / "a.txt")
    (out / "h").unlink()
    (out / "h").symlink_to(victim / "deep" / "b.txt")  # a link retargeted
    restore_tree(store, ref, out, prune=True)  # no root given: ``out`` itself is the boundary
    assert _snapshot(victim) == before
    assert not os.path.lexists(out / "stray") and not os.path.lexists(out / "sub" / "stray.txt")
    assert os.readlink(out / "h") == str(victim / "a.txt")
    assert hash_tree(out)[0] == ref.digest


def test_a_folder_standing_where_a_link_belongs_is_replaced(store: ObjectStore, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    repo = tmp_path / "repo"
    out = _folder_with_links(repo / "out", victim)
    ref = save_tree(store, out)
    (out / "ext").unlink()
    (out / "ext" / "inner").mkdir(parents=True)
    (out / "ext" / "inner" / "junk").write_text("x")
    restore_tree(store, ref, out, prune=True)
    assert os.readlink(out / "ext") == str(victim) and hash_tree(out)[0] == ref.digest


def test_a_link_standing_where_a_folder_belongs_is_removed_not_followed(
    store: ObjectStore, tmp_path: Path
) -> None:
    victim = _victim(tmp_path)
    repo = tmp_path / "repo"
    (repo / "out" / "ext").mkdir(parents=True)
    (repo / "out" / "ext" / "a.txt").write_bytes(b"ours")
    ref = save_tree(store, repo / "out")
    (repo / "out" / "ext" / "a.txt").unlink()
    (repo / "out" / "ext").rmdir()
    (repo / "out" / "ext").symlink_to(victim)
    before = _snapshot(victim)
    with pytest.raises(StoreError, match=r"^ext is a symlink to .*victim, outside the repository"):
        restore_tree(store, ref, repo / "out")  # no prune: refused, never written through
    assert _snapshot(victim) == before
    restore_tree(store, ref, repo / "out", prune=True)  # prune drops the link itself
    assert _snapshot(victim) == before
    assert not (repo / "out" / "ext").is_symlink() and (repo / "out" / "ext" / "a.txt").read_bytes() == b"ours"


def test_restore_into_a_parent_linked_outside_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    before = _snapshot(victim)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "data").symlink_to(victim)
    obj = store.put_bytes(b"payload")
    with pytest.raises(StoreError, match=r"data is a symlink to .*victim, outside the repository"):
        restore_file(store, obj, repo / "data" / "new" / "x.bin", root=repo)
    (repo / "src").mkdir()
    (repo / "src" / "f").write_text("f")
    ref = save_tree(store, repo / "src")
    with pytest.raises(StoreError, match="outside the repository"):
        restore_tree(store, ref, repo / "data" / "out", prune=True, root=repo)
    with pytest.raises(StoreError, match="outside the repository"):
        restore_tree(store, ref, repo / "data", prune=True, root=repo)  # the destination itself
    assert _snapshot(victim) == before and not (victim / "new").exists()


def test_manifests_that_would_write_through_a_link_are_refused(store: ObjectStore, tmp_path: Path) -> None:
    text = "/etc"
    link = {"path": "ext", "hash": digest_bytes(text.encode()), "size": len(text), "link": text}
    under = {"path": "ext/passwd", "hash": digest_bytes(b"x"), "size": 1}
    forged = {**link, "hash": digest_bytes(b"something else")}
    for manifest, problem in (([link, under], "under a link"), ([forged], "not that of its target")):
        digest = store.put_bytes(canonical_json(manifest))
        with pytest.raises(StoreError, match=problem):
            restore_tree(store, ArtifactRef("tree", digest, digest), tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_an_output_path_that_is_itself_a_link(store: ObjectStore, tmp_path: Path) -> None:
    from lockgate.store.artifacts import restore_output, save_link
    from lockgate.store.statcache import StatCache

    victim = _victim(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "single").symlink_to(victim / "a.txt")
    ref = save_link(store, repo / "single")
    with StatCache(tmp_path / "stat.db") as stats:
        assert stats.hash_path(repo / "single", links=True) == (ref.digest, "link")
        assert stats.hash_path(repo / "single")[0] == digest_bytes(SECRET + b"-a")  # a dependency: followed
    assert ref.kind == "file" and ref.meta == {"link": str(victim / "a.txt")}
    assert not any(SECRET in data for data in _objects(store))
    (repo / "single").unlink()
    (repo / "single").write_text("a file now")
    restore_output(store, ref, repo / "single", root=repo)
    assert os.readlink(repo / "single") == str(victim / "a.txt")
    assert _snapshot(victim) == {"a.txt": SECRET + b"-a", "deep/b.txt": SECRET + b"-b"}
