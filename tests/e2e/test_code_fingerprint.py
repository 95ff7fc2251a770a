"""A `call` stage is stale when any repository module its module imports changes, and
`status` says which file it was."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

from lockgate.lock import LockFile
from tests.conftest import write
from tests.e2e.helpers import lg

SPEC = """
version: 1
stages:
  build:
    call: src.wrapper:build
    out: [result]
"""


def test_an_edit_to_an_imported_module_makes_the_stage_stale_and_names_the_file(repo: Path):
    write(repo, "pipelines/p.yaml", SPEC)
    # src/ has no __init__.py; the wrapper is thin, the work is two imports away
    write(repo, "src/wrapper.py", "import src.nodes\n\n\ndef build():\n    return {'value': src.nodes.compute()}\n")
    write(repo, "src/nodes.py", "import yaml\nfrom src.utils import base\n\n\ndef compute():\n    return base() * 2\n")
    write(repo, "src/utils.py", "def base():\n    return 1\n")
    write(repo, "src/other.py", "UNUSED = 1\n")

    lg(repo, "run", check=0)
    lock = LockFile.read(repo / "pipelines/p.lock")
    assert set(lock.stages["build"].code) == {"src/wrapper.py", "src/nodes.py", "src/utils.py", "pkg:PyYAML"}
    assert lock.stages["build"].code["pkg:PyYAML"] == importlib.metadata.version("PyYAML")
    assert lock.stages["build"].metrics == {"result": {"value": 2}}

    write(repo, "src/other.py", "UNUSED = 2\n")  # not in the graph
    lg(repo, "status", "--check", check=0)

    write(repo, "src/utils.py", "def base():\n    return 21\n")
    done = lg(repo, "status", "--check", check=1)
    assert "changed code src/utils.py" in done.stdout + done.stderr
    assert "src/nodes.py" not in done.stdout + done.stderr

    ran = json.loads(lg(repo, "run", "--json", check=0).stdout)
    assert [(s["stage"], s["outcome"]) for s in ran["stages"]] == [("build", "ran")]
    assert LockFile.read(repo / "pipelines/p.lock").stages["build"].metrics == {"result": {"value": 42}}
