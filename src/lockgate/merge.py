"""The lock file merge driver: a 3-way merge of two ``pipelines/NAME.lock`` files, stage by stage.

Lock files are generated, so a line-based merge that leaves conflict markers
helps nobody (DVC's answer is to delete the lock and re-run,
iterative/dvc#1015). Here every stage entry is merged as one value against
the common ancestor:

- equal on both sides, or changed on one side only: that side's entry is kept
  (a stage deleted on one side and untouched on the other stays deleted);
- changed differently on both sides: the entry is dropped, so the stage is
  stale and the next ``lockgate run`` rebuilds it (or restores it from the
  run-cache when its fingerprint is known). Entries that differ only in
  ``duration`` agree.

Stages downstream of a dropped one need no special care: their recorded input
digests no longer match whatever the rerun produces, unless it produces the
same bytes, in which case they are rightly up to date.

Pure: text in, text out. ``lockgate merge-driver run`` does the file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from lockgate.diff import stage_record
from lockgate.lock import LockFile, StageLock


@dataclass(frozen=True)
class MergeResult:
    text: str
    stale: list[str] = field(default_factory=list)  # stages dropped: changed on both sides
    unreadable: list[str] = field(default_factory=list)  # "base" / "ours" / "theirs" read as empty


def _record(entry: StageLock | None):
    return None if entry is None else stage_record(entry)


def merge_locks(base: str, ours: str, theirs: str, pipeline: str = "") -> MergeResult:
    """Merge ``ours`` and ``theirs`` given their common ancestor ``base`` (all lock texts;
    an empty string is a lock with no stages, as git passes when there is no ancestor)."""
    sides: dict[str, LockFile] = {}
    unreadable: list[str] = []
    for label, text in (("base", base), ("ours", ours), ("theirs", theirs)):
        try:
            sides[label] = LockFile.from_text(text, pipeline)
        except (ValueError, yaml.YAMLError, AttributeError, TypeError):
            # conflict markers from an earlier merge, or a damaged file: no stages to keep
            unreadable.append(label)
            sides[label] = LockFile(pipeline=pipeline)
    old, a, b = sides["base"].stages, sides["ours"].stages, sides["theirs"].stages

    merged: dict[str, StageLock] = {}
    stale: list[str] = []
    for name in sorted(set(old) | set(a) | set(b)):
        o, x, y = _record(old.get(name)), _record(a.get(name)), _record(b.get(name))
        if x == y:
            chosen = a.get(name)
        elif x == o:
            chosen = b.get(name)
        elif y == o:
            chosen = a.get(name)
        else:
            stale.append(name)
            continue
        if chosen is not None:
            merged[name] = chosen
    inputs = _merge_values(sides["base"].inputs, sides["ours"].inputs, sides["theirs"].inputs)
    # both anchors are in the merged audit log (its driver keeps every record): either holds
    audit = sides["theirs"].audit if sides["ours"].audit == sides["base"].audit else sides["ours"].audit
    name = sides["ours"].pipeline or sides["theirs"].pipeline or pipeline
    lock = LockFile(pipeline=name, stages=merged, inputs=inputs, audit=audit)
    return MergeResult(lock.to_text(), stale, unreadable)


def _merge_values(old: dict, a: dict, b: dict) -> dict:
    """Key by key, the side that changed (ours when both did: a rerun re-hashes the input)."""
    merged = {}
    for key in sorted(set(old) | set(a) | set(b)):
        o, x, y = old.get(key), a.get(key), b.get(key)
        chosen = y if x == o else x
        if chosen is not None:
            merged[key] = chosen
    return merged
