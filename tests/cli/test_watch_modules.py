"""`lockgate watch` watches every repository module a `call` stage's code imports."""

from __future__ import annotations

from pathlib import Path

from lockgate.cli.watch_cmd import _Session
from lockgate.project import Project
from tests.conftest import write

SPEC = """
version: 1
stages:
  build:
    call: src.wrapper:build
    out: [result]
  again:
    call: src.wrapper:build
    out: [other]
  shell:
    cmd: echo hi > out.txt
    outs: [out.txt]
"""


def test_the_modules_of_every_call_stage_graph_are_watched(repo: Path):
    write(repo, "pipelines/p.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/wrapper.py", "from .nodes import compute\nimport yaml\n")
    write(repo, "src/nodes.py", "def compute():\n    from src import utils\n")
    write(repo, "src/utils.py", "")
    write(repo, "src/unused.py", "")
    session = _Session(Project(repo), [], (), executor=None)
    assert session.load(startup=True)
    modules = {repo / p for p in ("src/__init__.py", "src/wrapper.py", "src/nodes.py", "src/utils.py")}
    assert session.modules == modules
    assert modules <= session.paths()
    assert repo / "src/unused.py" not in session.paths()

    write(repo, "src/utils.py", "import src.unused\n")  # the graph grows: so does the watched set
    assert session.load()
    assert repo / "src/unused.py" in session.modules
