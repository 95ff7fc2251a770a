"""Shared fixtures: real git repositories in temporary folders; which tests are slow."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

SLOW = (
    "tests/e2e/",
    "tests/executor/test_dask.py",
    "tests/store/test_s3.py",
    "tests/cli/test_terminal.py::test_the_readme_example_finishes_in_a_terminal",
)
"""Marked ``slow`` by where they live (test id prefixes), so ``pytest -m "not slow"`` is
the edit-test loop; CI runs everything. Whole runs of the real ``lockgate`` in tmp git
repositories (tests/e2e/, the README example in a terminal), a real Dask
``LocalCluster``, a real S3 server (moto: seconds to start, then runs and pulls in
fresh clones). Listed here rather than as a ``pytestmark`` in each module, so a new
e2e module is slow without anyone remembering to say so."""


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository with a pipelines/ folder."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "pipelines").mkdir()
    return root


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def alive(pid: int) -> bool:
    """The process runs (not a zombie waiting for a parent to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
