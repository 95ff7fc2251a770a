"""The supervisor: no process of a ``cmd`` stage outlives the lockgate that started it.

A tiny program between lockgate and a stage's shell, run by path as
``python -I -S supervisor.py PARENT COMMAND`` (no site, no lockgate import: it
adds ~15 ms to a command). lockgate starts it in a new session, so it leads
the stage's process group, which its shell and every child the shell starts
join (lockgate stops a stage by signalling that group). It waits for the
shell and ends as the shell did (the same code, or killed by the same signal).
When lockgate dies, even by SIGKILL, it kills the whole group at once.

It watches the lockgate *process* through a pidfd (and ``getppid()``), not
with ``PR_SET_PDEATHSIG``, which fires when the *thread* that forked exits:
lockgate starts shells from pool threads. It ignores SIGTERM/SIGINT/SIGHUP
sent to the group (lockgate's cancel, a stage's own ``trap 'kill 0' EXIT``)
so that it can still report how the shell ended; caught signals reset on
exec, so the shell keeps the default handlers.

Must not: import anything beyond the standard library (or annotations from
``__future__``: every import is start-up time), or decide whether a stage's
outputs count (the worker does: an exit 0 that lockgate saw, or nothing).
"""

import os
import sys
from types import ModuleType

#: Signals whose default action dumps core: the supervisor re-raises them without one.
_CORE_SIGNALS = ("SIGQUIT", "SIGILL", "SIGABRT", "SIGFPE", "SIGSEGV", "SIGBUS", "SIGSYS", "SIGTRAP")


def command_argv(command: str) -> list[str]:
    """The argv that runs ``command`` under a supervisor watching this process."""
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), command]


def parent_watch(parent: int) -> tuple[bool, int | None]:
    """(``parent`` is still this process's parent, a pidfd readable once it has exited or
    None where there are no pidfds (Linux < 5.3): poll ``getppid()`` then). Asked after
    the pidfd is open: had the parent died first, the pidfd could name another process."""
    try:
        watch: int | None = os.pidfd_open(parent)
    except (AttributeError, OSError):
        watch = None
    return os.getppid() == parent, watch


def main(argv: list[str]) -> int:
    import _signal  # not `signal`: its enums cost ~10 ms of start-up
    import select

    parent, command = int(argv[0]), argv[1]
    if os.getppid() != parent:
        return 125  # lockgate died before we started: run nothing

    def ignore(signum: int, frame: object) -> None:
        pass

    for sig in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
        _signal.signal(sig, ignore)
    wake_r, wake_w = os.pipe()  # SIGCHLD wakes the wait below, with no lost-wakeup race
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    _signal.set_wakeup_fd(wake_w)
    _signal.signal(_signal.SIGCHLD, ignore)
    alive, watch = parent_watch(parent)
    if not alive:
        return 125
    defaults = [getattr(_signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(_signal, name)]
    child = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", command], os.environ, setsigdef=defaults)
    fds = [wake_r] if watch is None else [wake_r, watch]
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            break
        ready, _, _ = select.select(fds, [], [], 0.1 if watch is None else 2.0)
        if watch in ready or os.getppid() != parent:
            os.killpg(0, _signal.SIGKILL)  # lockgate is gone: so is the whole stage, this included
        try:
            while os.read(wake_r, 512):
                pass
        except BlockingIOError:
            pass
    _stop_leftovers(_signal)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    sig = os.WTERMSIG(status)
    if sig in [getattr(_signal, name, None) for name in _CORE_SIGNALS]:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file of ours in the repository
    try:
        _signal.signal(sig, _signal.SIG_DFL)
    except (OSError, ValueError):  # SIGKILL cannot be caught, so it has no handler to reset
        pass
    os.kill(os.getpid(), sig)  # end as the shell ended: lockgate says "killed by signal N"
    return 128 + sig


def _stop_leftovers(_signal: ModuleType) -> None:
    """Kill what the command left running in the stage's group (``job &`` never waited
    for): the stage ends when its command does, and lockgate records its outputs then,
    so a later write would change them behind the lock's back. Linux lists the group
    through /proc; elsewhere a SIGTERM to the group (which this process ignores) is all."""
    me = os.getpid()
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        pids = []
    stopped = 0
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rpartition(b")")[2].split()
            if int(fields[2]) != me:  # field 5, pgrp: fields after "(comm)" start at state
                continue
            os.kill(pid, _signal.SIGKILL)
            stopped += 1
        except (OSError, ValueError, IndexError):
            continue
    if not pids:
        try:
            os.killpg(0, _signal.SIGTERM)
        except OSError:
            pass
    if stopped:
        os.write(2, f"lockgate: stopped {stopped} process(es) the command left running\n".encode())


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]))  # nothing buffered to flush: skip the interpreter's tear-down
