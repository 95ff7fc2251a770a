"""One Layout knows the `.lockgate/` folder: no other module spells its parts."""

from __future__ import annotations

import ast
from pathlib import Path

from lockgate.project import Layout, Project

SRC = Path(__file__).resolve().parents[1] / "src" / "lockgate"
PARTS = {"statcache.db", "runcache", "lockcache", "plans", "logs", "procs", "experiments", "packages.json",
         "run.lock", "cache", "objects"}


def test_every_path_is_under_the_state_folder(tmp_path: Path):
    layout = Project(tmp_path).layout
    assert layout == Layout.of(tmp_path)
    paths = [getattr(layout, name) for name in dir(Layout) if isinstance(getattr(Layout, name), property)]
    paths += [layout.log("p", "s"), layout.plan("p")]
    assert all(p.parent == layout.state or layout.state in p.parents for p in paths)
    assert len(set(paths)) == len(paths)


def test_no_module_but_the_layout_spells_a_part_of_the_state_folder():
    """A path under `.lockgate/` re-derived elsewhere drifts from the one the run uses."""
    spelled = []
    for path in SRC.rglob("*.py"):
        if path.name == "project.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # `x / "runcache"`: a literal part joined onto a path
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) \
                    and node.right.value in PARTS:
                spelled.append(f"{path.relative_to(SRC)}:{node.lineno}: / {node.right.value!r}")
    # the object store owns its own insides (objects/, objects/tmp), and numba's cache is
    # chosen by kernels/, which imports nothing from lockgate
    allowed = {"store/local.py"}
    assert [s for s in spelled if s.split(":")[0] not in allowed] == []
