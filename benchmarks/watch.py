"""`lockgate watch`: latency from saving a dependency to its stage starting, and idle cost.

    python benchmarks/watch.py [--edits 20] [--idle 10] [--debounce 0.2] [--stages 20]

A tmp git repository holds one pipeline: a ``stamp`` stage whose command first
writes the wall-clock time (``date +%s.%N``) and then copies ``data/in.txt``,
plus ``--stages`` unrelated stages that stay cached (each cycle still has to
decide them). A real ``python -m lockgate watch`` subprocess watches it. Each
edit rewrites ``data/in.txt`` with new content; the latency is the stage's
timestamp minus the time just before the write, so it includes the inotify
delivery, the debounce, re-loading the spec, hashing the deps, deciding every
stage, taking the repository lock and starting the shell. The next edit waits
until the watcher has printed the cycle line. Then the watcher idles for
``--idle`` seconds and its CPU time (user + system, psutil) is divided by the
wall time: the share of one core it uses while nothing changes. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

STAMP = """\
  stamp:
    cmd: date +%s.%N >> .bench/starts && mkdir -p out && cat data/in.txt > out/copy.txt
    deps: [data/in.txt]
    outs: [out/copy.txt]
"""

OTHER = """\
  other{i}:
    cmd: mkdir -p out && cat data/other{i}.txt > out/other{i}.txt
    deps: [data/other{i}.txt]
    outs: [out/other{i}.txt]
"""


def make_repo(root: Path, stages: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "pipelines").mkdir()
    (root / "data").mkdir()
    (root / ".bench").mkdir()
    (root / "data" / "in.txt").write_text("0\n")
    for i in range(stages):
        (root / "data" / f"other{i}.txt").write_text(f"{i}\n")
    spec = "version: 1\nstages:\n" + STAMP + "".join(OTHER.format(i=i) for i in range(stages))
    (root / "pipelines" / "bench.yaml").write_text(spec)


class Watch:
    def __init__(self, root: Path, debounce: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lockgate", "watch", "--debounce", str(debounce)],
            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_lines(self, n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lines) < n:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("watch stopped or stalled:\n" + "\n".join(self.lines))
            time.sleep(0.005)

    def stop(self) -> int:
        self.proc.send_signal(2)
        code = self.proc.wait(timeout=10)
        self.reader.join(timeout=2)
        return code


def starts(root: Path) -> list[float]:
    path = root / ".bench" / "starts"
    return [float(x) for x in path.read_text().split()] if path.exists() else []


def run(edits: int, idle: float, debounce: float, stages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="lockgate-watch-bench-") as tmp:
        root = Path(tmp) / "repo"
        make_repo(root, stages)
        watch = Watch(root, debounce)
        try:
            watch.wait_lines(2)  # "start -> ...", "watching N paths"
            latencies = []
            for i in range(edits):
                before = len(starts(root))
                lines = len(watch.lines)
                time.sleep(0.3)  # let the previous cycle's writes settle, like a person typing
                saved = time.time()
                (root / "data" / "in.txt").write_text(f"{i + 1}\n")
                deadline = time.monotonic() + 30
                while len(stamps := starts(root)) == before:
                    if time.monotonic() > deadline:
                        raise SystemExit("the stage never started:\n" + "\n".join(watch.lines))
                    time.sleep(0.002)
                latencies.append(stamps[-1] - saved)
                watch.wait_lines(lines + 1)
            cycles = [line for line in watch.lines if line.startswith("changed ")]
            assert len(cycles) == edits, cycles
            assert all(line.startswith("changed data/in.txt -> ran stamp") for line in cycles), cycles
            time.sleep(1.0)
            process = psutil.Process(watch.proc.pid)
            cpu0, wall0 = process.cpu_times(), time.monotonic()
            time.sleep(idle)
            cpu1, wall1 = process.cpu_times(), time.monotonic()
            cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
            threads = process.num_threads()
            rss = process.memory_info().rss
        finally:
            code = watch.stop()
        example = cycles[-1]
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p90_ms": sorted(latencies)[int(0.9 * (len(latencies) - 1))] * 1000,
        "min_ms": min(latencies) * 1000,
        "max_ms": max(latencies) * 1000,
        "idle_cpu_pct": 100 * cpu / (wall1 - wall0),
        "idle_cpu_s": cpu,
        "idle_s": wall1 - wall0,
        "threads": threads,
        "rss_mb": rss / 1e6,
        "exit": code,
        "example": example,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--debounce", type=float, default=0.2)
    parser.add_argument("--stages", type=int, default=20, help="unrelated cached stages")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    r = run(args.edits, args.idle, args.debounce, args.stages)
    print(f"save -> stage start, {args.edits} edits, debounce {args.debounce * 1000:.0f} ms, "
          f"{args.stages + 1} stages:")
    print(f"  median {r['median_ms']:.0f} ms, p90 {r['p90_ms']:.0f} ms, "
          f"min {r['min_ms']:.0f} ms, max {r['max_ms']:.0f} ms "
          f"(beyond the debounce: median {r['median_ms'] - args.debounce * 1000:.0f} ms)")
    print(f"  cycle line: {r['example']}")
    print(f"idle watcher over {r['idle_s']:.1f} s: {r['idle_cpu_s'] * 1000:.0f} ms CPU = "
          f"{r['idle_cpu_pct']:.2f}% of one core ({r['threads']} threads, {r['rss_mb']:.0f} MB RSS)")
    print(f"exit on SIGINT: {r['exit']}")


if __name__ == "__main__":
    main()
