"""Integrity: records are verified when read, corrupt objects are rebuilt instead of
aborting a run, `lockgate verify` finds what is wrong, damaged caches rebuild, and
mistakes in data or code fail the stage with a clear line."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lockgate.registry import Registry
from tests.conftest import write
from tests.e2e.helpers import lg

CODE = """
import polars as pl


def make_a():
    return pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})


def make_b():
    return pl.DataFrame({"x": [10.0] * 7, "y": [1] * 7})


def count(t):
    return {"rows": t.height}


def odd():
    return {1, 2, 3}
"""

SPEC = """
version: 1
stages:
  make_a: {call: "src.m:make_a", out: [a]}
  make_b: {call: "src.m:make_b", out: [b]}
  count: {call: "src.m:count", in: {t: a}, out: [n]}
  file:
    cmd: mkdir -p out && seq 100 > out/seq.txt
    outs: [out]
"""


def outcomes(repo: Path, *args: str, code: int = 0) -> dict[str, dict]:
    done = lg(repo, "run", "--json", *args, check=code)
    return {s["stage"]: s for s in json.loads(done.stdout)["stages"]}


def _project(repo: Path) -> Path:
    write(repo, "pipelines/p.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/m.py", CODE)
    return repo


def _object(repo: Path, digest: str) -> Path:
    return repo / ".lockgate/cache/objects" / digest[:2] / digest[2:]


def test_a_lock_record_naming_another_tables_object_is_caught_and_rebuilt(repo: Path):
    _project(repo)
    outcomes(repo)
    lock_path = repo / "pipelines/p.lock"
    data = yaml.safe_load(lock_path.read_text())
    a, b = data["stages"]["make_a"]["outputs"]["a"], data["stages"]["make_b"]["outputs"]["b"]
    a["object"] = b.get("object", b["digest"])  # a's record now points at b's (intact) object
    del data["stages"]["count"]
    lock_path.write_text(yaml.safe_dump(data))
    for entry in (repo / ".lockgate/runcache").glob("*/*.json"):
        entry.unlink()
    got = outcomes(repo)
    assert got["count"]["outcome"] == "ran" and got["make_a"]["outcome"] == "ran"
    assert yaml.safe_load(lock_path.read_text())["stages"]["count"]["metrics"] == {"n": {"rows": 3}}


def test_a_corrupt_object_is_rebuilt_and_verify_reports_it(repo: Path):
    _project(repo)
    outcomes(repo)
    record = yaml.safe_load((repo / "pipelines/p.lock").read_text())["stages"]["file"]["outputs"]["out"]
    manifest = json.loads(_object(repo, record["digest"]).read_bytes())
    target = _object(repo, manifest[0]["hash"])
    target.chmod(0o644)
    target.write_bytes(b"not the file\n")
    report = json.loads(lg(repo, "verify", "--json", check=1).stdout)
    assert [c["object"] for c in report["corrupt"]] == [manifest[0]["hash"]]
    assert report["corrupt"][0]["named_by"] == ["pipelines/p.lock: file -> out/seq.txt"]
    assert "missing" in lg(repo, "verify", check=1).stdout  # verify dropped it; now it is missing
    (repo / "out/seq.txt").unlink()
    got = outcomes(repo)  # restoring it fails: the stage runs instead of the run aborting
    assert got["file"]["outcome"] == "ran"
    assert (repo / "out/seq.txt").read_text().split()[-1] == "100"
    assert lg(repo, "verify", check=0).stdout.endswith(": ok\n")


def test_damaged_stat_cache_rebuilds_with_a_warning(repo: Path):
    _project(repo)
    outcomes(repo)
    (repo / ".lockgate/statcache.db").write_bytes(b"\x00garbage" * 100)
    done = lg(repo, "status", check=0)
    assert "statcache.db is damaged" in done.stderr and "Traceback" not in done.stderr
    assert "up to date" in done.stdout


def test_mistakes_in_data_and_code_fail_the_stage_with_one_clear_line(repo: Path):
    _project(repo)
    write(repo, "pipelines/q.yaml", """
    version: 1
    stages:
      make_a: {call: "src.m:make_a", out: [a]}
      odd: {call: "src.m:odd", out: [o]}
      parts:
        uses: split
        in: {table: a}
        with: {target: nosuch, test_size: 0.5}
        out: [tr, te]
      nulls:
        uses: validate
        in: {table: nan_table}
        with: {not_null: [v]}
      nans_allowed:
        uses: validate
        in: {table: nan_table}
        with: {not_null: [v], nan_is_null: false}
      nan_make: {call: "src.nan:table", out: [nan_table]}
    """)
    write(repo, "src/nan.py", "import polars as pl\n\ndef table():\n"
                              "    return pl.DataFrame({'v': [1.0, float('nan'), float('nan')]})\n")
    got = outcomes(repo, "q", "-k", code=1)
    assert got["odd"]["message"].startswith("output 'o' is a builtins.set, which lockgate cannot store")
    assert got["parts"]["message"] == "split: column 'nosuch' is not in the table; it has: x, y"
    assert got["nulls"]["message"] == "validate: 1 violation(s): column 'v': 2 NaN values"
    assert got["nans_allowed"]["outcome"] == "ran"


def test_a_promotion_that_cannot_be_recorded_fails_and_happens_on_the_next_run(repo: Path):
    write(repo, "pipelines/ml.yaml", """
    version: 1
    stages:
      data: {call: "src.ml:data", out: [table]}
      train:
        uses: train
        in: {table: table}
        with: {target: y, estimator: sklearn.linear_model.LogisticRegression}
        out: [model]
      deploy:
        uses: promote
        in: {model: model}
        with: {model_name: demo, alias: production}
    """)
    write(repo, "src/__init__.py", "")
    write(repo, "src/ml.py", "import polars as pl\n\ndef data():\n"
                             "    return pl.DataFrame({'x': [0.0, 1.0, 2.0, 3.0] * 5, 'y': [0, 0, 1, 1] * 5})\n")
    (repo / "registry/demo.yaml").mkdir(parents=True)  # unreadable as a file: the registry write fails
    got = outcomes(repo, code=1)
    assert got["deploy"]["outcome"] == "failed"
    assert got["deploy"]["message"].startswith("registry/demo.yaml: cannot be read")
    (repo / "registry/demo.yaml").rmdir()
    got = outcomes(repo)
    assert got["deploy"]["outcome"] == "ran"  # not "restored" from a run-cache entry: it promotes now
    assert Registry.open(repo, "demo").aliases == {"production": 1}
    lg(repo, "audit", "verify", check=0)
