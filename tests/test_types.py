"""The run's seams (executor/, store/, graph/) pass mypy --strict, as configured in
pyproject.toml's [tool.mypy]: a value of the wrong type across them fails here, not
in a user's run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_run_path_is_typed_strictly(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
