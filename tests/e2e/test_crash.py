"""A run killed with SIGKILL at the worst moment leaves a consistent cache and lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lockgate.lock import LockFile
from lockgate.store.local import LocalStore
from tests.conftest import write
from tests.e2e.helpers import lg

SPEC = """
version: 1
stages:
  small:
    cmd: echo small > small.txt
    outs: [small.txt]
  big:
    call: src.big:make
    out: [table]
  after:
    call: src.big:rows
    in: {table: table}
    out: [summary]
"""

BIG = """
import numpy as np
import pyarrow as pa


def make() -> pa.Table:
    rng = np.random.default_rng(0)
    n = 25_000_000
    return pa.table({"a": rng.random(n), "b": rng.integers(0, 1 << 40, n), "c": rng.random(n)})


def rows(table: pa.Table):
    return {"rows": table.num_rows}
"""


def test_sigkill_while_storing_a_large_output(repo: Path):
    write(repo, "pipelines/crash.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/big.py", BIG)
    assert lg(repo, "run", "small").returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "lockgate", "run"], cwd=repo, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    tmp = repo / ".lockgate/cache/objects/tmp"
    deadline = time.monotonic() + 120
    while not (tmp.is_dir() and any(tmp.iterdir())):  # the table is being written to the store
        assert proc.poll() is None, "the run ended before it stored its output"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    store = LocalStore(repo / ".lockgate/cache")
    for digest in store.digests():
        assert store.verify(digest), f"partial object {digest} under its final name"
    lock = LockFile.read(repo / "pipelines/crash.lock")
    assert set(lock.stages) == {"small"}

    done = lg(repo, "run", "--json", check=0)
    got = {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}
    assert got == {"small": "cached", "big": "ran", "after": "ran"}
    gc = lg(repo, "gc", check=0)
    assert "removed" in gc.stdout
    assert not any(tmp.iterdir())  # gc cleaned the dead writer's temporary file
