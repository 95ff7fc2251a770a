"""The Dask executor on a real ``distributed.LocalCluster`` (worker processes).

One cluster serves the module (``dask://`` runs connect to it); one test lets
``--executor dask`` start and stop its own. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import json
from concurrent.futures import ALL_COMPLETED, wait
from pathlib import Path

import pytest

from lockgate.lock import LockFile
from tests.conftest import git, write
from tests.e2e.helpers import STEPS as ENGINE_STEPS
from tests.e2e.helpers import count, lg

distributed = pytest.importorskip("distributed")

SPEC = """
version: 1
params:
  rows: 40
stages:
  raw:
    cmd: mkdir -p runs data && echo x >> runs/raw && python -c "print('id,x'); [print(f'{i},{i*0.5}') for i in range(${rows})]" > data/raw.csv
    outs: [data/raw.csv]
  table:
    call: src.steps:make_table
    with: {rows: "${rows}"}
    out: [numbers]
  split:
    uses: split
    in: {table: numbers}
    with: {seed: 3, test_size: 0.25}
    out: [train, test]
  stats:
    call: src.steps:stats
    in: {table: train}
    out: [summary]
  heavy:
    call: src.steps:stats
    in: {table: test}
    out: [heavy_summary]
    resources: {cpus: 1, memory: 50MB}
"""

# the engine tests' user code, plus a stage that always fails
STEPS = ENGINE_STEPS + """

def boom(table: pl.DataFrame):
    raise RuntimeError("boom on purpose")
"""

FAILING = """
version: 1
stages:
  table:
    call: src.steps:make_table
    with: {rows: 10}
    out: [numbers]
  bad:
    call: src.steps:boom
    in: {table: numbers}
    out: [never]
  after_bad:
    call: src.steps:stats
    in: {table: never}
    out: [never_summary]
  good:
    call: src.steps:stats
    in: {table: numbers}
    out: [summary]
"""


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes that declare the resources lockgate maps to."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
        resources={"cpus": 1, "MEMORY": 1e9},
    ) as local:
        yield local


@pytest.fixture
def address(cluster) -> str:
    return "dask://" + cluster.scheduler_address.removeprefix("tcp://")


def _project(root: Path, spec: str = SPEC) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    write(root, "pipelines/demo.yaml", spec)
    write(root, "src/__init__.py", "")
    write(root, "src/steps.py", STEPS)
    write(root, ".gitignore", "runs/\ndata/\n")
    return root


def _hashes(lock: LockFile) -> dict[str, tuple]:
    return {
        name: (entry.fingerprint, json.dumps(entry.outputs, sort_keys=True), json.dumps(entry.metrics, sort_keys=True))
        for name, entry in lock.stages.items()
    }


def test_lock_hashes_equal_the_local_executors(tmp_path: Path, address: str) -> None:
    local = _project(tmp_path / "local")
    remote = _project(tmp_path / "dask")
    lg(local, "run", "--json", check=0)
    done = lg(remote, "run", "--executor", address, "--json", check=0)
    outcomes = {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]}
    assert outcomes == dict.fromkeys(["raw", "table", "split", "stats", "heavy"], "ran")
    lock_local = LockFile.read(local / "pipelines/demo.lock", "demo")
    lock_dask = LockFile.read(remote / "pipelines/demo.lock", "demo")
    assert _hashes(lock_dask) == _hashes(lock_local)
    assert (remote / "data/raw.csv").read_bytes() == (local / "data/raw.csv").read_bytes()
    # relative paths in the team's code resolve from the repository root on workers
    assert count(remote, "stats") == 2 and count(remote, "raw") == 1
    # same cache either way: a second Dask run finds everything up to date
    again = lg(remote, "run", "--executor", address, "--json", check=0)
    assert {s["outcome"] for s in json.loads(again.stdout)["stages"]} == {"cached"}


def test_a_failing_stage_fails_only_its_descendants(tmp_path: Path, address: str) -> None:
    root = _project(tmp_path / "fail", FAILING)
    done = lg(root, "run", "--executor", address, "--keep-going", "--json", check=1)
    outcomes = {s["stage"]: s for s in json.loads(done.stdout)["stages"]}
    assert outcomes["bad"]["outcome"] == "failed"
    assert "boom on purpose" in outcomes["bad"]["message"]
    assert outcomes["after_bad"]["outcome"] == "skipped"
    assert outcomes["after_bad"]["message"] == "upstream stage 'bad' failed"
    assert outcomes["table"]["outcome"] == "ran" and outcomes["good"]["outcome"] == "ran"
    assert "boom on purpose" in (root / ".lockgate/logs/demo/bad.log").read_text()
    lock = LockFile.read(root / "pipelines/demo.lock", "demo")
    assert set(lock.stages) == {"table", "good"}


TINY = """
version: 1
stages:
  hello:
    cmd: mkdir -p runs && echo x >> runs/hello
    outs: [runs/hello]
  table:
    call: src.steps:make_table
    with: {rows: 3}
    out: [numbers]
    resources: {cpus: 1, memory: 10MB}
"""


def test_executor_dask_starts_and_stops_its_own_cluster(tmp_path: Path) -> None:
    root = _project(tmp_path / "own", TINY)
    done = lg(root, "run", "--executor", "dask", "-j", "2", "--json", check=0)
    assert {s["stage"]: s["outcome"] for s in json.loads(done.stdout)["stages"]} == {
        "hello": "ran", "table": "ran"}
    assert done.stderr == ""  # dask's INFO logs stay hidden without -v


def test_bad_executor_option_is_a_usage_error(tmp_path: Path) -> None:
    root = _project(tmp_path / "bad")
    done = lg(root, "run", "--executor", "spark", check=2)
    assert "--executor 'spark': use local, dask, or dask://HOST:PORT" in done.stderr


# -- the executor object itself ----------------------------------------------------------


def _square(job: int) -> int:
    return job * job


def _fail(job: int) -> int:
    raise ValueError(f"job {job} failed")


@pytest.fixture
def executor(cluster):
    from lockgate.executor.dask import DaskExecutor

    ex = DaskExecutor(cluster.scheduler_address)
    yield ex
    ex.close()


def test_futures_are_concurrent_futures(executor) -> None:
    futures = [executor.submit(_square, n) for n in range(6)]
    futures.append(executor.submit(_fail, 7))
    done, not_done = wait(futures, timeout=60, return_when=ALL_COMPLETED)
    assert not not_done
    assert [f.result() for f in futures[:6]] == [n * n for n in range(6)]
    with pytest.raises(ValueError, match="job 7 failed"):
        futures[-1].result()
    assert executor.name == "dask" and executor.workers == 2


def test_stage_resources_become_worker_resources(executor) -> None:
    assert executor.worker_resources(None) is None
    assert executor.worker_resources({"cpus": 1.0, "memory": "200MB"}) == {"cpus": 1.0, "MEMORY": 2e8}
    from lockgate.errors import UsageError

    with pytest.raises(UsageError, match="asks for cpus=4 but the largest Dask worker"):
        executor.worker_resources({"cpus": 4})
    # a request no worker can meet fails that stage's future, not the run
    future = executor.submit(_square, 3, resources={"memory": "5GB"})
    with pytest.raises(UsageError, match="MEMORY"):
        future.result(timeout=10)
    assert executor.submit(_square, 3, resources={"cpus": 1}).result(timeout=60) == 9


def test_cancel_running_drops_pending_jobs(executor) -> None:
    import time

    slow = [executor.submit(time.sleep, 2) for _ in range(4)]
    time.sleep(0.5)
    executor.cancel_running()
    done, _ = wait(slow, timeout=20)
    assert len(done) == 4 and all(f.cancelled() for f in slow)  # cancelled, not finished


@pytest.mark.parametrize("wait", [True, False])
def test_every_executor_closes_as_the_protocol_says(cluster, wait: bool) -> None:
    """The CLI closes with wait=False after Ctrl-C, whichever executor ran."""
    from lockgate.executor.dask import DaskExecutor
    from lockgate.executor.local import LocalExecutor

    for ex in (DaskExecutor(cluster.scheduler_address), LocalExecutor(1)):
        assert ex.submit(_square, 3).result(timeout=60) == 9
        ex.close(wait=wait)
