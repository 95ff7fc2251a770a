"""The static import graph of a `call` stage's module: which repository files and which
installed distributions its code is made of."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from lockgate import codegraph
from lockgate.codegraph import CodeGraph
from lockgate.hashing import hash_file
from tests.conftest import write


def graph(root: Path) -> CodeGraph:
    return CodeGraph(root, hash_file, packages_cache=root / ".lockgate" / "packages.json")


def files(root: Path, module: str) -> set[str]:
    """The repository files in the record of ``module``."""
    return {k for k in graph(root).record(module) if not k.startswith("pkg:")}


def test_plain_import_counts_the_module_and_its_packages(tmp_path: Path):
    write(tmp_path, "app/__init__.py", "")
    write(tmp_path, "app/main.py", "import lib.util\n")
    write(tmp_path, "lib/__init__.py", "")
    write(tmp_path, "lib/util.py", "X = 1\n")
    write(tmp_path, "lib/unused.py", "")
    assert files(tmp_path, "app.main") == {"app/__init__.py", "app/main.py", "lib/__init__.py", "lib/util.py"}
    record = graph(tmp_path).record("app.main")
    assert record["lib/util.py"] == hash_file(tmp_path / "lib/util.py")
    assert list(record) == sorted(record)


def test_namespace_packages_have_no_file_and_aliases_do_not_matter(tmp_path: Path):
    write(tmp_path, "src/wrapper.py", "import src.utils as u\n")  # src/ has no __init__.py
    write(tmp_path, "src/utils.py", "")
    assert files(tmp_path, "src.wrapper") == {"src/wrapper.py", "src/utils.py"}


def test_from_import_of_a_submodule_and_of_a_name(tmp_path: Path):
    write(tmp_path, "src/__init__.py", "VERSION = 1\n")
    write(tmp_path, "src/wrapper.py", "from src import utils, VERSION\nfrom src.nodes import build\n")
    write(tmp_path, "src/utils.py", "")
    write(tmp_path, "src/nodes.py", "def build(): ...\n")
    assert files(tmp_path, "src.wrapper") == {"src/__init__.py", "src/wrapper.py", "src/utils.py", "src/nodes.py"}


def test_relative_imports(tmp_path: Path):
    write(tmp_path, "pkg/__init__.py", "from .core import run\n")
    write(tmp_path, "pkg/core.py", "")
    write(tmp_path, "pkg/sub/__init__.py", "from . import leaf\n")
    write(tmp_path, "pkg/sub/leaf.py", "")
    write(tmp_path, "pkg/sub/entry.py", "from .. import helpers\nfrom ..tools.fmt import fmt\nfrom .sibling import x\n")
    write(tmp_path, "pkg/helpers.py", "")
    write(tmp_path, "pkg/tools/fmt.py", "def fmt(): ...\n")
    write(tmp_path, "pkg/sub/sibling.py", "x = 1\n")
    write(tmp_path, "pkg/sub/unrelated.py", "")
    assert files(tmp_path, "pkg.sub.entry") == {
        "pkg/__init__.py", "pkg/core.py", "pkg/sub/__init__.py", "pkg/sub/leaf.py", "pkg/sub/entry.py",
        "pkg/helpers.py", "pkg/tools/fmt.py", "pkg/sub/sibling.py",
    }


def test_a_relative_import_beyond_the_top_package_is_ignored(tmp_path: Path):
    write(tmp_path, "top.py", "from . import x\nfrom ... import y\n")
    assert files(tmp_path, "top") == {"top.py"}


def test_imports_inside_functions_and_try_blocks_count_type_checking_ones_do_not(tmp_path: Path):
    write(tmp_path, "src/wrapper.py", """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import src.typing_only
        else:
            import src.runtime_only
        try:
            import src.fast
        except ImportError:
            import src.slow
        def build():
            import src.late
    """)
    for name in ("typing_only", "runtime_only", "fast", "slow", "late"):
        write(tmp_path, f"src/{name}.py", "")
    assert files(tmp_path, "src.wrapper") == {
        "src/wrapper.py", "src/runtime_only.py", "src/fast.py", "src/slow.py", "src/late.py",
    }


def test_transitive_and_a_cycle_terminates(tmp_path: Path):
    write(tmp_path, "src/wrapper.py", "import src.a\n")
    write(tmp_path, "src/a.py", "import src.b\n")
    write(tmp_path, "src/b.py", "from src import a\nimport src.c\n")
    write(tmp_path, "src/c.py", "")
    assert files(tmp_path, "src.wrapper") == {"src/wrapper.py", "src/a.py", "src/b.py", "src/c.py"}


def test_modules_come_after_what_they_import(tmp_path: Path):
    write(tmp_path, "src/__init__.py", "")
    write(tmp_path, "src/wrapper.py", "import src.nodes\n")
    write(tmp_path, "src/nodes.py", "from src.utils import helper\n")
    write(tmp_path, "src/utils.py", "def helper(): ...\n")
    order = [m.name for m in graph(tmp_path).modules("src.wrapper")]
    assert order == ["src", "src.utils", "src.nodes", "src.wrapper"]
    nodes = next(m for m in graph(tmp_path).modules("src.wrapper") if m.name == "src.nodes")
    assert nodes.path == tmp_path / "src/nodes.py"
    assert set(nodes.imports) == {"src", "src.utils"}


def test_missing_modules_count_for_nothing(tmp_path: Path):
    write(tmp_path, "src/__init__.py", "")
    write(tmp_path, "src/wrapper.py", "import src.gone\nfrom src import nothing\nimport no_such_package_xyz\n")
    assert graph(tmp_path).record("src.wrapper") == {
        "src/__init__.py": hash_file(tmp_path / "src/__init__.py"),
        "src/wrapper.py": hash_file(tmp_path / "src/wrapper.py"),
    }


def test_a_module_outside_the_repository_is_still_recorded(tmp_path: Path):
    assert graph(tmp_path).record("no_such_module_xyz") == {"module:no_such_module_xyz": "not in the repository"}


def test_a_syntax_error_counts_by_its_bytes(tmp_path: Path):
    write(tmp_path, "src/wrapper.py", "import src.broken\n")
    write(tmp_path, "src/broken.py", "import src.never\ndef oops(:\n")
    write(tmp_path, "src/never.py", "")
    record = graph(tmp_path).record("src.wrapper")
    assert set(record) == {"src/wrapper.py", "src/broken.py"}
    assert record["src/broken.py"] == hash_file(tmp_path / "src/broken.py")


def test_the_standard_library_counts_for_nothing(tmp_path: Path):
    write(tmp_path, "src/wrapper.py", "import os, json, collections.abc\nfrom pathlib import Path\nimport sys\n")
    assert graph(tmp_path).record("src.wrapper") == {"src/wrapper.py": hash_file(tmp_path / "src/wrapper.py")}


def test_a_third_party_package_counts_by_its_distribution_version(tmp_path: Path):
    write(tmp_path, "src/wrapper.py", "def build():\n    import yaml.constructor\n")
    record = graph(tmp_path).record("src.wrapper")
    assert record["pkg:PyYAML"] == importlib.metadata.version("PyYAML")
    assert set(record) == {"src/wrapper.py", "pkg:PyYAML"}


def test_a_repository_file_wins_over_an_installed_name_a_folder_does_not(tmp_path: Path):
    write(tmp_path, "yaml.py", "")  # shadows PyYAML at run time: the repository is sys.path[0]
    write(tmp_path, "main.py", "import yaml\nimport blake3\n")
    write(tmp_path, "blake3/notes.txt", "a folder of notes named like a package")  # no __init__.py
    record = graph(tmp_path).record("main")
    assert set(record) == {"main.py", "yaml.py", "pkg:blake3"}


def test_an_editable_package_inside_the_repository_is_ours(tmp_path: Path, monkeypatch):
    # a Kedro project: src/<package> installed editable, imported by its own name
    write(tmp_path, "src/kproj/__init__.py", "")
    write(tmp_path, "src/kproj/nodes.py", "import kproj.utils\n")
    write(tmp_path, "src/kproj/utils.py", "")
    write(tmp_path, "wrapper.py", "from kproj.nodes import train\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    assert files(tmp_path, "wrapper") == {
        "wrapper.py", "src/kproj/__init__.py", "src/kproj/nodes.py", "src/kproj/utils.py",
    }


def test_each_source_is_parsed_once_per_digest(tmp_path: Path, monkeypatch):
    write(tmp_path, "src/wrapper.py", "import src.nodes\n")
    write(tmp_path, "src/nodes.py", "# first\n")
    monkeypatch.setattr(codegraph, "_PARSED", {})
    parsed: list[Path] = []
    real = codegraph.parse_imports
    monkeypatch.setattr(codegraph, "parse_imports", lambda path: parsed.append(path) or real(path))
    graph(tmp_path).record("src.wrapper")
    graph(tmp_path).record("src.wrapper")  # another graph, same process: no parse
    assert sorted(p.name for p in parsed) == ["nodes.py", "wrapper.py"]
    write(tmp_path, "src/nodes.py", "# second\n")
    graph(tmp_path).record("src.wrapper")
    assert sorted(p.name for p in parsed) == ["nodes.py", "nodes.py", "wrapper.py"]


def test_file_digests_come_from_the_callers_digest(tmp_path: Path):
    write(tmp_path, "src/wrapper.py", "import src.nodes\n")
    write(tmp_path, "src/nodes.py", "")
    asked: list[Path] = []
    record = CodeGraph(tmp_path, lambda path: asked.append(path) or f"d:{path.name}").record("src.wrapper")
    assert record == {"src/nodes.py": "d:nodes.py", "src/wrapper.py": "d:wrapper.py"}
    assert sorted(p.name for p in asked) == ["nodes.py", "wrapper.py"]  # once each


def test_the_installed_packages_are_kept_until_sys_path_changes(tmp_path: Path, monkeypatch):
    cache = tmp_path / "packages.json"
    monkeypatch.setattr(codegraph, "_INSTALLED", [])
    scans: list[int] = []
    real = codegraph._scan
    monkeypatch.setattr(codegraph, "_scan", lambda: scans.append(1) or real())
    first = codegraph.installed(cache)
    assert first["yaml"] == {"PyYAML": importlib.metadata.version("PyYAML")}
    assert codegraph.installed(cache) == first and len(scans) == 1  # this process
    monkeypatch.setattr(codegraph, "_INSTALLED", [])
    assert codegraph.installed(cache) == first and len(scans) == 1  # another process: the file
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    codegraph.installed(cache)
    assert len(scans) == 2
    (site / "new_dist-1.0.dist-info").mkdir()  # an install changes the folder
    codegraph.installed(cache)
    assert len(scans) == 3


@pytest.mark.parametrize("text", ["", "\x00", "import (\n"])
def test_parse_imports_never_raises(tmp_path: Path, text: str):
    path = tmp_path / "m.py"
    path.write_text(text)
    assert codegraph.parse_imports(path) == ()
