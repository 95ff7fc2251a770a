"""show, export, gc, push and pull through the real CLI, with a file:// remote."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import git, write
from tests.e2e.helpers import lg

SPEC = """
version: 1
params: {n: 4}
stages:
  table:
    call: src.m:table
    with: {n: "${n}"}
    out: [numbers]
  score:
    call: src.m:score
    in: {t: numbers}
    out: [scores]
  file:
    cmd: mkdir -p out && echo hi > out/hi.txt
    outs: [out]
"""

CODE = """
import polars as pl


def table(*, n):
    return pl.DataFrame({"x": list(range(n)), "name": [f"r{i}" for i in range(n)]})


def score(t):
    return {"rows": t.height}
"""


def project(repo: Path) -> Path:
    write(repo, "pipelines/c.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/m.py", CODE)
    write(repo, ".gitignore", "out/\n")
    lg(repo, "run", check=0)
    return repo


def test_show_and_export(repo: Path, tmp_path: Path):
    project(repo)
    shown = json.loads(lg(repo, "show", "numbers", "--json", check=0).stdout)
    assert shown["rows"] == 4 and shown["columns"]["x"] == "int64"
    assert shown["head"][0] == {"x": 0, "name": "r0"}
    text = lg(repo, "show", "scores", check=0).stdout
    assert '"rows": 4' in text
    out = tmp_path / "numbers.parquet"
    lg(repo, "export", "numbers", str(out), check=0)
    assert pq.read_table(out).column("x").to_pylist() == [0, 1, 2, 3]
    csv = tmp_path / "numbers.csv"
    lg(repo, "export", "c:numbers", str(csv), check=0)
    assert csv.read_text().splitlines()[0] == '"x","name"'
    missing = lg(repo, "show", "numbrs", check=2)
    assert "no artifact 'numbrs' in any lock file; did you mean 'numbers'?" in missing.stderr


def test_gc_keeps_what_locks_need(repo: Path):
    project(repo)
    lg(repo, "run", "-p", "n=6", check=0)  # the n=4 objects are now unreferenced
    dry = lg(repo, "gc", "--dry-run", check=0).stdout
    assert dry.startswith("would remove") and not dry.startswith("would remove 0 ")
    lg(repo, "gc", check=0)
    assert lg(repo, "status", "--check", "-p", "n=6").returncode == 0
    assert json.loads(lg(repo, "show", "scores", "--json", check=0).stdout)["value"] == {"rows": 6}
    got = {s["stage"]: s["outcome"] for s in json.loads(lg(repo, "run", "--json", "-p", "n=4").stdout)["stages"]}
    assert got["table"] == "ran"  # its old objects were collected, so it runs again


def test_push_then_pull_into_a_fresh_clone(repo: Path, tmp_path: Path):
    project(repo)
    remote = tmp_path / "remote"
    done = lg(repo, "push", "-r", remote.as_uri(), check=0)
    assert done.stdout.startswith("pushed ")
    assert lg(repo, "push", "-r", remote.as_uri(), check=0).stdout.startswith("pushed 0 objects")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline and lock")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    write(clone, "lockgate.toml", f'[remotes]\ndefault = "shared"\n[remotes.shared]\nurl = "{remote.as_uri()}"\n')
    lg(clone, "pull", check=0)
    got = {s["stage"]: s["outcome"] for s in json.loads(lg(clone, "run", "--json", check=0).stdout)["stages"]}
    assert got == {"table": "cached", "score": "cached", "file": "restored"}
    assert (clone / "out/hi.txt").read_text() == "hi\n"
