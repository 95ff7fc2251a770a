"""`status` and a run with nothing to do start fast: they import only what deciding needs.

Most of their time on a 100-stage pipeline is interpreter start-up and imports
(benchmarks/README.md, "Orchestration"), so these tests pin what they must not load.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from lockgate.cli.main import COMMAND_MODULES
from tests.conftest import write

# Loaded only when a cache misses (a spec or lock changed), a stage runs, or a live
# terminal display is up; never by a `status` or a no-op run whose caches answer.
HEAVY = ("yaml", "pydantic", "networkx", "rich", "numba", "polars", "sklearn", "pyarrow", "scipy",
         "lockgate.spec.load", "lockgate.graph.compile", "lockgate.executor.worker", "lockgate.gates",
         "lockgate.registry", "lockgate.cli.spec_cmds", "lockgate.cli.watch_cmd")

CHECK = """
import json, sys
from click.testing import CliRunner
from lockgate.cli import main
result = CliRunner().invoke(main, {args!r}, catch_exceptions=False)
print(json.dumps({{"code": result.exit_code, "output": result.output,
                   "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def loaded_by(repo: Path, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHECK.format(args=list(args), heavy=HEAVY)],
                          cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_status_and_a_noop_run_import_nothing_heavy(repo: Path):
    write(repo, "pipelines/p.yaml", """
    version: 1
    params: {n: 1}
    stages:
      a: {cmd: "echo ${n} > a.txt", outs: [a.txt]}
      b: {cmd: "cat a.txt > b.txt", deps: [a.txt], outs: [b.txt]}
    """)
    first = loaded_by(repo, "run")  # compiles the spec and runs: fills the lock cache
    assert first["code"] == 0 and "2 ran" in first["output"], first
    loaded_by(repo, "status")  # the plan cache is written once .lockgate/ exists

    status = loaded_by(repo, "status")
    assert status["code"] == 0 and "up to date" in status["output"], status
    assert status["heavy"] == []

    noop = loaded_by(repo, "run")
    assert noop["code"] == 0 and "2 cached" in noop["output"], noop
    assert noop["heavy"] == ["lockgate.executor.worker"]  # its stream router and stop flag (cheap)

    write(repo, "pipelines/p.yaml", (repo / "pipelines/p.yaml").read_text().replace("{n: 1}", "{n: 2}"))
    changed = loaded_by(repo, "status")  # the plan cache misses: the spec is validated again
    assert "a: changed definition" in changed["output"], changed
    assert "lockgate.spec.load" in changed["heavy"]


def test_the_command_table_names_each_modules_commands():
    for module, names in COMMAND_MODULES.items():
        assert names == tuple(c.name for c in importlib.import_module(module).COMMANDS), module


def test_an_unknown_command_is_still_matched_against_every_command(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "lockgate", "regstry"], cwd=tmp_path,
                          capture_output=True, text=True)  # a fresh process: no command loaded yet
    assert done.returncode == 2
    assert "No such command 'regstry'. Did you mean 'registry'?" in done.stderr


def test_plain_status_does_not_import_click(repo: Path):
    """The executable answers `status` before click loads (lockgate.cli.entry)."""
    write(repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: echo a > a.txt, outs: [a.txt]}\n")
    code = ("import runpy, sys; sys.argv = ['lockgate', 'status']\n"
            "try:\n    runpy.run_module('lockgate', run_name='__main__')\n"
            "except SystemExit as exc:\n    print('exit', exc.code, 'click' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert done.stdout.splitlines()[-2:] == ["  a: new", "exit 0 False"], done
