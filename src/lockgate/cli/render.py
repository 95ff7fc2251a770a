"""Terminal rendering of a run: live per-stage status, then a summary table (rich)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from lockgate.executor.base import Outcome, RunEvent, StageOutcome

STYLE = {
    Outcome.RAN: "green", Outcome.CACHED: "dim", Outcome.RESTORED: "cyan",
    Outcome.SKIPPED: "yellow", Outcome.BLOCKED: "magenta", Outcome.FAILED: "bold red",
    Outcome.CANCELLED: "red", Outcome.STALE: "yellow",
}


class RunDisplay:
    """Shows stages as they start and end; a live table on a terminal, plain lines otherwise."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.console = Console(stderr=True, soft_wrap=True)  # long messages stay one line (grep)
        self.out = Console()
        self.running: dict[str, float] = {}
        self.done: list[StageOutcome] = []
        self.live: Live | None = None

    def __enter__(self) -> RunDisplay:
        if not self.quiet and self.console.is_terminal:
            self.live = Live(self._table(), console=self.console, refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
            self.live = None

    def waiting(self, holder: str) -> None:
        self.console.print(f"waiting for another lockgate run to finish ({holder or 'unknown'})...")

    def event(self, event: RunEvent) -> None:
        key = f"{event.pipeline}:{event.stage}"
        if event.state == "start":
            self.running[key] = time.monotonic()
        elif event.outcome is not None:
            self.running.pop(key, None)
            self.done.append(event.outcome)
            if not self.quiet:
                self._print_end(event.outcome)
        if self.live is not None:
            self.live.update(self._table())

    def _print_end(self, o: StageOutcome) -> None:
        if o.outcome in (Outcome.CACHED,) and self.live is None:
            return
        line = Text(f"{o.outcome.value:>9} ", style=STYLE[o.outcome])
        line.append(o.stage)
        if o.duration >= 0.05:
            line.append(f"  {o.duration:.1f}s", style="dim")
        why = ", ".join(o.reasons)
        if why and o.outcome in (Outcome.RAN, Outcome.RESTORED, Outcome.STALE):
            line.append(f"  ({why})", style="dim")
        self.console.print(line, highlight=False)
        if o.outcome in (Outcome.FAILED, Outcome.BLOCKED, Outcome.SKIPPED) and o.message:
            for text in o.message.splitlines():
                self.console.print(Text(f"          {text}", style="dim"), highlight=False)
            if o.log_path:
                self.console.print(Text(f"          log: {o.log_path}", style="dim"), highlight=False)

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        for key, started in self.running.items():
            table.add_row(Text("  running", style="bold blue"), key.split(":", 1)[1],
                          Text(f"{now - started:.1f}s", style="dim"))
        return table

    def summary(self, outcomes: list[StageOutcome], *, dry_run: bool = False) -> None:
        if not outcomes:
            self.out.print("nothing to run")
            return
        table = Table(title="would run" if dry_run else None, show_edge=False, pad_edge=False)
        several = len({o.pipeline for o in outcomes}) > 1
        if several:
            table.add_column("pipeline")
        table.add_column("stage")
        table.add_column("outcome")
        table.add_column("time", justify="right")
        table.add_column("why")
        shown = outcomes if len(outcomes) <= 20 else [o for o in outcomes if o.outcome != Outcome.CACHED]
        for o in shown:
            why = ", ".join(o.reasons)
            if o.message:
                why += ("; " if why else "") + o.message.splitlines()[0]
            row = [o.stage, Text(o.outcome.value, style=STYLE[o.outcome]),
                   f"{o.duration:.2f}s" if o.duration else "", why]
            table.add_row(*([o.pipeline] if several else []), *row)
        if shown:
            self.out.print(table)
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.outcome.value] = counts.get(o.outcome.value, 0) + 1
        self.out.print(", ".join(f"{n} {k}" for k, n in counts.items()), highlight=False)
