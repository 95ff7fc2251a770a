"""Benchmark: lockgate's drift_table against Evidently 0.7.23's DataDriftPreset.

Same frames (n rows x 20 numeric columns, a few shifted so they drift), same
default test choice; asserts that both flag the same columns and prints the
timings. Evidently runs in its own venv under benchmarks/.work/ (it must not
enter the project's environment, and 0.7.23 needs pandas < 3), in a
subprocess that reads the frames from Parquet and prints JSON.

    python benchmarks/drift.py            # 100k and 1M rows
    python benchmarks/drift.py --quick    # 100k rows only

Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

WORK = Path(__file__).resolve().parent / ".work"
VENV = WORK / "evidently-venv"
N_COLUMNS = 20
SHIFTED = {"c00": 0.3, "c03": 0.2, "c07": 0.15, "c12": 0.5, "c16": 0.12}  # mean shift, in std units

EVIDENTLY_RUNNER = r"""
import json, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

ref = pd.read_parquet(sys.argv[1])
cur = pd.read_parquet(sys.argv[2])
start = time.perf_counter()
snapshot = Report([DataDriftPreset()], include_tests=True).run(cur, ref)
seconds = time.perf_counter() - start
flagged = []
for test in snapshot.dict()["tests"]:
    name = test["name"]
    if name.startswith("Value Drift for column ") and test["status"] == "FAIL":
        flagged.append(name[len("Value Drift for column "):])
print(json.dumps({"seconds": seconds, "flagged": sorted(flagged)}))
"""


def frames(n: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Reference, current (some columns shifted), and a second current batch."""
    rng = np.random.default_rng(seed)

    def batch(shift: bool) -> pl.DataFrame:
        cols = {}
        for i in range(N_COLUMNS):
            name = f"c{i:02d}"
            scale = 10.0 ** (i % 5 - 2)
            delta = SHIFTED.get(name, 0.0) if shift else 0.0
            cols[name] = (rng.normal(delta, 1.0, n) if i % 2 else rng.gamma(2.0, 1.0, n) / np.sqrt(2) + delta) * scale
        return pl.DataFrame(cols)

    return batch(False), batch(True), batch(True)


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        (WORK / ".gitignore").write_text("*\n")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently==0.7.23", "pandas<3", "pyarrow"], check=True
        )
    return python


def run_evidently(python: Path, ref_path: Path, cur_path: Path) -> dict:
    out = subprocess.run(
        [str(python), "-c", EVIDENTLY_RUNNER, str(ref_path), str(cur_path)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(repeats: int, fn) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def bench(n: int, python: Path) -> dict:
    from lockgate.kernels import drift_table, profile

    ref, cur, cur2 = frames(n, seed=n)
    ref_path, cur_path = WORK / f"ref_{n}.parquet", WORK / f"cur_{n}.parquet"
    ref.write_parquet(ref_path)
    cur.write_parquet(cur_path)

    drift_table(ref.head(2000), cur.head(2000))  # JIT warm-up (cached after the first run)
    t_full, result = best_of(3, lambda: drift_table(ref, cur))
    t_profile, prof = best_of(3, lambda: profile(ref))
    t_batch, _ = best_of(3, lambda: drift_table(prof, cur2))
    ours = sorted(result.drifted_columns)

    evidently = run_evidently(python, ref_path, cur_path)
    same = ours == evidently["flagged"]
    return {
        "rows": n,
        "evidently_s": evidently["seconds"],
        "drift_table_s": t_full,
        "profile_s": t_profile,
        "batch_with_profile_s": t_batch,
        "speedup": evidently["seconds"] / t_full,
        "speedup_profile": evidently["seconds"] / t_batch,
        "flagged": ours,
        "evidently_flagged": evidently["flagged"],
        "same_columns_flagged": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k rows only")
    parser.add_argument("--json", type=Path, help="write flat results (for pipelines/benchmarks.yaml)")
    args = parser.parse_args()
    python = ensure_venv()
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    rows = [bench(n, python) for n in sizes]
    print(f"{'rows':>9} {'Evidently':>10} {'drift_table':>12} {'x':>6} {'profile':>8} {'new batch':>10} {'x':>6}  same flagged")
    for r in rows:
        print(
            f"{r['rows']:>9,} {r['evidently_s']:>9.2f}s {r['drift_table_s']:>11.3f}s {r['speedup']:>5.0f}x "
            f"{r['profile_s']:>7.3f}s {r['batch_with_profile_s']:>9.3f}s {r['speedup_profile']:>5.0f}x  "
            f"{r['same_columns_flagged']} {r['flagged']}"
        )
    print(json.dumps(rows, indent=1))
    if args.json:
        flat: dict[str, float] = {}
        for r in rows:
            label = f"{r['rows'] // 1000}k" if r["rows"] < 1_000_000 else f"{r['rows'] // 1_000_000}m"
            flat[f"speedup_{label}"] = round(r["speedup"], 2)
            flat[f"profile_gain_{label}"] = round(r["drift_table_s"] / r["batch_with_profile_s"], 2)
            flat[f"same_flagged_{label}"] = int(bool(r["same_columns_flagged"]))
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(flat, indent=2, sort_keys=True) + "\n")
    for r in rows:
        assert r["same_columns_flagged"], f"flagged differ at {r['rows']} rows: {r['flagged']} vs {r['evidently_flagged']}"


if __name__ == "__main__":
    main()
