"""A `call` stage's in:/with: names against its function, read from the source without
importing it: unknown and missing arguments are `validate` errors with the function's file
and line; what the source cannot tell is left to the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lockgate.cli import main
from lockgate.graph.signature import Missing, Signature, find_function
from tests.conftest import write

NODES = '''
import functools
from pathlib import Path

Path("IMPORTED").write_text("the module ran")  # validate must never run this


def split_data(data, parameters: dict):
    return data, parameters


def keyword_only(table, *, window, step=1):
    return table


def anything(table, **options):
    return table


def by_position(table, /, scale=1.0):
    return table


@functools.lru_cache
def decorated(table):
    return table
'''


@pytest.fixture
def code(tmp_path: Path) -> Path:
    write(tmp_path, "src/nodes.py", NODES)
    write(tmp_path, "src/pkg/__init__.py", "from .impl import fit as train  # re-exported\n")
    write(tmp_path, "src/pkg/impl.py", "def fit(table, target, seed=0):\n    return table\n")
    write(tmp_path, "src/star.py", "from src.nodes import *\n")
    write(tmp_path, "src/broken.py", "def f(:\n")
    return tmp_path


def test_signatures_are_read_from_the_source(code: Path):
    found = find_function(code, "src.nodes:split_data")
    assert isinstance(found, Signature)
    assert (found.file, found.line, found.text) == ("src/nodes.py", 7, "split_data(data, parameters)")
    assert found.required == ("data", "parameters") and not found.var_keyword
    kw = find_function(code, "src.nodes:keyword_only")
    assert kw.text == "keyword_only(table, *, window, step=...)" and kw.required == ("table", "window")
    assert find_function(code, "src.nodes:anything").var_keyword
    assert find_function(code, "src.nodes:by_position").positional_only == ("table",)
    reexported = find_function(code, "src.pkg:train")
    assert (reexported.file, reexported.text) == ("src/pkg/impl.py", "fit(table, target, seed=...)")
    assert not (code / "IMPORTED").exists()


def test_what_the_source_cannot_tell_is_left_to_the_run(code: Path):
    assert find_function(code, "src.nodes:decorated") is None  # a decorator may change it
    assert find_function(code, "src.star:split_data") is None  # bound by a star import
    assert find_function(code, "src.star:nothing") is None
    assert find_function(code, "src.broken:f") is None  # does not parse: the run says so
    assert find_function(code, "src.absent:f") is None  # not found
    missing = find_function(code, "src.nodes:split_dat")
    assert isinstance(missing, Missing) and "split_data" in missing.defined


SPEC = """
version: 1
params: {opts: {a: 1}}
inputs: {table: data/t.csv}
stages:
  split:
    call: src.nodes:split_data
    in: {dat: table}
    with: {parameters: "${opts}", seed: 1}
    out: [a, b]
  roll:
    call: src.nodes:keyword_only
    in: {table: table}
    out: [rolled]
  free:
    call: src.nodes:anything
    in: {table: table}
    with: {whatever: 1, window: 2}
    out: [free]
  positional:
    call: src.nodes:by_position
    in: {table: table}
    out: [scaled]
  typo:
    call: src.nodes:split_dat
    in: {data: table}
    out: [c]
  later:
    call: src.nodes:decorated
    in: {tabel: table}
    out: [d]
"""


def test_validate_reports_every_mismatch_with_the_functions_file_and_line(code: Path, repo: Path):
    for rel in ("src/nodes.py", "src/pkg/__init__.py", "src/pkg/impl.py"):
        write(repo, rel, (code / rel).read_text())
    write(repo, "data/t.csv", "x\n1\n")
    write(repo, "pipelines/p.yaml", SPEC)
    done = CliRunner().invoke(main, ["-C", str(repo), "validate"])
    assert done.exit_code == 2, done.output
    lines = done.output.strip().splitlines()
    assert lines[:-1] == [
        "pipelines/p.yaml:6:5: stage 'split': split_data(data, parameters) (src/nodes.py:7) needs 'data', "
        "which neither in: (an artifact) nor with: (a value) gives",
        "pipelines/p.yaml:7:15: stage 'split': in: 'dat' is not a parameter of split_data(data, parameters) "
        "(src/nodes.py:7); did you mean 'data'?",
        "pipelines/p.yaml:8:41: stage 'split': with: 'seed' is not a parameter of split_data(data, parameters) "
        "(src/nodes.py:7)",
        "pipelines/p.yaml:11:5: stage 'roll': keyword_only(table, *, window, step=...) (src/nodes.py:11) needs "
        "'window', which neither in: (an artifact) nor with: (a value) gives",
        "pipelines/p.yaml:21:17: stage 'positional': in: 'table' is positional-only in by_position(table, /, "
        "scale=...) (src/nodes.py:19); lockgate passes arguments by name: remove the '/' from the function",
        "pipelines/p.yaml:24:11: stage 'typo': src/nodes.py has no function 'split_dat'; did you mean "
        "'split_data'?",
    ]
    assert lines[-1] == "6 problems; nothing was run"
    assert not (repo / "IMPORTED").exists()
