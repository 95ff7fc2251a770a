"""`sys.exit()` or `raise KeyboardInterrupt` in a `call` stage fails that stage, never ends lockgate."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import write
from tests.e2e.helpers import lg

SPEC = """
version: 1
stages:
  quits:
    call: src.quit:three
    out: [a]
  succeeds_falsely:
    call: src.quit:zero
    out: [b]
  interrupts:
    call: src.quit:interrupt
    out: [c]
  after:                  # needs a failed stage: skipped, as after any failure
    call: src.quit:use
    in: {a: a}
    out: [d]
  fine:
    cmd: echo fine > fine.txt
    outs: [fine.txt]
"""

CODE = """
import sys


def three():
    sys.exit(3)


def zero():
    sys.exit(0)


def interrupt():
    raise KeyboardInterrupt


def use(a):
    return {"n": 1}
"""


def test_sys_exit_and_keyboard_interrupt_in_user_code_fail_only_their_stage(repo: Path):
    write(repo, "pipelines/quit.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/quit.py", CODE)
    write(repo, ".gitignore", "fine.txt\n")

    done = lg(repo, "run", "--keep-going", "--json")
    assert done.returncode == 1, (done.stdout, done.stderr)  # lockgate's rule: a stage failed
    data = json.loads(done.stdout)
    got = {s["stage"]: (s["outcome"], s.get("message", "").splitlines()[:1]) for s in data["stages"]}
    assert got["quits"] == ("failed", ["the function src.quit:three called sys.exit(3); "
                                       "raise an exception to fail a stage"])
    assert got["succeeds_falsely"] == ("failed", ["the function src.quit:zero called sys.exit(0); "
                                                  "raise an exception to fail a stage"])
    assert got["interrupts"] == ("failed", ["the function src.quit:interrupt raised KeyboardInterrupt; "
                                            "raise another exception to fail a stage"])
    assert got["after"][0] == "skipped"
    assert got["fine"][0] == "ran"
    assert data["exit_code"] == 1
    assert "Traceback" not in done.stderr
    log = (repo / ".lockgate/logs/quit/quits.log").read_text()
    assert "sys.exit(3)" in log  # the user's own traceback, in the stage's log
