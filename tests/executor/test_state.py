"""The workspace as a run sees it: where an output may be read from."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from lockgate.executor.state import Workspace
from lockgate.store.artifacts import outside_root


@pytest.mark.parametrize("through_link", [False, True], ids=["root", "root-through-a-link"])
def test_an_output_folder_resolves_inside_exactly_as_outside_root_says(tmp_path: Path, through_link: bool):
    """output_digest walks only the components below the root (status decides every output);
    whatever the links, ``..`` and missing parts, it must agree with ``outside_root``."""
    root = tmp_path / "repo"
    (root / "a/b").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (root / "in_link").symlink_to(root / "a")
    (root / "out_link").symlink_to(tmp_path / "elsewhere")
    (root / "a/up").symlink_to("..")
    (root / "a/upup").symlink_to("../..")
    if through_link:
        (tmp_path / "link").symlink_to(root)
        root = tmp_path / "link"
    workspace = Workspace(root, stats=None, store=None)
    parts = ["a", "b", "in_link", "out_link", "..", ".", "up", "upup", "missing"]
    for combo in itertools.chain.from_iterable(itertools.product(parts, repeat=k) for k in range(4)):
        folder = "/".join(combo)
        expected = outside_root(os.path.dirname(os.path.join(root, folder, "out.txt")), root) is None
        assert workspace._resolves_inside(folder) == expected, folder
