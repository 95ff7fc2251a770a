"""The worker processes that run Python stages (``call`` and builtin steps) in
parallel, whatever the GIL holds.

Owns: starting a worker (a fresh interpreter, spawned, never forked, so numba,
OpenMP and the parent's threads stay safe), handing it one job at a time and
reusing it for the next (its imports, loaded modules and numba's compiled
kernels stay warm), turning a worker's death into :class:`WorkerDied` (the
signal named), killing the workers that run stages when the run is
interrupted, and making sure no worker outlives lockgate, even a
``kill -9``: each one leads its own process group and kills it the moment
lockgate's process is gone (a pidfd, else ``getppid()``), as the shell
stages' supervisor does (``executor.supervisor``).

A job crosses the pipe as ``(fn, job)`` pickled, the same pair the Dask
executor ships: ``run_job`` reads its inputs from the content-addressed store
and writes its outputs there, so only records cross, never data. With each
job goes the parent's environment, working directory and ``sys.path``, so the
stage sees what it would see in a thread of lockgate.

Why not ``multiprocessing``'s pools: a ``ProcessPoolExecutor`` whose worker
dies breaks as a whole (every running stage would fail with it), and
``multiprocessing``'s spawn re-imports the parent's ``__main__`` (the CLI) in
every worker. A worker here is ``python -c`` with one socket.

Must not: decide which job runs where or when (``executor.local`` does), or
know what a job is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

_WARM = ("lockgate.executor.worker", "lockgate.store.local", "lockgate.store.statcache",
         "lockgate.store.artifacts")
"""What every Python stage needs, imported while a worker starts, before its first job."""

GRACE = 3.0
"""Seconds an interrupted worker gets between SIGTERM and SIGKILL (as shell stages)."""


class WorkerDied(Exception):
    """The worker process running a job ended before answering (a signal, ``os._exit``)."""

    def __init__(self, returncode: int | None) -> None:
        self.returncode = returncode
        super().__init__(_how_it_ended(returncode))


class Stopped(Exception):
    """The job was not run, or was killed, because the run was interrupted."""


def _how_it_ended(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"the worker process running the stage was killed by signal {-code} ({name})"
    return f"the worker process running the stage exited with code {code} before the stage ended"


def _context() -> dict[str, Any]:
    """What a thread of lockgate would see: the environment, the working directory, sys.path."""
    return {"env": dict(os.environ), "cwd": os.getcwd(), "path": list(sys.path)}


class _Worker:
    def __init__(self) -> None:
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, *_interpreter_flags(), "-P", "-c",
                 "from lockgate.executor.procpool import serve; serve()",
                 str(theirs.fileno()), str(os.getpid())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.lock = threading.Lock()  # signals to its group never race the reaping of its pid
        self.reaped = False
        self.ready = False
        self.stopped = False  # killed because the run was interrupted
        with contextlib.suppress(OSError):
            self.conn.send(_context())  # the first message: what to import the warm modules with

    def await_ready(self) -> None:
        if not self.ready:
            self.conn.recv()  # ("ready", pid); EOFError if it died starting
            self.ready = True

    def signal_group(self, sig: int) -> None:
        with self.lock:  # the leader is not reaped yet, so its group id is still its own
            if not self.reaped:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, sig)

    def exited(self) -> bool:
        """Whether it has ended (reaped or not: its pid stays taken until reaped)."""
        with self.lock:
            if self.reaped:
                return True
            try:
                return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
            except ChildProcessError:
                return True

    def reap(self) -> int:
        """Wait for the worker's end; kill what it left in its group; its return code."""
        if hasattr(os, "waitid"):
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT)
        self.signal_group(signal.SIGKILL)  # processes the stage's code started
        with self.lock:
            code = self.proc.wait()
            self.reaped = True
        self.conn.close()
        return code


def _interpreter_flags() -> list[str]:
    try:
        return list(subprocess._args_from_interpreter_flags())  # type: ignore[attr-defined]
    except AttributeError:  # what multiprocessing's spawn uses; private, so not relied on
        return []


class ProcessPool:
    """Worker processes, started on demand and reused; the caller bounds how many jobs
    run at once (one worker per running job)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self.started = 0  # workers started so far

    def run(self, fn: Callable[[Any], Any], job: Any,
            admit: Callable[[Callable[[], None]], None] = lambda start: start()) -> Any:
        """``fn(job)`` in a worker; its value, or the exception it raised. ``admit`` calls
        the function it is given (which marks the worker busy) unless the run was
        interrupted (then it raises): the caller's interrupt either sees the worker busy
        and kills it, or comes first and nothing starts."""
        worker = self._take()
        try:
            admit(lambda: self._mark_busy(worker))
        except BaseException:
            self._give_back(worker)
            raise
        try:
            worker.await_ready()
            worker.conn.send((fn, job, _context()))
            status, value = worker.conn.recv()
        except (EOFError, OSError):
            with self._lock:
                self._busy.discard(worker)
            code = worker.reap()
            if worker.stopped:
                raise Stopped("interrupted: the stage's worker process was stopped") from None
            raise WorkerDied(code) from None
        except BaseException:  # the job could not be sent (it does not pickle): the worker is fine
            self._give_back(worker)
            raise
        self._give_back(worker)
        if status == "error":
            raise value
        return value

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise Stopped("interrupted: the executor was closed")
            while self._idle:
                worker = self._idle.pop()
                if not worker.conn.poll():  # an idle worker never speaks: readable is EOF, it died
                    return worker
                threading.Thread(target=worker.reap, daemon=True).start()
            self.started += 1
        return _Worker()  # outside the lock: workers start in parallel

    def _mark_busy(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.add(worker)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if not self._closed:
                self._idle.append(worker)
                return
        _retire(worker)

    def stop_running(self, grace: float = GRACE) -> None:
        """Kill the workers running jobs (Ctrl-C, SIGTERM): SIGTERM to each one's group,
        SIGKILL after ``grace`` seconds; their jobs raise :class:`Stopped`."""
        import time

        with self._lock:
            victims = list(self._busy)
            for worker in victims:
                worker.stopped = True
        for worker in victims:
            worker.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while (left := [w for w in victims if not w.exited()]) and time.monotonic() < deadline:
            time.sleep(0.02)
        for worker in left:
            worker.signal_group(signal.SIGKILL)

    def close(self, kill: bool = False) -> None:
        """Idle workers end (their socket closes); with ``kill``, busy ones are killed too
        (an interrupted run that does not wait)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for worker in busy if kill else ():
            worker.stopped = True
            worker.signal_group(signal.SIGKILL)
        for worker in idle:
            _retire(worker)


def _retire(worker: _Worker) -> None:
    worker.conn.close()  # it reads EOF and exits
    with worker.lock:  # reaped under the lock: no signal to its group races the reaping
        try:
            worker.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(worker.proc.pid, signal.SIGKILL)
            worker.proc.wait()
        worker.reaped = True


# -- the worker's side ------------------------------------------------------------------


def serve() -> None:
    """A worker's life: ``python -P -c '...serve()' FD PARENT_PID``. Jobs come one at a
    time; each runs in a thread (as in lockgate, where signals and ``sys.exit`` reach
    no stage), while this thread watches for lockgate's end."""
    from multiprocessing.connection import Connection

    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    os.set_inheritable(fd, False)  # a process the stage's code starts must not keep lockgate's socket open
    conn = Connection(fd)
    watch = _watch(parent)
    _adopt(conn.recv())
    for name in _WARM:
        __import__(name)
    from lockgate.executor.worker import line_buffered_logs

    line_buffered_logs()
    conn.send(("ready", os.getpid()))
    wake_r, wake_w = os.pipe()
    while True:
        _await(conn.fileno(), watch, parent)
        try:
            fn, job, context = conn.recv()
        except EOFError:  # the pool closed: a clean end
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        _adopt(context)
        reply: list[Any] = []
        threading.Thread(target=_run, args=(fn, job, reply, wake_w), name="lockgate-stage", daemon=True).start()
        _await(wake_r, watch, parent, also=conn.fileno())
        os.read(wake_r, 1)
        try:
            conn.send(reply[0])
        except Exception as exc:  # noqa: BLE001 - a value or exception that does not pickle
            conn.send(("error", RuntimeError(f"the stage's result could not be sent back: {exc}")))


def _run(fn: Callable[[Any], Any], job: Any, reply: list[Any], wake: int) -> None:
    try:
        reply.append(("ok", fn(job)))
    except BaseException as exc:  # noqa: BLE001 - every end of the job goes back to lockgate
        reply.append(("error", exc))
    os.write(wake, b"x")


_KEEP = ("NUMBA_CACHE_DIR",)
"""Set by the worker itself and kept whatever lockgate's environment says: where this
process caches compiled kernels (``kernels._compile`` picks a folder when the package's
own is read-only). numba re-reads the environment before it compiles, and without it
found no cache folder: a read-only install failed every stage that compiles a kernel
in a worker ('cannot cache function ...: no locator available')."""


def _adopt(context: dict[str, Any]) -> None:
    env = context["env"]
    for name in [n for n in os.environ if n not in env and n not in _KEEP]:
        del os.environ[name]
    for name, value in env.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
    if os.getcwd() != context["cwd"]:
        os.chdir(context["cwd"])
    sys.path[:] = context["path"]


def _watch(parent: int) -> int | None:
    """A pidfd that turns readable when lockgate's process ends (None: poll getppid)."""
    from lockgate.executor.supervisor import parent_watch

    alive, watch = parent_watch(parent)
    if not alive:
        _end_group()
    return watch


def _await(fd: int, watch: int | None, parent: int, also: int | None = None) -> None:
    """Block until ``fd`` is readable. lockgate gone (its pidfd, a changed parent, or
    ``also`` readable: the pool's socket, silent while a job runs, closed) ends the
    worker and its group at once."""
    import select

    fds = [f for f in (fd, watch, also) if f is not None]
    while True:
        ready, _, _ = select.select(fds, [], [], 2.0 if watch is not None else 0.5)
        if (watch is not None and watch in ready) or (also is not None and also in ready) \
                or os.getppid() != parent:
            _end_group()
        if fd in ready:
            return


def _end_group() -> None:
    os.killpg(0, signal.SIGKILL)  # this worker, and every process the stage's code started
