"""Running the real `lockgate` in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def lg(repo: Path, *args: str, timeout: float = 120, check: int | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lockgate", *args], cwd=repo, capture_output=True, text=True,
        timeout=timeout,
    )
    if check is not None:
        assert done.returncode == check, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def count(repo: Path, name: str) -> int:
    """How many times a stage ran: each run appends one line to runs/NAME."""
    path = repo / "runs" / name
    return len(path.read_text().splitlines()) if path.exists() else 0


# User code for `call:` stages that counts its own executions in runs/NAME.
STEPS = """
from pathlib import Path
import polars as pl


def _mark(name):
    Path("runs").mkdir(exist_ok=True)
    with open(Path("runs") / name, "a") as f:
        f.write("x\\n")


def make_table(*, rows):
    _mark("table")
    return pl.DataFrame({"x": list(range(rows)), "y": [v * 2.5 for v in range(rows)]})


def stats(table: pl.DataFrame):
    _mark("stats")
    return {"rows": table.height, "mean_y": float(table["y"].mean())}
"""
