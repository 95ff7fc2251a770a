"""`lockgate status` in its plain forms runs without click (lockgate.cli.entry); it must
say and exit exactly what the click command says and exits, in every state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lockgate.cli.main import main
from tests.conftest import write

SPEC = """
version: 1
params: {n: 1}
stages:
  a: {cmd: "cat raw.txt > a.txt; echo ${n} >> a.txt", deps: [raw.txt], outs: [a.txt]}
  b: {cmd: "cat a.txt > b.txt", deps: [a.txt], outs: [b.txt]}
"""


def plain(repo: Path, *args: str) -> tuple[int, str, str]:
    """Through the executable's entry point (`python -m lockgate`), as a user runs it."""
    done = subprocess.run([sys.executable, "-m", "lockgate", *args], cwd=repo, capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def through_click(repo: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["-C", str(repo), *args])
    return result.exit_code, result.stdout, result.stderr


STATES = {
    "never ran": lambda repo: None,
    "up to date": lambda repo: plain(repo, "run"),
    "a param changed": lambda repo: (plain(repo, "run"), write(repo, "pipelines/p.yaml", SPEC.replace("{n: 1}", "{n: 2}"))),
    "an output deleted": lambda repo: (plain(repo, "run"), (repo / "b.txt").unlink()),
    "a spec error": lambda repo: write(repo, "pipelines/p.yaml", SPEC.replace("deps: [a.txt]", "deps: [a.txt], dpes: 1")),
}


@pytest.mark.parametrize("state", list(STATES))
def test_plain_status_says_what_the_click_command_says(repo: Path, state: str):
    write(repo, "pipelines/p.yaml", SPEC)
    write(repo, "raw.txt", "raw\n")
    STATES[state](repo)
    for args in (["status"], ["status", "--json"], ["status", "--check"], ["status", "p", "--check"],
                 ["status", "nope"]):
        assert plain(repo, *args) == through_click(repo, *args), (state, args)


def test_other_forms_go_to_click(repo: Path):
    write(repo, "pipelines/p.yaml", SPEC)
    write(repo, "raw.txt", "raw\n")
    code, out, _ = plain(repo, "status", "--help")
    assert code == 0 and "lockgate status [OPTIONS] [PIPELINE...]" in out
    code, _, err = plain(repo, "status", "--jsn")
    assert code == 2 and "No such option '--jsn'" in err
    code, out, _ = plain(repo, "status", "-p", "n=3")
    assert code == 0 and "a: new" in out
    code, _, err = plain(repo, "-C", "missing", "status")
    assert code == 2 and "missing is not a directory" in err
