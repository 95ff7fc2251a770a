"""What `lockgate run` shows (rich): progress while it runs, a record at the end.

Progress goes to stderr while the run goes on; the record goes to stdout at
the end; neither repeats the other.

- stderr is a terminal: the progress is a transient live display of the
  running stages and their timers; the record is the summary table (a failed
  stage's log tail under it) and the counts line.
- otherwise (a CI log): the progress is one line per finished stage that did
  something (cached ones are not news), a failed or blocked stage's message and
  log path under it; the record is only the counts line with the wall time,
  e.g. ``5 cached, 6 ran, 2 blocked in 12.0s``.
- ``--json``: no progress; the command prints the JSON, and nothing else, on stdout.

Both consoles write to the streams that were ``sys.stdout``/``sys.stderr`` before
any `call` stage ran (:func:`~lockgate.executor.worker.unrouted`): a Python stage
routes those into its log per thread, and the display's writes are no stage's.
The live display does not redirect the streams either, and log records emitted
while it is up print above it, through its console.

rich is imported only when something styled is shown (a live display, a stage's
progress line, the table): a run with nothing to do in a CI log prints only the
plain counts line, and starts as fast as `status`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from functools import cached_property
from typing import TYPE_CHECKING

from lockgate.executor.base import Outcome, RunEvent, StageOutcome
from lockgate.executor.worker import unrouted

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

STYLE = {
    Outcome.RAN: "green", Outcome.CACHED: "dim", Outcome.RESTORED: "cyan",
    Outcome.SKIPPED: "yellow", Outcome.BLOCKED: "magenta", Outcome.FAILED: "bold red",
    Outcome.CANCELLED: "red", Outcome.STALE: "yellow",
}
ORDER = (Outcome.CACHED, Outcome.RESTORED, Outcome.RAN, Outcome.STALE, Outcome.SKIPPED,
         Outcome.BLOCKED, Outcome.FAILED, Outcome.CANCELLED)  # of the counts line
REFRESH_PER_SECOND = 8  # live timers tick in tenths of a second


def counts(outcomes: list[StageOutcome]) -> str:
    """``5 cached, 6 ran, 2 blocked``."""
    n = {kind: 0 for kind in ORDER}
    for o in outcomes:
        n[o.outcome] += 1
    return ", ".join(f"{count} {kind.value}" for kind, count in n.items() if count)


class RunDisplay:
    """Progress on stderr (live on a terminal, one line per stage otherwise), then the record on stdout."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.started = time.monotonic()
        self.stderr = unrouted(sys.stderr)
        self.stdout = unrouted(sys.stdout)
        # a real terminal, not only one rich would colour for (FORCE_COLOR in CI), nor a
        # dumb one or one the user marked TTY_INTERACTIVE=0
        self.live_mode = not quiet and _isatty(self.stderr) and self.console.is_interactive
        self.running: dict[str, float] = {}  # read by the live display's refresh thread
        self.done: list[StageOutcome] = []
        self.live: Live | None = None
        self._lock = threading.Lock()
        self._log_streams: list[tuple[logging.StreamHandler, object]] = []

    @cached_property
    def console(self) -> Console:
        """Progress, on stderr; long messages stay one line in a log (grep)."""
        from rich.console import Console

        return Console(file=self.stderr, soft_wrap=True)

    @cached_property
    def out(self) -> Console:
        """The record, on stdout."""
        from rich.console import Console

        return Console(file=self.stdout)

    def __enter__(self) -> RunDisplay:
        if self.live_mode:
            from rich.live import Live

            self._log_above_live()
            self.live = Live(console=self.console, get_renderable=self._live_view, transient=True,
                             refresh_per_second=REFRESH_PER_SECOND, redirect_stdout=False, redirect_stderr=False)
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        for handler, stream in self._log_streams:
            handler.flush()
            handler.setStream(stream)
        self._log_streams.clear()

    def _log_above_live(self) -> None:
        """Log records that would be written to the terminal under the live display
        print above it instead, through its console (a bare write would be drawn over)."""
        from rich.file_proxy import FileProxy

        terminal = self.console.file
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler and _same_file(handler.stream, terminal):
                self._log_streams.append((handler, handler.setStream(FileProxy(self.console, terminal))))

    def waiting(self, holder: str) -> None:
        self.console.print(f"waiting for another lockgate run to finish ({holder or 'unknown'})...")

    def event(self, event: RunEvent) -> None:
        key = f"{event.pipeline}:{event.stage}"
        if event.state == "start":
            with self._lock:
                self.running[key] = time.monotonic()
        elif event.outcome is not None:
            with self._lock:
                self.running.pop(key, None)
                self.done.append(event.outcome)
            if not self.quiet and not self.live_mode:
                self._print_end(event.outcome)

    def _live_view(self) -> RenderableType:
        """The running stages with their timers, and a tally of the finished ones
        (called by the live display's thread at every refresh)."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        now = time.monotonic()
        with self._lock:
            running = list(self.running.items())
            tally = counts(self.done)
        table = Table.grid(padding=(0, 1))
        for key, started in running:
            table.add_row(Text("  running", style="bold blue"), key.split(":", 1)[1],
                          Text(f"{now - started:.1f}s", style="dim"))
        return Group(table, Text(f"  {tally}", style="dim")) if tally else table

    def _print_end(self, o: StageOutcome) -> None:
        """One progress line for a stage that did something (not cached; not one of the
        stages an interruption cancelled: the "interrupted" message says it)."""
        if o.outcome == Outcome.CACHED or (o.outcome == Outcome.CANCELLED and o.message == "interrupted"):
            return
        from rich.text import Text

        line = Text(f"{o.outcome.value:>9} ", style=STYLE[o.outcome])
        line.append(o.stage)
        if o.duration >= 0.05:
            line.append(f"  {o.duration:.1f}s", style="dim")
        details = o.outcome in (Outcome.FAILED, Outcome.BLOCKED, Outcome.SKIPPED)  # the message under it
        why = ", ".join(o.reasons)
        if o.message and not details:  # "promoted version 3", "not started: another stage failed"
            why += ("; " if why else "") + o.message.splitlines()[0]
        if why:
            line.append(f"  ({why})", style="dim")
        self.console.print(line, highlight=False)
        if details and o.message:
            for text in o.message.splitlines():
                self.console.print(Text(f"          {text}", style="dim"), highlight=False)
            if o.log_path:
                self.console.print(Text(f"          log: {o.log_path}", style="dim"), highlight=False)

    def summary(self, outcomes: list[StageOutcome], *, dry_run: bool = False) -> None:
        """The record, on stdout: the table (when the progress was a transient live
        display) and the counts line with the wall time."""
        if not outcomes:
            self._line("nothing to run")
            return
        if self.live_mode:
            self._table(outcomes, dry_run)
        seconds = time.monotonic() - self.started
        self._line(f"{counts(outcomes)} in {seconds:.1f}s")

    def _line(self, text: str) -> None:
        """One unstyled line of the record: through rich after a live display (its
        console), else written as is (one line in a log, and no rich to import)."""
        if self.live_mode:
            self.out.print(text, highlight=False)
        else:
            self.stdout.write(text + "\n")
            self.stdout.flush()

    def _table(self, outcomes: list[StageOutcome], dry_run: bool) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(title="would run" if dry_run else None, show_edge=False, pad_edge=False)
        several = len({o.pipeline for o in outcomes}) > 1
        if several:
            table.add_column("pipeline", no_wrap=True)
        table.add_column("stage", no_wrap=True)  # only `why` wraps: one row stays readable
        table.add_column("outcome", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("why", overflow="fold")
        shown = outcomes if len(outcomes) <= 20 else [o for o in outcomes if o.outcome != Outcome.CACHED]
        for o in shown:
            why = ", ".join(o.reasons)
            if o.message:
                why += ("; " if why else "") + o.message.splitlines()[0]
            row = [o.stage, Text(o.outcome.value, style=STYLE[o.outcome]),
                   f"{o.duration:.2f}s" if o.duration else "", why]
            style = "dim" if o.outcome == Outcome.CACHED else None
            table.add_row(*([o.pipeline] if several else []), *row, style=style)
        if shown:
            self.out.print(table)
        for o in outcomes:  # what the live display showed of a failure, which was nothing
            rest = o.message.splitlines()[1:]
            if o.outcome == Outcome.FAILED and (rest or o.log_path):
                self.out.print(Text(f"{o.stage}: " + (f"log {o.log_path}" if o.log_path else ""), style="bold"),
                               highlight=False)
                for text in rest:
                    self.out.print(Text(f"  {text}", style="dim"), highlight=False)


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no such method; closed
        return False


def _same_file(stream: object, other: object) -> bool:
    if stream is other:
        return True
    try:
        return stream.fileno() == other.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
