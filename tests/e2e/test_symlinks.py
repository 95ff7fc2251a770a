"""Symlinks in outputs and data, through the real CLI: a link is kept as a link, and
nothing outside the repository is read, cached, pushed, written or deleted."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import git, write
from tests.e2e.helpers import lg

SECRET = b"VICTIM-SECRET-c41e"

SPEC = """
version: 1
stages:
  make:
    cmd: mkdir -p out && cp src.txt out/f.txt && ln -sfn {victim} out/ext && ln -sfn {victim}/a.txt out/h && ln -sfn f.txt out/same
    deps: [src.txt]
    outs: [out]
  use:
    cmd: cat out/f.txt out/same > copy.txt
    deps: [out]
    outs: [copy.txt]
"""


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leaked(folder: Path) -> list[str]:
    """Files under ``folder`` holding any of the victim's bytes."""
    return [str(p) for p in folder.rglob("*") if p.is_file() and SECRET in p.read_bytes()]


def _outcomes(repo: Path) -> dict[str, str]:
    done = lg(repo, "run", "--json", check=0)
    return {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}


def test_links_out_of_the_repository_are_kept_as_links_never_followed(repo: Path, tmp_path: Path):
    victim = tmp_path / "victim"
    (victim / "deep").mkdir(parents=True)
    (victim / "a.txt").write_bytes(SECRET + b"-a")
    (victim / "deep" / "b.txt").write_bytes(SECRET + b"-b")
    write(repo, "pipelines/s.yaml", SPEC.format(victim=victim))
    write(repo, "src.txt", "ours\n")
    write(repo, ".gitignore", "/out\n/copy.txt\n")
    assert _outcomes(repo) == {"make": "ran", "use": "ran"}
    objects = repo / ".lockgate" / "cache" / "objects"
    assert _leaked(objects) == []
    record = json.loads(lg(repo, "show", "out", "--json", check=0).stdout)
    assert record["files"] == 4  # f.txt and three links: ext, h, same
    lock = (repo / "pipelines/s.lock").read_text()
    assert "links: 3" in lock

    (victim / "new.txt").write_bytes(SECRET + b"-new")  # not in the manifest: a prune would take it
    before = _snapshot(victim)
    (repo / "out" / "f.txt").write_text("edited\n")
    assert _outcomes(repo) == {"make": "restored", "use": "cached"}
    assert (repo / "out" / "f.txt").read_text() == "ours\n"
    (repo / "out" / "ext").unlink()
    (repo / "out" / "ext" / "inner").mkdir(parents=True)  # a folder where the link belongs
    (repo / "out" / "ext" / "inner" / "junk").write_text("x")
    (repo / "out" / "stray").symlink_to(victim / "deep")  # a link the manifest does not list
    assert _outcomes(repo) == {"make": "restored", "use": "cached"}
    shutil.rmtree(repo / "out")
    assert _outcomes(repo) == {"make": "restored", "use": "cached"}
    assert os.readlink(repo / "out" / "ext") == str(victim)
    assert os.readlink(repo / "out" / "h") == str(victim / "a.txt")
    assert os.readlink(repo / "out" / "same") == "f.txt"
    assert not os.path.lexists(repo / "out" / "stray")
    assert (repo / "copy.txt").read_text() == "ours\nours\n"
    write(repo, "src.txt", "changed\n")
    assert _outcomes(repo) == {"make": "ran", "use": "ran"}
    assert _snapshot(victim) == before

    (repo / "data").mkdir()
    (repo / "data" / "rows.csv").write_text("x\n1\n")
    (repo / "data" / "outside").symlink_to(victim / "a.txt")
    added = lg(repo, "add", "data", check=0).stdout
    assert added.startswith("added data (1 files,")
    assert _leaked(objects) == []

    remote = tmp_path / "remote"
    lg(repo, "push", "-r", remote.as_uri(), check=0)
    assert _leaked(remote) == [] and any(p.is_file() for p in remote.rglob("*"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline, locks, data.lock")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    pulled = lg(clone, "pull", "-r", remote.as_uri(), check=0).stdout
    assert "restored 3 missing paths: copy.txt, data, out" in pulled
    assert os.readlink(clone / "out" / "ext") == str(victim)
    assert os.readlink(clone / "data" / "outside") == str(victim / "a.txt")
    assert _outcomes(clone) == {"make": "cached", "use": "cached"}
    assert _snapshot(victim) == before


def test_an_output_in_a_folder_linked_outside_fails_and_is_never_read(repo: Path, tmp_path: Path):
    big = tmp_path / "big"
    big.mkdir()
    (repo / "data").symlink_to(big)
    write(repo, "pipelines/p.yaml", """
        version: 1
        stages:
          parent:
            cmd: mkdir -p data/o && printf 'VICTIM-SECRET-c41e' > data/o/f
            outs: [data/o]
    """)
    done = lg(repo, "run", "--json", check=1)
    stage = json.loads(done.stdout)["stages"][0]
    assert stage["outcome"] == "failed"
    assert stage["message"].splitlines()[0] == (
        f"output 'data/o': data is a symlink to {big}, outside the repository; "
        "lockgate keeps outputs inside the repository only"
    )
    assert _leaked(repo / ".lockgate" / "cache") == []  # (the log shows the command, not the file)


@pytest.mark.parametrize(("own", "command"), [
    (".lockgate", ("run",)),  # the cache, logs and run state would be written into the victim
    ("registry", ("run",)),  # promotions and the audit log
    (".gitignore", ("add", "data.csv")),  # rewritten with lines appended to what the link points to
    ("pipelines", ("run",)),  # lock files are written beside the specs
])
def test_lockgates_own_paths_linked_out_of_the_repository_are_refused(repo: Path, tmp_path: Path, own: str,
                                                                       command: tuple[str, ...]):
    """A cloned repository can commit any of these as a link; nothing is written through it."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "a.txt").write_bytes(SECRET)
    write(repo, "pipelines/s.yaml", "version: 1\nstages:\n  a:\n    cmd: echo hi > a.out\n    outs: [a.out]\n")
    write(repo, "data.csv", "x\n1\n")
    if own == "pipelines":
        shutil.copytree(repo / "pipelines", victim / "pipelines")
        shutil.rmtree(repo / "pipelines")
        os.symlink(victim / "pipelines", repo / "pipelines")
    else:
        os.symlink(victim / "a.txt" if own == ".gitignore" else victim, repo / own)
    before = {p.relative_to(victim).as_posix(): p.read_bytes() for p in victim.rglob("*") if p.is_file()}

    done = lg(repo, *command, check=2)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{own} is a symlink to {victim}" in done.stderr and "outside the repository" in done.stderr
    after = {p.relative_to(victim).as_posix(): p.read_bytes() for p in victim.rglob("*") if p.is_file()}
    assert after == before
    assert not (repo / "a.out").exists() and not (repo / "data.lock").exists()


def test_a_stage_log_planted_as_a_link_is_replaced_not_written_through(repo: Path, tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(SECRET)
    write(repo, "pipelines/s.yaml", "version: 1\nstages:\n  a:\n    cmd: echo hi > a.out\n    outs: [a.out]\n")
    lg(repo, "run", check=0)
    log = repo / ".lockgate" / "logs" / "s" / "a.log"
    log.unlink()
    log.symlink_to(victim)
    lg(repo, "run", "-f", check=0)
    assert victim.read_bytes() == SECRET
    assert not log.is_symlink() and "echo hi" in log.read_text()
