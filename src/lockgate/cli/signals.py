"""Ctrl-C and SIGTERM for the commands that run stages (`run`, `watch`).

Both signals raise KeyboardInterrupt in the main thread, promptly, once. The
commands catch it, let the runner cancel what runs (shell stages' process
groups are killed) and write the lock, then exit with 128 + the signal number
(130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process a signal
stopped. A second signal during that shutdown is ignored: raised in the middle
of the clean-up it would skip the lock write and print a traceback. A third
one leaves at once, for a clean-up that hangs (waiting for a `call` stage's
thread, which cannot be stopped).

Why a relay thread: the kernel may deliver a process-directed signal to any
thread, and once polars', numba's or the executor's threads exist it often
lands on one of them. Python then only sets a flag that the main thread checks
when it next runs bytecode, so a runner blocked until a stage finishes would
notice the signal only then. The C-level handler always writes the signal
number to the wakeup fd: the relay thread reads it and pokes the main thread
with a no-op signal, which interrupts its wait so the handler runs there. It
pokes again every 50 ms until the handler has run (a poke landing just before
the main thread goes to sleep is lost).
"""

from __future__ import annotations

import os
import signal
import threading
import time

_POKE = signal.SIGUSR1
_STOP = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """What the handlers of one command saw."""

    def __init__(self) -> None:
        self.signum = 0  # the first SIGINT/SIGTERM received; 0 while none was
        self.count = 0
        self.handled = 0.0  # time.monotonic() when the main thread last ran the handler

    @property
    def exit_code(self) -> int:
        """128 + the signal number: 130 after Ctrl-C, 143 after SIGTERM."""
        return 128 + (self.signum or signal.SIGINT)

    def handle(self, signum: int, frame: object) -> None:  # noqa: ARG002 - a signal handler's signature
        self.handled = time.monotonic()
        self.count += 1
        if self.count == 1:
            self.signum = signum
            raise KeyboardInterrupt
        if self.count >= 3:
            os._exit(self.exit_code)
        # the second: already stopping, let the clean-up finish


_lock = threading.Lock()
_current = Interrupts()  # the installed handlers' state; the relay thread reads it
_wakeup: int | None = None  # the write end of the relay's pipe, made once per process


def install_interrupts() -> Interrupts:
    """Route SIGINT and SIGTERM to a fresh :class:`Interrupts` (main thread only;
    elsewhere, e.g. a command run from a thread, signals are left as they are)."""
    global _current
    interrupts = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        return interrupts
    _current = interrupts
    for signum in _STOP:
        signal.signal(signum, interrupts.handle)
    signal.signal(_POKE, lambda signum, frame: None)
    signal.set_wakeup_fd(_relay(), warn_on_full_buffer=False)
    return interrupts


def _relay() -> int:
    """The wakeup fd, with its one relay thread started on first use."""
    global _wakeup
    with _lock:
        if _wakeup is None:
            read_fd, _wakeup = os.pipe()
            os.set_blocking(_wakeup, False)
            threading.Thread(target=_poke_main, args=(read_fd,), name="lockgate-signals", daemon=True).start()
        return _wakeup


def _poke_main(read_fd: int) -> None:
    main = threading.main_thread().ident
    assert main is not None
    while data := os.read(read_fd, 64):
        if not any(signum in data for signum in _STOP):
            continue
        start = time.monotonic()
        if start - _current.handled < 0.5:
            continue  # the main thread got there first
        while _current.handled < start and time.monotonic() - start < 2.0:
            signal.pthread_kill(main, _POKE)
            time.sleep(0.05)
