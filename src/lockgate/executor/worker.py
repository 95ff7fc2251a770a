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


class StageFailure(Exception):
    """The stage itself failed; the message is shown to the user as is."""


class CorruptInput(StageFailure):
    """An input's object failed verification (the store dropped it): rebuild, then retry."""

    def __init__(self, arg: str) -> None:
        super().__init__(f"input '{arg}' was corrupt in the cache; it was dropped to be rebuilt")
        self.arg = arg


# -- running subprocesses, so Ctrl-C can stop them ------------------------------------

_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def terminate_running(grace: float = 3.0) -> None:
    """Stop every shell stage this process started (SIGTERM to its group, then SIGKILL)."""
    with _RUNNING_LOCK:
        procs = list(_RUNNING)
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


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
            if job.stage.kind == "cmd":
                _run_cmd(job, log, store, stats, result)
            else:
                with _captured(log):
                    _run_python(job, store, result)
            _check_unchanged(job, stats)
            result.ok = True
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
        finally:
            log.flush()
            stats.close()
    return _finish(result, start, log_path)


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
        proc = subprocess.Popen(
            command, shell=True, cwd=job.root, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        with _RUNNING_LOCK:
            _RUNNING.add(proc)
        try:
            code = proc.wait()
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(proc)
        if code != 0:
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise StageFailure(f"command {how}: {command}")
    _collect_cmd_outputs(job, store, stats, result)


def _collect_cmd_outputs(job: Job, store: Any, stats: Any, result: JobResult) -> None:
    from lockgate.store.artifacts import save_file, save_tree

    root = Path(job.root)
    stage = job.stage
    for path in (*stage.outs, *stage.metrics):
        target = root / path
        if not target.exists():
            raise StageFailure(f"the command did not write '{path}', which the stage lists as an output")
        digest, kind = stats.hash_path(target)
        if kind == "file":
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
    return load_any(store, ArtifactRef.from_record(record))


def _wants_arrow(func: Any, arg: str) -> bool:
    try:
        annotation = inspect.signature(func).parameters[arg].annotation
    except (KeyError, TypeError, ValueError):
        return False
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__module__", "")
    return "pyarrow" in str(text) or str(text).startswith("pa.")


def _as_requested(value: Any, func: Any, arg: str) -> Any:
    """Tables arrive as polars DataFrames unless the parameter is annotated pyarrow."""
    if type(value).__module__.startswith("pyarrow") and not _wants_arrow(func, arg):
        import polars as pl

        return pl.from_arrow(value)
    return value


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

    inputs = {}
    for arg, rec in job.inputs.items():
        try:
            inputs[arg] = _load_input(store, rec, job.root)
        except CorruptObject:
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

    for name, item in _split_returns(job.stage, value).items():
        if item is None:
            raise StageFailure(f"output '{name}' is None; return a table, a dict of metrics or a model")
        try:
            if isinstance(item, dict):
                item = _json_safe(item, name)
            if isinstance(item, ModelArtifact):
                ref = save_model(store, item.model, feature_names=item.feature_names,
                                 training_data_hash=item.training_data_hash)
            else:
                ref = save_any(store, item)
        except StoreError as exc:
            raise StageFailure(f"cannot store output '{name}': {exc}") from None
        result.outputs[name] = ref.to_record()
        summary = numeric_values(item) if isinstance(item, dict) else None
        if summary:
            result.metrics[name] = summary


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
