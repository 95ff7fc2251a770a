"""The hash-chained audit log: appending, verifying, and catching every kind of tampering."""

from __future__ import annotations

import json
import math
import multiprocessing
from pathlib import Path

import pytest

from lockgate.audit import GENESIS, AuditLog, record_hash
from lockgate.errors import AuditError
from lockgate.hashing import canonical_json
from tests.conftest import git


def fill(path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(path)
    for i in range(n):
        log.append("promote", model="churn", alias="production", version=i + 1, manual=i == 0)
    return log


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def rewrite(path: Path, new_lines: list[str]) -> None:
    path.write_text("".join(new_lines), encoding="utf-8")


def test_append_builds_a_chain(tmp_path: Path):
    path = tmp_path / ".lockgate" / "audit.jsonl"
    log = AuditLog(path)
    assert log.records() == [] and log.verify().ok and log.verify().count == 0
    first = log.append("gate", stage="promote", holds=True, terms=[{"value": 0.8}])
    second = log.append("rollback", model="churn", alias="production", version=1, previous=2)
    assert first["seq"] == 1 and first["prev"] == GENESIS and first["event"] == "gate"
    assert second["seq"] == 2 and second["prev"] == first["hash"]
    assert first["hash"] == record_hash(first)
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert first["commit"] == ""  # tmp_path is not a git repository
    assert first["who"]
    assert log.records() == [first, second]
    # one canonical JSON object per line
    assert path.read_bytes() == canonical_json(first) + b"\n" + canonical_json(second) + b"\n"
    result = log.verify()
    assert (result.ok, result.count, result.first_bad, result.reason) == (True, 2, None, "")
    assert result.head == second["hash"]


def test_who_and_commit_come_from_git(repo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
    (repo / "f").write_text("x")
    git(repo, "add", "f")
    git(repo, "commit", "-q", "-m", "one")
    head = git(repo, "rev-parse", "HEAD").strip()
    record = AuditLog(repo / ".lockgate" / "audit.jsonl").append("alias", alias="x")
    assert record["who"] == "Ada Lovelace <ada@example.com>"
    assert record["commit"] == head


def test_unborn_head_and_no_git_identity(repo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(repo.parent))  # no global git identity
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("USER", "someone")
    record = AuditLog(repo / ".lockgate" / "audit.jsonl").append("alias", alias="x")
    assert record["commit"] == ""
    assert record["who"] == "someone"


def test_git_is_asked_once_per_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import lockgate.gitrev as gitrev

    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(gitrev, "git", lambda cwd, *args, **options: calls.append(args) or "")
    log = AuditLog(tmp_path / "audit.jsonl")
    for _ in range(3):
        log.append("alias", alias="x")
    assert len(calls) == 2


def test_fields_are_checked_and_made_plain(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="not one of"):
        log.append("deploy")
    with pytest.raises(ValueError, match="may not be named hash, seq"):
        log.append("gate", seq=4, hash="x")
    record = log.append("gate", value=math.nan, limit=math.inf, names=("a", "b"), where=Path("p"))
    assert record["value"] == "nan" and record["limit"] == "inf"
    assert record["names"] == ["a", "b"] and record["where"] == "p"
    assert log.verify().ok


# -- tampering ----------------------------------------------------------------------------------


def test_edited_field_is_caught(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl")
    text = lines(log.path)
    text[2] = text[2].replace('"version":3', '"version":9')
    rewrite(log.path, text)
    result = log.verify()
    assert not result.ok and result.first_bad == 3 and result.count == 5
    assert result.reason == "line 3: hash does not match its content (edited?)"


def test_deleted_record_is_caught(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl")
    text = lines(log.path)
    del text[1]
    rewrite(log.path, text)
    result = log.verify()
    assert (result.ok, result.first_bad) == (False, 2)
    assert result.reason == "line 2: seq 3 follows 1 (removed?)"


def test_deleted_first_record_is_caught(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl")
    rewrite(log.path, lines(log.path)[1:])
    result = log.verify()
    assert result.first_bad == 1 and "seq 2 is the first record" in result.reason


def test_swapped_records_are_caught(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl")
    text = lines(log.path)
    text[1], text[2] = text[2], text[1]
    rewrite(log.path, text)
    result = log.verify()
    assert (result.ok, result.first_bad) == (False, 2)
    assert result.reason == "line 2: seq 3 follows 1 (reordered?)"


def test_forged_record_with_its_own_hash_but_wrong_prev_is_caught(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl")
    records = log.records()
    forged = {**records[2], "version": 42, "seq": 3, "prev": "f" * 64}
    forged["hash"] = record_hash(forged)
    text = lines(log.path)
    text.insert(2, canonical_json(forged).decode() + "\n")
    rewrite(log.path, text)
    result = log.verify()
    assert (result.ok, result.first_bad) == (False, 3)
    assert result.reason == (
        "line 3: prev does not match line 2 (a record was removed, reordered or inserted)"
    )


def test_forged_record_chained_correctly_breaks_the_next_link(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl")
    records = log.records()
    forged = {**records[2], "version": 42, "seq": 3, "prev": records[1]["hash"]}
    forged["hash"] = record_hash(forged)
    text = lines(log.path)
    text.insert(2, canonical_json(forged).decode() + "\n")
    rewrite(log.path, text)
    result = log.verify()
    assert result.first_bad == 4
    assert result.reason == "line 4: seq 3 follows 3 (duplicated or inserted?)"


def test_edited_record_with_recomputed_hash_breaks_the_next_link(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl")
    records = log.records()
    edited = {**records[1], "version": 99}
    edited["hash"] = record_hash(edited)
    text = lines(log.path)
    text[1] = canonical_json(edited).decode() + "\n"
    rewrite(log.path, text)
    result = log.verify()
    assert result.first_bad == 3 and "prev does not match line 2" in result.reason


def test_truncated_last_line_is_caught_and_blocks_appends(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl")
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-20])
    result = log.verify()
    assert (result.ok, result.first_bad, result.count) == (False, 5, 5)
    assert result.reason == "line 5: not a JSON record (cut short: truncated or edited?)"
    with pytest.raises(AuditError, match="last line is incomplete"):
        log.append("alias", alias="x")
    assert log.path.read_bytes() == data[:-20]  # nothing written


def test_missing_final_newline_is_caught(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl", 3)
    log.path.write_bytes(log.path.read_bytes()[:-1])
    result = log.verify()
    assert result.first_bad == 3 and "no newline at its end" in result.reason


def test_garbled_middle_line(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl", 3)
    text = lines(log.path)
    text[1] = "{not json\n"
    rewrite(log.path, text)
    result = log.verify()
    assert result.first_bad == 2 and "garbled" in result.reason
    with pytest.raises(AuditError, match="line 2 is not a JSON record"):
        log.records()


def test_append_after_a_long_record(tmp_path: Path):
    """The last record is found from the end of the file even when it is long."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("gate", blob="x" * 200_000)
    log.append("gate", blob="y" * 70_000)
    third = log.append("gate", n=3)
    assert third["seq"] == 3 and log.verify().ok


# -- concurrency ----------------------------------------------------------------------------------


def _append_many(path: str, worker: int, n: int) -> None:
    log = AuditLog(Path(path))
    for i in range(n):
        log.append("gate", worker=worker, i=i)


def test_concurrent_appends_from_four_processes_keep_the_chain(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    log = AuditLog(path)
    result = log.verify()
    assert result.ok, result.reason
    assert result.count == 100
    records = log.records()
    assert [r["seq"] for r in records] == list(range(1, 101))
    assert sorted((r["worker"], r["i"]) for r in records) == [
        (w, i) for w in range(4) for i in range(25)
    ]
    assert all(json.loads(line) for line in lines(path))


# -- anchors and merges ------------------------------------------------------------------------


def test_a_cut_tail_or_a_missing_log_is_caught_by_the_anchors(tmp_path: Path):
    log = fill(tmp_path / "audit.jsonl")
    anchors = {"pipelines/churn.lock": log.records()[-1]["hash"], "registry/churn.yaml": log.records()[2]["hash"]}
    assert log.verify(anchors).ok
    rewrite(log.path, lines(log.path)[:-1])  # the last record removed: the chain alone is intact
    assert log.verify().ok
    result = log.verify(anchors)
    assert not result.ok
    assert result.reason.startswith("pipelines/churn.lock names record ")
    assert "which the log does not hold: records were removed from its end" in result.reason
    log.path.unlink()
    assert not log.verify(anchors).ok and log.verify().ok


def _branch(path: Path, base: str, events: list[int]) -> str:
    path.write_text(base, encoding="utf-8")
    log = AuditLog(path)
    for version in events:
        log.append("promote", model="churn", version=version)
    return path.read_text(encoding="utf-8")


def _merged(ours: str, theirs: str) -> str:
    from lockgate.audit import join_record, merge_logs, seqs_of

    return merge_logs(ours, theirs, lambda prev, merged: join_record(prev, merged, seqs_of(ours, theirs), "T", ""))


def test_two_branches_merge_without_rewriting_a_record(tmp_path: Path):
    base = fill(tmp_path / "base.jsonl", 2).path.read_text()
    ours = _branch(tmp_path / "ours.jsonl", base, [10, 11])
    theirs = _branch(tmp_path / "theirs.jsonl", base, [20])
    merged = _merged(ours, theirs)
    path = tmp_path / "merged.jsonl"
    path.write_text(merged)
    log = AuditLog(path)
    anchors = {"ours": json.loads(ours.splitlines()[-1])["hash"], "theirs": json.loads(theirs.splitlines()[-1])["hash"]}
    assert log.verify(anchors).ok, log.verify(anchors).reason
    records = log.records()
    assert [r["event"] for r in records] == ["promote"] * 5 + ["merge"]
    assert records[-1]["prev"] == [records[3]["hash"], records[4]["hash"]] and records[-1]["seq"] == 5
    assert log.append("gate", n=1)["seq"] == 6 and log.verify(anchors).ok
    assert _merged(merged, theirs) == merged  # theirs is merged already: nothing new
    assert _merged(base, ours) == ours  # a fast-forward writes no merge record


def test_a_forked_record_that_no_merge_names_is_an_insertion(tmp_path: Path):
    base = fill(tmp_path / "base.jsonl", 2).path.read_text()
    ours = _branch(tmp_path / "ours.jsonl", base, [10])
    theirs = _branch(tmp_path / "theirs.jsonl", base, [20])
    path = tmp_path / "union.jsonl"
    path.write_text(ours + theirs.splitlines(keepends=True)[-1])  # what git's union merge would do
    result = AuditLog(path).verify()
    assert (result.ok, result.first_bad) == (False, 4)
    assert result.reason == "line 4: seq 3 follows 3 (duplicated or inserted?)"


@pytest.mark.parametrize("target", ["existing", "dangling"])
def test_the_log_is_never_written_through_a_link(tmp_path: Path, target: str):
    """A repository can commit registry/audit.jsonl as a link to any file the user owns."""
    victim = tmp_path / "victim.txt"
    if target == "existing":
        victim.write_text("theirs\n")
    path = tmp_path / "registry" / "audit.jsonl"
    path.parent.mkdir()
    path.symlink_to(victim)
    with pytest.raises(AuditError, match="the audit log is a symlink"):
        AuditLog(path).append("promote", model="m", version=1)
    assert (victim.read_text() == "theirs\n") if target == "existing" else not victim.exists()
