"""The compiled-pipeline cache: a hit skips validation (no pydantic), and anything that
compiling reads invalidates it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lockgate.project import Project
from tests.conftest import write

SPEC = """
version: 1
params_file: params.yaml
params: {n: 1}
stages:
  a: {cmd: "echo ${n} > a.txt", outs: [a.txt]}
  b:
    cmd: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
    gates: [a_metrics.x >= production.x]
  m: {cmd: "echo '{}' > m.json", metrics: [m.json]}
"""


def project(repo: Path) -> Project:
    write(repo, "pipelines/p.yaml", SPEC.replace("a_metrics.x", "m.x"))
    write(repo, "params.yaml", "n: 2\n")
    write(repo, "registry/x.yaml", "schema: 1\nname: x\naliases: {production: 1}\nhistory: {}\n"
          "versions: {1: {artifact: {kind: model, digest: " + "a" * 64 + "}, metrics: {x: 1}, params: {},"
          " git_commit: '', pipeline: p, stage: s, data: {}, created: '2026-01-01T00:00:00Z'}}\n")
    (repo / ".lockgate").mkdir(exist_ok=True)
    return Project(repo)


def test_hit_equals_a_fresh_compile(repo: Path):
    proj = project(repo)
    fresh = proj.load("p")
    assert (repo / ".lockgate/plans/p.json").is_file()
    cached = proj.load("p")
    assert cached.loaded is None  # came from the cache
    assert cached.stages == fresh.stages
    assert set(cached.graph.edges) == set(fresh.graph.edges)
    assert cached.order() == fresh.order()
    assert cached.params == fresh.params == {"n": 2}
    assert cached.params_file == "params.yaml"


def test_each_input_of_compiling_invalidates(repo: Path):
    proj = project(repo)
    proj.load("p")
    write(repo, "params.yaml", "n: 3\n")
    assert proj.load("p").params == {"n": 3}
    assert proj.load("p", ["n=5"]).params == {"n": 5}
    write(repo, "pipelines/p.yaml", SPEC.replace("a_metrics.x", "m.x").replace("echo ${n}", "echo n=${n}"))
    assert proj.load("p").stages["a"].run == "echo n=3 > a.txt"
    assert proj.load("p").loaded is None


def test_a_cached_status_does_not_import_pydantic(repo: Path):
    project(repo).load("p")
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys; from click.testing import CliRunner; from lockgate.cli import main;"
         f"CliRunner().invoke(main, ['-C', {str(repo)!r}, 'status']);"
         "print(sorted(m for m in ('pydantic', 'numba', 'polars', 'sklearn') if m in sys.modules))"],
        capture_output=True, text=True,
    )
    assert done.stdout.strip() == "[]", done.stderr
