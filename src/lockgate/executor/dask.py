"""The Dask executor: stages run as tasks on a ``distributed`` cluster.

Owns: starting a ``LocalCluster`` (``--executor dask``) or connecting to a
running scheduler (``--executor dask://HOST:PORT``), turning a stage's
``resources:`` into Dask worker resources, and handing the runner plain
``concurrent.futures.Future`` objects, so the runner (which decides, restores
and writes the lock) is the same for every executor.

Outputs never travel through the scheduler: ``run_job`` writes them to the
shared cache at ``Job.cache_dir`` and returns a small ``JobResult``. Workers
therefore need the repository on a filesystem they share with the client
(always true for a LocalCluster). Each task runs with the repository root as
its working directory, as a local run does.

This is the only module that imports ``dask.distributed``, and only when an
executor is built (``import lockgate`` never loads it).

Must not: decide what runs, touch the lock file, or read the cache.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from lockgate.errors import UsageError
from lockgate.executor.local import parse_memory, total_memory

log = logging.getLogger(__name__)

SCHEME = "dask://"
CPUS = "cpus"
MEMORY = "MEMORY"
"""Worker resource names: ``cpus`` (cores, = threads of a LocalCluster worker) and
``MEMORY`` (bytes). Workers of an external cluster declare them with
``dask worker --resources "cpus=4,MEMORY=16e9"``."""


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise UsageError(
            "the dask executor needs dask.distributed: pip install 'lockgate[dask]'"
        ) from exc
    return distributed


def _in_root(fn: Callable[[Any], Any], job: Any) -> Any:
    """Run ``fn(job)`` on a worker from the repository root (relative paths in the
    team's code mean what they mean in a local run)."""
    root = getattr(job, "root", None)
    if root is not None:
        if not os.path.isdir(root):
            from lockgate.executor.worker import JobResult

            import socket

            return JobResult(
                ok=False,
                error=(f"the Dask worker on {socket.gethostname()} cannot see the repository at "
                       f"{root}; workers must share the repository's filesystem"),
            )
        if os.getcwd() != root:
            os.chdir(root)  # every job of a run shares the root, so this is stable
    return fn(job)


def _quiet_dask_logs() -> None:
    """dask's config sets its loggers to INFO; lockgate shows them with -v only. The
    variable reaches worker processes, which configure logging when they start."""
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    for name in ("distributed", "distributed.scheduler", "distributed.nanny",
                 "distributed.worker", "distributed.core", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _terminate_on_worker() -> None:
    from lockgate.executor.worker import terminate_running

    terminate_running()


class DaskExecutor:
    """Submit jobs to a Dask cluster; ``address=None`` starts a LocalCluster."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        distributed = _import_distributed()
        if logging.getLogger().getEffectiveLevel() > logging.INFO:
            _quiet_dask_logs()
        self._cluster = None
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Any, Future[Any]]] = {}  # dask key -> (dask future, ours)
        if address is None:
            n_workers = max(1, workers or os.cpu_count() or 1)
            memory = total_memory() // n_workers
            # One single-threaded process per core: `call` code that holds the GIL
            # still runs in parallel. Loopback only; no dashboard, and its HTTP port is
            # picked free (8787 may belong to another cluster).
            # MEMORY is for placing stages; no memory_limit, so no worker is killed
            # for a stage that the local executor would have run.
            self._cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False}, memory_limit=0,
                resources={CPUS: 1, MEMORY: memory},
            )
            self._client = distributed.Client(self._cluster)
            log.info("dask: started a LocalCluster of %d workers at %s", n_workers,
                     self._cluster.scheduler_address)
        else:
            try:
                self._client = distributed.Client(address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.address = self._client.scheduler.address
        self.workers = max(1, sum(w.get("nthreads", 1) for w in self._workers_info().values()))

    @classmethod
    def from_option(cls, option: str, workers: int | None = None) -> DaskExecutor:
        """``dask`` (a LocalCluster of ``workers`` processes) or ``dask://HOST:PORT``."""
        if option == "dask":
            return cls(None, workers)
        if option.startswith(SCHEME) and len(option) > len(SCHEME):
            return cls("tcp://" + option[len(SCHEME):])
        raise UsageError(f"--executor {option!r}: use local, dask, or dask://HOST:PORT")

    def _workers_info(self) -> dict[str, Any]:
        return dict(self._client.scheduler_info().get("workers", {}))

    # -- resources -------------------------------------------------------------------

    def worker_resources(self, stage_resources: dict[str, Any] | None) -> dict[str, float] | None:
        """A stage's ``resources:`` as Dask resources, fitted to what workers offer.

        On a cluster lockgate started, a request above the largest worker's
        offer is lowered to it (with a warning) rather than waiting forever;
        on an external cluster that is an error naming the resource.
        """
        if not stage_resources:
            return None
        wanted: dict[str, float] = {}
        if stage_resources.get("cpus") is not None:
            wanted[CPUS] = float(stage_resources["cpus"])
        if stage_resources.get("memory") is not None:
            wanted[MEMORY] = float(parse_memory(stage_resources["memory"]))
        offers = [w.get("resources", {}) for w in self._workers_info().values()]
        for name, amount in list(wanted.items()):
            best = max((float(o.get(name, 0)) for o in offers), default=0.0)
            if amount <= best:
                continue
            if self._cluster is not None:
                log.warning("dask: a stage asks for %s=%g but the largest worker offers %g; "
                            "using %g", name, amount, best, best)
                wanted[name] = best
            elif name == CPUS and amount <= 1 and best == 0:
                wanted.pop(name)  # workers that declare no cores still have a thread
            elif best == 0:
                raise UsageError(
                    f"no Dask worker at {self.address} declares the resource {name!r}; start "
                    f"workers with --resources \"{CPUS}=N,{MEMORY}=BYTES\""
                )
            else:
                raise UsageError(
                    f"a stage asks for {name}={amount:g} but the largest Dask worker at "
                    f"{self.address} offers {best:g}"
                )
        return wanted or None

    # -- the Executor protocol ------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], job: Any, *, resources: dict[str, Any] | None = None) -> Future[Any]:
        result: Future[Any] = Future()
        try:
            wanted = self.worker_resources(resources)
        except UsageError as exc:
            result.set_exception(exc)
            return result
        stage = getattr(job, "stage", None)
        label = f"{stage.pipeline}.{stage.name}" if stage is not None else "job"
        key = f"lockgate-{label}-{uuid.uuid4().hex[:8]}"
        remote = self._client.submit(_in_root, fn, job, key=key, resources=wanted, pure=False)
        with self._lock:
            self._running[key] = (remote, result)

        def relay(done: Any) -> None:
            with self._lock:
                self._running.pop(done.key, None)
            if result.done():  # the runner cancelled it meanwhile
                return
            try:
                if done.cancelled():
                    _cancel(result)
                    return
                error = done.exception()
                if error is not None:
                    result.set_exception(error)
                else:
                    result.set_result(done.result())
            except BaseException as exc:  # noqa: BLE001 - must reach the runner, never the callback thread
                with contextlib.suppress(Exception):
                    result.set_exception(exc)

        def cancel_remote(mine: Future[Any]) -> None:
            if mine.cancelled():
                remote.cancel()

        result.add_done_callback(cancel_remote)
        remote.add_done_callback(relay)
        return result

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """The scheduler places jobs as they come: nothing to hold back."""
        return contextlib.nullcontext()

    def cancel_running(self) -> None:
        """Cancel every task not yet finished and stop the shell stages workers run."""
        with self._lock:
            pending = list(self._running.values())
            self._running.clear()
        if pending:
            with contextlib.suppress(Exception):
                self._client.cancel([remote for remote, _ in pending], force=True)
        for _, mine in pending:
            _cancel(mine)
        with contextlib.suppress(Exception):
            self._client.run(_terminate_on_worker)

    def close(self, wait: bool = True) -> None:
        """Close the client, and the cluster this executor started. Nothing of a job runs
        in this process, so there is nothing to wait for either way."""
        with contextlib.suppress(Exception):
            self._client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()
            self._cluster = None


def _cancel(future: Future[Any]) -> None:
    """Cancel a future we never marked running, and wake ``concurrent.futures.wait``
    (``Future.cancel`` alone leaves it CANCELLED but not yet notified)."""
    if future.cancel():
        with contextlib.suppress(RuntimeError):  # already notified by a racing caller
            future.set_running_or_notify_cancel()
