"""Run one stage for real: a shell command, the team's function, or a builtin step.

``run_job`` is a top-level function of a picklable ``Job`` so that any executor
(threads here, a Dask worker elsewhere) can run it. It reads inputs from the
store (or the workspace for ``inputs:`` paths), runs, writes every output into
the store, re-hashes what it read, and returns plain records. It never
touches the lock file or the run-cache: the runner records results only
after they are safely stored.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate.errors import StageFailed
from lockgate.graph.stage import Stage
from lockgate.project import Layout
from lockgate.steps.base import numeric_values

if TYPE_CHECKING:
    from lockgate.store.base import ObjectStore
    from lockgate.store.statcache import StatCache

LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class Job:
    """Everything needed to run one stage, as plain values."""

    stage: Stage
    root: str
    layout: Layout  # .lockgate/: the cache, the stat cache, the process records
    log_path: str
    inputs: dict[str, dict[str, Any]]  # argument -> {"path": p} or an artifact record
    deps: dict[str, str]  # dependency path -> digest before running
    input_paths: dict[str, str] = field(default_factory=dict)  # `inputs:` path -> digest
    input_digests: dict[str, str] = field(default_factory=dict)  # argument -> digest
    extra: dict[str, Any] = field(default_factory=dict)  # step context (registry alias metrics, ...)


@dataclass
class JobResult:
    ok: bool
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # artifact/path -> record
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    duration: float = 0.0
    error: str = ""
    log_tail: str = ""
    effects: list[dict[str, Any]] = field(default_factory=list)  # e.g. a promotion to record
    corrupt_inputs: list[str] = field(default_factory=list)  # arguments whose object was corrupt
    cancelled: bool = False  # not started, or stopped, because the run was interrupted


class Interrupted(StageFailed):
    """The run was interrupted: the stage did not start, or was stopped."""


class CorruptInput(StageFailed):
    """An input's object failed verification (the store dropped it): rebuild, then retry."""

    def __init__(self, arg: str) -> None:
        super().__init__(f"input '{arg}' was corrupt in the cache; it was dropped to be rebuilt")
        self.arg = arg


# -- running subprocesses, so Ctrl-C can stop them ------------------------------------
#
# Each command runs under a supervisor (executor.supervisor) that leads its own process
# group: the group's id is the supervisor's pid. Invariant: a process is in _RUNNING
# from before it starts until after its group was killed, and it is reaped only once it
# left _RUNNING; so a group signalled under _RUNNING_LOCK is never one whose id the
# kernel could have given to another process.

_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Condition()  # notified when a process leaves _RUNNING
_STOPPED = [False]  # under _RUNNING_LOCK: the run was interrupted; no stage may start


def terminate_running(grace: float = 3.0, *, refuse_new: bool = False) -> None:
    """Stop every shell stage this process started (SIGTERM to its group, then SIGKILL
    after ``grace`` seconds). With ``refuse_new`` (an interrupted run), no stage starts
    from now on, not even one a pool thread is picking up at this very moment, until
    :func:`accept_new_stages`."""
    with _RUNNING_LOCK:
        if refuse_new:
            _STOPPED[0] = True
        procs = list(_RUNNING)
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while (left := [p for p in procs if p in _RUNNING]) and (wait := deadline - time.monotonic()) > 0:
            _RUNNING_LOCK.wait(wait)
        for proc in left:
            _signal_group(proc, signal.SIGKILL)


def start_unless_stopped(start: Callable[[], None]) -> None:
    """``start()`` unless the run was interrupted (then :class:`Interrupted`), under the
    lock an interrupt takes: a stage handed to a worker process (``executor.procpool``)
    either starts before :func:`terminate_running` returns, or never."""
    with _RUNNING_LOCK:
        _refuse_if_stopped()
        start()


def accept_new_stages() -> None:
    """A new run begins (`watch` runs many in one process): stages may start again."""
    with _RUNNING_LOCK:
        _STOPPED[0] = False


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _refuse_if_stopped() -> None:
    if _STOPPED[0]:
        raise Interrupted("not started: the run was interrupted")


def _spawn(command: str, job: Job, log: Any, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    """Start ``command`` under a supervisor, registered (and recorded under .lockgate/, see
    executor.leftovers) before it can run; ``(process, record path)``. It runs in the
    stage's ``wdir`` (the repository root by default)."""
    from lockgate.executor import leftovers, supervisor

    cwd = os.path.join(job.root, job.stage.wdir) if job.stage.wdir else job.root
    with _RUNNING_LOCK:  # the same lock as the interrupt's: a start either precedes it or never happens
        _refuse_if_stopped()
        token, record = leftovers.remember(job.layout.state)
        try:
            proc = subprocess.Popen(
                supervisor.command_argv(command), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**env, leftovers.RUN_ID_VAR: token}, start_new_session=True,
            )
        except BaseException:
            leftovers.forget(record)
            raise
        _RUNNING.add(proc)
    return proc, record


def _wait(proc: subprocess.Popen[bytes], record: Path) -> int:
    """Wait for the supervisor's exit; kill what is left of its group; its exit code."""
    from lockgate.executor import leftovers

    lost = False
    try:
        if hasattr(os, "waitid"):  # wait without reaping: the pid (and group id) stays taken
            try:
                os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:  # reaped by other code of this process (a `call` stage's os.wait())
                lost = True
        else:
            proc.wait()
    finally:
        with _RUNNING_LOCK:
            # A stage ends when its shell does: a background process it left behind would
            # otherwise write an output after the stage was recorded (Bazel kills it too).
            if hasattr(os, "waitid"):
                _signal_group(proc, signal.SIGKILL)
            _RUNNING.discard(proc)
            _RUNNING_LOCK.notify_all()
    code = proc.wait()  # 0 when already reaped elsewhere: never trusted then
    leftovers.forget(record)
    if lost:
        raise StageFailed("lockgate lost the command's exit status (other code in this process "
                          "waited for it); its outputs are not recorded; run again")
    return code


# -- per-thread stdout/stderr, so a `call` stage's prints land in its own log ----------


class _ThreadRouter(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` once a Python stage ran: a thread running a stage
    writes to its log, every other thread to ``fallback`` (the stream it replaced).

    Whoever draws on the terminal (the CLI's live display) must write to
    :func:`unrouted` streams, never through ``sys.stderr``: its writes are not a
    stage's, and a fallback that prints back through ``sys.stderr`` loops forever."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback
        self.local = threading.local()

    def _target(self) -> Any:
        return getattr(self.local, "target", None) or self.fallback

    def write(self, text: str) -> int:
        return int(self._target().write(text))

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:  # a stage's log is no terminal; the main thread's may be
        return bool(self._target().isatty())

    def fileno(self) -> int:
        return int(self._target().fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target(), "encoding", None) or "utf-8"


def unrouted(stream: Any) -> Any:
    """``stream`` itself, or the stream a router installed over it replaced."""
    while isinstance(stream, _ThreadRouter):
        stream = stream.fallback
    return stream


_ROUTER_LOCK = threading.Lock()


@contextlib.contextmanager
def _captured(log: Any) -> Iterator[None]:
    with _ROUTER_LOCK:
        for name in ("stdout", "stderr"):
            if not isinstance(getattr(sys, name), _ThreadRouter):
                setattr(sys, name, _ThreadRouter(getattr(sys, name)))
    routers = [r for r in (sys.stdout, sys.stderr) if isinstance(r, _ThreadRouter)]  # both, installed above
    for router in routers:
        router.local.target = log
    try:
        yield
    finally:
        for router in routers:
            router.local.target = None


# -- the job ------------------------------------------------------------------------

_LOG_BUFFERING = [-1]  # open()'s buffering of a stage's log: the default, or 1 (lines)


def line_buffered_logs() -> None:
    """Write each line of a stage's log as it comes: in a worker process
    (``executor.procpool``), which a signal may kill with its buffers unwritten, and
    the last lines before it are the ones that say why."""
    _LOG_BUFFERING[0] = 1


def run_job(job: Job) -> JobResult:
    """Run ``job.stage``; never raises for a stage failure (returns ok=False)."""
    from lockgate.store.local import LocalStore
    from lockgate.store.statcache import StatCache

    log_path = Path(job.log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    store = LocalStore(job.layout.cache)
    stats = StatCache(job.layout.statcache)
    start = time.perf_counter()
    result = JobResult(ok=False)
    if log_path.is_symlink():  # never ours: writing the log would write through it
        log_path.unlink()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with open(log_fd, "w", encoding="utf-8", errors="replace", buffering=_LOG_BUFFERING[0]) as log:
        try:
            _refuse_if_stopped()  # a job a pool thread picked up as Ctrl-C arrived
            if job.stage.kind == "cmd":
                _run_cmd(job, log, store, stats, result)
            else:
                with _captured(log):
                    _run_python(job, store, result, log)
            _check_unchanged(job, stats)
            result.ok = True
        except Interrupted as exc:
            result.error = str(exc)
            result.cancelled = True
        except CorruptInput as exc:
            result.error = str(exc)
            result.corrupt_inputs.append(exc.arg)
        except StageFailed as exc:  # said in words: no traceback needed
            result.error = str(exc)
        except Exception as exc:  # the user's code raised: show its own traceback in the log
            log.write(_user_traceback(exc))
            result.error = f"{type(exc).__name__}: {exc}"
        except (SystemExit, KeyboardInterrupt) as exc:  # the user's code tried to end lockgate
            if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
                raise  # a real Ctrl-C: signal handlers run in the main thread only
            log.write(_user_traceback(exc))
            result.error = _ended_process(job, exc)
        finally:
            log.flush()
            stats.close()
    return _finish(result, start, log_path)


def ended_elsewhere(job: Job, error: str, *, duration: float = 0.0, cancelled: bool = False) -> JobResult:
    """The result of a job whose ``run_job`` never answered: the worker process running it
    died (or was stopped). The stage's log holds what it wrote until then."""
    result = JobResult(ok=False, error=error, cancelled=cancelled)
    tail = _tail(Path(job.log_path))
    result.log_tail = "" if tail.strip() == error.strip() else tail
    result.duration = duration
    return result


def _ended_process(job: Job, exc: BaseException) -> str:
    """``sys.exit()`` or ``raise KeyboardInterrupt`` in a stage's code: a failure of that
    stage, said in the user's words; never lockgate's own exit (0 would read as success)."""
    what = f"the function {job.stage.run}" if job.stage.kind == "call" else f"the step '{job.stage.run}'"
    if isinstance(exc, SystemExit):
        code = "" if exc.code is None else repr(exc.code)
        return f"{what} called sys.exit({code}); raise an exception to fail a stage"
    return f"{what} raised KeyboardInterrupt; raise another exception to fail a stage"


def _finish(result: JobResult, start: float, log_path: Path) -> JobResult:
    result.duration = time.perf_counter() - start
    if not result.ok:
        result.outputs.clear()
        result.effects.clear()
        tail = _tail(log_path)
        result.log_tail = "" if tail.strip() == result.error.strip() else tail
    return result


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the first frame outside lockgate: the user's code, not ours."""
    tb = exc.__traceback__
    while tb is not None and "lockgate" in Path(tb.tb_frame.f_code.co_filename).parts:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _check_unchanged(job: Job, stats: StatCache) -> None:
    """A dependency edited while the stage ran: its outputs match neither version,
    so they are not recorded against either (unlike DVC, iterative/dvc#11058)."""
    from lockgate.executor.state import path_digest

    root = Path(job.root)
    own = (*job.stage.outs, *job.stage.metrics)
    for path, before in {**job.deps, **job.input_paths}.items():
        target = root / path
        now = path_digest(root, path, stats, own if path in job.deps else ()) if target.exists() else ""
        if now != before:
            raise StageFailed(
                f"dependency {path} changed while the stage ran; its outputs were not "
                "recorded; run again"
            )


# -- cmd ------------------------------------------------------------------------------


def _run_cmd(job: Job, log: Any, store: ObjectStore, stats: StatCache, result: JobResult) -> None:
    stage = job.stage
    commands = [stage.run] if isinstance(stage.run, str) else list(stage.run)
    env = {**os.environ, "LOCKGATE_STAGE": stage.name, "LOCKGATE_PIPELINE": stage.pipeline}
    _check_wdir(job)
    _remove_outputs(job, log)
    for command in commands:
        log.write(f"$ {command}\n")
        log.flush()
        proc, record = _spawn(command, job, log, env)
        code = _wait(proc, record)
        if code != 0:  # outputs count only after an exit 0 that lockgate itself saw
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            if _STOPPED[0]:
                raise Interrupted(f"interrupted: command {how}: {command}")
            raise StageFailed(f"command {how}: {command}")
    _collect_cmd_outputs(job, store, stats, result)


def _check_wdir(job: Job) -> None:
    from lockgate.store.artifacts import outside_root

    if not job.stage.wdir:
        return
    target = Path(job.root) / job.stage.wdir
    where = outside_root(target, job.root)
    if where:
        raise StageFailed(f"wdir '{job.stage.wdir}': {where}; a stage runs inside the repository only")
    if not target.is_dir():
        raise StageFailed(f"wdir '{job.stage.wdir}' is not a folder; create it or fix the stage's wdir")


def _remove_outputs(job: Job, log: Any) -> None:
    """Delete the stage's outputs before its command runs, as ``dvc repro`` does, so a
    command never builds on what its last run left (``persist: true`` keeps one). Paths
    are inside the repository (``spec.paths``); a link is removed as the link, and
    nothing under a folder that resolves outside the repository is touched."""
    import shutil

    from lockgate.store.artifacts import outside_root

    root = Path(job.root)
    stage = job.stage
    for path in dict.fromkeys((*stage.outs, *stage.metrics)):
        target = root / path
        if stage.persists(path) or not os.path.lexists(target) or outside_root(target.parent, root):
            continue
        log.write(f"(removing output {path} before the command runs)\n")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    log.flush()


def _collect_cmd_outputs(job: Job, store: ObjectStore, stats: StatCache, result: JobResult) -> None:
    """Store each output as the command left it. A symlink (the output path itself, or
    anywhere in an output folder) is stored as the link, never as what it points to,
    so nothing outside the repository is read; an output that lies in a folder
    resolving outside the repository, or a metrics file linking out of it, fails."""
    from lockgate.store.artifacts import outside_root, save_file, save_link, save_tree

    root = Path(job.root)
    stage = job.stage
    for path in (*stage.outs, *stage.metrics):
        target = root / path
        if not os.path.lexists(target):
            raise StageFailed(f"the command did not write '{path}', which the stage lists as an output")
        where = outside_root(target.parent, root) or (
            outside_root(target, root) if path in stage.metrics else None)
        if where:
            raise StageFailed(
                f"output '{path}': {where}; lockgate keeps outputs inside the repository only")
        digest, kind = stats.hash_path(target, links=True)
        if not stage.cached(path):  # `cache: false`: hashed and recorded, never stored
            record: dict[str, Any] = {"kind": "tree" if kind == "tree" else "file", "digest": digest, "cache": False}
            if kind == "file":
                record["meta"] = {"size": target.stat().st_size}
            elif kind == "link":
                record["meta"] = {"link": os.readlink(target)}
            result.outputs[path] = record
            continue
        if kind == "link":
            ref = save_link(store, target)
        elif kind == "file":
            ref = save_file(store, target, digest)
        else:
            ref = save_tree(store, target, stats.hash_file)
        result.outputs[path] = ref.to_record()
    for path in stage.metrics:
        result.metrics[path] = _read_metrics_file(root / path, path)


def _read_metrics_file(target: Path, path: str) -> dict[str, Any]:
    """A ``metrics:`` file (JSON, or YAML by suffix, as DVC reads them): its numbers at
    any depth. Text values (a model's name beside its scores) are left out, as
    ``dvc metrics`` leaves them out of diffs; a file that is not a mapping fails."""
    try:
        text = target.read_text(encoding="utf-8")
        if target.suffix in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        kind = "YAML" if target.suffix in (".yaml", ".yml") else "JSON"
        raise StageFailed(f"metrics file '{path}' is not valid {kind}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError: PyYAML is imported only for YAML files
        raise StageFailed(f"metrics file '{path}' is not valid YAML: {exc}") from None
    if not isinstance(values, dict):
        raise StageFailed(f"metrics file '{path}' must hold a mapping of names to numbers, "
                          f"not a {type(values).__name__}")
    return numeric_values(values)


# -- call and uses -------------------------------------------------------------------------

_IMPORT_LOCK = threading.Lock()
_LOADED_CODE: dict[str, tuple[int, int]] = {}  # source path -> (mtime_ns, size) when last (re)loaded
_LOADED_AT: dict[str, int] = {}  # module -> the reload count when it was last (re)loaded
_RELOADS = [0]  # reloads so far, in this process
_GRAPHS: dict[tuple[str, str], list[tuple[Any, tuple[int, int]]]] = {}  # (root, module) -> its graph, stat'ed


def _import_function(job: Job) -> Any:
    module_name, _, func_name = str(job.stage.run).partition(":")
    with _IMPORT_LOCK:
        if job.root not in sys.path:
            sys.path.insert(0, job.root)
        importlib.invalidate_caches()
        try:
            importlib.import_module(module_name)
            module = _reload_edited(module_name, Path(job.root))
        except ImportError as exc:
            raise StageFailed(f"cannot import '{module_name}': {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise StageFailed(f"'{module_name}' has no function '{func_name}'")
    return func


def _reload_edited(module_name: str, root: Path) -> Any:
    """``module_name`` as its sources now are, in a process that may have imported it
    before (``lockgate watch``). A repository module of its import graph edited since
    it was loaded is reloaded, and so is every loaded module importing it (directly
    or not: ``from utils import f`` holds the old ``f`` until its importer reloads),
    dependencies first, the named module last. Another stage's module importing from
    a module reloaded here is reloaded when that stage runs: it was loaded before."""
    from lockgate.codegraph import CodeGraph, Module, forget_bytecode
    from lockgate.hashing import hash_file

    key = (str(root), module_name)
    graph = _GRAPHS.get(key)
    if graph is None or any(_stat(m.path) != st for m, st in graph):
        # walked again only when one of its files changed (an edit may add an import)
        modules = CodeGraph(root, hash_file).modules(module_name)
        own = getattr(sys.modules[module_name], "__file__", None)
        if own and not any(m.name == module_name for m in modules):  # not in the repository (installed)
            modules.append(Module(module_name, Path(own), ()))
        graph = _GRAPHS[key] = [(m, _stat(m.path)) for m in modules]
    done: set[str] = set()
    for m, now in graph:  # dependencies first
        edited = _LOADED_CODE.setdefault(str(m.path), now) != now
        if m.name in sys.modules:
            at = _LOADED_AT.setdefault(m.name, _RELOADS[0])
            # a dependency reloaded after this module was loaded; in a cycle, only those
            # before it in the order count (else the two would reload each other forever)
            if edited or any(_LOADED_AT.get(d, -1) > at for d in m.imports if d in done):
                forget_bytecode(m.path)  # a same-size edit within the second passes the .pyc's check
                importlib.reload(sys.modules[m.name])
                _RELOADS[0] += 1
                _LOADED_AT[m.name] = _RELOADS[0]
        _LOADED_CODE[str(m.path)] = now  # only once reloaded: a failed reload retries
        done.add(m.name)
    return sys.modules[module_name]


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _load_input(store: ObjectStore, record: dict[str, Any], root: str) -> Any:
    """An input as pyarrow (tables), a model, or a dict (metrics/json)."""
    from lockgate.store.artifacts import ArtifactRef, load_any
    from lockgate.tables import TableFileError, read_table

    if "path" in record:
        try:
            return read_table(Path(root) / record["path"], record.get("read"))
        except TableFileError as exc:
            raise StageFailed(str(exc)) from None
    if "written_at" in record:  # a file or folder a cmd stage wrote, in the workspace
        target = Path(root) / record["written_at"]
        if target.is_file() and target.suffix.lower() in _READABLE_TABLES:
            try:
                return read_table(target)
            except TableFileError as exc:
                raise StageFailed(str(exc)) from None
        if target.is_file() and target.suffix.lower() in (".json", ".yaml", ".yml"):
            return _read_structured(target, record["written_at"])
        return target  # a model file, a folder: the function (or step) opens it
    ref = ArtifactRef.from_record(record)
    if ref.kind == "table":  # verify on read: a lock record naming another table's object
        from lockgate.store.artifacts import load_table

        return load_table(store, ref, check_digest=True)
    return load_any(store, ref)


def _read_structured(target: Path, name: str) -> Any:
    """A JSON or YAML file a cmd stage wrote (metrics, a report), as its value."""
    try:
        text = target.read_text(encoding="utf-8")
        if target.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise StageFailed(f"'{name}' is not readable {target.suffix[1:].upper()}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError, imported only here
        raise StageFailed(f"'{name}' is not readable YAML: {exc}") from None


_READABLE_TABLES = (".parquet", ".pq", ".csv", ".arrow", ".feather", ".ipc")


def _wants(func: Any, arg: str) -> str:
    """What the parameter's annotation asks a table to be: "arrow", "pandas-frame",
    "pandas-series", "pandas" (either), "polars", or "" (no annotation, or one naming no
    table type: ``Any``, ``dict``...). The annotation is read as written, never
    evaluated: a class, or a string (``from __future__ import annotations``,
    ``"pandas.DataFrame"``), also inside ``Optional[...]``, ``X | None`` and
    ``Annotated[...]``; a name in a string is looked up in the function's module
    (``pd`` -> pandas, ``DataFrame`` -> the class imported under that name)."""
    try:
        annotation = inspect.signature(func).parameters[arg].annotation
    except (KeyError, TypeError, ValueError):
        return ""
    if annotation is inspect.Parameter.empty:
        return ""
    found = {_table_type(name) for name in _annotation_names(annotation, getattr(func, "__globals__", {}))}
    if {"pandas-frame", "pandas-series"} <= found:
        return "pandas"
    for kind in ("pandas-series", "pandas-frame", "arrow", "polars"):
        if kind in found:
            return kind
    return ""


def _annotation_names(annotation: Any, namespace: dict[str, Any], depth: int = 0) -> list[str]:
    """The dotted names of the types an annotation names (``pandas.core.frame.DataFrame``)."""
    import typing

    if depth > 10:
        return []
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        return [_resolve_name(n, namespace) for n in _names_in(annotation)]
    import types

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):  # Optional[X], X | None
        args = typing.get_args(annotation)[:1] if origin is typing.Annotated else typing.get_args(annotation)
        return [n for a in args for n in _annotation_names(a, namespace, depth + 1)]
    if origin is not None:  # list[X], dict[...]: not a table
        return [f"{getattr(origin, '__module__', '')}.{getattr(origin, '__qualname__', '')}"]
    return [f"{getattr(annotation, '__module__', '')}.{getattr(annotation, '__qualname__', '')}"]


def _names_in(text: str) -> list[str]:
    """The type names an annotation string gives (``Optional[pd.Series]`` -> pd.Series)."""
    import ast

    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return [text]

    def dotted(node: Any) -> str:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""

    def visit(node: Any) -> list[str]:
        if isinstance(node, ast.Constant):
            return _names_in(node.value) if isinstance(node.value, str) else []
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return visit(node.left) + visit(node.right)
        if isinstance(node, ast.Subscript):
            outer = dotted(node.value)
            if outer.rpartition(".")[2] in ("Optional", "Union", "Annotated"):
                items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
                items = items[:1] if outer.endswith("Annotated") else items
                return [n for item in items for n in visit(item)]
            return [outer]
        return [dotted(node)]

    return [n for n in visit(tree.body) if n]


def _resolve_name(dotted: str, namespace: dict[str, Any]) -> str:
    """``pd.DataFrame`` -> ``pandas.DataFrame`` when ``pd`` is pandas in the module; an
    imported class -> its own module and name; else the text as written."""
    head, _, rest = dotted.partition(".")
    value = namespace.get(head)
    if value is None:
        return dotted
    if type(value).__name__ == "module":
        return f"{value.__name__}.{rest}" if rest else value.__name__
    if not rest and isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return dotted


def _table_type(name: str) -> str:
    """The table type a dotted name is (``pd``/``pa``/``pl``: names only a type checker saw)."""
    top, last = name.partition(".")[0], name.rpartition(".")[2]
    if top in ("pandas", "pd"):
        return {"DataFrame": "pandas-frame", "Series": "pandas-series"}.get(last, "")
    if top in ("pyarrow", "pa"):
        return "arrow" if last in ("Table", "RecordBatch") else ""
    if top in ("polars", "pl"):
        return "polars" if last == "DataFrame" else ""
    return ""


def _as_requested(value: Any, func: Any, arg: str) -> Any:
    """Tables arrive as polars DataFrames, as pyarrow Tables when the parameter is
    annotated pyarrow, and as pandas when it is annotated pandas (a DataFrame, or a
    Series) or, unannotated, when the table was a pandas value when stored (Kedro's
    nodes). pandas is imported only then."""
    if not type(value).__module__.startswith("pyarrow"):
        return value
    from lockgate.tables import came_from_pandas, drop_pandas_index, to_pandas

    wants = _wants(func, arg)
    if wants == "arrow":
        return value
    if wants.startswith("pandas") or (not wants and came_from_pandas(value)):
        shape = wants.partition("-")[2]
        try:
            result = to_pandas(value, shape)
        except ImportError:
            raise StageFailed(f"argument '{arg}' asks for a pandas table, but pandas is not "
                              "installed: pip install 'lockgate[pandas]'") from None
        if shape == "series" and type(result).__name__ != "Series":
            columns = [c for c in value.column_names if not c.startswith("__index_level_")]
            raise StageFailed(
                f"argument '{arg}' is annotated pd.Series, but the table it reads has {len(columns)} "
                f"columns ({', '.join(columns[:5])}{', ...' if len(columns) > 5 else ''}); give it a "
                "one-column table, or annotate it pd.DataFrame")
        return result
    import polars as pl

    return pl.from_arrow(drop_pandas_index(value))


def _run_python(job: Job, store: ObjectStore, result: JobResult, log: Any) -> None:
    stage = job.stage
    if stage.kind == "call":
        func = _import_function(job)
        inputs = _load_inputs(job, store)
        args = {arg: _as_requested(v, func, arg) for arg, v in inputs.items()}
        _check_signature(func, {**args, **stage.with_})
        with _said_in_log(log):
            value = func(**args, **stage.with_)
    else:
        from lockgate.steps import load_step
        from lockgate.steps.base import StepContext

        step = load_step(str(stage.run))
        options = _step_options(step, stage)
        # a step that reads its inputs itself (streaming drift) gets none loaded in memory
        lazy = getattr(step, "lazy_inputs", lambda options: False)(options)
        inputs = {} if lazy else _load_inputs(job, store)
        ctx = StepContext(stage=stage, root=Path(job.root), input_digests=job.input_digests,
                          input_records=job.inputs, extra=job.extra, effects=result.effects,
                          object_files=_object_files(job, store) if lazy else {})
        with _said_in_log(log):
            value = step.run(inputs, options, ctx)
    _save_outputs(job, store, value, result)


def _object_files(job: Job, store: ObjectStore) -> dict[str, Path]:
    """Argument -> the cache file of a table input, for a step that reads it in batches."""
    return {arg: store.path_of(str(record["object"])) for arg, record in job.inputs.items()
            if record.get("kind") == "table" and record.get("object") and hasattr(store, "path_of")}


@contextlib.contextmanager
def _said_in_log(log: Any) -> Iterator[None]:
    """A StageFailed from the stage's own code (a builtin step rejecting its input) is
    written to the stage's log too, where the step's own output is."""
    try:
        yield
    except StageFailed as exc:
        log.write(f"{exc}\n")
        raise


def _load_inputs(job: Job, store: ObjectStore) -> dict[str, Any]:
    from lockgate.errors import CorruptObject
    from lockgate.store.artifacts import WrongRecord

    inputs = {}
    for arg, rec in job.inputs.items():
        try:
            inputs[arg] = _load_input(store, rec, job.root)
        except (CorruptObject, WrongRecord):
            raise CorruptInput(arg) from None
    return inputs


def _check_signature(func: Any, kwargs: dict[str, Any]) -> None:
    try:
        inspect.signature(func).bind(**kwargs)
    except TypeError as exc:
        raise StageFailed(
            f"{func.__module__}.{func.__name__}{inspect.signature(func)} cannot take "
            f"{', '.join(kwargs) or 'no arguments'}: {exc}"
        ) from None
    except ValueError:
        pass


def _split_returns(stage: Stage, value: Any) -> dict[str, Any]:
    names = stage.outputs
    bases = [n.partition("@")[0] for n in names]
    if not names:
        return {}
    if len(names) == 1:
        return {names[0]: value}
    if isinstance(value, dict) and set(bases) <= set(value):
        return {name: value[base] for name, base in zip(names, bases)}
    if isinstance(value, (tuple, list)) and len(value) == len(names):
        return dict(zip(names, value))
    raise StageFailed(
        f"the stage lists {len(names)} outputs ({', '.join(bases)}) but returned "
        f"{type(value).__name__}; return a tuple of {len(names)} or a dict with those keys"
    )


def _save_outputs(job: Job, store: ObjectStore, value: Any, result: JobResult) -> None:
    from lockgate.steps.base import ModelArtifact
    from lockgate.errors import StoreError
    from lockgate.store.artifacts import save_any, save_model
    from lockgate.tables import TableFileError

    for name, item in _split_returns(job.stage, value).items():
        if item is None:
            raise StageFailed(f"output '{name}' is None; return a table, a dict of metrics or a model")
        if type(item).__module__.startswith("polars") and type(item).__name__ == "Series":
            item = item.to_frame()  # a column is a one-column table
        if not _storable(item):
            raise StageFailed(
                f"output '{name}' is a {type(item).__module__}.{type(item).__qualname__}, which lockgate "
                "cannot store: return a table (polars, pandas or pyarrow), a dict (metrics or JSON), a "
                "list, or a fitted model (an object with predict/transform)" + _storing_hint(item))
        try:
            if isinstance(item, dict):
                item = _json_safe(item, name)
            if isinstance(item, ModelArtifact):
                ref = save_model(store, item.model, feature_names=item.feature_names,
                                 training_data_hash=item.training_data_hash)
            else:
                ref = save_any(store, item)
        except (StoreError, TableFileError) as exc:
            raise StageFailed(f"cannot store output '{name}': {exc}") from None
        result.outputs[name] = ref.to_record()
        summary = numeric_values(item, labels=True) if isinstance(item, dict) else None
        if summary:
            result.metrics[name] = summary


def _storable(item: Any) -> bool:
    """A value lockgate knows how to store: a table, JSON, or something model-like (stored
    with skops); anything else (a number, a string, an array, a generator, an open file)
    is a mistake to report, never a 'model' to pickle."""
    from lockgate.steps.base import ModelArtifact

    module, kind = type(item).__module__.partition(".")[0], type(item).__name__
    if isinstance(item, (dict, list, ModelArtifact)):
        return True
    # data, never a "model": of these libraries, only their tables are stored
    tables = {"pandas": ("DataFrame", "Series"), "polars": ("DataFrame",), "pyarrow": ("Table", "RecordBatch")}
    if module in (*tables, "numpy", "scipy", "torch", "xarray", "dask", "pyspark"):
        return kind in tables.get(module, ())
    if isinstance(item, (str, bytes, int, float, complex, tuple, set, frozenset, type(None))):
        return False
    return any(callable(getattr(item, m, None)) for m in ("predict", "predict_proba", "transform", "fit"))


def _storing_hint(item: Any) -> str:
    module, kind = type(item).__module__.partition(".")[0], type(item).__name__
    if module == "numpy" and getattr(item, "ndim", 0) >= 1:
        return "; make the array a table: pd.DataFrame(array) or pd.Series(array, name=...)"
    if module == "numpy" or isinstance(item, (int, float, str, bool)):
        return "; put the value in a dict: {'value': ...}"
    if kind == "LazyFrame":
        return "; call .collect() on the LazyFrame"
    if module == "pyarrow" and kind.endswith("Array"):
        return "; make it a table: pa.table({'name': array})"
    if isinstance(item, tuple):
        return "; a stage with several outputs lists them all under out:"
    return ""


def _json_safe(value: Any, name: str) -> Any:
    """A returned dict with NaN/inf spelled as strings ("nan", "inf"): JSON has no such
    numbers. Gates then see the key as missing rather than a number."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        import logging

        logging.getLogger(__name__).warning("output '%s' holds %r; stored as a string", name, value)
        return repr(value)
    if isinstance(value, dict):
        return {k: _json_safe(v, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v, name) for v in value]
    return value


def _step_options(step: Any, stage: Stage) -> Any:
    from lockgate.spec.validation import validate

    options, problems = validate(step.Options, stage.with_)
    if problems:
        said = "; ".join(f"{p.key or 'with'}: {text}" for p in problems for text in p.said)
        raise StageFailed(f"invalid with: for step '{stage.run}': {said}")
    return options
