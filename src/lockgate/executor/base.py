"""What every executor shares: outcomes, events, and the small Executor protocol.

An executor only runs jobs (``submit`` returns a future); deciding what to run,
restoring from the run-cache and writing the lock file is the runner's job,
so the local and Dask executors give the same results by construction.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from concurrent.futures import Future


class Outcome(enum.Enum):
    """What happened to a stage in one run."""

    RAN = "ran"
    """Its fingerprint was new: it ran and its outputs were cached."""
    CACHED = "cached"
    """The lock already matched and every output was in place: nothing to do."""
    RESTORED = "restored"
    """Known fingerprint: outputs were restored from the cache, nothing ran."""
    SKIPPED = "skipped"
    """Its ``when:`` was false, or a stage it needs was skipped, blocked or failed."""
    BLOCKED = "blocked"
    """A gate did not hold: not run, its dependents skipped (exit 3)."""
    FAILED = "failed"
    """It ran and failed (exit 1)."""
    CANCELLED = "cancelled"
    """The run was interrupted (Ctrl-C, SIGTERM) before it finished."""
    STALE = "stale"
    """``--dry-run`` only: it would run."""

    @property
    def ok(self) -> bool:
        return self in (Outcome.RAN, Outcome.CACHED, Outcome.RESTORED)


@dataclass
class StageOutcome:
    stage: str
    outcome: Outcome
    duration: float = 0.0
    reasons: list[str] = field(default_factory=list)
    message: str = ""
    log_path: str = ""
    decisions: list[dict[str, Any]] = field(default_factory=list)
    pipeline: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pipeline": self.pipeline,
            "stage": self.stage,
            "outcome": self.outcome.value,
            "duration": round(self.duration, 3),
        }
        if self.reasons:
            data["reasons"] = self.reasons
        if self.message:
            data["message"] = self.message
        if self.log_path:
            data["log"] = self.log_path
        if self.decisions:
            data["decisions"] = self.decisions
        return data


@dataclass(frozen=True)
class RunEvent:
    """A change the terminal shows live: a stage started, or ended with an outcome."""

    pipeline: str
    stage: str
    state: str  # "start" | "end" | "waiting"
    outcome: StageOutcome | None = None
    message: str = ""


OnEvent = Callable[[RunEvent], None]


class Executor(Protocol):
    """Runs a job function somewhere; results come back through futures."""

    name: str
    workers: int

    def submit(self, fn: Callable[..., Any], job: Any, *, resources: dict[str, Any] | None = None) -> Future[Any]:
        ...

    def batch(self) -> AbstractContextManager[None]:
        """Jobs submitted inside the block became ready together: the executor may place
        them together (the local one sends Python stages to worker processes only when
        more than one is ready)."""
        ...

    def cancel_running(self) -> None:
        """Stop what is running now (Ctrl-C); jobs not yet started are dropped."""

    def close(self, wait: bool = True) -> None:
        """Release workers. ``wait=False`` (after Ctrl-C) returns without waiting for
        jobs that cannot be stopped (a ``call`` stage running in a thread)."""
