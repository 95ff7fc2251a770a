"""A `call` stage's code record in the fingerprint and the lock, and how `explain` names
what changed in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.fingerprint import Record, code_changes, explain
from lockgate.lock import LockFile, StageLock

D1, D2, D3 = "1" * 64, "2" * 64, "3" * 64
CODE = {"pkg:scikit-learn": "1.5.2", "src/nodes.py": D1, "src/wrapper.py": D2}


def record(code) -> Record:
    return Record(definition="d", params={}, code=code, inputs={}, deps={})


def locked(code) -> StageLock:
    r = record(code)
    return StageLock(fingerprint=r.fingerprint, kind="call", definition="d", code=code)


@pytest.mark.parametrize(("now", "reasons"), [
    (CODE, []),
    ({**CODE, "src/nodes.py": D3}, ["changed code src/nodes.py"]),
    ({**CODE, "src/utils.py": D3}, ["added code src/utils.py"]),
    ({k: v for k, v in CODE.items() if k != "src/nodes.py"}, ["removed code src/nodes.py"]),
    ({**CODE, "pkg:scikit-learn": "1.6.0"}, ["changed package scikit-learn 1.5.2 -> 1.6.0"]),
    ({**CODE, "pkg:PyYAML": "6.0.2"}, ["added package PyYAML 6.0.2"]),
    ({k: v for k, v in CODE.items() if not k.startswith("pkg:")}, ["removed package scikit-learn 1.5.2"]),
    ({**CODE, "pkg:scikit-learn": "1.6.0", "src/wrapper.py": D3, "src/a.py": D1},
     ["added code src/a.py", "changed code src/wrapper.py", "changed package scikit-learn 1.5.2 -> 1.6.0"]),
])
def test_explain_names_each_changed_file_and_package(now, reasons):
    assert explain(record(now), locked(CODE)) == reasons
    assert (record(now).fingerprint == locked(CODE).fingerprint) is (not reasons)


def test_a_lock_from_before_per_file_code_is_stale_with_changed_code():
    assert explain(record(CODE), locked(D1)) == ["changed code"]
    assert code_changes("lockgate.steps.train@1", "lockgate.steps.train@2") == ["changed code"]


def test_the_fingerprint_does_not_depend_on_the_order_of_the_code_record():
    assert record(CODE).fingerprint == record(dict(reversed(CODE.items()))).fingerprint


def test_the_code_record_round_trips_through_yaml_and_the_lock_cache(tmp_path: Path):
    lock = LockFile(pipeline="p", stages={
        "call": locked(CODE),
        "step": StageLock(fingerprint="f", kind="uses", definition="d", code="lockgate.steps.train@1"),
        "shell": StageLock(fingerprint="g", kind="cmd", definition="d"),
    })
    text = lock.to_text()
    assert "code:\n      pkg:scikit-learn: 1.5.2\n      src/nodes.py: " in text  # sorted, one line a file
    again = LockFile.from_text(text)
    assert again.stages["call"].code == CODE
    assert again.stages["step"].code == "lockgate.steps.train@1"
    assert again.stages["shell"].code == "" and "code" not in again.stages["shell"].to_dict()
    assert again.to_text() == text
    path, cache = tmp_path / "p.lock", tmp_path / "lockcache"
    lock.write(path, cache_dir=cache)
    first = LockFile.read(path, cache_dir=cache)  # from the JSON cache
    assert first.stages["call"].code == CODE and first.to_text() == text
    assert explain(record(CODE), first.stages["call"]) == []


def test_a_version_that_looks_like_a_number_stays_text():
    text = LockFile(pipeline="p", stages={"s": locked({"pkg:x": "1.10"})}).to_text()
    assert LockFile.from_text(text).stages["s"].code == {"pkg:x": "1.10"}


def test_an_old_lock_with_one_code_digest_still_loads():
    text = f"""pipeline: p
schema: 1
stages:
  build:
    code: {D1}
    definition: d
    deps: {{}}
    duration: 0.1
    fingerprint: f
    inputs: {{}}
    kind: call
    outputs: {{}}
    params: {{}}
"""
    stage = LockFile.from_text(text).stages["build"]
    assert stage.code == D1
    assert explain(record(CODE), stage) == ["changed code"]


@pytest.mark.parametrize("with_", [
    {"n": 3, "lr": 0.1, "layers": (8, 4), "name": "x"},  # canonical JSON takes it as is
    {"clip": float("inf"), "floor": float("-inf"), "nested": {"x": [float("nan"), 1.0]}},
])
def test_a_definition_digest_is_that_of_its_finite_record(with_):
    """definition_digest skips the finite() walk when canonical JSON takes the definition;
    the digest must be the same as through finite() (stage fingerprints depend on it)."""
    from lockgate.fingerprint import definition_digest, finite
    from lockgate.graph.stage import Stage
    from lockgate.hashing import hash_value

    stage = Stage(name="s", kind="uses", run="train", with_=with_)
    assert definition_digest(stage) == hash_value(finite(stage.definition()))
