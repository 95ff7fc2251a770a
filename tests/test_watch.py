"""The watcher: real watchdog observers on tmp folders, debounced into one callback per burst."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from lockgate.watch import Watcher, ignored_name, plan_watches


def settle(watcher: Watcher, timeout: float = 5.0) -> set[Path]:
    """The next burst's paths (fails on timeout)."""
    changed = watcher.wait(timeout=timeout)
    assert changed is not None, "no change reported"
    return changed


def quiet(watcher: Watcher, seconds: float = 0.4) -> bool:
    return watcher.wait(timeout=seconds) is None


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("1\n")
    (tmp_path / "params.yaml").write_text("x: 1\n")
    (tmp_path / "other.txt").write_text("not watched\n")
    return tmp_path


def test_a_burst_of_saves_is_one_callback(tree: Path):
    calls: list[set[Path]] = []
    stop = threading.Event()
    watcher = Watcher([tree / "params.yaml", tree / "data"], calls.append, debounce=0.2)
    server = threading.Thread(target=watcher.serve, args=(stop,), daemon=True)
    with watcher:
        server.start()
        for i in range(10):  # 10 saves, 20 ms apart: well inside the debounce
            (tree / "params.yaml").write_text(f"x: {i}\n")
            (tree / "data" / f"part-{i % 3}.csv").write_text(f"{i}\n")
            time.sleep(0.02)
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # long enough for a second, wrong callback to show up
        stop.set()
        server.join(timeout=2)
    assert len(calls) == 1
    assert calls[0] == {tree / "params.yaml", *(tree / "data" / f"part-{i}.csv" for i in range(3))}


def test_the_callback_waits_for_quiet(tree: Path):
    with Watcher([tree / "params.yaml"], lambda c: None, debounce=0.3) as watcher:
        time.sleep(0.05)
        (tree / "params.yaml").write_text("x: 2\n")
        start = time.monotonic()
        assert settle(watcher) == {tree / "params.yaml"}
        assert time.monotonic() - start >= 0.25


def test_a_burst_that_never_goes_quiet_still_fires(tree: Path):
    with Watcher([tree / "params.yaml"], lambda c: None, debounce=0.2, max_delay=0.5) as watcher:
        stop = time.monotonic() + 2.0
        fired = None
        while time.monotonic() < stop and fired is None:
            (tree / "params.yaml").write_text(str(time.monotonic()))
            fired = watcher.wait(timeout=0.05)
        assert fired == {tree / "params.yaml"}


def test_unwatched_ignored_and_caller_ignored_paths_are_not_changes(tree: Path):
    outs = tree / "data" / "processed"
    with Watcher([tree / "data", tree / "params.yaml"], lambda c: None, debounce=0.1,
                 ignore=lambda p: p == outs or outs in p.parents) as watcher:
        (tree / "other.txt").write_text("changed, but nobody asked\n")
        for rel in (".git/index", ".lockgate/cache/x", "__pycache__/m.pyc", ".a.csv.swp", "a.csv~",
                    ".#a.csv", "4913", ".out.csv.x1y2.tmp"):
            path = tree / "data" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("noise\n")
        outs.mkdir()
        (outs / "part-0.parquet").write_text("written by a run\n")
        assert quiet(watcher)
        (tree / "data" / "a.csv").write_text("2\n")
        assert settle(watcher) == {tree / "data" / "a.csv"}


def test_reading_a_file_is_not_a_change(tree: Path):
    with Watcher([tree / "data"], lambda c: None, debounce=0.1) as watcher:
        for _ in range(3):
            (tree / "data" / "a.csv").read_text()
        assert quiet(watcher)


def test_an_editor_save_by_rename_counts(tree: Path):
    with Watcher([tree / "params.yaml"], lambda c: None, debounce=0.1) as watcher:
        tmp = tree / ".params.yaml.tmp"
        tmp.write_text("x: 3\n")
        tmp.replace(tree / "params.yaml")
        assert settle(watcher) == {tree / "params.yaml"}


def test_a_path_that_does_not_exist_yet_is_seen_when_created(tree: Path):
    wanted = tree / "raw" / "2024" / "rows.csv"
    with Watcher([wanted], lambda c: None, debounce=0.1) as watcher:
        assert watcher.folders == {tree: False}
        wanted.parent.mkdir(parents=True)
        wanted.write_text("1\n")  # possibly before the new watch is in place
        assert wanted in settle(watcher)
        assert watcher.folders == {wanted.parent: False}
        wanted.write_text("2\n")
        assert settle(watcher) == {wanted}


def test_a_watched_folder_deleted_and_recreated_is_watched_again(tree: Path):
    import shutil

    with Watcher([tree / "data"], lambda c: None, debounce=0.1) as watcher:
        shutil.rmtree(tree / "data")
        assert tree / "data" in settle(watcher)
        (tree / "data").mkdir()
        assert tree / "data" in settle(watcher)
        (tree / "data" / "b.csv").write_text("1\n")
        assert settle(watcher) == {tree / "data" / "b.csv"}


def test_set_paths_changes_what_is_watched(tree: Path):
    with Watcher([tree / "params.yaml"], lambda c: None, debounce=0.1) as watcher:
        watcher.set_paths([tree / "other.txt"])
        (tree / "params.yaml").write_text("x: 9\n")
        (tree / "other.txt").write_text("now watched\n")
        assert settle(watcher) == {tree / "other.txt"}


def test_stop_ends_serve_promptly(tree: Path):
    watcher = Watcher([tree / "data"], lambda c: None)
    server = threading.Thread(target=watcher.serve, daemon=True)
    server.start()
    time.sleep(0.1)
    start = time.monotonic()
    watcher.stop()
    server.join(timeout=2)
    assert not server.is_alive()
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("rel, ignored", [
    (".git/HEAD", True), (".lockgate/cache/ab/cd", True), ("src/__pycache__/m.cpython-311.pyc", True),
    ("pipelines/churn.lock", True), ("pipelines/.churn.lock.k2j3.tmp", True), ("src/.steps.py.swp", True),
    ("src/steps.py~", True), ("src/.#steps.py", True), ("src/4913", True), ("src/#steps.py#", True),
    ("pipelines/churn.yaml", False), ("data/rows.lock", False), ("src/steps.py", False), ("data/a.csv", False),
])
def test_ignored_names(rel: str, ignored: bool):
    assert ignored_name(Path("/repo") / rel) is ignored


def test_plan_watches(tmp_path: Path):
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "steps.py").write_text("")
    plan = plan_watches([
        tmp_path / "data",  # a folder: recursive
        tmp_path / "data" / "sub" / "x.csv",  # covered by data/
        tmp_path / "src" / "steps.py",  # a file: its folder, not recursive
        tmp_path / "missing" / "deep" / "y.csv",  # nearest existing ancestor
    ])
    assert plan == {tmp_path / "data": True, tmp_path / "src": False, tmp_path: False}


def test_cycle_line_wording():
    from lockgate.cli.watch_cmd import summarize
    from lockgate.executor.base import Outcome, StageOutcome

    def o(stage, outcome):
        return StageOutcome(stage=stage, outcome=outcome, pipeline="p")

    ok = [o("features", Outcome.RAN), o("train", Outcome.RAN), *(o(f"s{i}", Outcome.CACHED) for i in range(5))]
    assert summarize(ok, 1.42) == "ran features, train; cached 5 (1.4s) ok"
    assert summarize([o("a", Outcome.CACHED)], 0.04) == "nothing ran; cached 1 (0.0s) ok"
    failed = [o("a", Outcome.RAN), o("b", Outcome.FAILED), o("c", Outcome.SKIPPED)]
    assert summarize(failed, 2.0) == "ran a; failed b; skipped 1 (2.0s) failed"
    assert summarize([o("a", Outcome.RAN)], 0.5, several=True) == "ran p:a (0.5s) ok"
