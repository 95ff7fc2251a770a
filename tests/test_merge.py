"""lockgate.merge: the 3-way, stage-by-stage lock merge (pure; the real git merge is in e2e)."""

from __future__ import annotations

from lockgate.lock import LockFile, StageLock
from lockgate.merge import merge_locks


def text(**stages: str) -> str:
    """A lock whose stages have the given fingerprints."""
    return LockFile("demo", {s: StageLock(fingerprint=fp, kind="cmd", definition="d")
                             for s, fp in stages.items()}).to_text()


def fingerprints(result_text: str) -> dict[str, str]:
    return {s: e.fingerprint for s, e in LockFile.from_text(result_text).stages.items()}


def test_one_sided_changes_are_kept_and_both_sided_ones_dropped() -> None:
    base = text(a="a0", b="b0", c="c0", d="d0", gone="g0")
    ours = text(a="a1", b="b0", c="c1", d="d2", gone="g0", mine="m1")
    theirs = text(a="a0", b="b1", c="c2", d="d2", theirs_new="t1")
    result = merge_locks(base, ours, theirs, "demo")
    assert fingerprints(result.text) == {"a": "a1", "b": "b1", "d": "d2", "mine": "m1", "theirs_new": "t1"}
    assert result.stale == ["c"]
    assert "<<<<<<<" not in result.text


def test_same_stage_added_differently_on_both_sides_is_stale() -> None:
    result = merge_locks("", text(x="1"), text(x="2"))
    assert result.stale == ["x"] and fingerprints(result.text) == {}


def test_duration_alone_is_no_conflict() -> None:
    base = text(a="a0")
    ours = LockFile("demo", {"a": StageLock("a1", "cmd", "d", duration=1.0)}).to_text()
    theirs = LockFile("demo", {"a": StageLock("a1", "cmd", "d", duration=2.0)}).to_text()
    result = merge_locks(base, ours, theirs)
    assert result.stale == [] and fingerprints(result.text) == {"a": "a1"}


def test_unreadable_side_counts_as_no_stages() -> None:
    result = merge_locks(text(a="a0"), "<<<<<<< ours\n: [\n", text(a="a1"))
    assert result.unreadable == ["ours"]
    assert result.stale == ["a"]  # ours "deleted" it, theirs changed it
    assert LockFile.from_text(result.text).pipeline == "demo"
