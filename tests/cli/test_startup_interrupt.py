"""Ctrl-C or SIGTERM while `lockgate run` starts (specs loading): one line, 130 or 143, no traceback."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write

SPEC = """
version: 1
stages:
  never:
    cmd: touch ran.txt
    outs: [ran.txt]
"""


@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_specs_load_exits_cleanly(repo: Path, sig: signal.Signals, expected: int):
    write(repo, "pipelines/p.yaml", SPEC)
    held = repo / ".lockgate/plans/p.json"  # the compiled-plan cache, read while specs load
    held.parent.mkdir(parents=True)
    os.mkfifo(held)  # reading it blocks: start-up, held still
    proc = subprocess.Popen([sys.executable, "-m", "lockgate", "run"], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    writer = None
    try:
        deadline = time.monotonic() + 60
        while writer is None:  # opening the write end succeeds once lockgate opened it to read
            try:
                writer = os.open(held, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                assert exc.errno == errno.ENXIO
                assert proc.poll() is None and time.monotonic() < deadline, "lockgate never read its plan cache"
                time.sleep(0.01)
        time.sleep(0.1)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        if writer is not None:
            os.close(writer)
    assert proc.returncode == expected, err
    assert err == "interrupted before the run began; nothing ran\n"
    assert out == ""
    assert not (repo / "ran.txt").exists()
