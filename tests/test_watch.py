"""The watcher: debounce on a fake clock (exact, no sleeping), then real watchdog
observers on tmp folders."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from watchdog.events import DirModifiedEvent, FileModifiedEvent, FileSystemEvent

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


# -- debounce, on a fake clock: no sleeping, every time exact ---------------------------------


class FakeTime:
    """Monotonic seconds that pass only when the watcher pauses; what ``at()`` schedules
    runs when the pause reaches its time, as an observer thread's event would wake it.
    Times are sums of binary fractions, so they compare exactly."""

    def __init__(self, now: float = 1000.0) -> None:
        self.start = self.now = now
        self._due: list[tuple[float, int, Callable[[], object]]] = []

    def __call__(self) -> float:
        return self.now

    def at(self, seconds: float, action: Callable[[], object]) -> None:
        """Run ``action`` ``seconds`` after the start."""
        heapq.heappush(self._due, (self.start + seconds, len(self._due), action))

    def pause(self, seconds: float) -> None:
        until = self.now + seconds
        if self._due and self._due[0][0] <= until:
            when, _, action = heapq.heappop(self._due)
            self.now = max(self.now, when)
            action()
        else:
            self.now = until
        assert self.now - self.start < 3600, "the watcher waited an hour of fake time"

    @property
    def elapsed(self) -> float:
        return self.now - self.start


def change(watcher: Watcher, path: Path, event: type[FileSystemEvent] = FileModifiedEvent) -> None:
    """What an observer thread does for a saved file, called directly: the watcher's own
    filtering and stamping, with no filesystem and no thread."""
    watcher._handler.on_any_event(event(str(path)))


def fake_watcher(tree: Path, t: FakeTime, **options) -> Watcher:
    """A watcher on params.yaml and data/ that is never started: only ``change()`` feeds it."""
    options.setdefault("debounce", 0.25)
    return Watcher([tree / "params.yaml", tree / "data"], lambda c: None, clock=t, pause=t.pause, **options)


def test_a_burst_of_saves_is_one_callback_once_quiet(tree: Path):
    t, calls, stop = FakeTime(), [], threading.Event()
    watcher = Watcher([tree / "params.yaml", tree / "data"],
                      lambda c: calls.append((t.elapsed, c, threading.current_thread())),
                      debounce=0.25, clock=t, pause=t.pause)
    for i in range(10):  # 10 saves, 0.125 s apart: each well inside the debounce
        t.at(i * 0.125, lambda i=i: (change(watcher, tree / "params.yaml"),
                                     change(watcher, tree / "data" / f"part-{i % 3}.csv")))
    t.at(60.0, stop.set)
    watcher.serve(stop)  # never started: serve() starts the observer, so stop it after
    watcher.stop()
    parts = {tree / "data" / f"part-{i}.csv" for i in range(3)}
    # once, at the last save + debounce, in the thread that called serve()
    assert calls == [(9 * 0.125 + 0.25, {tree / "params.yaml", *parts}, threading.current_thread())]


def test_each_change_restarts_the_quiet_period(tree: Path):
    t = FakeTime()
    watcher = fake_watcher(tree, t)
    change(watcher, tree / "params.yaml")
    t.at(0.125, lambda: change(watcher, tree / "data" / "a.csv"))
    assert watcher.wait(timeout=0.3125) is None  # quiet since 0.125, due at 0.375: not yet
    assert t.elapsed == 0.3125
    assert watcher.wait(timeout=5) == {tree / "params.yaml", tree / "data" / "a.csv"}  # kept across the timeout
    assert t.elapsed == 0.375


def test_a_burst_that_never_goes_quiet_fires_max_delay_after_its_first_change(tree: Path):
    t = FakeTime()
    watcher = fake_watcher(tree, t, max_delay=0.9375)
    part = [tree / "data" / f"part-{i}.csv" for i in range(24)]
    for i in range(24):  # a save every 0.125 s for 3 s: never quiet for the 0.25 s debounce
        t.at(i * 0.125, lambda i=i: change(watcher, part[i]))
    assert watcher.wait() == set(part[:8])  # saves at 0 .. 0.875
    assert t.elapsed == 0.9375
    assert watcher.wait() == set(part[8:16])  # the next burst starts at its own first save (1.0)
    assert t.elapsed == 1.0 + 0.9375


def test_the_default_max_delay_is_ten_debounces_and_at_least_two_seconds():
    assert Watcher([], lambda c: None, debounce=0.25).max_delay == 2.5
    assert Watcher([], lambda c: None, debounce=0.05).max_delay == 2.0
    assert Watcher([], lambda c: None, debounce=0.05, max_delay=0.5).max_delay == 0.5


def test_ignored_changes_neither_start_nor_extend_a_burst(tree: Path):
    t = FakeTime()
    outs = tree / "data" / "processed"
    watcher = fake_watcher(tree, t, ignore=lambda p: p == outs or outs in p.parents)
    change(watcher, tree / "other.txt")  # not asked for
    t.at(0.125, lambda: change(watcher, tree / "data" / "a.csv"))
    t.at(0.25, lambda: change(watcher, tree / "data" / ".a.csv.swp"))  # an editor's swap file
    t.at(0.3125, lambda: change(watcher, outs / "part-0.parquet"))  # the caller's ignore
    t.at(0.34375, lambda: change(watcher, tree / "data", DirModifiedEvent))  # a folder's bare "modified"
    assert watcher.wait() == {tree / "data" / "a.csv"}
    assert t.elapsed == 0.125 + 0.25


def test_wait_ends_at_its_timeout_or_at_stop(tree: Path):
    t = FakeTime()
    watcher = fake_watcher(tree, t)
    assert watcher.wait(timeout=1.5) is None
    assert t.elapsed == 1.5
    t.at(4.0, watcher.stop)
    assert watcher.wait() is None
    assert t.elapsed == 4.0
    change(watcher, tree / "params.yaml")
    assert watcher.wait() is None  # stopped: pending changes are never reported


# -- the real thing: watchdog observers on tmp folders ------------------------------------------


def test_real_saves_in_quick_succession_arrive_as_one_burst(tree: Path):
    with Watcher([tree / "params.yaml", tree / "data"], lambda c: None, debounce=0.2) as watcher:
        for i in range(10):
            (tree / "params.yaml").write_text(f"x: {i}\n")
            (tree / "data" / f"part-{i % 3}.csv").write_text(f"{i}\n")
        assert settle(watcher) == {tree / "params.yaml", *(tree / "data" / f"part-{i}.csv" for i in range(3))}


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
