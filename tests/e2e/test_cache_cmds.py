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
    assert "no artifact 'numbrs' in pipelines/*.lock; artifacts: numbers, out, scores (did you mean 'numbers'?)" in missing.stderr


def test_gc_keeps_what_locks_need(repo: Path):
    project(repo)
    spec = repo / "pipelines/c.yaml"
    spec.write_text(spec.read_text().replace("n: 4", "n: 6"))
    lg(repo, "run", check=0)  # the n=4 objects are now unreferenced
    lg(repo, "run", "-p", "n=5", check=0)  # an experiment's objects are kept (`exp apply` needs them)
    dry = lg(repo, "gc", "--dry-run", check=0).stdout
    assert dry.startswith("would remove") and not dry.startswith("would remove 0 ")
    lg(repo, "gc", check=0)
    assert lg(repo, "status", "--check").returncode == 0
    assert json.loads(lg(repo, "show", "scores", "--json", check=0).stdout)["value"] == {"rows": 6}
    again = {s["stage"]: s["outcome"] for s in json.loads(lg(repo, "run", "--json", "-p", "n=5").stdout)["stages"]}
    assert again["table"] == "restored"  # the experiment's objects survived
    spec.write_text(spec.read_text().replace("n: 6", "n: 4"))
    got = {s["stage"]: s["outcome"] for s in json.loads(lg(repo, "run", "--json").stdout)["stages"]}
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
    pulled = lg(clone, "pull", check=0)
    assert "restored 1 missing path: out" in pulled.stdout  # pull checks out what it fetched
    got = {s["stage"]: s["outcome"] for s in json.loads(lg(clone, "run", "--json", check=0).stdout)["stages"]}
    assert got == {"table": "cached", "score": "cached", "file": "cached"}
    assert (clone / "out/hi.txt").read_text() == "hi\n"


DATA_SPEC = """
version: 1
inputs:
  raw: data/raw.csv
stages:
  total:
    call: src.m:total
    in: {t: raw}
    out: [sums]
"""


def test_raw_data_is_versioned_pushed_pulled_restored_and_kept_by_gc(repo: Path, tmp_path: Path):
    """`inputs:` and `lockgate add` data travel with push/pull like outputs (DVC's dvc add):
    a fresh clone after `push -r URI` and a plain `pull` runs nothing."""
    write(repo, "pipelines/d.yaml", DATA_SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/m.py", "def total(t):\n    return {'x': int(t['x'].sum())}\n")
    write(repo, "data/raw.csv", "x\n1\n2\n3\n")
    write(repo, "data/extra/a.txt", "not read by any pipeline\n")
    write(repo, ".gitignore", "/data/raw.csv\n")
    lg(repo, "run", check=0)
    lock = (repo / "pipelines/d.lock").read_text()
    assert "inputs:\n  data/raw.csv:\n" in lock  # the lock records (and the cache keeps) the input
    added = lg(repo, "add", "data/extra", check=0).stdout
    assert added.startswith("added data/extra (1 files,")
    assert "/data/extra" in (repo / ".gitignore").read_text().splitlines()
    lg(repo, "gc", check=0)  # nothing a lock or data.lock names may go
    remote = tmp_path / "remote"
    assert lg(repo, "push", "-r", remote.as_uri(), check=0).stdout.startswith("pushed 4 objects")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline, lock and data.lock; the data itself is not in git")
    assert git(repo, "ls-files").split() == [".gitignore", "data.lock", "pipelines/d.lock",
                                              "pipelines/d.yaml", "src/__init__.py", "src/m.py"]
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    failed = json.loads(lg(clone, "run", "--json", check=1).stdout)["stages"][0]["message"]
    assert failed == "'data/raw.csv' is missing; the lock versions it: `lockgate pull` puts it back"
    pulled = lg(clone, "pull", "-r", remote.as_uri(), check=0).stdout
    assert "restored 2 missing paths: data/extra, data/raw.csv" in pulled
    assert (clone / "data/raw.csv").read_text() == "x\n1\n2\n3\n"
    assert (clone / "data/extra/a.txt").read_text() == "not read by any pipeline\n"
    got = json.loads(lg(clone, "run", "--json", check=0).stdout)["stages"]
    assert [(s["stage"], s["outcome"]) for s in got] == [("total", "cached")]
    assert lg(clone, "pull", check=0).stdout.startswith("pulled 0 objects")  # the remote given once is kept
