"""Watch files and folders; call back once per burst of changes (watchdog + debounce).

``Watcher(paths, callback, debounce=0.2)`` watches each path: a file through a
non-recursive watch on its folder (editors save by writing a temporary file
and renaming it over the original, which a watch on the file itself misses),
a folder recursively, and a path that does not exist yet through its nearest
existing ancestor, re-planned when folders on the way appear. Changes are
collected into a set; ``serve()`` calls ``callback(changed)`` in the calling
thread once nothing has changed for ``debounce`` seconds (or ``max_delay``
after the first change of a burst that never goes quiet), so a signal such as
Ctrl-C reaches the callback's work in the main thread. Time is read from an
injectable ``clock`` and passed with an injectable ``pause``, so the debounce
can be driven step by step without sleeping.

Ignored: anything under ``.git/``, ``.lockgate/`` or ``__pycache__/``, lock
files beside specs (``pipelines/*.lock``), and editor or atomic-write
temporaries (``*.swp``, ``*~``, ``.#*``, ``*.tmp``, vim's ``4913``, ...),
unless the path was asked for by name; plus whatever the caller's ``ignore``
predicate rejects (which wins even over a path asked for by name).
Folder "modified" events are dropped: a change inside a folder is also
reported as the file's own event, and the bare folder event would let a
run's own writes next to a watched path trigger another run.

Must not: know about pipelines, stages or runs; print.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

log = logging.getLogger(__name__)

IGNORED_PARTS = frozenset({".git", ".lockgate", "__pycache__", ".ipynb_checkpoints"})
"""Folders whose contents never count as a change."""

IGNORED_NAMES = (
    "*.swp", "*.swo", "*.swx", "*~", ".#*", "#*#", "4913", "*.tmp", "*.pyc",
    ".goutputstream-*", "*___jb_tmp___", "*___jb_old___", "*.crswap", ".DS_Store",
)
"""Editor swap/backup files and atomic-write temporaries (glob patterns on the name)."""

_EVENTS = [FileCreatedEvent, FileModifiedEvent, FileDeletedEvent, FileMovedEvent, FileClosedEvent,
           DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
"""Writes, creations, deletions and renames; never opens or reads (a run reads every
dependency, and must not wake the watcher by doing so)."""

Callback = Callable[[set[Path]], None]


def ignored_name(path: Path) -> bool:
    """True for paths no build should react to (see the module docstring)."""
    if IGNORED_PARTS.intersection(path.parts):
        return True
    name = path.name
    if name.endswith(".lock") and path.parent.name == "pipelines":
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IGNORED_NAMES)


def _absolute(path: str | Path) -> Path:
    return Path(os.path.abspath(os.fspath(path)))


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def plan_watches(paths: Iterable[Path]) -> dict[Path, bool]:
    """Folder -> recursive?, covering every path (files via their folder, missing
    paths via their nearest existing ancestor), without folders already covered
    by a recursive watch above them."""
    wanted: dict[Path, bool] = {}
    for path in paths:
        if path.is_dir():
            folder, recursive = path, True
        else:
            folder, recursive = path.parent, False
            while not folder.is_dir() and folder != folder.parent:
                folder = folder.parent
        wanted[folder] = wanted.get(folder, False) or recursive
    recursive_roots = [f for f, r in wanted.items() if r]
    return {
        folder: recursive for folder, recursive in wanted.items()
        if not any(root != folder and _under(folder, root) for root in recursive_roots)
    }


Clock = Callable[[], float]
"""Monotonic seconds."""

Pause = Callable[[float], object]
"""Block for up to this many seconds; called with the watcher's condition held."""


class Watcher:
    """Watchdog observers over ``paths``; ``serve()`` calls ``callback(changed)``
    once per quiet period of ``debounce`` seconds.

    ``clock`` (default ``time.monotonic``) stamps changes and decides when a burst
    is due; ``pause(seconds)`` is how ``wait()`` passes time, by default a wait on
    the watcher's condition that a change or ``stop()`` ends early. A fake pair
    (``pause`` advancing the fake ``clock``) makes the debounce deterministic."""

    def __init__(
        self,
        paths: Iterable[str | Path],
        callback: Callback,
        debounce: float = 0.2,
        *,
        ignore: Callable[[Path], bool] | None = None,
        max_delay: float | None = None,
        clock: Clock = time.monotonic,
        pause: Pause | None = None,
    ) -> None:
        self.callback = callback
        self.debounce = debounce
        self.max_delay = max_delay if max_delay is not None else max(2.0, 10 * debounce)
        self._ignore = ignore or (lambda path: False)
        self._paths: frozenset[Path] = frozenset()
        self._blind: frozenset[Path] = frozenset()  # wanted paths no watch can see yet
        self._watches: dict[tuple[Path, bool], object] = {}
        self._folders: frozenset[Path] = frozenset()  # read by observer threads
        self._cond = threading.Condition()
        self._clock = clock
        self._pause = pause or self._cond.wait
        self._pending: set[Path] = set()
        self._first = self._last = 0.0
        self._replan = False
        self._dead: set[Path] = set()  # watched folders that were deleted (their watch ended)
        self._stopped = False
        self._observer = Observer()
        self._handler = _Handler(self)
        self._started = False
        self.set_paths(paths)

    # -- configuration --------------------------------------------------------------

    @property
    def paths(self) -> frozenset[Path]:
        return self._paths

    @property
    def folders(self) -> dict[Path, bool]:
        """The folders watched now: folder -> recursive?"""
        return {folder: recursive for folder, recursive in self._watches}

    def set_paths(self, paths: Iterable[str | Path]) -> None:
        """Watch exactly ``paths`` from now on (schedules and unschedules observers)."""
        with self._cond:
            self._paths = frozenset(_absolute(p) for p in paths)
        self._apply_plan()

    def _apply_plan(self) -> set[Path]:
        """Re-plan the observers; returns wanted paths that appeared since the last plan."""
        with self._cond:
            paths, dead = self._paths, self._dead
            self._dead = set()
            self._replan = False
        # Paths no watch could see (their folder did not exist) may have been created
        # before the new watch was in place: report those that exist now.
        appeared = {p for p in self._blind if p in paths and p.exists()}
        planned = plan_watches(paths)
        plan = set(planned.items())
        for key in list(self._watches):
            if key not in plan or key[0] in dead or not key[0].is_dir():
                watch = self._watches.pop(key)
                try:
                    self._observer.unschedule(watch)
                except (KeyError, OSError):
                    pass  # its emitter already ended (the folder went away)
        for key in sorted(plan - set(self._watches), key=lambda k: (str(k[0]), k[1])):
            folder, recursive = key
            try:
                self._watches[key] = self._observer.schedule(
                    self._handler, str(folder), recursive=recursive, event_filter=_EVENTS,
                )
            except OSError as exc:  # vanished meanwhile, or out of inotify watches
                log.warning("cannot watch %s: %s", folder, exc)
        self._folders = frozenset(folder for folder, _ in self._watches)
        self._blind = frozenset(p for p in paths if not self._visible(p, planned))
        return appeared

    @staticmethod
    def _visible(path: Path, planned: dict[Path, bool]) -> bool:
        if planned.get(path.parent) is not None or planned.get(path):
            return True
        return any(recursive and _under(path, folder) for folder, recursive in planned.items())

    # -- events (observer threads) ------------------------------------------------------

    def _relevant(self, path: Path) -> bool:
        if self._ignore(path):
            return False
        if path in self._paths:
            return True
        return any(_under(path, p) for p in self._paths) and not ignored_name(path)

    def _event(self, event: FileSystemEvent) -> None:
        paths = [_absolute(os.fsdecode(event.src_path))]
        if event.dest_path:
            paths.append(_absolute(os.fsdecode(event.dest_path)))
        changed = [p for p in paths if self._relevant(p)]
        replan = False
        if event.is_directory:  # a folder on the way to a wanted path came or went
            replan = any(_under(w, p) for p in paths for w in self._paths)
            if event.event_type in ("deleted", "moved"):
                replan = replan or any(_under(f, paths[0]) for f in self._folders)
        if not changed and not replan:
            return
        now = self._clock()
        with self._cond:
            if changed:
                if not self._pending:
                    self._first = now
                self._pending.update(changed)
                self._last = now
            if replan:
                self._replan = True
                if event.event_type in ("deleted", "moved"):
                    self._dead.update(f for f in self._folders if _under(f, paths[0]))
            self._cond.notify_all()

    # -- running ----------------------------------------------------------------------------

    def start(self) -> Watcher:
        if not self._started:
            self._observer.start()
            self._started = True
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._started:
            self._observer.stop()
            self._observer.join(timeout=1.0)

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self, timeout: float | None = None) -> set[Path] | None:
        """Block until a burst of changes has gone quiet; the changed paths, or None
        on timeout or after ``stop()``."""
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            with self._cond:
                if self._stopped:
                    return None
                replan = self._replan
                if not replan:
                    now = self._clock()
                    if self._pending:
                        due = min(self._last + self.debounce, self._first + self.max_delay)
                        if now >= due:
                            changed, self._pending = self._pending, set()
                            return changed
                    else:
                        due = None
                    if deadline is not None and now >= deadline:
                        return None
                    wake = min((t for t in (due, deadline) if t is not None), default=now + 1.0)
                    # Bounded waits keep Ctrl-C responsive on every platform.
                    self._pause(min(1.0, max(0.0, wake - now)))
                    continue
            appeared = self._apply_plan()  # outside the lock: scheduling takes the observer's
            appeared = {p for p in appeared if not self._ignore(p)}
            if appeared:
                now = self._clock()
                with self._cond:
                    if not self._pending:
                        self._first = now
                    self._pending.update(appeared)
                    self._last = now

    def serve(self, stop: threading.Event | None = None) -> None:
        """Call ``callback(changed)`` once per quiet period, in this thread, until
        ``stop()`` is called or ``stop`` is set."""
        self.start()
        while not (stop is not None and stop.is_set()):
            changed = self.wait(timeout=0.5 if stop is not None else None)
            if changed is None:
                if self._stopped:
                    return
                continue
            self.callback(changed)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type == "modified" and event.is_directory:
            return
        try:
            self.watcher._event(event)
        except Exception:  # an observer thread must never die
            log.exception("lockgate watch: could not handle %r", event)
