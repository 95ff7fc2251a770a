"""The import layering of STYLE.md, checked on the source: a module may import its own
layer and the layers below it, never above. (Imports under `if TYPE_CHECKING:` are
types only and are not counted.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lockgate"

# top first; each entry is a top-level module or package of lockgate
LAYERS: list[set[str]] = [
    {"cli", "__main__", "__init__"},
    {"reports", "watch", "api", "porting"},  # porting: converts other tools' projects (writes via executor)
    {"executor"},
    {"store", "lock", "gates", "registry", "audit", "runcache", "reachable", "fingerprint", "tracked",
     "tables", "project", "diff", "merge", "gitrev"},
    {"graph"},
    {"steps"},
    {"spec", "hashing", "codegraph"},
    {"kernels", "errors", "_version", "procid", "_fs"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}

# third-party libraries with one home each (STYLE.md); the module prefixes allowed to import them
HOMES = {
    "click": ("cli",),
    "rich": ("cli",),
    "watchdog": ("watch",),
    "numba": ("kernels",),
    "distributed": ("executor.dask",),
    "dask": ("executor.dask",),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return ".".join(rel.parts)


def _imports(tree: ast.AST) -> list[str]:
    found: list[str] = []

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.extend(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.level == 0:
                found.append(node.module)

    Visitor().visit(tree)
    return found


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_respect_the_layers(path: Path):
    name = _module_name(path)
    top = name.split(".")[0]
    assert top in RANK, f"{name}: add its package to LAYERS in this test"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for imported in _imports(tree):
        parts = imported.split(".")
        if parts[0] == "lockgate" and len(parts) > 1:
            target = parts[1]
            assert target in RANK, f"{name} imports unknown lockgate.{target}"
            assert RANK[target] >= RANK[top] or target == top, (
                f"{name} imports lockgate.{target}, a layer above it"
            )
        home = HOMES.get(parts[0])
        if home is not None:
            assert any(name == h or name.startswith(h + ".") for h in home), (
                f"{name} imports {parts[0]}, whose home is {', '.join(home)}"
            )
