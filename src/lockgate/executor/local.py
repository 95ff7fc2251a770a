"""The local executor: a thread pool. Shell stages are subprocesses (so threads
only wait on them), each under a supervisor that kills its process group if
lockgate dies (``executor.supervisor``); ``call`` and builtin steps run in
threads, where NumPy, polars, numba and scikit-learn release the GIL for their
heavy work."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None  # started by the first job (`status` has none)

    def submit(self, fn: Callable[..., Any], job: Any, *, resources: dict[str, Any] | None = None) -> Future:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="lockgate")
        return self._pool.submit(fn, job)

    def cancel_running(self) -> None:
        """Ctrl-C: kill the shell stages' process groups, and start no stage any more
        (a job a pool thread picks up now is refused) until the next run begins."""
        from lockgate.executor.worker import terminate_running  # loaded by the first job, if any

        terminate_running(refuse_new=True)

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
