"""lockgate.diff (pure) and its renderers: metric/param diffs, the lock-is-stale check."""

from __future__ import annotations

import json
import math

from lockgate.diff import (
    Change, Status, flatten, lock_drift, metrics_diff, params_diff,
)
from lockgate.executor.base import Outcome, StageOutcome
from lockgate.lock import LockFile, StageLock
from lockgate.reports import diff as render
from lockgate.reports.summary import CiReport
from lockgate.reports.summary import render as render_summary


def lock(name: str = "demo", **stages: dict) -> LockFile:
    return LockFile(name, {s: StageLock(fingerprint=f"fp-{s}", kind="call", definition="d", **kw)
                           for s, kw in stages.items()})


def test_flatten_nests_to_dotted_keys() -> None:
    assert flatten({"scores": {"auc": 0.9, "by": {"a": 1}}, "n": 2, "empty": {}}) == {
        "scores.auc": 0.9, "scores.by.a": 1, "n": 2, "empty": {},
    }


def test_metrics_diff_old_new_change_and_added_removed() -> None:
    old = {"demo": lock(train={"metrics": {"scores": {"auc": 0.8, "f1": 0.5, "gone": 1}}})}
    new = {"demo": lock(train={"metrics": {"scores": {"auc": 0.9, "f1": 0.5, "fresh": 2}}})}
    changes = metrics_diff(old, new)
    by_key = {c.key: c for c in changes}
    assert list(by_key) == ["scores.auc", "scores.fresh", "scores.gone"]  # f1 unchanged: left out
    auc = by_key["scores.auc"]
    assert (auc.old, auc.new, auc.status) == (0.8, 0.9, Status.CHANGED)
    assert math.isclose(auc.delta, 0.1) and math.isclose(auc.relative, 0.125)
    assert by_key["scores.fresh"].status is Status.ADDED
    assert by_key["scores.gone"].status is Status.REMOVED
    assert {c.key for c in metrics_diff(old, new, include_unchanged=True)} >= {"scores.f1"}


def test_whole_pipelines_and_stages_on_one_side() -> None:
    old = {"a": lock("a", s={"metrics": {"m": {"x": 1}}})}
    new = {"b": lock("b", s={"metrics": {"m": {"x": 1}}})}
    assert [(c.pipeline, c.status) for c in metrics_diff(old, new)] == [
        ("a", Status.REMOVED), ("b", Status.ADDED)]


def test_relative_change_needs_numbers_and_a_nonzero_old() -> None:
    assert Change("p", "s", "k", 0, 1).relative is None
    assert Change("p", "s", "k", True, False).delta is None
    assert Change("p", "s", "k", "a", "b").to_dict() == {"status": "changed", "old": "a", "new": "b"}
    assert Change("p", "s", "k", -2.0, -1.0).relative == 0.5
    assert Change("p", "s", "k", float("nan"), 1.0).to_dict()["old"] == "nan"


def test_equal_ints_and_floats_and_nans_are_unchanged() -> None:
    old = {"p": lock("p", s={"metrics": {"m": {"a": 3, "b": float("nan")}}})}
    new = {"p": lock("p", s={"metrics": {"m": {"a": 3.0, "b": float("nan")}}})}
    assert metrics_diff(old, new) == []


def test_params_diff_flattens_mapping_params() -> None:
    old = {"p": lock("p", train={"params": {"model": {"depth": 8, "n": 100}, "seed": 7}})}
    new = {"p": lock("p", train={"params": {"model": {"depth": 12, "n": 100}, "seed": 7}})}
    [change] = params_diff(old, new)
    assert (change.stage, change.key, change.old, change.new) == ("train", "model.depth", 8, 12)


def test_json_and_text_and_markdown_rendering() -> None:
    changes = [Change("demo", "train", "scores.auc", 0.8, 0.9),
               Change("demo", "train", "scores.new", None, 1, Status.ADDED)]
    data = render.to_json(changes, "HEAD", "workspace", "metrics")
    json.dumps(data)
    entry = data["metrics"]["demo"]["train"]["scores.auc"]
    assert (entry["old"], entry["new"], entry["status"]) == (0.8, 0.9, "changed")
    assert math.isclose(entry["change"], 0.1) and math.isclose(entry["relative"], 0.125)
    assert data["metrics"]["demo"]["train"]["scores.new"] == {"status": "added", "new": 1}
    text = render.to_text(changes, "HEAD", "workspace")
    assert "scores.auc" in text and "+0.1" in text and "+12.5%" in text and "added" in text
    md = render.to_markdown(changes, "HEAD", "workspace")
    assert md.splitlines()[0].startswith("| stage | metric |") and "`scores.auc`" in md
    assert render.to_text([], "A", "B") == "no metric changed between A and B"


def test_lock_drift_ignores_duration_and_names_changed_fields() -> None:
    committed = lock(a={"duration": 1.0}, b={}, gone={})
    current = lock(a={"duration": 9.0}, b={"metrics": {"m": {"x": 1}}}, new={})
    drift = lock_drift(committed, current, "demo")
    assert [(d.stage, d.status, d.fields) for d in drift] == [
        ("b", Status.CHANGED, ("metrics",)), ("gone", Status.REMOVED, ()), ("new", Status.ADDED, ())]
    assert drift[0].render() == "stage 'b' changed (metrics)"
    assert lock_drift(None, lock(a={}), "demo")[0].status is Status.ADDED


def test_summary_holds_outcomes_gates_drift_and_metrics() -> None:
    gates = [{"expr": "scores.x > 0.5", "holds": False, "values": {"scores.x": 0.3}}]
    outcomes = [StageOutcome("score", Outcome.RAN, pipeline="demo"),
                StageOutcome("report", Outcome.BLOCKED, pipeline="demo", decisions=gates,
                             message="scores.x = 0.3, needs > 0.5"),
                StageOutcome("old", Outcome.CACHED, pipeline="demo")]
    locks = {"demo": lock(old={"gates": [{"expr": "1 < 2", "holds": True, "values": {}}]})}
    text = render_summary(CiReport(outcomes, locks, 3, "origin/main",
                                   [Change("demo", "score", "scores.x", 0.7, 0.3)],
                                   drift=[]))
    assert text.startswith("## lockgate run: ⛔ a gate blocked a stage")
    assert "**blocked** (1): `report`" in text and "scores.x = 0.3, needs > 0.5" in text
    assert "| `report` | `scores.x > 0.5` | ⛔ fails | `scores.x` = 0.3 |" in text
    assert "| `old` | `1 < 2` | ✅ holds (recorded) |" in text
    assert "match the committed ones" in text
    assert "### Metrics vs `origin/main`" in text and "| `score` | `scores.x` | 0.7 | 0.3 |" in text
