"""`lockgate run` as a person and as CI see it: a real pseudo-terminal, then plain pipes.

Progress goes to stderr while the run goes on; the record goes to stdout at the
end; neither repeats the other. On a terminal the progress is a transient live
display and the record is the summary table plus a counts line; without one,
the progress is one line per finished stage and the record is the counts line.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import write

SPEC = """
version: 1
stages:
  numbers:                  # prints, and is slow enough for the live display to tick
    call: src.steps:numbers
    out: [digits]
  checks:                   # a builtin step
    uses: validate
    in: {table: digits}
    with: {min_rows: 1}
    out: [checks]
  shout:                    # a shell stage
    cmd: echo hi > shout.txt
    outs: [shout.txt]
"""

STEPS = """
import time

import polars as pl


def numbers():
    print("hello from numbers")
    time.sleep(1.5)
    return pl.DataFrame({"x": [1, 2, 3]})
"""

STAGES = ("numbers", "checks", "shout")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")
FLOOD = 1_000_000  # bytes: far more than any honest run of three stages prints
LIVE_TIMER = re.compile(r"running\s+numbers\s+(\d+\.\d)s")


class Terminal:
    """``lockgate ARGS`` with one pseudo-terminal as its stdin, stdout and stderr, in its
    own session (so a runaway run can be killed by process group)."""

    def __init__(self, repo: Path, *args: str, columns: int = 110, rows: int = 30) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        drop = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CI")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env["TERM"] = "xterm-256color"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lockgate", *args], cwd=repo, env=env,
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.data = bytearray()
        self.eof = False

    def pump(self, seconds: float) -> None:
        """Read what the program writes for up to ``seconds``."""
        deadline = time.monotonic() + seconds
        while not self.eof and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.05))
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every holder of the terminal's other end closed it
                chunk = b""
            if not chunk:
                self.eof = True
                break
            self.data += chunk
            if len(self.data) > FLOOD:
                self.kill()
                pytest.fail(f"output flood: {len(self.data)} bytes; last:\n{self.text[-2000:]}")

    def until(self, predicate, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                pytest.fail(f"gave up waiting (exit {self.proc.returncode}):\n{self.text[-3000:]}")
            self.pump(0.05)

    def wait(self, timeout: float) -> int:
        """The exit code; kills the process group and fails the test on timeout."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"no exit within {timeout}s; output so far:\n{self.text[-3000:]}")
            self.pump(0.1)
        self.pump(0.5)  # what is still in the terminal's buffer
        os.close(self.master)
        return self.proc.returncode

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    @property
    def text(self) -> str:
        """The output without escape sequences; carriage returns (live redraws) as line breaks."""
        plain = ANSI.sub(b"", bytes(self.data)).decode("utf-8", "replace")
        return plain.replace("\r\n", "\n").replace("\r", "\n")


def finished_lines(text: str, stage: str) -> list[str]:
    """Lines that report ``stage`` as finished: a progress line or a summary-table row."""
    word = re.compile(rf"(?<![\w-]){re.escape(stage)}(?![\w-])")
    return [line for line in text.splitlines()
            if word.search(line) and "running" not in line and re.search(r"\b(ran|cached|failed|blocked)\b", line)]


@pytest.fixture
def project(repo: Path) -> Path:
    write(repo, "pipelines/demo.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/steps.py", STEPS)
    write(repo, ".gitignore", "shout.txt\n*.out\npid.txt\nafter-started\n")
    return repo


def test_a_run_on_a_terminal_shows_live_timers_then_one_summary(project: Path):
    term = Terminal(project, "run")
    code = term.wait(timeout=90)
    text = term.text
    assert code == 0, text[-3000:]
    assert len(term.data) < 100_000, f"{len(term.data)} bytes of output for three stages"

    # the live display ticked: the slow stage's timer took at least two values
    timers = set(LIVE_TIMER.findall(text))
    assert len(timers) >= 2, f"live timers seen: {sorted(timers)}\n{text[-3000:]}"

    # the record: one summary row per stage (never a progress line as well), then the counts
    assert re.search(r"stage\s.*outcome", text), text[-3000:]
    for stage in STAGES:
        assert len(finished_lines(text, stage)) == 1, (stage, text[-3000:])
    assert re.search(r"^3 ran in \d+\.\ds$", text, re.MULTILINE), text[-3000:]
    assert "Traceback" not in text

    # a `call` stage's prints go to its log, not to the terminal
    assert "hello from numbers" not in text
    log = project / ".lockgate/logs/demo/numbers.log"
    assert "hello from numbers" in log.read_text()


SLEEPY = """
version: 1
stages:
  quick:
    cmd: echo ok > quick.out
    outs: [quick.out]
  sleepy:                   # its shell leads its own process group; it takes 1 s to stop
    cmd: echo $$ > pid.txt; trap 'sleep 1; exit 1' TERM; sleep 30 & wait
    deps: [quick.out]
    outs: [sleepy.out]
  after:
    cmd: touch after-started && cp sleepy.out after.out
    deps: [sleepy.out]
    outs: [after.out]
"""


def _pgid(pid: int) -> int:
    """The process group of ``pid`` (field 5 of /proc/PID/stat)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[2])


def _group_alive(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(") ", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_run_cleanly(project: Path, sig: signal.Signals, expected: int):
    write(project, "pipelines/demo.yaml", SLEEPY)
    term = Terminal(project, "run")
    pid_file = project / "pid.txt"
    term.until(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=60)
    pid = int(pid_file.read_text())
    pgid = _pgid(pid)  # the stage's group: its supervisor leads it, not the shell
    term.pump(0.3)  # the live display is up

    term.proc.send_signal(sig)
    term.pump(0.2)
    assert term.proc.poll() is None, "the stage takes 1 s to stop, and the run waits for it"
    term.proc.send_signal(signal.SIGINT)  # a second Ctrl-C during the shutdown: ignored
    code = term.wait(timeout=10)
    text = term.text

    assert code == expected, text[-3000:]
    assert text.count("interrupted:") == 1, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert not _group_alive(pgid), "the sleeping stage's processes still run"
    assert not (project / "after-started").exists()
    lock = yaml.safe_load((project / "pipelines/demo.lock").read_text())
    stages = lock["stages"]
    assert "quick" in stages and "sleepy" not in stages and "after" not in stages, stages


GATED = SPEC + """
  gated:                    # blocked: three rows, never a hundred
    cmd: echo no > gated.out
    deps: [shout.txt]
    outs: [gated.out]
    gates: [checks.rows >= 100]
"""


def test_without_a_terminal_each_line_prints_once(project: Path):
    write(project, "pipelines/demo.yaml", GATED)
    write(project, "src/steps.py", STEPS.replace("time.sleep(1.5)", "pass"))
    lockgate = [sys.executable, "-m", "lockgate", "run"]

    # stdout and stderr to the same place, as a CI log has them
    both = subprocess.run(lockgate, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=120)
    assert both.returncode == 3, both.stdout
    for stage in ("numbers", "checks", "shout", "gated"):
        assert len(finished_lines(both.stdout, stage)) == 1, (stage, both.stdout)
    assert "hello from numbers" not in both.stdout
    lines = both.stdout.splitlines()
    blocked = next(i for i, line in enumerate(lines) if "blocked" in line and "gated" in line)
    assert "needs >= 100" in lines[blocked + 1], both.stdout
    assert re.fullmatch(r"3 ran, 1 blocked in \d+\.\ds", lines[-1]), both.stdout

    # apart: stdout holds only the counts line; the progress lines are on stderr
    apart = subprocess.run(lockgate, cwd=project, capture_output=True, text=True, timeout=120)
    assert apart.returncode == 3, apart.stderr
    assert re.fullmatch(r"3 cached, 1 blocked in \d+\.\ds\n", apart.stdout), apart.stdout
    stage_lines = [line.split()[:2] for line in apart.stderr.splitlines() if line[:9].strip()]  # not details
    assert stage_lines == [["blocked", "gated"]], apart.stderr  # cached stages are not news

    # --json: only JSON on stdout
    as_json = subprocess.run([*lockgate, "--json"], cwd=project, capture_output=True, text=True, timeout=120)
    assert as_json.returncode == 3, as_json.stderr
    got = {s["stage"]: s["outcome"] for s in json.loads(as_json.stdout)["stages"]}
    assert got == {"numbers": "cached", "checks": "cached", "shout": "cached", "gated": "blocked"}


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn"


def test_the_readme_example_finishes_in_a_terminal_and_leaves_its_committed_files_alone(tmp_path: Path):
    """The README's main job, as a person runs it: in a terminal, in a fresh clone of a
    repository that commits its lock, registry and audit log."""
    import shutil

    from tests.conftest import git

    repo = tmp_path / "churn"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".lockgate", "data", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the example as committed")
    term = Terminal(repo, "run")
    assert term.wait(timeout=240) == 0, term.text[-3000:]
    assert "ran in" in term.text or " ran" in term.text
    assert git(repo, "status", "--porcelain") == ""  # lock, registry and audit log byte-identical
    done = subprocess.run([sys.executable, "-m", "lockgate", "audit", "verify"], cwd=repo,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "chain intact" in done.stdout
