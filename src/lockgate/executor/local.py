"""The local executor: stages run on this machine, at most ``-j`` at a time, a stage
with ``resources: {cpus: N}`` taking N of those slots and one with ``memory:``
its share of the machine's memory; jobs start in the order they were
submitted (a big stage is never starved by small ones behind it).

Where a job runs:

- a ``cmd`` stage: a thread that waits on the command's process, which runs
  under a supervisor that kills its process group if lockgate dies
  (``executor.supervisor``);
- a ``call`` or builtin stage: a worker process (``executor.procpool``) when
  ``-j`` > 1 and more than one Python stage is ready, since pure-Python code
  holds the GIL and threads would run them one at a time; else a thread of
  this process, so a lone stage or ``-j 1`` pays no process start (and NumPy,
  polars, numba and scikit-learn release the GIL for their heavy work). Once
  the workers are up, later Python stages of the run use them too. A stage's
  ``executor: thread|process`` (or its pipeline's) overrides the choice.
  Stages submitted inside :meth:`LocalExecutor.batch` are placed knowing all of
  them: without it, the first of several ready stages is still alone when it
  is submitted, and takes a thread.

Either way the same ``run_job`` runs the same ``Job``: inputs are read from,
and outputs written to, the content-addressed cache, so results, lock and
run-cache are the same bit for bit wherever a stage ran.

Must not: decide what runs (the runner does), or import anything heavy at
module level (``lockgate status`` builds one of these and runs nothing).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lockgate.errors import UsageError

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from lockgate.executor.procpool import ProcessPool

log = logging.getLogger(__name__)


class _Queued:
    """A submitted job. (Not a dataclass: `lockgate status` imports this module, and a
    dataclass compiles its methods when the class is created.)"""

    __slots__ = ("fn", "future", "job", "memory", "placement", "slots")

    def __init__(self, fn: Callable[[Any], Any], job: Any, future: Future[Any], slots: int, memory: int,
                 placement: str) -> None:
        self.fn, self.job, self.future = fn, job, future
        self.slots = slots  # of the executor's `workers`
        self.memory = memory  # bytes declared (0: none)
        self.placement = placement  # "cmd" | "auto" | "thread" | "process": see _placement


def _placement(job: Any) -> str:
    """``cmd`` for anything but a Python stage; else the stage's ``executor:`` or ``auto``."""
    stage = getattr(job, "stage", None)
    if stage is None or getattr(stage, "kind", "cmd") == "cmd":
        return "cmd"
    return getattr(stage, "executor", "") or "auto"


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._queue: deque[_Queued] = deque()
        self._free_slots = self.workers
        self._memory_total = 0  # learnt when a stage first declares memory
        self._memory_used = 0
        self._python = 0  # Python stages submitted and not yet ended (the "ready" ones)
        self._batching = 0  # open batch() blocks
        self._threads: ThreadPoolExecutor | None = None  # started by the first job (`status` has none)
        self._processes: ProcessPool | None = None  # started when parallel Python stages first need it

    # -- the Executor protocol ------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], job: Any, *, resources: dict[str, Any] | None = None) -> Future[Any]:
        from concurrent.futures import Future

        future: Future[Any] = Future()
        try:
            slots, memory = self._needs(resources or {})
        except UsageError as exc:
            future.set_exception(exc)
            return future
        item = _Queued(fn, job, future, slots, memory, _placement(job))
        with self._lock:
            self._queue.append(item)
            self._python += item.placement != "cmd"
            self._dispatch()
        return future

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Submit the stages that are ready together (the runner's ready set): a Python
        stage that would be alone waits for the end of the block to be placed, so that
        with another one submitted in the block both go to worker processes."""
        with self._lock:
            self._batching += 1
        try:
            yield
        finally:
            with self._lock:
                self._batching -= 1
                self._dispatch()

    def cancel_running(self) -> None:
        """Ctrl-C: kill the shell stages' process groups and the worker processes running
        stages, and start no stage any more (a job a pool thread picks up now is refused)
        until the next run begins."""
        # loaded by the first job, if any
        from lockgate.executor.worker import terminate_running

        terminate_running(refuse_new=True)
        with self._lock:
            self._drop_cancelled()
            pool = self._processes
        if pool is not None:
            pool.stop_running()

    def close(self, wait: bool = True) -> None:
        """Release threads and worker processes. ``wait=False`` (after Ctrl-C) kills the
        workers and returns without waiting for a ``call`` stage's thread."""
        with self._lock:
            queued, self._queue = list(self._queue), deque()
        for item in queued:
            _cancel(item.future)
        if self._processes is not None and not wait:
            self._processes.close(kill=True)
        if self._threads is not None:
            self._threads.shutdown(wait=wait, cancel_futures=True)
        if self._processes is not None and wait:
            self._processes.close()

    # -- scheduling (under self._lock) ------------------------------------------------------

    def _dispatch(self) -> None:
        """Start queued jobs, in order, while the head one fits."""
        while self._queue:
            item = self._queue[0]
            if item.future.cancelled():
                self._queue.popleft()
                self._ended(item)
                _cancel(item.future)
                continue
            if not self._fits(item) or (self._batching and self._undecided(item)):
                return
            self._queue.popleft()
            if not item.future.set_running_or_notify_cancel():
                self._ended(item)
                continue
            self._free_slots -= item.slots
            self._memory_used += item.memory
            in_process = self._in_process(item)
            if in_process and self._processes is None:
                from lockgate.executor.procpool import ProcessPool

                self._processes = ProcessPool()
            self._thread_pool().submit(self._run, item, in_process)

    def _fits(self, item: _Queued) -> bool:
        if item.slots > self._free_slots:
            return False
        # a stage asking more memory than is free waits, unless nothing else runs
        return not item.memory or self._memory_used + item.memory <= self._memory_total \
            or self._free_slots == self.workers

    def _in_process(self, item: _Queued) -> bool:
        if item.placement in ("process", "thread", "cmd"):
            return item.placement == "process"
        return self.workers > 1 and (self._processes is not None or self._python > 1)

    def _undecided(self, item: _Queued) -> bool:
        """A Python stage that is alone so far, where another could still join it."""
        return item.placement == "auto" and self.workers > 1 and self._processes is None \
            and self._python == 1

    def _ended(self, item: _Queued) -> None:
        self._python -= item.placement != "cmd"

    def _drop_cancelled(self) -> None:
        for item in [i for i in self._queue if i.future.cancelled()]:
            self._queue.remove(item)
            self._ended(item)
            _cancel(item.future)

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            from concurrent.futures import ThreadPoolExecutor

            self._threads = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="lockgate")
        return self._threads

    # -- running one job (in a pool thread) ---------------------------------------------------

    def _run(self, item: _Queued, in_process: bool) -> None:
        try:
            value = self._in_worker(item) if in_process else item.fn(item.job)
        except BaseException as exc:  # noqa: BLE001 - it belongs to whoever waits on the future
            self._release(item)
            item.future.set_exception(exc)
        else:
            self._release(item)  # first: a stage the result makes ready finds its slots free
            item.future.set_result(value)

    def _release(self, item: _Queued) -> None:
        with self._lock:
            self._free_slots += item.slots
            self._memory_used -= item.memory
            self._ended(item)
            self._dispatch()

    def _in_worker(self, item: _Queued) -> Any:
        """``fn(job)`` in a worker process; a worker's death (or its being stopped by an
        interrupt) is the stage's failed (or cancelled) result, said in words."""
        from lockgate.executor import procpool
        from lockgate.executor.worker import (
            Interrupted,
            Job,
            ended_elsewhere,
            start_unless_stopped,
        )

        assert self._processes is not None
        start = time.perf_counter()
        try:
            return self._processes.run(item.fn, item.job, admit=start_unless_stopped)
        except (procpool.WorkerDied, procpool.Stopped, Interrupted) as exc:
            if not isinstance(item.job, Job):
                raise
            return ended_elsewhere(item.job, str(exc), duration=time.perf_counter() - start,
                                   cancelled=not isinstance(exc, procpool.WorkerDied))

    # -- resources --------------------------------------------------------------------------

    def _needs(self, resources: dict[str, Any]) -> tuple[int, int]:
        """(slots, bytes) a stage's ``resources:`` take: at least one slot, at most all of
        them (a stage asking more cores than ``-j`` runs alone rather than never); memory
        at most the machine's."""
        cpus = resources.get("cpus")
        slots = min(self.workers, max(1, math.ceil(float(cpus)))) if cpus is not None else 1
        memory = 0
        if resources.get("memory") is not None:
            memory = parse_memory(resources["memory"])
            with self._lock:
                if not self._memory_total:
                    self._memory_total = total_memory()
            if memory > self._memory_total:
                log.warning("a stage asks for %s of memory; this machine has %.1f GiB",
                            resources["memory"], self._memory_total / 2**30)
                memory = self._memory_total
        return slots, memory


def _cancel(future: Future[Any]) -> None:
    """Cancel a future not yet running and wake ``concurrent.futures.wait`` on it."""
    if future.cancel() or future.cancelled():
        try:
            future.set_running_or_notify_cancel()
        except RuntimeError:  # notified already
            pass


_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40, "pi": 2**50}


def parse_memory(text: Any) -> int:
    """'2GiB', '512 MB', '1e9', 2000000 -> bytes (the units dask reads); both executors
    read a stage's ``resources: {memory}`` with it, so a spec means the same on either."""
    import re

    match = re.match(r"^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgtp]i?)?b?\s*$", str(text), re.IGNORECASE)
    if not match:
        raise UsageError(f"resources: memory {text!r} is not a size (write e.g. 2GiB or 512MB)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()])


def total_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 2**62  # unknown: memory never holds a stage back
