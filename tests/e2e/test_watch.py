"""`lockgate watch` as a user runs it: a real subprocess, real watchdog observers, a tmp git repo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lockgate.lock import LockFile
from tests.conftest import write
from tests.e2e.helpers import count, lg

SPEC = """
version: 1
params:
  rows: 5
stages:
  prep:
    cmd: mkdir -p runs out && echo x >> runs/prep && cat data/raw.txt > out/prep.txt
    deps: [data/raw.txt]
    outs: [out/prep.txt]
  shout:
    cmd: echo x >> runs/shout && tr a-z A-Z < out/prep.txt > out/shout.txt
    deps: [out/prep.txt]
    outs: [out/shout.txt]
  table:
    call: src.steps:make_table
    with: {rows: "${rows}"}
    out: [numbers]
  other:
    cmd: mkdir -p runs && echo x >> runs/other && grep -v fail data/other.txt > other.txt
    deps: [data/other.txt]
    outs: [other.txt]
"""

STEPS = """
from pathlib import Path
import polars as pl


def make_table(*, rows):
    Path("runs").mkdir(exist_ok=True)
    with open("runs/table", "a") as f:
        f.write("code-v1\\n")
    return pl.DataFrame({"x": list(range(rows))})
"""

STAGES = ("prep", "shout", "table", "other")


@pytest.fixture
def project(repo: Path) -> Path:
    write(repo, "pipelines/demo.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/steps.py", STEPS)
    write(repo, "data/raw.txt", "hello\n")
    write(repo, "data/other.txt", "ok\n")
    write(repo, ".gitignore", "runs/\nout/\nother.txt\n")
    return repo


class Watch:
    """A `lockgate watch` subprocess; its stderr lines collected by a thread."""

    def __init__(self, repo: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # .pyc as users have them
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lockgate", "watch", "--debounce", "0.1", *args],
            cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self.seen = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def expect(self, text: str, timeout: float = 15.0) -> str:
        """The next line (after the last one expected) containing ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(self.seen, len(self.lines)):
                if text in self.lines[i]:
                    self.seen = i + 1
                    return self.lines[i]
            assert self.proc.poll() is None or self.reader.is_alive(), f"watch exited:\n{self.output}"
            assert time.monotonic() < deadline, f"no line with {text!r}:\n{self.output}"
            time.sleep(0.02)

    def cycle(self, timeout: float = 15.0) -> str:
        return self.expect(" -> ", timeout)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def interrupt(self, timeout: float = 5.0) -> tuple[int, float]:
        start = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=2)
        return code, time.monotonic() - start

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=2)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def counts(repo: Path) -> dict[str, int]:
    return {s: count(repo, s) for s in STAGES}


def test_watch_reruns_what_changed_survives_errors_and_stops_cleanly(project: Path):
    watch = Watch(project)
    try:
        assert watch.cycle(timeout=30).startswith("start -> ran prep, shout, table, other")
        watch.expect("watching")
        assert counts(project) == dict.fromkeys(STAGES, 1)

        # A dependency changes: its stage and what reads its output, nothing else.
        with open(project / "data/raw.txt", "a") as f:
            f.write("world\n")
        assert watch.cycle().startswith("changed data/raw.txt -> ran prep, shout; cached 2")
        assert counts(project) == {"prep": 2, "shout": 2, "table": 1, "other": 1}
        assert (project / "out/shout.txt").read_text() == "HELLO\nWORLD\n"

        # The call stage's code changes (same size, likely within the same second as the
        # first import wrote its .pyc): the new code runs inside the same process.
        steps = project / "src/steps.py"
        steps.write_text(steps.read_text().replace("code-v1", "code-v2"))
        assert watch.cycle().startswith("changed src/steps.py -> ran table; cached 3")
        assert (project / "runs/table").read_text().splitlines() == ["code-v1", "code-v2"]

        # A stage fails: reported, and watching goes on.
        (project / "data/other.txt").write_text("fail\n")
        line = watch.cycle()
        assert line.startswith("changed data/other.txt -> failed other") and line.endswith(" failed"), line
        watch.expect("log: .lockgate/logs/demo/other.log")

        # An invalid spec: the located error, then the watcher waits for the next save.
        spec = project / "pipelines/demo.yaml"
        good = spec.read_text()
        spec.write_text(good.replace("    deps: [data/raw.txt]\n", "    deps: [data/raw.txt]\n    dpes: [x]\n"))
        watch.expect("pipelines/demo.yaml:")
        assert "spec error" in watch.cycle()
        assert watch.proc.poll() is None
        spec.write_text(good.replace("rows: 5", "rows: 6"))  # fixed, and a param changed
        assert watch.cycle().startswith("changed pipelines/demo.yaml -> ran table")
        assert count(project, "table") == 3

        (project / "data/other.txt").write_text("ok again\n")
        assert watch.cycle().startswith("changed data/other.txt -> ran other")

        code, took = watch.interrupt()
        assert code in (0, 130), watch.output
        assert took < 2.0
    finally:
        watch.close()
    assert "stopped watching" in watch.output
    # The run's own writes (outs, the lock file, .lockgate/) never started a cycle.
    changed = [line.split(" -> ")[0] for line in watch.lines if line.startswith("changed ")]
    assert not [c for c in changed if "out/" in c or ".lock" in c or "runs/" in c or "other.txt," in c], changed
    assert len(changed) == 6, watch.output
    lock = LockFile.read(project / "pipelines/demo.lock", "demo")
    assert set(lock.stages) == set(STAGES)
    lg(project, "status", "--check", "-p", "rows=5", check=1)  # rows=6 is what the lock holds now
    lg(project, "status", "--check", check=0)


def test_sigint_during_a_run_cancels_it_and_leaves_a_consistent_lock(project: Path):
    spec = project / "pipelines/demo.yaml"
    spec.write_text(spec.read_text().replace(
        "grep -v fail data/other.txt > other.txt",
        "grep -v fail data/other.txt > other.txt && if grep -q slow data/other.txt; then sleep 20; fi",
    ))
    watch = Watch(project, "demo")
    try:
        assert watch.cycle(timeout=30).startswith("start -> ran")
        watch.expect("watching")
        (project / "data/other.txt").write_text("slow\n")
        deadline = time.monotonic() + 15
        while count(project, "other") < 2:  # the slow stage has started
            assert time.monotonic() < deadline, watch.output
            time.sleep(0.02)
        code, took = watch.interrupt()
        assert code == 130, watch.output
        assert took < 2.0, took
    finally:
        watch.close()
    assert "interrupted" in watch.output
    lock = LockFile.read(project / "pipelines/demo.lock", "demo")
    assert set(lock.stages) == set(STAGES)  # the earlier run's entries, intact
    # Back to the recorded input: the interrupted stage's output comes back from the
    # cache (the command may have been cut off mid-write), and nothing runs again.
    (project / "data/other.txt").write_text("ok\n")
    ran = count(project, "other")
    done = lg(project, "run", "--json", check=0)
    assert {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}["other"] in ("cached", "restored")
    assert count(project, "other") == ran
    lg(project, "status", "--check", check=0)
