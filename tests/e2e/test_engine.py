"""DVC-style scenarios on real git repositories, real subprocesses, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lockgate.lock import LockFile
from tests.conftest import git, write
from tests.e2e.helpers import STEPS, count, lg

SPEC = """
version: 1
params:
  msg: hello
  rows: 5
  unused: 1
stages:
  write:
    cmd: mkdir -p runs out && echo x >> runs/write && echo "${msg}" > out/msg.txt
    outs: [out/msg.txt]
  shout:
    cmd: echo x >> runs/shout && tr a-z A-Z < out/msg.txt > out/shout.txt
    deps: [out/msg.txt]
    outs: [out/shout.txt]
  table:
    call: src.steps:make_table
    with: {rows: "${rows}"}
    out: [numbers]
  stats:
    call: src.steps:stats
    in: {table: numbers}
    out: [summary]
  other:
    cmd: mkdir -p runs && echo x >> runs/other && echo other > other.txt
    outs: [other.txt]
"""

@pytest.fixture
def project(repo: Path) -> Path:
    write(repo, "pipelines/demo.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/steps.py", STEPS)
    write(repo, ".gitignore", "runs/\nout/\nother.txt\n")
    return repo


def wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def counts(repo: Path) -> dict[str, int]:
    return {s: count(repo, s) for s in ("write", "shout", "table", "stats", "other")}


def outcomes(repo: Path, *args: str, code: int = 0) -> dict[str, str]:
    done = lg(repo, "run", "--json", *args, check=code)
    return {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}


def test_first_run_runs_all_second_runs_nothing(project: Path):
    assert set(outcomes(project).values()) == {"ran"}
    assert counts(project) == dict.fromkeys(counts(project), 1)
    lock_bytes = (project / "pipelines/demo.lock").read_bytes()
    assert set(outcomes(project).values()) == {"cached"}
    assert counts(project) == dict.fromkeys(counts(project), 1)
    assert (project / "pipelines/demo.lock").read_bytes() == lock_bytes
    lock = LockFile.read(project / "pipelines/demo.lock")
    assert lock.stages["stats"].metrics == {"summary": {"rows": 5, "mean_y": 5.0}}
    assert lock.stages["write"].params == {"msg": "hello"}  # only what it references
    assert (project / ".lockgate/.gitignore").exists()


def test_changed_param_reruns_only_its_stages_and_revert_restores(project: Path):
    outcomes(project)
    spec = project / "pipelines/demo.yaml"
    spec.write_text(spec.read_text().replace("rows: 5", "rows: 7"))
    got = outcomes(project)
    assert got == {"write": "cached", "shout": "cached", "table": "ran", "stats": "ran", "other": "cached"}
    assert outcomes(project, "-p", "unused=2") == dict.fromkeys(got, "cached")  # nothing reads it
    before = counts(project)
    spec.write_text(spec.read_text().replace("rows: 7", "rows: 5"))
    got = outcomes(project)  # back to rows=5: known fingerprints
    assert got["table"] == "restored" and got["stats"] == "restored"
    assert counts(project) == before  # nothing executed
    summary = LockFile.read(project / "pipelines/demo.lock").stages["stats"].metrics
    assert summary == {"summary": {"rows": 5, "mean_y": 5.0}}


def test_deleted_output_is_restored_without_running(project: Path):
    outcomes(project)
    (project / "out/shout.txt").unlink()
    status = lg(project, "status", "--json", check=0)
    stale = {s["stage"]: s.get("reasons") for s in json.loads(status.stdout)["stages"]
             if s["outcome"] != "cached"}
    assert stale == {"shout": ["missing output out/shout.txt"]}
    assert lg(project, "status", "--check").returncode == 1
    got = outcomes(project)
    assert got["shout"] == "restored" and counts(project)["shout"] == 1
    assert (project / "out/shout.txt").read_text() == "HELLO\n"
    assert lg(project, "status", "--check").returncode == 0


def test_changed_dependency_reruns_it_and_descendants_only(project: Path):
    outcomes(project)
    write(project, "out/msg.txt", "edited\n")
    status = lg(project, "status", check=0).stdout
    assert "shout: changed dependency out/msg.txt" in status
    got = outcomes(project)
    # `write` restores its recorded output; `shout` then sees the original bytes again
    assert got["write"] == "restored" and got["shout"] == "cached"
    write(project, "pipelines/demo.yaml", SPEC.replace("tr a-z A-Z", "tr a-z A-Z | rev"))
    got = outcomes(project)
    assert got == {"write": "cached", "shout": "ran", "table": "cached", "stats": "cached", "other": "cached"}


def test_identical_upstream_output_keeps_dependents_cached(project: Path):
    outcomes(project)
    # a new command that writes the same bytes: `write` reruns, `shout` does not
    write(project, "pipelines/demo.yaml", SPEC.replace('echo "${msg}"', 'printf "%s\\n" "${msg}"'))
    got = outcomes(project)
    assert got["write"] == "ran" and got["shout"] == "cached"


def test_changed_call_module_reruns_that_stage(project: Path):
    outcomes(project)
    write(project, "src/steps.py", STEPS + "\n# a comment changes the module\n")
    assert "table: changed code" in lg(project, "status").stdout
    got = outcomes(project)
    assert got["table"] == "ran" and got["stats"] == "ran"  # same module, both changed code
    assert got["write"] == "cached"


def test_failing_stage_stops_only_its_descendants(project: Path):
    write(project, "src/steps.py", STEPS.replace('_mark("table")', 'raise ValueError("bad rows")'))
    done = lg(project, "run", "--keep-going", check=1)
    assert "ValueError: bad rows" in done.stderr
    assert ".lockgate/logs/demo/table.log" in done.stderr
    assert "Traceback" in (project / ".lockgate/logs/demo/table.log").read_text()
    got = outcomes(project, "--keep-going", code=1)
    assert got["table"] == "failed" and got["stats"] == "skipped"
    assert got["write"] == got["shout"] == got["other"] == "cached"
    lock = LockFile.read(project / "pipelines/demo.lock")
    assert "table" not in lock.stages and "write" in lock.stages


def test_spec_error_runs_nothing_and_exits_2(project: Path):
    write(project, "pipelines/demo.yaml", SPEC.replace("in: {table: numbers}", "in: {table: numbrs}"))
    done = lg(project, "run", check=2)
    assert "reads 'numbrs', which nothing produces; did you mean 'numbers'" in done.stderr
    assert counts(project) == dict.fromkeys(counts(project), 0)
    assert not (project / "pipelines/demo.lock").exists()


def test_targets_downstream_force_and_dry_run(project: Path):
    got = outcomes(project, "shout")
    assert got == {"write": "ran", "shout": "ran"}
    assert outcomes(project, "--dry-run") == {
        "write": "cached", "shout": "cached", "table": "stale", "stats": "stale", "other": "stale"}
    assert counts(project)["table"] == 0
    outcomes(project)
    assert outcomes(project, "--force", "write", "--downstream") == {"write": "ran", "shout": "ran"}


def test_dependency_changed_while_running_is_not_recorded(project: Path):
    write(project, "data.txt", "v1\n")
    write(project, "pipelines/race.yaml", """
    version: 1
    stages:
      slow:
        cmd: sleep 1 && cp data.txt copy.txt
        deps: [data.txt]
        outs: [copy.txt]
    """)
    proc = subprocess.Popen([sys.executable, "-m", "lockgate", "run", "race"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(project / ".lockgate/logs/race/slow.log")
    time.sleep(0.2)
    write(project, "data.txt", "v2, edited during the run\n")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "dependency data.txt changed while the stage ran" in err
    assert "slow" not in LockFile.read(project / "pipelines/race.lock").stages


def test_missing_dependency_is_a_clear_failure(project: Path):
    write(project, "pipelines/miss.yaml", """
    version: 1
    stages:
      a: {cmd: cat nope.txt, deps: [nope.txt]}
    """)
    done = lg(project, "run", "miss", check=1)
    assert "'nope.txt' does not exist and no stage writes it" in done.stderr


def test_two_runs_never_interleave(project: Path):
    write(project, "pipelines/slow.yaml", """
    version: 1
    stages:
      nap: {cmd: sleep 6 && echo done > nap.txt, outs: [nap.txt]}
    """)
    first = subprocess.Popen([sys.executable, "-m", "lockgate", "run", "slow"], cwd=project,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(project / ".lockgate/logs/slow/nap.log")
    second = lg(project, "run", "slow", "--no-wait")
    assert second.returncode == 1
    assert "the repository is locked by pid" in second.stderr
    assert lg(project, "status", "slow").returncode == 0  # read-only commands never wait
    waited = lg(project, "run", "slow")
    first.wait(timeout=60)
    assert first.returncode == 0
    assert "waiting for another lockgate run" in waited.stderr
    assert waited.returncode == 0 and "cached" in waited.stdout


def test_corrupt_object_is_treated_as_missing(project: Path):
    outcomes(project)
    lock = LockFile.read(project / "pipelines/demo.lock")
    obj = lock.stages["table"].outputs["numbers"]
    key = obj.get("object", obj["digest"])
    path = project / ".lockgate/cache/objects" / key[:2] / key[2:]
    os.chmod(path, 0o644)
    path.write_bytes(b"garbage")
    got = outcomes(project, "--force", "stats")
    assert got["stats"] == "ran"
    assert count(project, "stats") == 2
    assert LockFile.read(project / "pipelines/demo.lock").stages["stats"].metrics["summary"]["rows"] == 5


def test_sigterm_stops_cleanly(project: Path):
    write(project, "pipelines/long.yaml", """
    version: 1
    stages:
      quick: {cmd: echo q > q.txt, outs: [q.txt]}
      long: {cmd: sleep 30 && echo l > l.txt, outs: [l.txt]}
    """)
    proc = subprocess.Popen([sys.executable, "-m", "lockgate", "run", "long", "-j", "2"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(project / ".lockgate/logs/long/long.log")
    wait_for(project / "q.txt")
    time.sleep(0.3)  # let the runner record `quick` (in memory; the lock is written on exit)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err  # 128 + SIGTERM, as a shell reports it
    assert "cache and lock are consistent" in err
    lock = LockFile.read(project / "pipelines/long.lock")
    assert set(lock.stages) == {"quick"}
    assert not (project / "l.txt").exists()


def test_lock_survives_git_branch_switch(project: Path):
    outcomes(project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "rows=5")
    git(project, "checkout", "-qb", "more-rows")
    write(project, "pipelines/demo.yaml", SPEC.replace("rows: 5", "rows: 9"))
    assert outcomes(project)["table"] == "ran"
    git(project, "commit", "-qam", "rows=9")
    git(project, "checkout", "-q", "main")
    before = counts(project)
    assert outcomes(project)["table"] in ("cached", "restored")
    git(project, "checkout", "-q", "more-rows")
    assert outcomes(project)["table"] in ("cached", "restored")
    assert counts(project) == before


def test_cmd_metrics_files_are_gated_by_stage_name(repo: Path):
    write(repo, "pipelines/bench.yaml", """
    version: 1
    params: {speed: 12}
    stages:
      kernels:
        cmd: |
          mkdir -p results && echo '{"ks_speedup": ${speed}, "nested": {"a": 1}}' > results/k.json
        metrics: [results/k.json]
      targets:
        cmd: echo ok
        gates: [kernels.ks_speedup >= 10]
    """)
    got = outcomes(repo)
    assert got == {"kernels": "ran", "targets": "ran"}
    lock = LockFile.read(repo / "pipelines/bench.lock")
    assert lock.stages["kernels"].metrics == {"results/k.json": {"ks_speedup": 12, "nested": {"a": 1}}}
    done = lg(repo, "run", "-p", "speed=3", check=3)
    assert "kernels.ks_speedup = 3, needs >= 10" in done.stderr


def test_sigint_stops_a_long_python_stage_promptly(project: Path):
    write(project, "src/slow.py", """
    import time
    import polars as pl


    def nap():
        time.sleep(60)
        return pl.DataFrame({"x": [1]})
    """)
    write(project, "pipelines/nap.yaml", """
    version: 1
    stages:
      quick: {cmd: echo q > q.txt, outs: [q.txt]}
      nap: {call: src.slow:nap, out: [t]}
    """)
    proc = subprocess.Popen([sys.executable, "-m", "lockgate", "run", "nap"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(project / ".lockgate/logs/nap/nap.log")
    wait_for(project / "q.txt")
    time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert time.monotonic() - started < 5
    assert proc.returncode == 130, err
    lock = LockFile.read(project / "pipelines/nap.lock")
    assert "nap" not in lock.stages
