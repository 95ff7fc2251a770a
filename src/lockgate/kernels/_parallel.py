"""Two fixed halves on two cores, without OpenMP (shared by ``metrics.py`` and ``drift.py``).

Large inputs are cut in two halves; a helper thread takes the first while the
caller takes the second (numba kernels are ``nogil``), and the caller takes
the first half back if the helper has not started it. numba's own
``parallel=True`` (OpenMP) was measured first: as fast on an idle box, but
when other processes load both cores its barrier waits for a descheduled
thread and a 0.2 ms kernel takes 16-24 ms; and OpenMP does not survive
``fork`` (dask, multiprocessing). The halves are fixed by n alone, so results
are bit-identical whatever the number of cores.

Imports nothing from the rest of lockgate.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

_helper: ThreadPoolExecutor | None = None


def _forget_helper() -> None:
    global _helper
    _helper = None  # a forked child has no helper thread; make a new one on demand


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helper)


def _pool() -> ThreadPoolExecutor:
    global _helper
    if _helper is None:
        _helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lockgate-kernels")
    return _helper


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _both(first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """(first(), second()), ``first`` on the helper thread when there are two cores.

    If the helper has not started ``first`` by the time ``second`` is done (a
    busy machine), the caller runs it itself instead of waiting.
    """
    if _cpus() < 2:
        return first(), second()
    job = _pool().submit(first)
    later = second()
    return (first() if job.cancel() else job.result()), later


def _in_halves(part: Callable[[slice], T], n: int, min_size: int) -> list[T]:
    """``part`` over the two halves of ``range(n)`` (the whole when n is small), in order.

    The split depends on n alone, never on the machine, so partial sums are
    added in the same order everywhere.
    """
    if n < min_size:
        return [part(slice(0, n))]
    first, second = slice(0, n // 2), slice(n // 2, n)
    return list(_both(lambda: part(first), lambda: part(second)))
