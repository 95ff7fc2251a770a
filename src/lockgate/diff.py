"""Pure: what changed between two sets of lock files (metrics, params, stage entries).

Inputs are ``{pipeline: LockFile}`` maps, however they were read (a git
revision, the workspace, a test); outputs are plain values that
``lockgate.reports.diff`` renders. Nested metric and param dicts flatten to
dotted keys: a stage's ``{scores: {roc_auc: 0.9}}`` is the metric
``scores.roc_auc``. This module reads nothing and runs nothing.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lockgate.lock import LockFile, StageLock


class Status(enum.Enum):
    """How one value differs between the old and the new side."""

    CHANGED = "changed"
    """On both sides, with different values."""
    ADDED = "added"
    """Only on the new side."""
    REMOVED = "removed"
    """Only on the old side."""
    UNCHANGED = "unchanged"
    """Equal on both sides (listed only when asked for everything)."""


_MISSING: Any = object()


@dataclass(frozen=True)
class Change:
    """One metric (or param) of one stage: old and new value, and by how much it moved."""

    pipeline: str
    stage: str
    key: str
    old: Any = None
    new: Any = None
    status: Status = Status.CHANGED

    @property
    def delta(self) -> float | None:
        """``new - old`` when both are numbers (bools are not), else None."""
        if _number(self.old) and _number(self.new):
            return self.new - self.old
        return None

    @property
    def relative(self) -> float | None:
        """``(new - old) / |old|``; None when old is 0 or either side is not a number."""
        delta = self.delta
        if delta is None or self.old == 0 or not math.isfinite(self.old):
            return None
        return delta / abs(self.old)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status.value}
        if self.status is not Status.ADDED:
            data["old"] = _jsonable(self.old)
        if self.status is not Status.REMOVED:
            data["new"] = _jsonable(self.new)
        if self.status in (Status.CHANGED, Status.UNCHANGED) and self.delta is not None:
            data["change"] = _jsonable(self.delta)
            data["relative"] = _jsonable(self.relative)
        return data


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _jsonable(value: Any) -> Any:
    """NaN and infinities are not JSON: they become the strings ``nan``, ``inf``, ``-inf``."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b or (_number(a) and _number(b) and a == b)


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{a: {b: 1}, c: 2}`` -> ``{"a.b": 1, "c": 2}`` (lists stay values)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


Table = dict[str, dict[str, dict[str, Any]]]
"""pipeline -> stage -> dotted key -> value."""


def metric_table(locks: Mapping[str, LockFile]) -> Table:
    return {name: {stage: flatten(entry.metrics_by_artifact(stage)) for stage, entry in lock.stages.items()
                   if entry.metrics}
            for name, lock in locks.items()}


def param_table(locks: Mapping[str, LockFile]) -> Table:
    return {name: {stage: flatten(entry.params) for stage, entry in lock.stages.items() if entry.params}
            for name, lock in locks.items()}


def diff_tables(old: Table, new: Table, *, include_unchanged: bool = False) -> list[Change]:
    """Every value that differs, sorted by pipeline, stage and key (and equal ones when asked)."""
    changes: list[Change] = []
    for pipeline in sorted(set(old) | set(new)):
        old_stages, new_stages = old.get(pipeline, {}), new.get(pipeline, {})
        for stage in sorted(set(old_stages) | set(new_stages)):
            a, b = old_stages.get(stage, {}), new_stages.get(stage, {})
            for key in sorted(set(a) | set(b)):
                before, after = a.get(key, _MISSING), b.get(key, _MISSING)
                if before is _MISSING:
                    changes.append(Change(pipeline, stage, key, None, after, Status.ADDED))
                elif after is _MISSING:
                    changes.append(Change(pipeline, stage, key, before, None, Status.REMOVED))
                elif not _same(before, after):
                    changes.append(Change(pipeline, stage, key, before, after, Status.CHANGED))
                elif include_unchanged:
                    changes.append(Change(pipeline, stage, key, before, after, Status.UNCHANGED))
    return changes


def metrics_diff(old: Mapping[str, LockFile], new: Mapping[str, LockFile], *,
                 include_unchanged: bool = False) -> list[Change]:
    return diff_tables(metric_table(old), metric_table(new), include_unchanged=include_unchanged)


def params_diff(old: Mapping[str, LockFile], new: Mapping[str, LockFile], *,
                include_unchanged: bool = False) -> list[Change]:
    return diff_tables(param_table(old), param_table(new), include_unchanged=include_unchanged)


# -- whole stage entries: the lock-is-stale check (`run --frozen`) ---------------------------

_VOLATILE = ("duration",)
"""Fields that differ between two runs of the same work; they never make a lock stale."""


def stage_record(entry: StageLock) -> dict[str, Any]:
    """A stage entry as compared by ``--frozen`` and the merge driver (duration left out)."""
    data = entry.to_dict()
    for key in _VOLATILE:
        data.pop(key, None)
    return data


@dataclass(frozen=True)
class StageDrift:
    """A stage whose entry in the workspace lock differs from the committed one."""

    pipeline: str
    stage: str
    status: Status
    fields: tuple[str, ...] = ()  # for CHANGED: which parts of the entry differ

    def render(self) -> str:
        if self.status is Status.ADDED:
            return f"stage '{self.stage}' is not in the committed lock"
        if self.status is Status.REMOVED:
            return f"stage '{self.stage}' is in the committed lock but no longer in the workspace's"
        return f"stage '{self.stage}' changed ({', '.join(self.fields)})"


def lock_drift(committed: LockFile | None, current: LockFile | None, pipeline: str) -> list[StageDrift]:
    """How the workspace lock of ``pipeline`` differs from the committed one, stage by stage."""
    old = committed.stages if committed is not None else {}
    new = current.stages if current is not None else {}
    drift: list[StageDrift] = []
    for stage in sorted(set(old) | set(new)):
        if stage not in old:
            drift.append(StageDrift(pipeline, stage, Status.ADDED))
        elif stage not in new:
            drift.append(StageDrift(pipeline, stage, Status.REMOVED))
        else:
            a, b = stage_record(old[stage]), stage_record(new[stage])
            fields = tuple(k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
            if fields:
                drift.append(StageDrift(pipeline, stage, Status.CHANGED, fields))
    return drift
