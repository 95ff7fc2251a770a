#!/usr/bin/env python
"""Scale benchmark: the local executor vs Dask, and streaming drift's memory.

    python benchmarks/scale.py [--quick] [--stages N] [--rows N] [--skip-pipeline] [--skip-drift]

1. Wide pipeline. N independent ``call`` stages (64; 16 with ``--quick``), each
   ~1 s of CPU-bound work that mostly holds the GIL (thousands of small NumPy
   operations, as feature code often is), in a temp git repo under
   ``benchmarks/.work/scale-pipeline``. Timed: the whole ``lockgate run -f``
   process with ``--executor local`` (threads) and ``--executor dask`` (a
   LocalCluster of one single-threaded process per core, started and stopped
   inside the timed command), each the median of 3 (1 with ``--quick``).
   BLAS threads are pinned to 1 for both.

2. Streaming drift. A reference and a current Parquet file of R rows x 10
   columns (50M; 5M with ``--quick``; 8 float64, 2 int64; row groups of 1M
   rows) are generated in chunks under ``benchmarks/.work/``, then
   ``streaming_drift`` runs in a fresh subprocess that reports its wall time
   and peak RSS (``resource.getrusage``, ``ru_maxrss``). Target: peak RSS
   under 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"

STEPS = '''
import numpy as np


def work(*, seed, rounds):
    """~1 s of small NumPy operations: the interpreter (and the GIL) does most of it."""
    rng = np.random.default_rng(seed)
    x = rng.random(64)
    acc = 0.0
    for _ in range(rounds):
        x = np.sin(x) + np.cos(x[::-1]) * 0.5
        acc += float(x.sum())
    return {"acc": acc}
'''

ENV_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _rounds_for_one_second() -> int:
    ns: dict = {}
    exec(STEPS, ns)
    start = time.perf_counter()
    ns["work"](seed=0, rounds=20_000)
    per = (time.perf_counter() - start) / 20_000
    return max(1000, int(1.0 / per))


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_pipeline(root: Path, stages: int, rounds: int) -> None:
    if root.exists():
        shutil.rmtree(root)
    (root / "pipelines").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "steps.py").write_text(STEPS, encoding="utf-8")
    lines = ["version: 1", "stages:"]
    for i in range(stages):
        lines += [f"  s{i:03d}:", "    call: steps:work", f"    with: {{seed: {i}, rounds: {rounds}}}",
                  f"    out: [r{i:03d}]"]
    (root / "pipelines/wide.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def time_run(root: Path, executor: str, repeats: int) -> list[float]:
    times = []
    env = {**os.environ, **ENV_ONE_THREAD}
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "lockgate", "run", "-f", "--json", "--executor", executor],
            cwd=root, capture_output=True, text=True, env=env,
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"lockgate run --executor {executor} failed:\n{done.stdout}\n{done.stderr}")
        outcomes = {s["outcome"] for s in json.loads(done.stdout)["stages"]}
        assert outcomes == {"ran"}, outcomes
    return times


def bench_pipeline(stages: int, repeats: int) -> dict:
    rounds = _rounds_for_one_second()
    root = WORK / "scale-pipeline"
    make_pipeline(root, stages, rounds)
    subprocess.run([sys.executable, "-m", "lockgate", "run", "--json"], cwd=root, capture_output=True,
                   env={**os.environ, **ENV_ONE_THREAD}, check=True)  # warm-up: imports, caches
    local = time_run(root, "local", repeats)
    dask = time_run(root, "dask", repeats)
    return {"stages": stages, "rounds": rounds, "cores": os.cpu_count(),
            "local_s": statistics.median(local), "dask_s": statistics.median(dask),
            "local_all": local, "dask_all": dask}


# -- streaming drift ------------------------------------------------------------------


def make_parquet(path: Path, rows: int, shift: float, seed: int, chunk: int = 1_000_000) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        data = {f"f{j}": rng.normal(shift * (j % 3 == 0), 1 + j / 10, n) for j in range(6)}
        data["g0"] = rng.gamma(2.0, 1.0 + shift, n)
        data["g1"] = rng.lognormal(0, 0.5, n)
        data["i0"] = rng.integers(0, 5, n)  # few values: jensenshannon over counts
        data["i1"] = rng.integers(0, 1000, n)
        table = pa.table(data)
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=chunk)
    assert writer is not None
    writer.close()
    tmp.replace(path)


CHILD = textwrap.dedent('''
    import json, resource, sys, time
    from lockgate.kernels.streaming import streaming_drift
    start = time.perf_counter()
    result = streaming_drift(sys.argv[1], sys.argv[2], batch_rows=int(sys.argv[3]), with_bounds=True)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "peak_rss_mib": peak_kib / 1024,
                      "drifted": result.drifted_columns,
                      "tests": sorted(set(result.table["test"].to_list())),
                      "max_error_bound": max(result.table["error_bound"].to_list())}))
''')


def bench_drift(rows: int, batch_rows: int) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    ref, cur = WORK / f"scale-ref-{rows}.parquet", WORK / f"scale-cur-{rows}.parquet"
    start = time.perf_counter()
    make_parquet(ref, rows, 0.0, 1)
    make_parquet(cur, rows, 0.2, 2)
    generated = time.perf_counter() - start
    done = subprocess.run([sys.executable, "-c", CHILD, str(ref), str(cur), str(batch_rows)],
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    report.update(rows=rows, columns=10, batch_rows=batch_rows, generate_s=generated,
                  file_mib=ref.stat().st_size / 2**20)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 stages and 5M rows")
    parser.add_argument("--stages", type=int)
    parser.add_argument("--rows", type=int)
    parser.add_argument("--batch-rows", type=int, default=250_000)
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--skip-drift", action="store_true")
    args = parser.parse_args()
    stages = args.stages or (16 if args.quick else 64)
    rows = args.rows or (5_000_000 if args.quick else 50_000_000)
    if not args.skip_pipeline:
        p = bench_pipeline(stages, 1 if args.quick else 3)
        print(f"wide pipeline: {p['stages']} stages x ~1 s CPU, {p['cores']} cores")
        print(f"  local executor  {p['local_s']:7.2f} s")
        print(f"  dask executor   {p['dask_s']:7.2f} s   (local / dask = {p['local_s'] / p['dask_s']:.2f}x)")
        print(f"  all runs: local {p['local_all']}, dask {p['dask_all']}")
    if not args.skip_drift:
        d = bench_drift(rows, args.batch_rows)
        print(f"streaming drift: 2 x {d['rows']:,} rows x {d['columns']} columns "
              f"({d['file_mib']:.0f} MiB Parquet each, generated in {d['generate_s']:.0f} s)")
        print(f"  {d['seconds']:.1f} s, peak RSS {d['peak_rss_mib']:.0f} MiB "
              f"(target < 1024 MiB: {'met' if d['peak_rss_mib'] < 1024 else 'NOT met'})")
        print(f"  tests {d['tests']}, drifted {d['drifted']}, largest error bound {d['max_error_bound']:.2e}")


if __name__ == "__main__":
    main()
