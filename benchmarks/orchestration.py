#!/usr/bin/env python
"""Orchestration benchmark: lockgate vs DVC on pipelines of N trivial `cmd` stages.

    python benchmarks/orchestration.py [--quick] [--sizes 10,100,500,1000]
                                       [--shapes chain,fanout] [--json OUT] [--profile]

For every (shape, N) it generates two identical temp git repos under
``benchmarks/.work/repos/`` (one per tool) holding the same pipeline written
twice: a lockgate spec ``pipelines/bench.yaml`` and an equivalent ``dvc.yaml``.

Shapes
  chain   stage i reads stage i-1's output (and its own source file data/src/s{i}.txt)
  fanout  one root stage; N-1 independent leaves that each read the root's output

Every stage is one trivial shell command::

    echo i $(wc -c < data/out/o{parent}.txt) $(wc -l < data/src/s{i}.txt) > data/out/o{i}.txt

Measured, for both tools, side by side:
  first     full first run            (`lockgate run`  vs `dvc repro`), from a clean cache
  noop      a run with nothing to do  (`lockgate run`  vs `dvc repro`)
  status    `lockgate status`         vs `dvc status`
  stale1    a run with exactly one stale stage: a fresh line is written into the
            source file of the middle stage (chain) or of the last leaf (fan-out);
            the line count stays the same, so the stage reruns, its output bytes do
            not change, and neither tool reruns anything downstream.
  parallel  4 independent `sleep 1` stages, first run (lockgate with its default -j
            and with -j 4).

Python stages (issue 15), lockgate with its worker processes (the default) and with
``executor: thread`` (every stage on a thread of lockgate), and DVC running each
stage's function with ``python -c``:
  gil4      four independent `call` stages of ~1.5 s of pure-Python work each
            (``--python-seconds``), ``run -f -j 2``; the floor is the serial sum of
            the four calls timed in one interpreter, and the target is that sum over
            lockgate's whole wall time (CLI start-up included) >= 1.65x.
  tiny50    fifty independent `call` stages returning a small dict, ``run -f`` with
            the default -j: the workers' start must not cost a process per stage
            (target: about 2 s).

DVC runs from ``--dvc PATH`` (or ``$LOCKGATE_BENCH_DVC``, else ``dvc`` on PATH; with
none of them, a venv ``benchmarks/.work/dvc-venv`` is created on first use, never in
the project's environment). DVC's first run is too slow to repeat
beyond 100 stages (~9 min at 500), so it is timed once up to ``--dvc-full-max``
stages (chain only above 100). Elsewhere its lock is built with ``dvc commit -f``
over outputs made by running the stage commands in a plain shell loop.

Timing is hyperfine-style: one untimed warm-up, then the median of R wall-clock
repetitions of the whole CLI process (interpreter start-up included). The no-op
run and status are timed round-robin: lockgate, DVC and the floor (``python -c
pass`` with lockgate's interpreter, the least any Python CLI can cost) one after
the other in each repetition, so a change of machine load hits all three alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
REPOS = WORK / "repos"
VENV = WORK / "dvc-venv"
DVC_SPEC = "dvc==3.67.*"

# Reference figures from issue 3 (DVC 3.67, 2 cores), used for a target when DVC's
# own figure was not measured in this run (e.g. its first run at 500 with --quick).
DVC_REFERENCE = {("first", 100): 27.0, ("first", 500): 554.0,
                 ("noop", 500): 5.5, ("status", 500): 3.0, ("stale1", 500): 8.0,
                 ("parallel", 4): 4.9}

T0 = time.monotonic()


def note(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# -- tools ----------------------------------------------------------------------------


def lockgate_cmd() -> list[str]:
    exe = shutil.which("lockgate")
    return [exe] if exe else [sys.executable, "-m", "lockgate"]


DVC_EXE: list[str] = []  # set by main(): --dvc, $LOCKGATE_BENCH_DVC, `dvc` on PATH, or the venv


def dvc_cmd() -> list[str]:
    return [DVC_EXE[0] if DVC_EXE else str(VENV / "bin" / "dvc")]


def floor_cmd() -> list[str]:
    """The floor: starting lockgate's interpreter and doing nothing."""
    return [sys.executable, "-c", "pass"]


def ensure_dvc(given: str | None = None) -> str:
    """The DVC to compare with: ``given`` (--dvc or $LOCKGATE_BENCH_DVC), else ``dvc`` on
    PATH, else benchmarks/.work/dvc-venv with DVC 3.67 (or the newest 3.x), created once."""
    found = given or shutil.which("dvc")
    if found:
        exe = shutil.which(found) or found
        if not Path(exe).exists():
            raise SystemExit(f"--dvc {found}: no such program")
        DVC_EXE[:] = [str(Path(exe).absolute())]
        return subprocess.run([*dvc_cmd(), "--version"], capture_output=True, text=True,
                              env=dvc_env()).stdout.strip()
    dvc = VENV / "bin" / "dvc"
    if not dvc.exists():
        note(f"creating {VENV} and installing DVC (once)")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip"]
        spec = DVC_SPEC
        out = subprocess.run([*pip, "index", "versions", "dvc"], capture_output=True, text=True).stdout
        match = re.search(r"Available versions: (.*)", out)
        if match:
            versions = [v.strip() for v in match.group(1).split(",")]
            if not any(v.startswith("3.67.") for v in versions):
                newest3 = next((v for v in versions if v.startswith("3.")), None)
                if newest3:
                    spec = f"dvc=={newest3}"
        subprocess.run([*pip, "install", "-q", spec], check=True)
    return subprocess.run([str(dvc), "--version"], capture_output=True, text=True,
                          env=dvc_env()).stdout.strip()


def tool_env() -> dict[str, str]:
    """The environment both tools run in. Bytecode caching is on (Python's default;
    some CI images set PYTHONDONTWRITEBYTECODE, which would make an editable install
    recompile every module at each start-up), with the .pyc files kept under
    benchmarks/.work/pycache so nothing is written into the source tree."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache")
    return env


def dvc_env() -> dict[str, str]:
    env = tool_env()
    env.update(DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(WORK / "dvc-site-cache"))
    return env


def lockgate_version() -> str:
    out = subprocess.run([*lockgate_cmd(), "--version"], capture_output=True, text=True,
                         env=tool_env()).stdout
    return out.strip().rsplit(" ", 1)[-1]


def sh(args: list[str], cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} (in {cwd}) exited {proc.returncode}:\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: list[float] = []  # CPU seconds (user + sys, the tool and its stage commands) of each timed call


def timed(args: list[str], cwd: Path, env: dict | None = None) -> tuple[float, str]:
    """Wall seconds of one call; its CPU seconds are appended to CPU."""
    cpu0 = _children_cpu()
    start = time.perf_counter()
    proc = sh(args, cwd, env)
    elapsed = time.perf_counter() - start
    CPU.append(_children_cpu() - cpu0)
    return elapsed, proc.stdout + proc.stderr


# -- pipelines ----------------------------------------------------------------------------


def stage_cmd(i: int, parent: int | None) -> str:
    prev = f" $(wc -c < data/out/o{parent}.txt)" if parent is not None else ""
    return f"echo {i}{prev} $(wc -l < data/src/s{i}.txt) > data/out/o{i}.txt"


def stages_of(shape: str, n: int) -> list[tuple[str, str, list[str], list[str]]]:
    """(name, cmd, deps, outs) in topological order."""
    out = []
    for i in range(n):
        if i == 0:
            parent = None
        elif shape == "chain":
            parent = i - 1
        elif shape == "fanout":
            parent = 0
        else:  # "parallel": independent sleep stages
            parent = None
        name = f"s{i:04d}"
        deps = [f"data/src/s{i}.txt"] + ([f"data/out/o{parent}.txt"] if parent is not None else [])
        cmd = stage_cmd(i, parent)
        if shape == "parallel":
            cmd = f"sleep 1 && {cmd}"
        out.append((name, cmd, deps, [f"data/out/o{i}.txt"]))
    return out


def spec_yaml(stages, lockgate: bool) -> str:
    lines = ["version: 1", "stages:"] if lockgate else ["stages:"]
    for name, cmd, deps, outs in stages:
        lines += [f"  {name}:", f"    cmd: {json.dumps(cmd)}",
                  f"    deps: [{', '.join(deps)}]", f"    outs: [{', '.join(outs)}]"]
    return "\n".join(lines) + "\n"


def git(repo: Path, *args: str) -> None:
    sh(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args], repo)


def make_repo(tool: str, shape: str, n: int) -> Path:
    repo = REPOS / f"{shape}-{n}-{tool}"
    if repo.exists():
        shutil.rmtree(repo)
    (repo / "data" / "src").mkdir(parents=True)
    (repo / "data" / "out").mkdir()
    for i in range(n):
        (repo / "data" / "src" / f"s{i}.txt").write_text(f"seed {i}\n")
    stages = stages_of(shape, n)
    sh(["git", "init", "-q"], repo)
    if tool == "lockgate":
        (repo / "pipelines").mkdir()
        (repo / "pipelines" / "bench.yaml").write_text(spec_yaml(stages, lockgate=True))
        (repo / ".gitignore").write_text(".lockgate/\n")
    else:
        (repo / "dvc.yaml").write_text(spec_yaml(stages, lockgate=False))
        env = dvc_env()
        sh([*dvc_cmd(), "init", "-q"], repo, env)
        sh([*dvc_cmd(), "config", "core.analytics", "false"], repo, env)
        sh([*dvc_cmd(), "config", "core.check_update", "false"], repo, env)
    (repo / "data" / "out" / ".keep").write_text("")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench pipeline")
    return repo


def clean_state(tool: str, repo: Path) -> None:
    """Back to 'never ran': no outputs, no lock, no cache (so no run-cache either)."""
    for f in (repo / "data" / "out").glob("o*.txt"):
        f.unlink()
    if tool == "lockgate":
        shutil.rmtree(repo / ".lockgate", ignore_errors=True)
        (repo / "pipelines" / "bench.lock").unlink(missing_ok=True)
    else:
        shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
        shutil.rmtree(repo / ".dvc" / "tmp", ignore_errors=True)
        (repo / "dvc.lock").unlink(missing_ok=True)


def premake_outputs(repo: Path, shape: str, n: int) -> float:
    """Run every stage command in order with a plain shell loop (no tool)."""
    script = "set -e\n" + "\n".join(cmd for _, cmd, _, _ in stages_of(shape, n)) + "\n"
    (WORK / "premake.sh").write_text(script)
    start = time.perf_counter()
    sh(["bash", str(WORK / "premake.sh")], repo)
    return time.perf_counter() - start


_EDITS = [0]


def edit_one(repo: Path, shape: str, n: int) -> None:
    """A new (never seen) line in one stage's source: same line count, new bytes."""
    i = n // 2 if shape == "chain" else n - 1
    _EDITS[0] += 1
    (repo / "data" / "src" / f"s{i}.txt").write_text(f"edit {_EDITS[0]} {time.time_ns()}\n")


def ran_count(tool: str, output: str) -> int:
    if tool == "lockgate":
        m = re.search(r"(\d+) ran\b", output)
        return int(m.group(1)) if m else 0
    return len(re.findall(r"Running stage '", output))


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Result:
    shape: str
    n: int
    measure: str
    tool: str
    samples: list[float]
    how: str = ""  # e.g. "dvc commit" lock, "reference" figure
    ran: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user+sys seconds, same order as samples

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu else None


@dataclass
class Tool:
    """One tool's repository for one (shape, N), and how to call it there."""

    name: str  # "lockgate" | "dvc"
    repo: Path
    cli: list[str]
    env: dict[str, str]
    how: str = ""  # "lock from dvc commit" when DVC's first run was not timed

    @property
    def run(self) -> list[str]:
        return [*self.cli, "run"] if self.name == "lockgate" else [*self.cli, "repro"]

    @property
    def status(self) -> list[str]:
        return [*self.cli, "status"]


def _add(results: list[Result], shape: str, n: int, measure: str, tool: str, samples: list[float],
         cpu: list[float], how: str = "", ran=()) -> None:
    results.append(Result(shape, n, measure, tool, samples, how, list(ran), cpu))
    note(f"  {tool:8s} {shape:7s} n={n:<5d} {measure:8s} median {statistics.median(samples):8.3f}s "
         f"(cpu {statistics.median(cpu):7.3f}s) ({len(samples)} x){' ' + how if how else ''}")


def bench_first(name: str, shape: str, n: int, args, results: list[Result], dvc_full: bool) -> Tool:
    """Make the repository and time the first run (or build DVC's lock with `dvc commit`)."""
    tool = Tool(name, make_repo(name, shape, n), lockgate_cmd() if name == "lockgate" else dvc_cmd(),
                tool_env() if name == "lockgate" else dvc_env())
    if name == "lockgate" or dvc_full:
        if name == "lockgate":
            reps = args.first_reps if n <= 100 else min(2, args.first_reps)
        else:
            reps = 3 if n <= 10 else 1
        samples, ran = [], []
        for _ in range(reps):
            clean_state(name, tool.repo)
            t, out = timed(tool.run, tool.repo, tool.env)
            samples.append(t)
            ran.append(ran_count(name, out))
        if any(r != n for r in ran):
            raise RuntimeError(f"{name} first run of {n} stages ran {ran}")
        _add(results, shape, n, "first", name, samples, CPU[-len(samples):], ran=ran)
    else:
        clean_state(name, tool.repo)
        t_make = premake_outputs(tool.repo, shape, n)
        t0 = time.perf_counter()
        sh([*tool.cli, "commit", "-f", "-q"], tool.repo, tool.env)
        t_commit = time.perf_counter() - t0
        note(f"  dvc lock built with `dvc commit -f` ({t_commit:.1f}s; shell loop {t_make:.2f}s)")
        results.append(Result(shape, n, "commit", name, [t_commit], "dvc commit -f"))
        tool.how = "lock from dvc commit"
    return tool


def bench_quiet(tools: list[Tool], shape: str, n: int, args, results: list[Result]) -> None:
    """No-op run, then status: each repetition times every tool and the floor in turn."""
    for measure in ("noop", "status"):
        calls = {t.name: (t.run if measure == "noop" else t.status, t.repo, t.env) for t in tools}
        calls["floor"] = (floor_cmd(), WORK, tool_env())
        for args_, cwd, env in calls.values():
            sh(args_, cwd, env)  # warm-up
        samples = {name: [] for name in calls}
        cpu = {name: [] for name in calls}
        outs = {name: [] for name in calls}
        for _ in range(args.reps):
            for name, (args_, cwd, env) in calls.items():
                t, out = timed(args_, cwd, env)
                samples[name].append(t)
                cpu[name].append(CPU[-1])
                outs[name].append(out)
        for tool in tools:
            if measure == "noop":
                ran = [ran_count(tool.name, out) for out in outs[tool.name]]
                if any(ran):
                    raise RuntimeError(f"{tool.name} no-op run ran stages: {ran}")
            else:
                ran = []
                if "up to date" not in outs[tool.name][-1]:
                    raise RuntimeError(f"{tool.name} status is not clean:\n{outs[tool.name][-1][-1000:]}")
            _add(results, shape, n, measure, tool.name, samples[tool.name], cpu[tool.name], tool.how, ran)
        _add(results, shape, n, measure, "floor", samples["floor"], cpu["floor"], "python -c pass")


def bench_stale(tool: Tool, shape: str, n: int, args, results: list[Result]) -> None:
    """Runs with exactly one stale stage each."""
    reps = args.reps if tool.name == "lockgate" else max(3, args.reps - 2)
    samples, ran = [], []
    for _ in range(reps):
        edit_one(tool.repo, shape, n)
        t, out = timed(tool.run, tool.repo, tool.env)
        samples.append(t)
        ran.append(ran_count(tool.name, out))
    if any(r != 1 for r in ran):
        raise RuntimeError(f"{tool.name} one-stale run ran {ran} stages, expected 1 each:\n{out[-1500:]}")
    _add(results, shape, n, "stale1", tool.name, samples, CPU[-len(samples):], tool.how, ran)


def bench_parallel(args, results: list[Result]) -> None:
    n = 4
    for tool, extra, reps in (("lockgate", [], 3), ("lockgate", ["-j", "4"], 3),
                              ("dvc", [], 1 if args.quick else 2)):
        repo = make_repo(tool, "parallel", n)
        cli = lockgate_cmd() if tool == "lockgate" else dvc_cmd()
        env = tool_env() if tool == "lockgate" else dvc_env()
        run = [*cli, "run", *extra] if tool == "lockgate" else [*cli, "repro"]
        samples = []
        for _ in range(reps):
            clean_state(tool, repo)
            t, out = timed(run, repo, env)
            samples.append(t)
        label = "parallel" + ("-j4" if extra else "")
        results.append(Result("sleep1", n, label, tool, samples, cpu=CPU[-len(samples):]))
        note(f"  {tool:8s} 4 x sleep 1 {' '.join(extra) or '(default -j)':14s} "
             f"median {statistics.median(samples):.2f}s")


# -- Python stages (issue 15) ---------------------------------------------------------------

PY_STEPS = """
def spin(*, n):
    total = 0
    for i in range(n):
        total += i % 7
    return {"total": total}


def tiny(*, i):
    return {"i": i}
"""


def spin_rate() -> float:
    """Loop iterations of ``spin`` a second on this interpreter (median of 5 short runs)."""
    code = PY_STEPS + "\nimport time\nt = time.perf_counter(); spin(n=2_000_000); print(time.perf_counter() - t)"
    samples = [float(sh([sys.executable, "-c", code], WORK).stdout) for _ in range(5)]
    return 2_000_000 / statistics.median(samples)


def python_repo(tool: str, label: str, stages: list[tuple[str, str]], executor: str = "") -> Path:
    """A repository of `call` stages (lockgate) or the same functions as `python -c`
    commands (DVC); ``stages``: (name, call with its keyword arguments)."""
    repo = REPOS / f"python-{label}-{tool}{'-' + executor if executor else ''}"
    if repo.exists():
        shutil.rmtree(repo)
    (repo / "out").mkdir(parents=True)
    (repo / "out" / ".keep").write_text("")
    (repo / "steps.py").write_text(PY_STEPS)
    sh(["git", "init", "-q"], repo)
    if tool == "lockgate":
        (repo / "pipelines").mkdir()
        lines = ["version: 1"] + ([f"executor: {executor}"] if executor else []) + ["stages:"]
        for name, call in stages:
            func, _, kwargs = call.partition("(")
            args = ", ".join(f"{k}: {v}" for k, v in (a.split("=") for a in kwargs.rstrip(")").split(", ")))
            lines.append(f"  {name}: {{call: 'steps:{func}', with: {{{args}}}, out: [{name}]}}")
        (repo / "pipelines" / "bench.yaml").write_text("\n".join(lines) + "\n")
        (repo / ".gitignore").write_text(".lockgate/\n")
    else:
        lines = ["stages:"]
        for name, call in stages:
            cmd = f"python -c 'import json, steps; json.dump(steps.{call}, open(\"out/{name}.json\", \"w\"))'"
            lines += [f"  {name}:", f"    cmd: {json.dumps(cmd)}", "    deps: [steps.py]",
                      f"    outs: [out/{name}.json]"]
        (repo / "dvc.yaml").write_text("\n".join(lines) + "\n")
        env = dvc_env()
        sh([*dvc_cmd(), "init", "-q"], repo, env)
        sh([*dvc_cmd(), "config", "core.analytics", "false"], repo, env)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench pipeline")
    return repo


def bench_python(args, results: list[Result]) -> None:
    """Python stages: lockgate's worker processes vs its threads (and, for gil4, the serial
    sum of the work), timed round-robin so a change of load hits all alike; DVC after."""
    n = int(args.python_seconds * spin_rate())
    cases = {"gil4": [(f"g{i}", f"spin(n={n})") for i in range(4)],
             "tiny50": [(f"t{i:02d}", f"tiny(i={i})") for i in range(50)]}
    for label, stages in cases.items():
        jobs = ["-j", "2"] if label == "gil4" else []
        calls: dict[str, tuple[list[str], Path, dict[str, str]]] = {}
        for name, executor in (("lockgate", ""), ("lockgate-threads", "thread")):
            repo = python_repo("lockgate", label, stages, executor)
            calls[name] = ([*lockgate_cmd(), "run", "-f", *jobs], repo, tool_env())
        if label == "gil4":
            code = f"import steps, time; t = time.perf_counter(); {'; '.join(f'steps.{c}' for _, c in stages)}"
            calls["floor"] = ([sys.executable, "-c", code + "; print(time.perf_counter() - t)"],
                              calls["lockgate"][1], tool_env())
        for run, repo, env in calls.values():
            sh(run, repo, env)  # warm-up (and the first run: the lock exists from here on)
        samples: dict[str, list[float]] = {name: [] for name in calls}
        cpu: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(args.python_reps):
            for name, (run, repo, env) in calls.items():
                t, out = timed(run, repo, env)
                if name == "floor":
                    t = float(out.split()[-1])  # the work alone, without the interpreter's start
                elif ran_count("lockgate", out) != len(stages):
                    raise RuntimeError(f"lockgate ran {ran_count('lockgate', out)} of {len(stages)}:\n{out[-1500:]}")
                samples[name].append(t)
                cpu[name].append(CPU[-1])
        for name in calls:
            _add(results, "python", len(stages), label, name, samples[name], cpu[name],
                 "serial sum" if name == "floor" else "")
        repo = python_repo("dvc", label, stages)
        run = [*dvc_cmd(), "repro", "-f"]
        sh(run, repo, dvc_env())
        reps = max(1, args.python_reps // 2)
        dvc = [timed(run, repo, dvc_env())[0] for _ in range(reps)]
        _add(results, "python", len(stages), label, "dvc", dvc, CPU[-reps:])


def python_table(results: list[Result]) -> str:
    by = {(r.measure, r.tool): r for r in results if r.shape == "python"}
    lines = ["| measure | lockgate, processes (s) | lockgate, threads (s) | DVC (s) | serial sum of the work (s) "
             "| serial sum / lockgate | DVC / lockgate | target | met? |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for measure, target in (("gil4", 1.65), ("tiny50", 2.0)):
        lg, th, dv, fl = (by.get((measure, t)) for t in ("lockgate", "lockgate-threads", "dvc", "floor"))
        if lg is None:
            continue
        speedup = fl.median / lg.median if fl else None
        cell = lambda r: f"{r.median:.3f} ({len(r.samples)}x)" if r else "-"  # noqa: E731
        if measure == "gil4":
            goal, met = f"serial sum / lockgate >= {target}x", speedup is not None and speedup >= target
        else:
            goal, met = f"lockgate <= ~{target:.0f} s", lg.median <= target
        lines.append(f"| {measure} | {cell(lg)} | {cell(th)} | {cell(dv)} | {cell(fl)} "
                     f"| {f'{speedup:.2f}x' if speedup else '-'} | {f'{dv.median / lg.median:.1f}x' if dv else '-'} "
                     f"| {goal} | {'met' if met else 'MISSED'} |")
    return "\n".join(lines)


def profile(repo: Path, shape: str, n: int) -> None:
    """cProfile lockgate's no-op run, status, one-stale run and first run on this repo."""
    import pstats

    cases = [("noop", ["run"]), ("status", ["status"]), ("stale1", ["run"]), ("first", ["run"])]
    for label, cmd in cases:
        if label == "stale1":
            edit_one(repo, shape, n)
        if label == "first":
            clean_state("lockgate", repo)
        out = WORK / f"prof-{shape}-{n}-{label}.out"
        sh([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "lockgate", "-C", str(repo), *cmd], WORK, tool_env())
        note(f"  profile written: {out}")
        stats = pstats.Stats(str(out))
        print(f"\n### cProfile: lockgate {' '.join(cmd)} ({label}, {shape}, n={n}) - top 25 by cumulative time")
        stats.sort_stats("cumulative").print_stats(25)


# -- reporting ----------------------------------------------------------------------------


TARGETS = {  # (measure, n) -> minimum DVC/lockgate ratio
    ("first", 100): 10, ("first", 500): 50,
    ("noop", 100): 10, ("noop", 500): 10, ("noop", 1000): 10,  # 100: issue 14 (was 5x)
    ("status", 100): 10, ("status", 500): 10, ("status", 1000): 10,
}
STAGE_WORK = [0.0]  # seconds of the stale stage's own command (measured)


def own_work_seconds() -> float:
    """The trivial stage command itself, run by a shell (median of 20)."""
    repo = REPOS / "own-work"
    shutil.rmtree(repo, ignore_errors=True)
    (repo / "data" / "src").mkdir(parents=True)
    (repo / "data" / "out").mkdir()
    (repo / "data" / "src" / "s1.txt").write_text("x\n")
    (repo / "data" / "out" / "o0.txt").write_text("x\n")
    samples = []
    for _ in range(20):
        start = time.perf_counter()
        sh(["/bin/sh", "-c", stage_cmd(1, 0)], repo)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def table(results: list[Result], measured_dvc_at: set) -> tuple[str, list[dict]]:
    by = {(r.shape, r.n, r.measure, r.tool): r for r in results}
    keys = []
    for r in results:
        k = (r.shape, r.n, r.measure)
        if k not in keys and r.measure != "commit":
            keys.append(k)
    order = {"first": 0, "noop": 1, "status": 2, "stale1": 3, "parallel": 4, "parallel-j4": 5}
    shape_order = {"chain": 0, "fanout": 1, "sleep1": 2}
    keys.sort(key=lambda k: (shape_order.get(k[0], 9), k[1], order.get(k[2], 9)))
    rows, lines = [], []
    header = ("| shape | stages | measure | lockgate median (s) | DVC median (s) | DVC / lockgate "
              "| CPU s lockgate / DVC (ratio) | floor (s) | lockgate / floor | DVC / floor | target | met? |")
    lines += [header, "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---|---|"]
    for shape, n, measure in keys:
        lg = by.get((shape, n, measure, "lockgate"))
        dv = by.get((shape, n, measure, "dvc"))
        if measure == "parallel-j4":
            dv = by.get((shape, n, "parallel", "dvc"))
        lg_s = f"{lg.median:.3f} ({len(lg.samples)}x)" if lg else "-"
        dvc_time, dvc_note = (dv.median, f" ({len(dv.samples)}x)") if dv else (None, "")
        if dv and dv.how:
            dvc_note += "†"
        ref = DVC_REFERENCE.get((measure if not measure.startswith("parallel") else "parallel", n))
        if dvc_time is None and ref is not None and measure == "first":
            dvc_time, dvc_note = ref, " (issue ref.)"
        dv_s = f"{dvc_time:.3f}{dvc_note}" if dvc_time is not None else "-"
        ratio = dvc_time / lg.median if (lg and dvc_time) else None
        ratio_s = f"{ratio:.1f}x" if ratio else "-"
        target, met = "", ""
        need = TARGETS.get((measure, n))
        if need and ratio:
            target, met = f">= {need}x", ("met" if ratio >= need else "MISSED")
        if measure == "stale1" and n == 1000 and lg:
            beyond = lg.median - STAGE_WORK[0]
            target = f"< 0.5 s beyond the stage's work ({beyond:.3f} s)"
            met = "met" if beyond < 0.5 else "MISSED"
        cpu_s = "-"
        if lg and lg.cpu_median is not None:
            cpu_s = f"{lg.cpu_median:.2f}"
            if dv and dv.cpu_median is not None:
                cpu_s += f" / {dv.cpu_median:.2f} ({dv.cpu_median / max(lg.cpu_median, 1e-9):.1f}x)"
        fl = by.get((shape, n, measure, "floor"))
        floor_s = f"{fl.median:.3f}" if fl else "-"
        lg_floor = f"{lg.median / fl.median:.1f}x" if (fl and lg) else "-"
        dv_floor = f"{dv.median / fl.median:.1f}x" if (fl and dv) else "-"
        lines.append(f"| {shape} | {n} | {measure} | {lg_s} | {dv_s} | {ratio_s} | {cpu_s} | {floor_s} "
                     f"| {lg_floor} | {dv_floor} | {target} | {met} |")
        rows.append(dict(shape=shape, n=n, measure=measure, lockgate=lg.median if lg else None,
                         dvc=dvc_time, ratio=ratio, target=target, met=met, floor=fl.median if fl else None,
                         lockgate_cpu=lg.cpu_median if lg else None,
                         dvc_cpu=dv.cpu_median if dv else None))
    return "\n".join(lines), rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="sizes 10,100, chain only, few repetitions")
    ap.add_argument("--sizes", default=None, help="comma-separated stage counts [10,100,500,1000]")
    ap.add_argument("--shapes", default=None, help="chain,fanout [both; chain with --quick]")
    ap.add_argument("--reps", type=int, default=5, help="repetitions for no-op/status/one-stale [5]")
    ap.add_argument("--first-reps", type=int, default=3, help="repetitions of lockgate's first run [3]")
    ap.add_argument("--dvc-full-max", type=int, default=None,
                    help="largest N for a real `dvc repro` first run (above 100: chain only, once) "
                         "[100 with --quick, else 500]")
    ap.add_argument("--no-parallel", action="store_true", help="skip the 4 x `sleep 1` case")
    ap.add_argument("--no-stale", action="store_true", help="skip the one-stale-stage runs")
    ap.add_argument("--no-python", action="store_true", help="skip the Python-stage cases (gil4, tiny50)")
    ap.add_argument("--python-only", action="store_true", help="only the Python-stage cases")
    ap.add_argument("--python-seconds", type=float, default=1.5,
                    help="seconds of pure-Python work in each gil4 stage [1.5]")
    ap.add_argument("--python-reps", type=int, default=3, help="repetitions of the Python-stage runs [3]")
    ap.add_argument("--dvc", default=os.environ.get("LOCKGATE_BENCH_DVC"), metavar="PATH",
                    help="the dvc program to compare with [$LOCKGATE_BENCH_DVC, else `dvc` on PATH, "
                         "else a venv benchmarks/.work/dvc-venv made once]")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile lockgate at the largest size (no-op, status, one-stale, first run)")
    ap.add_argument("--json", dest="json_out", default=None, help="write all samples to this JSON file")
    args = ap.parse_args()
    args.sizes = [int(s) for s in (args.sizes or ("10,100" if args.quick else "10,100,500,1000")).split(",")]
    args.shapes = (args.shapes or ("chain" if args.quick else "chain,fanout")).split(",")
    if args.dvc_full_max is None:
        args.dvc_full_max = 100 if args.quick else 500
    WORK.mkdir(parents=True, exist_ok=True)

    dvc_version = ensure_dvc(args.dvc)
    versions = {"lockgate": lockgate_version(), "dvc": dvc_version, "python": platform.python_version(),
                "cores": os.cpu_count(), "machine": platform.platform()}
    note(f"lockgate {versions['lockgate']}, DVC {dvc_version}, {versions['cores']} cores")
    load_before = os.getloadavg()
    note(f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} ({versions['cores']} cores)")
    STAGE_WORK[0] = own_work_seconds()
    note(f"one trivial stage command: {STAGE_WORK[0] * 1000:.1f} ms")

    results: list[Result] = []
    dvc_full_done_big = False
    for shape in args.shapes if not args.python_only else ():
        for n in args.sizes:
            note(f"{shape}, {n} stages")
            lockgate = bench_first("lockgate", shape, n, args, results, dvc_full=True)
            full = n <= min(100, args.dvc_full_max) or (
                n <= args.dvc_full_max and shape == "chain" and not dvc_full_done_big)
            if full and n > 100:
                dvc_full_done_big = True
                note(f"  DVC's first run at {n} stages is timed once; this takes minutes")
            dvc = bench_first("dvc", shape, n, args, results, dvc_full=full)
            bench_quiet([lockgate, dvc], shape, n, args, results)
            if not args.no_stale:
                bench_stale(lockgate, shape, n, args, results)
                bench_stale(dvc, shape, n, args, results)
            if args.profile and n == max(args.sizes):
                profile(lockgate.repo, shape, n)
    if not args.no_parallel and not args.python_only:
        note("4 independent `sleep 1` stages")
        bench_parallel(args, results)
    if not args.no_python:
        note("Python stages: worker processes vs threads vs DVC")
        bench_python(args, results)

    text, rows = table([r for r in results if r.shape != "python"], set())
    print()
    print(f"lockgate {versions['lockgate']} vs {dvc_version}; Python {versions['python']}; "
          f"{versions['cores']} cores; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    load_after = os.getloadavg()
    print(f"load average (1/5/15 min) at the start {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}, at the end {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print(f"DVC: {dvc_cmd()[0]}; floor: {' '.join(floor_cmd())}")
    print("median wall time of the whole CLI process; † = DVC lock built with `dvc commit -f` "
          "over pre-made outputs (its first run not timed at that size)")
    print(text)
    if any(r.shape == "python" for r in results):
        print("\nPython stages (call), run -f: lockgate's worker processes (default) and executor: thread; "
              "DVC runs each function with python -c")
        print(python_table(results))
    for r in results:
        if r.measure == "commit":
            print(f"(DVC `dvc commit -f` to build the lock: {r.shape} {r.n} stages {r.median:.1f} s)")
    print(f"(one stage's own command: {STAGE_WORK[0] * 1000:.1f} ms; total {time.monotonic() - T0:.0f} s)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "versions": versions, "args": {k: v for k, v in vars(args).items()},
            "stage_work": STAGE_WORK[0], "rows": rows, "load": [load_before, load_after],
            "results": [asdict(r) | {"median": r.median} for r in results],
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
