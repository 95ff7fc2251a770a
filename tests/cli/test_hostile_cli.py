"""Hostile specs through the real console script: one clean line per problem, exit 2, no
traceback, nothing run, nothing written (no lock file, no cache, no file outside)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write


def lockgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lockgate", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


BOMB = "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10)
)


@pytest.mark.parametrize(("spec", "expected"), [
    ("version: 1\nstages:\n  a: {cmd: 'echo pwned > ../victim', outs: [../victim]}\n",
     "pipelines/p.yaml:3:45: stage 'a': outs path '../victim' leads out of the repository;"),
    ("version: 1\nstages:\n  a: {cmd: 'echo x > o', outs: [.]}\n",
     "pipelines/p.yaml:3:33: stage 'a': outs path '.' is the repository root itself;"),
    ("version: 1\nstages:\n  a: {cmd: !!python/object/apply:os.system ['echo pwned > ../victim']}\n",
     "pipelines/p.yaml:3:12: tag '!!python/object/apply:os.system' is not allowed"),
    ("version: 1\nstages:\n  a: {cmd: 'echo x > o', outs: [o]}\n" + BOMB,
     "pipelines/p.yaml:"),
    ("version: 1\nstages:\n  a: {cmd: echo, outs: [o]}\nparams:\n  x: " + "[" * 5000 + "]" * 5000 + "\n",
     "pipelines/p.yaml:5:"),
])
def test_hostile_spec_is_one_line_exit_2_and_nothing_is_written(repo: Path, spec: str, expected: str):
    write(repo, "pipelines/p.yaml", spec)
    started = time.monotonic()
    done = lockgate("run", cwd=repo)
    assert time.monotonic() - started < 20
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), done.stderr
    assert not (repo.parent / "victim").exists()
    assert not (repo / "o").exists()
    assert sorted(p.name for p in (repo / "pipelines").iterdir()) == ["p.yaml"]  # no lock file
    assert not (repo / ".lockgate" / "cache").exists()


def test_non_utf8_spec_through_the_cli(repo: Path):
    (repo / "pipelines" / "p.yaml").write_bytes(b"version: 1\nstages:\n  a: {cmd: 'echo \xff'}\n")
    done = lockgate("validate", cwd=repo)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "pipelines/p.yaml:3:18: not UTF-8 text: byte 0xff cannot be decoded; save the file as UTF-8"
    )


def test_unparseable_override_says_how_to_quote_it(repo: Path):
    write(repo, "pipelines/p.yaml", "version: 1\nparams: {seed: 1}\nstages:\n  a: {cmd: 'echo ${seed}'}\n")
    done = lockgate("validate", "-p", "seed=[1", cwd=repo)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "pipelines/p.yaml: -p seed='[1': YAML syntax error: while parsing a flow sequence opened here is "
        "never closed; write a complete value, or quote it to pass text: -p 'seed=\"[1\"'"
    )
    assert lockgate("validate", "-p", 'seed="[1"', cwd=repo).returncode == 0


def test_validate_names_each_missing_input_and_dep(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    inputs: {raw: data/raw.csv, made: out/made.csv}
    stages:
      prep: {cmd: 'cp data/raw.csv out/made.csv', deps: [src/prep.py], outs: [out]}
      use: {call: src.m:f, in: {t: raw, m: made}, out: [z]}
    """)
    for attempt in ("plain", "from the plan cache"):
        done = lockgate("validate", cwd=repo)
        assert done.returncode == 2 and "Traceback" not in done.stderr, attempt
        assert done.stderr.splitlines() == [
            "pipelines/p.yaml:2:15: input 'raw' is 'data/raw.csv', which does not exist and which no stage "
            "writes; stage 'use' reads it: create it, correct the path, or add a stage that writes it",
            "pipelines/p.yaml:4:54: stage 'prep' needs 'src/prep.py' (deps:), which does not exist and which "
            "no stage writes; create it, correct the path, or add a stage that writes it",
            "2 problems; nothing was run",
        ], attempt
        (repo / ".lockgate").mkdir(exist_ok=True)  # the second time, compiled plans are cached
    write(repo, "data/raw.csv", "a\n1\n")
    write(repo, "src/prep.py", "")
    done = lockgate("validate", cwd=repo)
    assert done.returncode == 0 and done.stdout.strip() == "pipelines/p.yaml: ok (2 stages)", done.stderr
