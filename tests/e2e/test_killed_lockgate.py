"""`kill -9` of lockgate: no process of a shell stage outlives it, and none writes afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write
from tests.e2e.helpers import lg

# the stage's shell, a nested shell, and that one's background child each write their pid
SPEC = """
version: 1
stages:
  slow:
    cmd: echo $$ >> pids.txt; sh -c 'sleep 30 & echo $! >> pids.txt; echo $$ >> pids.txt; sleep 30; echo done > out.txt'
    outs: [out.txt]
"""
QUICK = SPEC.replace("sleep 30; echo done", "echo fresh")


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat fields from the state on ([] when gone); state "Z" is a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"


def _start(repo: Path) -> tuple[subprocess.Popen, list[int]]:
    """`lockgate run` with its stage's three processes up; (lockgate, their pids)."""
    proc = subprocess.Popen([sys.executable, "-m", "lockgate", "run"], cwd=repo, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pid_file = repo / "pids.txt"
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and len(pid_file.read_text().split()) == 3):
        assert proc.poll() is None, f"lockgate ended before its stage started: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "the stage did not start"
        time.sleep(0.02)
    return proc, [int(p) for p in pid_file.read_text().split()]


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.fixture
def repo_with_slow_stage(repo: Path):
    write(repo, "pipelines/slow.yaml", SPEC)
    write(repo, ".gitignore", "pids.txt\nout.txt\n")
    pids: list[int] = []
    yield repo, pids
    for pid in pids:  # never leave a test's processes behind, whatever failed
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_sigkill_of_lockgate_kills_the_whole_stage_at_once(repo_with_slow_stage):
    repo, pids = repo_with_slow_stage
    proc, started = _start(repo)
    pids += started
    pgid = int(_stat(started[0])[3])

    os.kill(proc.pid, signal.SIGKILL)  # lockgate only, as `kill -9 PID` does
    proc.wait(timeout=30)

    assert _wait_gone(started, timeout=5) == [], "stage processes outlived lockgate"

    def group() -> list[int]:
        return [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
                if (fields := _stat(int(p.parent.name))) and int(fields[3]) == pgid and fields[0] not in "ZX"]

    deadline = time.monotonic() + 5  # killed at once; a loaded machine may take a moment to reap
    while group() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group() == [], f"the stage's process group still runs: {group()}"
    assert not (repo / "out.txt").exists()


def test_the_next_run_kills_what_a_killed_lockgate_and_supervisor_left(repo_with_slow_stage):
    """The second line of defence: the supervisor died with lockgate (here: stopped, so
    it cannot act, then killed), so the stage's processes still run; the next run kills
    them before it starts its own, and their late write never lands."""
    repo, pids = repo_with_slow_stage
    proc, started = _start(repo)
    pids += started
    supervisor = int(_stat(started[0])[1])  # the stage's shell's parent
    os.kill(supervisor, signal.SIGSTOP)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    os.kill(supervisor, signal.SIGKILL)
    time.sleep(0.2)
    assert [p for p in started if _alive(p)] == started, "precondition: the stage still runs"

    write(repo, "pipelines/slow.yaml", QUICK)
    done = lg(repo, "run", check=0)
    assert "killed 4 processes" in done.stderr, done.stderr  # two shells, two sleeps
    assert _wait_gone(started, timeout=5) == []
    assert (repo / "out.txt").read_text() == "fresh\n"
    assert not list((repo / ".lockgate/procs").glob("*.json"))
