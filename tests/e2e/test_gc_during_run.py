"""`lockgate gc` and `lockgate run` at the same time: one waits for the other, for real.

A run stores an output before its lock file names it; a gc in between would
remove it as unreferenced. Both hold the repository lock instead."""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from lockgate.lock import LockFile
from lockgate.store.artifacts import ArtifactRef
from lockgate.store.local import LocalStore
from tests.conftest import write
from tests.e2e.helpers import lg

SLOW = """
version: 1
stages:
  slow:
    cmd: touch started; while [ ! -f release ]; do sleep 0.05; done; echo out > out.txt
    outs: [out.txt]
"""
QUICK = """
version: 1
stages:
  quick:
    cmd: echo out > out.txt
    outs: [out.txt]
"""


def _lockgate(repo: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lockgate", *args], cwd=repo, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stderr_until(proc: subprocess.Popen, needle: str, timeout: float = 60) -> str:
    """What ``proc`` wrote to stderr, once it holds ``needle`` (fails on exit or timeout)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in seen:
        assert time.monotonic() < deadline, f"no {needle!r} on stderr: {seen!r}"
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            assert chunk, f"exited ({proc.wait()}) without {needle!r}: {seen!r}"
            seen += chunk
    return seen.decode()


def _kill(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_gc_waits_for_a_run_and_keeps_what_it_stored(repo: Path):
    write(repo, "pipelines/p.yaml", SLOW)
    write(repo, ".gitignore", "started\nrelease\nout.txt\n")
    run = _lockgate(repo, "run")
    gc = None
    try:
        deadline = time.monotonic() + 60
        while not (repo / "started").exists():
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)

        refused = lg(repo, "gc", "--no-wait")
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"error: the repository is locked by pid {run.pid} ("), refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr  # one line

        gc = _lockgate(repo, "gc")
        assert "waiting for" in _stderr_until(gc, "waiting for")
        assert gc.poll() is None
        (repo / "release").touch()
        assert run.wait(timeout=60) == 0, run.stderr.read()
        out, err = gc.communicate(timeout=60)
        assert gc.returncode == 0, err
    finally:
        _kill(run, *([gc] if gc else []))

    record = LockFile.read(repo / "pipelines/p.lock").stages["slow"].outputs["out.txt"]
    assert LocalStore(repo / ".lockgate/cache").verify(ArtifactRef.from_record(record).object)


def test_a_run_started_while_gc_holds_the_repository_waits(repo: Path):
    write(repo, "pipelines/p.yaml", QUICK)
    write(repo, ".gitignore", "out.txt\n")
    held = repo / ".lockgate/experiments/held/p.lock"
    held.parent.mkdir(parents=True)
    os.mkfifo(held)  # gc blocks reading it, holding the repository lock
    gc = _lockgate(repo, "gc")
    run = None
    writer = None
    try:
        deadline = time.monotonic() + 60
        while writer is None:
            try:
                writer = os.open(held, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                assert exc.errno == errno.ENXIO
                assert gc.poll() is None and time.monotonic() < deadline
                time.sleep(0.01)

        run = _lockgate(repo, "run")
        assert f"pid {gc.pid}" in _stderr_until(run, "waiting for another lockgate run")
        assert run.poll() is None and not (repo / "out.txt").exists()
        os.close(writer)  # gc reads an empty file and goes on
        writer = None
        assert gc.wait(timeout=60) == 0, gc.stderr.read()
        assert run.wait(timeout=60) == 0, run.stderr.read()
    finally:
        if writer is not None:
            os.close(writer)
        _kill(gc, *([run] if run else []))
    assert (repo / "out.txt").read_text() == "out\n"
