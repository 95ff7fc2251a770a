"""Python stages in worker processes (issue 15): the same lock and cache as threads,
failure and signal semantics, resources, and when the pool starts at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lockgate import api
from lockgate.executor.base import Outcome
from lockgate.executor.local import LocalExecutor, parse_memory
from lockgate.executor.procpool import Stopped
from lockgate.executor.worker import accept_new_stages
from tests.conftest import alive, write

STEPS = """
import os
from pathlib import Path

import polars as pl


def _mark(name):
    Path("runs").mkdir(exist_ok=True)
    Path("runs", name).write_text(str(os.getpid()))


def make(*, rows):
    _mark("make")
    return pl.DataFrame({"x": list(range(rows)), "y": [v * 0.5 for v in range(rows)]})


def total(table: pl.DataFrame):
    _mark("total")
    # what a thread of lockgate would see, or the stage fails
    assert Path("pipelines/p.yaml").is_file(), Path.cwd()
    assert os.environ.get("LG_PP_VAR") == "seen"
    return {"sum_y": float(table["y"].sum())}


def head(table: pl.DataFrame, *, n):
    _mark("head")
    return table.head(n)


def die():
    _mark("die")
    print("about to die")
    os.kill(os.getpid(), 9)


def sleepy(*, name):
    import time

    _mark(name)
    time.sleep(60)
    return {"slept": 1}
"""

PIPELINE = """
version: 1
{executor}
stages:
  make:
    call: steps:make
    with: {{rows: 50}}
    out: [table]
  total:
    call: steps:total
    in: {{table: table}}
    out: [totals]
  head:
    call: steps:head
    in: {{table: table}}
    with: {{n: 5}}
    out: [first]
"""


def _project(root: Path, executor: str = "") -> Path:
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    write(root, "steps.py", STEPS)
    write(root, "pipelines/p.yaml", PIPELINE.format(executor=f"executor: {executor}" if executor else ""))
    return root


def _without_durations(value):
    if isinstance(value, dict):
        return {k: _without_durations(v) for k, v in value.items() if k != "duration"}
    return value


def _picture(root: Path) -> tuple[object, object, list[str]]:
    """The lock and run-cache entries (durations aside) and the cached objects."""
    import yaml

    state = root / ".lockgate"
    lock = _without_durations(yaml.safe_load((root / "pipelines/p.lock").read_text()))
    runcache = {p.name: _without_durations(json.loads(p.read_text())) for p in (state / "runcache").glob("*/*.json")}
    objects = sorted(p.name for p in (state / "cache" / "objects").glob("*/*"))
    return lock, runcache, objects


def _pids(root: Path) -> dict[str, int]:
    return {p.name: int(p.read_text()) for p in (root / "runs").iterdir()}


def test_the_same_lock_run_cache_and_objects_whichever_executor_ran_the_stages(tmp_path, monkeypatch):
    monkeypatch.setenv("LG_PP_VAR", "seen")
    pictures = {}
    for executor in ("thread", "process", ""):
        root = _project(tmp_path / (executor or "auto"), executor)
        monkeypatch.chdir(root)
        outcomes = api.run(root=root, jobs=2)
        assert [o.outcome for o in outcomes] == [Outcome.RAN] * 3, [o.to_dict() for o in outcomes]
        pids = _pids(root)
        if executor == "thread":
            assert set(pids.values()) == {os.getpid()}
        elif executor == "process":
            assert os.getpid() not in pids.values()
        else:  # a lone stage in a thread; the two ready together, at least one in a worker
            assert pids["make"] == os.getpid()
            assert {pids["total"], pids["head"]} - {os.getpid()}
        pictures[executor] = _picture(root)
    assert pictures["thread"] == pictures["process"] == pictures[""]
    lock = pictures["process"][0]
    assert lock["stages"]["total"]["metrics"]["totals"] == {"sum_y": 612.5}
    total = json.loads(next((tmp_path / "process" / ".lockgate" / "runcache").glob("*/*.json")).read_text())
    assert total["outputs"]


def test_a_worker_killed_by_a_signal_fails_its_stage_and_keep_going_runs_the_rest(tmp_path, monkeypatch):
    root = _project(tmp_path / "r", "process")
    monkeypatch.chdir(root)
    monkeypatch.setenv("LG_PP_VAR", "seen")
    write(root, "pipelines/p.yaml", PIPELINE.format(executor="executor: process") + """
  die:
    call: steps:die
    out: [never]
""")
    outcomes = {o.stage: o for o in api.run(root=root, jobs=2, keep_going=True)}
    assert outcomes["die"].outcome is Outcome.FAILED
    assert outcomes["die"].message.splitlines() == [
        "the worker process running the stage was killed by signal 9 (SIGKILL)", "about to die"]  # its log
    assert {outcomes[s].outcome for s in ("make", "total", "head")} == {Outcome.RAN}


SLEEPERS = """
version: 1
stages:
  one:
    call: steps:sleepy
    with: {name: one}
    out: [a]
  two:
    call: steps:sleepy
    with: {name: two}
    out: [b]
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_lockgate_leaves_no_worker_behind(tmp_path, sig):
    root = _project(tmp_path / "r")
    write(root, "pipelines/p.yaml", SLEEPERS)
    proc = subprocess.Popen([sys.executable, "-m", "lockgate", "run", "-j", "2"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the stages did not start"
            time.sleep(0.05)
            workers = list(_pids(root).values()) if (root / "runs").is_dir() else []
        assert set(workers) - {proc.pid}  # two stages at once: at least one in a worker process
        os.kill(proc.pid, sig)
        code = proc.wait(timeout=30)
        assert code == -signal.SIGKILL if sig == signal.SIGKILL else code == 143
        workers = [p for p in workers if p != proc.pid]
        deadline = time.monotonic() + 10
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in workers if alive(p)], "a worker outlived lockgate"
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()


# -- the executor itself, with stand-in jobs --------------------------------------------------


def _python_job(executor: str = "", name: str = "s") -> SimpleNamespace:
    return SimpleNamespace(stage=SimpleNamespace(kind="call", executor=executor, name=name))


def _pid(job) -> int:
    return os.getpid()


def _seen(job) -> tuple[int, str, str, bool]:
    return os.getpid(), os.environ.get("LG_PP_VAR", ""), os.getcwd(), job.marker in sys.path


def _sleep(job) -> None:
    time.sleep(60)


def test_a_lone_python_stage_and_j1_start_no_process():
    for workers, jobs in ((2, 1), (1, 3)):
        executor = LocalExecutor(workers)
        try:
            futures = [executor.submit(_pid, _python_job()) for _ in range(jobs)]
            assert {f.result(timeout=30) for f in futures} == {os.getpid()}
            assert executor._processes is None
        finally:
            executor.close()


def test_python_stages_ready_together_share_a_few_workers():
    executor = LocalExecutor(2)
    try:
        gate = threading.Event()
        blocker = executor.submit(lambda job: gate.wait(30), _python_job(executor="thread"))
        first = [executor.submit(_pid, _python_job()) for _ in range(3)]  # two Python stages are ready
        pids = {f.result(timeout=60) for f in first}
        gate.set()
        blocker.result(timeout=30)
        later = {executor.submit(_pid, _python_job()).result(timeout=30) for _ in range(3)}
        assert os.getpid() not in pids | later
        assert len(pids) == 1  # one slot was free: one worker, reused
        assert executor._processes is not None and executor._processes.started == len(pids | later) <= 2
    finally:
        executor.close()


def test_stages_submitted_in_one_batch_are_placed_knowing_each_other():
    executor = LocalExecutor(2)
    try:
        with executor.batch():
            lone = executor.submit(_pid, _python_job())
        assert lone.result(timeout=30) == os.getpid()  # alone in its batch: a thread
        assert executor._processes is None
        with executor.batch():
            together = [executor.submit(_pid, _python_job()) for _ in range(2)]
        assert os.getpid() not in {f.result(timeout=60) for f in together}  # the first one too
    finally:
        executor.close()


def test_a_worker_sees_the_environment_cwd_and_sys_path_of_lockgate(tmp_path, monkeypatch):
    executor = LocalExecutor(2)
    try:
        job = _python_job("process")
        job.marker = str(tmp_path / "on-sys-path")
        monkeypatch.syspath_prepend(job.marker)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("LG_PP_VAR", "first")
        pid, var, cwd, on_path = executor.submit(_seen, job).result(timeout=60)
        assert (var, cwd, on_path) == ("first", str(tmp_path), True) and pid != os.getpid()
        monkeypatch.setenv("LG_PP_VAR", "second")  # changed after the worker started
        monkeypatch.chdir(tmp_path.parent)
        again = executor.submit(_seen, job).result(timeout=60)
        assert again == (pid, "second", str(tmp_path.parent), True)  # the same worker, reused
    finally:
        executor.close()


def test_an_interrupt_kills_the_worker_running_a_stage():
    executor = LocalExecutor(2)
    try:
        running = executor.submit(_sleep, _python_job("process"))
        pool = None
        deadline = time.monotonic() + 30
        while not (pool := executor._processes) or not pool._busy:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        (worker,) = pool._busy
        executor.cancel_running()
        assert isinstance(running.exception(timeout=10), Stopped)
        assert not alive(worker.proc.pid)
        refused = executor.submit(_pid, _python_job("process"))  # the interrupted run starts nothing more
        assert "interrupted" in str(refused.exception(timeout=10))
    finally:
        accept_new_stages()
        executor.close()


def test_a_stage_asking_two_cpus_takes_both_slots():
    executor = LocalExecutor(2)
    started: list[str] = []
    gate = threading.Event()

    def work(name):
        started.append(name)
        if name == "big":
            gate.wait(30)

    job = SimpleNamespace()  # not a Python stage: a thread
    try:
        big = executor.submit(lambda j: work("big"), job, resources={"cpus": 2})
        small = executor.submit(lambda j: work("small"), job, resources={"cpus": 1})
        deadline = time.monotonic() + 5
        while not started and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert started == ["big"] and not small.done()  # waits: no slot is free
        gate.set()
        small.result(timeout=10)
        big.result(timeout=10)
        assert started == ["big", "small"]
        alone = executor.submit(lambda j: work("huge"), job, resources={"cpus": 8, "memory": "1 PiB"})
        alone.result(timeout=10)  # more than the machine has: it runs alone rather than never
    finally:
        executor.close()


def test_executor_is_thread_or_process_and_only_for_python_stages(tmp_path):
    from lockgate.errors import SpecError

    root = _project(tmp_path / "r")
    write(root, "pipelines/p.yaml", """
version: 1
executor: procs
stages:
  a: {call: "steps:make", out: [x], executor: thred}
  b: {cmd: "true", executor: thread}
""")
    with pytest.raises(SpecError) as caught:
        api.load_pipeline("p", root=root)
    said = str(caught.value).splitlines()
    assert said[:2] == [
        "pipelines/p.yaml:2:11: 'executor' should be 'thread' or 'process', got 'procs'",
        "pipelines/p.yaml:4:47: stage 'a': 'executor' should be 'thread' or 'process', got 'thred'",
    ]
    assert said[2].startswith("pipelines/p.yaml:5:20: stage 'b': unknown key 'executor'; allowed keys: ")
    write(root, "pipelines/p.yaml", """
version: 1
executor: thread
stages:
  a: {call: "steps:make", out: [x]}
  b: {call: "steps:make", out: [y], executor: process}
""")
    stages = api.load_pipeline("p", root=root).stages
    assert (stages["a"].executor, stages["b"].executor) == ("thread", "process")


def test_memory_sizes_read_as_dask_reads_them():
    assert parse_memory("2GiB") == 2 * 2**30
    assert parse_memory("512 MB") == 512 * 10**6
    assert parse_memory("1e9") == 10**9
    assert parse_memory(4096) == 4096
    with pytest.raises(Exception, match="not a size"):
        parse_memory("lots")


def test_a_worker_keeps_its_own_kernel_cache_folder_across_jobs(monkeypatch, tmp_path):
    """A read-only install makes each worker pick a kernel cache folder (NUMBA_CACHE_DIR)
    that lockgate's own environment lacks; adopting that environment for a job must not
    drop it, or numba, which re-reads the environment, finds no cache folder at all."""
    from lockgate.executor.procpool import _adopt

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba-cache"))
    monkeypatch.setenv("LOCKGATE_TEST_STALE", "1")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "LOCKGATE_TEST_STALE")}
    _adopt({"env": env, "cwd": os.getcwd(), "path": list(sys.path)})
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "numba-cache")
    assert "LOCKGATE_TEST_STALE" not in os.environ  # anything else follows lockgate's environment
