"""The lock file: the same content always gives the same bytes, through every way of reading it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockgate.lock import LockFile, StageLock

# -- what a lock holds: YAML-able values as params, metrics, records and gates carry them ------

text = st.text(max_size=30)
digest = st.text("0123456789abcdef", min_size=1, max_size=64)
number = st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True))
scalar = st.one_of(st.none(), st.booleans(), number, text)
# params come from the user's YAML: any plain value, number keys included (``class_weight:
# {0: 1, 1: 5}``), one kind of key per mapping (keys are sorted)
text_keyed = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)), max_leaves=8)
any_keyed = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3),
    st.dictionaries(st.integers(-1000, 1000), inner, max_size=3)), max_leaves=8)
metrics = st.recursive(number, lambda inner: st.dictionaries(text, inner, min_size=1, max_size=3), max_leaves=6)
record = st.dictionaries(text, st.one_of(scalar, st.lists(scalar, max_size=3)), max_size=4)
stage_name = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_-]{0,20}(@[a-z_]+=[^\x00-\x1f@]{1,10})?\Z")  # matrix: NAME@KEY=VALUE


def lock_files(params: st.SearchStrategy[object]) -> st.SearchStrategy[LockFile]:
    """Lock files whose stages' params are drawn from ``params``."""
    stage_lock = st.builds(
        StageLock,
        fingerprint=digest,
        kind=st.sampled_from(["cmd", "call", "uses"]),
        definition=digest,
        code=st.one_of(text, st.dictionaries(text, digest, max_size=3)),
        params=st.dictionaries(text, params, max_size=4),
        inputs=st.dictionaries(text, digest, max_size=3),
        deps=st.dictionaries(text, digest, max_size=3),
        outputs=st.dictionaries(text, record, max_size=3),
        metrics=st.dictionaries(text, metrics, max_size=3),
        gates=st.lists(st.fixed_dictionaries({"expr": text, "holds": st.booleans(), "values": st.dictionaries(
            text, number, max_size=2)}), max_size=2),
        duration=st.floats(0, 1e6),
    )
    return st.builds(
        LockFile,
        pipeline=st.from_regex(r"\A[a-z][a-z0-9_-]{0,15}\Z"),
        stages=st.dictionaries(stage_name, stage_lock, max_size=4),
        inputs=st.dictionaries(text, record, max_size=2),
        audit=st.one_of(st.just(""), digest),
    )


def fresh(lock: LockFile) -> str:
    """``lock``'s text dumped from its values alone (no stage block kept from a read)."""
    return LockFile(pipeline=lock.pipeline, stages=lock.stages, inputs=lock.inputs, audit=lock.audit).to_text()


ROUND_TRIPS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ROUND_TRIPS
@given(lock_files(any_keyed))
def test_write_read_write_gives_the_same_bytes(lock: LockFile):
    with tempfile.TemporaryDirectory() as tmp:
        first, second = Path(tmp, "first.lock"), Path(tmp, "second.lock")
        assert lock.write(first)
        written = first.read_bytes()
        again = LockFile.read(first)
        assert fresh(again).encode() == written  # the values survive the text, not just its blocks
        again.write(second)
        assert second.read_bytes() == written
        assert not again.write(first)  # unchanged: nothing written


@ROUND_TRIPS
@given(lock_files(text_keyed))
def test_a_lock_read_through_the_parsed_lock_cache_writes_the_same_bytes(lock: LockFile):
    with tempfile.TemporaryDirectory() as tmp:
        path, cache = Path(tmp, "p.lock"), Path(tmp, "cache")
        lock.write(path)
        written = path.read_bytes()
        for _ in range(2):  # the first read parses and fills the cache, the second is served from it
            cached = LockFile.read(path, cache_dir=cache)
            assert cached.to_text().encode() == written
            assert fresh(cached).encode() == written


@ROUND_TRIPS
@given(lock_files(text_keyed))
def test_a_lock_from_the_cache_changed_in_place_writes_its_values(lock: LockFile):
    """A lock served by the parsed-lock cache splits its text into stage blocks only when it
    is written again, with the keys kept when that text was written: an entry changed in
    place since must be dumped anew, the others keep their blocks."""
    with tempfile.TemporaryDirectory() as tmp:
        path, cache = Path(tmp, "p.lock"), Path(tmp, "cache")
        lock.write(path, cache_dir=cache)
        cached = LockFile.read(path, cache_dir=cache)
        for entry in list(cached.stages.values())[:1]:
            entry.fingerprint += "0"
            entry.params["zz"] = "changed in place"
        cached.write(path, cache_dir=cache)
        assert path.read_text() == fresh(cached)
        assert fresh(LockFile.read(path, cache_dir=cache)) == path.read_text()


def test_number_keys_survive_the_parsed_lock_cache(tmp_path: Path):
    params = {"class_weight": {0: 1, 1: 5}}
    path, cache = tmp_path / "p.lock", tmp_path / "cache"
    LockFile("p", {"train": StageLock("f", "call", "d", params=params)}).write(path, cache_dir=cache)
    assert LockFile.read(path, cache_dir=cache).stages["train"].params == params


def test_the_same_stages_in_any_order_give_the_same_bytes(tmp_path: Path):
    a, b = StageLock("f1", "cmd", "d1", params={"z": 1, "a": [2, 1]}), StageLock("f2", "uses", "d2", duration=1.23456)
    one, two = LockFile("p", {"a": a, "b": b}), LockFile("p", {"b": b, "a": a})
    assert one.to_text() == two.to_text()
    assert one.to_text().index("  a:\n") < one.to_text().index("  b:\n")
    assert "duration: 1.235\n" in one.to_text()  # rounded to the millisecond: a rerun's noise stays out of diffs


def test_one_changed_stage_changes_only_its_block(tmp_path: Path):
    path = tmp_path / "p.lock"
    lock = LockFile("p", {name: StageLock(f"f-{name}", "cmd", "d") for name in ("a", "b", "c")})
    lock.write(path)
    before = path.read_text().splitlines()
    read = LockFile.read(path)
    read.stages["b"] = StageLock("f-b2", "cmd", "d")
    assert read.write(path)
    after = path.read_text().splitlines()
    assert [line for line in after if line not in before] == ["    fingerprint: f-b2"]
    assert [line for line in before if line not in after] == ["    fingerprint: f-b"]
