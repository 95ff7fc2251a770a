"""In a process that runs a `call` stage again (`lockgate watch`), the function comes
from the sources as they are now: an edited module of its import graph is reloaded,
and so is every module holding names imported from it."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from lockgate.executor import worker
from tests.conftest import write


@pytest.fixture
def pkg(tmp_path: Path, monkeypatch) -> Iterator[str]:
    """A uniquely named package in a tmp repository: wrapper -> nodes -> utils."""
    name = f"reload_{uuid.uuid4().hex[:8]}"
    write(tmp_path, f"{name}/__init__.py", "")
    write(tmp_path, f"{name}/wrapper.py", f"from {name}.nodes import compute\n\n\ndef build():\n    return compute()\n")
    write(tmp_path, f"{name}/nodes.py", f"from {name}.utils import base\n\n\ndef compute():\n    return base() * 2\n")
    write(tmp_path, f"{name}/utils.py", "def base():\n    return 1\n")
    write(tmp_path, f"{name}/other.py", "")
    write(tmp_path, f"{name}/second.py", f"from {name}.nodes import compute\n\n\ndef build():\n    return -compute()\n")
    monkeypatch.setattr(sys, "path", list(sys.path))  # _import_function puts the root first
    for state in ("_LOADED_CODE", "_LOADED_AT", "_GRAPHS"):
        monkeypatch.setattr(worker, state, {})
    monkeypatch.setattr(worker, "_RELOADS", [0])
    try:
        yield name
    finally:
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]


def call(root: Path, pkg: str, module: str = "wrapper"):
    job = SimpleNamespace(stage=SimpleNamespace(run=f"{pkg}.{module}:build"), root=str(root))
    return worker._import_function(job)


def test_an_edited_dependency_is_reloaded_with_the_modules_importing_from_it(tmp_path: Path, pkg: str):
    build = call(tmp_path, pkg)
    assert build() == 2
    assert call(tmp_path, pkg) is build  # nothing edited: nothing reloaded

    write(tmp_path, f"{pkg}/utils.py", "def base():\n    return 21\n")
    assert call(tmp_path, pkg)() == 42

    write(tmp_path, f"{pkg}/other.py", "X = 1\n")  # not in the graph
    again = call(tmp_path, pkg)
    assert again() == 42 and call(tmp_path, pkg) is again


def test_a_failed_reload_is_retried_once_the_module_is_fixed(tmp_path: Path, pkg: str):
    assert call(tmp_path, pkg)() == 2
    write(tmp_path, f"{pkg}/utils.py", "def base(:\n")
    with pytest.raises(SyntaxError):
        call(tmp_path, pkg)
    write(tmp_path, f"{pkg}/utils.py", "def base():\n    return 55\n")
    assert call(tmp_path, pkg)() == 110


def test_another_stage_importing_a_reloaded_module_gets_the_new_code_too(tmp_path: Path, pkg: str):
    assert call(tmp_path, pkg)() == 2
    assert call(tmp_path, pkg, "second")() == -2
    write(tmp_path, f"{pkg}/utils.py", "def base():\n    return 21\n")
    assert call(tmp_path, pkg)() == 42  # reloads utils and nodes
    assert call(tmp_path, pkg, "second")() == -42  # second still held the old compute
    assert call(tmp_path, pkg)() == 42


def test_a_cycle_reloads_once_not_forever(tmp_path: Path, pkg: str):
    write(tmp_path, f"{pkg}/utils.py", f"import {pkg}.nodes\n\n\ndef base():\n    return 1\n")
    build = call(tmp_path, pkg)
    assert build() == 2
    write(tmp_path, f"{pkg}/utils.py", f"import {pkg}.nodes\n\n\ndef base():\n    return 30\n")
    build = call(tmp_path, pkg)
    assert build() == 60
    assert call(tmp_path, pkg) is build and call(tmp_path, pkg) is build
