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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockgate.graph.stage import Stage
from lockgate.steps.base import StepFailure, numeric_values

LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class Job:
    """Everything needed to run one stage, as plain values."""

    stage: Stage
    root: str
    cache_dir: str
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


class StageFailure(Exception):
    """The stage itself failed; the message is shown to the user as is."""


class Interrupted(StageFailure):
    """The run was interrupted: the stage did not start, or was stopped."""


class CorruptInput(StageFailure):
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

_RUNNING: set[subprocess.Popen] = set()
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


def accept_new_stages() -> None:
    """A new run begins (`watch` runs many in one process): stages may start again."""
    with _RUNNING_LOCK:
        _STOPPED[0] = False


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _refuse_if_stopped() -> None:
    if _STOPPED[0]:
        raise Interrupted("not started: the run was interrupted")


def _spawn(command: str, job: Job, log: Any, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    """Start ``command`` under a supervisor, registered (and recorded under .lockgate/, see
    executor.leftovers) before it can run; ``(process, record path)``."""
    from lockgate.executor import leftovers, supervisor

    with _RUNNING_LOCK:  # the same lock as the interrupt's: a start either precedes it or never happens
        _refuse_if_stopped()
        token, record = leftovers.remember(Path(job.cache_dir).parent)
        try:
            proc = subprocess.Popen(
                supervisor.command_argv(command), cwd=job.root, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**env, leftovers.RUN_ID_VAR: token}, start_new_session=True,
            )
        except BaseException:
            leftovers.forget(record)
            raise
        _RUNNING.add(proc)
    return proc, record


def _wait(proc: subprocess.Popen, record: Path) -> int:
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
        raise StageFailure("lockgate lost the command's exit status (other code in this process "
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
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:  # a stage's log is no terminal; the main thread's may be
        return self._target().isatty()

    def fileno(self) -> int:
        return self._target().fileno()

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
def _captured(log: Any):
    with _ROUTER_LOCK:
        for name in ("stdout", "stderr"):
            if not isinstance(getattr(sys, name), _ThreadRouter):
                setattr(sys, name, _ThreadRouter(getattr(sys, name)))
    routers = [sys.stdout, sys.stderr]
    for router in routers:
        router.local.target = log
    try:
        yield
    finally:
        for router in routers:
            router.local.target = None


# -- the job ------------------------------------------------------------------------


def run_job(job: Job) -> JobResult:
    """Run ``job.stage``; never raises for a stage failure (returns ok=False)."""
    from lockgate.store.local import LocalStore
    from lockgate.store.statcache import StatCache

    log_path = Path(job.log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    store = LocalStore(job.cache_dir)
    stats = StatCache(Path(job.cache_dir).parent / "statcache.db")
    start = time.perf_counter()
    result = JobResult(ok=False)
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        try:
            _refuse_if_stopped()  # a job a pool thread picked up as Ctrl-C arrived
            if job.stage.kind == "cmd":
                _run_cmd(job, log, store, stats, result)
            else:
                with _captured(log):
                    _run_python(job, store, result)
            _check_unchanged(job, stats)
            result.ok = True
        except Interrupted as exc:
            result.error = str(exc)
            result.cancelled = True
        except CorruptInput as exc:
            result.error = str(exc)
            result.corrupt_inputs.append(exc.arg)
        except StageFailure as exc:
            result.error = str(exc)
        except StepFailure as exc:  # a builtin step's clear message: no traceback needed
            result.error = str(exc)
            log.write(f"{exc}\n")
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


def _check_unchanged(job: Job, stats: Any) -> None:
    """A dependency edited while the stage ran: its outputs match neither version,
    so they are not recorded against either (unlike DVC, iterative/dvc#11058)."""
    from lockgate.executor.state import path_digest

    root = Path(job.root)
    own = (*job.stage.outs, *job.stage.metrics)
    for path, before in {**job.deps, **job.input_paths}.items():
        target = root / path
        now = path_digest(root, path, stats, own if path in job.deps else ()) if target.exists() else ""
        if now != before:
            raise StageFailure(
                f"dependency {path} changed while the stage ran; its outputs were not "
                "recorded; run again"
            )


# -- cmd ------------------------------------------------------------------------------


def _run_cmd(job: Job, log: Any, store: Any, stats: Any, result: JobResult) -> None:
    stage = job.stage
    commands = [stage.run] if isinstance(stage.run, str) else list(stage.run)
    env = {**os.environ, "LOCKGATE_STAGE": stage.name, "LOCKGATE_PIPELINE": stage.pipeline}
    for command in commands:
        log.write(f"$ {command}\n")
        log.flush()
        proc, record = _spawn(command, job, log, env)
        code = _wait(proc, record)
        if code != 0:  # outputs count only after an exit 0 that lockgate itself saw
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            if _STOPPED[0]:
                raise Interrupted(f"interrupted: command {how}: {command}")
            raise StageFailure(f"command {how}: {command}")
    _collect_cmd_outputs(job, store, stats, result)


def _collect_cmd_outputs(job: Job, store: Any, stats: Any, result: JobResult) -> None:
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
            raise StageFailure(f"the command did not write '{path}', which the stage lists as an output")
        where = outside_root(target.parent, root) or (
            outside_root(target, root) if path in stage.metrics else None)
        if where:
            raise StageFailure(
                f"output '{path}': {where}; lockgate keeps outputs inside the repository only")
        digest, kind = stats.hash_path(target, links=True)
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
        raise StageFailure(f"metrics file '{path}' is not valid {kind}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError: PyYAML is imported only for YAML files
        raise StageFailure(f"metrics file '{path}' is not valid YAML: {exc}") from None
    if not isinstance(values, dict):
        raise StageFailure(f"metrics file '{path}' must hold a mapping of names to numbers, "
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
            raise StageFailure(f"cannot import '{module_name}': {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise StageFailure(f"'{module_name}' has no function '{func_name}'")
    return func


def _reload_edited(module_name: str, root: Path) -> Any:
    """``module_name`` as its sources now are, in a process that may have imported it
    before (``lockgate watch``). A repository module of its import graph edited since
    it was loaded is reloaded, and so is every loaded module importing it (directly
    or not: ``from utils import f`` holds the old ``f`` until its importer reloads),
    dependencies first, the named module last. Another stage's module importing from
    a module reloaded here is reloaded when that stage runs: it was loaded before."""
    from lockgate.codegraph import CodeGraph, Module
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
                # a same-size edit within the same second would pass the .pyc's check
                with contextlib.suppress(OSError, TypeError, ValueError):
                    os.unlink(importlib.util.cache_from_source(str(m.path)))
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


def _load_input(store: Any, record: dict[str, Any], root: str) -> Any:
    """An input as pyarrow (tables), a model, or a dict (metrics/json)."""
    from lockgate.store.artifacts import ArtifactRef, load_any
    from lockgate.tables import TableFileError, read_table

    if "path" in record:
        try:
            return read_table(Path(root) / record["path"])
        except TableFileError as exc:
            raise StageFailure(str(exc)) from None
    ref = ArtifactRef.from_record(record)
    if ref.kind == "table":  # verify on read: a lock record naming another table's object
        from lockgate.store.artifacts import load_table

        return load_table(store, ref, check_digest=True)
    return load_any(store, ref)


def _wants(func: Any, arg: str) -> str:
    """What the parameter's annotation asks a table to be: "arrow", "pandas-frame",
    "pandas-series", "polars", or "" (no annotation)."""
    try:
        annotation = inspect.signature(func).parameters[arg].annotation
    except (KeyError, TypeError, ValueError):
        return ""
    if annotation is inspect.Parameter.empty:
        return ""
    text = annotation if isinstance(annotation, str) else \
        f"{getattr(annotation, '__module__', '')}.{getattr(annotation, '__qualname__', '')}"
    if "pyarrow" in text or text.startswith("pa."):
        return "arrow"
    if "pandas" in text or text.startswith("pd."):
        return "pandas-series" if text.endswith("Series") else "pandas-frame"
    return "polars"


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
        return to_pandas(value, wants.partition("-")[2])
    import polars as pl

    return pl.from_arrow(drop_pandas_index(value))


def _run_python(job: Job, store: Any, result: JobResult) -> None:
    stage = job.stage
    if stage.kind == "call":
        func = _import_function(job)
        inputs = _load_inputs(job, store)
        args = {arg: _as_requested(v, func, arg) for arg, v in inputs.items()}
        _check_signature(func, {**args, **stage.with_})
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
                          input_records=job.inputs, extra=job.extra, effects=result.effects)
        value = step.run(inputs, options, ctx)
    _save_outputs(job, store, value, result)


def _load_inputs(job: Job, store: Any) -> dict[str, Any]:
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
        raise StageFailure(
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
    raise StageFailure(
        f"the stage lists {len(names)} outputs ({', '.join(bases)}) but returned "
        f"{type(value).__name__}; return a tuple of {len(names)} or a dict with those keys"
    )


def _save_outputs(job: Job, store: Any, value: Any, result: JobResult) -> None:
    from lockgate.steps.base import ModelArtifact
    from lockgate.store.artifacts import StoreError, save_any, save_model
    from lockgate.tables import TableFileError

    for name, item in _split_returns(job.stage, value).items():
        if item is None:
            raise StageFailure(f"output '{name}' is None; return a table, a dict of metrics or a model")
        if not _storable(item):
            raise StageFailure(
                f"output '{name}' is a {type(item).__module__}.{type(item).__qualname__}, which lockgate "
                "cannot store: return a table (polars/pyarrow), a dict (metrics or JSON), a list, or a "
                "fitted model (an object with predict/transform)")
        try:
            if isinstance(item, dict):
                item = _json_safe(item, name)
            if isinstance(item, ModelArtifact):
                ref = save_model(store, item.model, feature_names=item.feature_names,
                                 training_data_hash=item.training_data_hash)
            else:
                ref = save_any(store, item)
        except (StoreError, TableFileError) as exc:
            raise StageFailure(f"cannot store output '{name}': {exc}") from None
        result.outputs[name] = ref.to_record()
        summary = numeric_values(item) if isinstance(item, dict) else None
        if summary:
            result.metrics[name] = summary


def _storable(item: Any) -> bool:
    """A value lockgate knows how to store: a table, JSON, or something model-like (stored
    with skops); anything else (a number, a string, a generator, an open file) is a
    mistake to report, not a 'model' to pickle."""
    from lockgate.steps.base import ModelArtifact

    module = type(item).__module__
    if isinstance(item, (dict, list, ModelArtifact)) or module.startswith(("polars", "pyarrow")):
        return True
    if module.startswith(("pandas", "numpy")):  # data, never a "model": only frames and series are tables
        return type(item).__name__ in ("DataFrame", "Series")
    return any(callable(getattr(item, m, None)) for m in ("predict", "predict_proba", "transform", "fit"))


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
    from pydantic import ValidationError

    try:
        return step.Options.model_validate(stage.with_)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'with'}: {e['msg']}" for e in exc.errors()
        )
        raise StageFailure(f"invalid with: for step '{stage.run}': {problems}") from None
