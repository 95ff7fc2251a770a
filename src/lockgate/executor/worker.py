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
from lockgate.steps.base import StepFailure

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
    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback
        self.local = threading.local()

    def write(self, text: str) -> int:
        target = getattr(self.local, "target", None) or self.fallback
        return target.write(text)

    def flush(self) -> None:
        target = getattr(self.local, "target", None) or self.fallback
        target.flush()


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
    from lockgate.store.artifacts import metrics_problem, save_file, save_tree

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
        try:
            values = json.loads((root / path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StageFailure(f"metrics file '{path}' is not valid JSON: {exc}") from None
        problem = metrics_problem(values)
        if problem:
            raise StageFailure(f"metrics file '{path}' must hold a JSON object of numbers: {problem}")
        result.metrics[path] = values


# -- call and uses -------------------------------------------------------------------------

_IMPORT_LOCK = threading.Lock()
_LOADED_CODE: dict[str, float] = {}


def _import_function(job: Job) -> Any:
    module_name, _, func_name = str(job.stage.run).partition(":")
    with _IMPORT_LOCK:
        if job.root not in sys.path:
            sys.path.insert(0, job.root)
        importlib.invalidate_caches()
        try:
            module = importlib.import_module(module_name)
            source = getattr(module, "__file__", None)
            mtime = os.stat(source).st_mtime_ns if source else 0
            if _LOADED_CODE.get(module_name, mtime) != mtime:  # edited since (lockgate watch)
                # a same-size edit within the same second would pass the .pyc's check
                with contextlib.suppress(OSError, TypeError, ValueError):
                    os.unlink(importlib.util.cache_from_source(source))
                module = importlib.reload(module)
            _LOADED_CODE[module_name] = mtime
        except ImportError as exc:
            raise StageFailure(f"cannot import '{module_name}': {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise StageFailure(f"'{module_name}' has no function '{func_name}'")
    return func


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
        summary = _numbers(item) if isinstance(item, dict) else None
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


def _numbers(value: dict[str, Any]) -> dict[str, Any]:
    """The numeric (and boolean) top-level entries of a dict: what gates can read."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[str(key)] = item
        elif isinstance(item, (int, float)) and item == item:  # drop NaN
            out[str(key)] = item
        elif isinstance(item, dict) and all(isinstance(v, (int, float)) for v in item.values()):
            out[str(key)] = dict(item)
    return out


def _step_options(step: Any, stage: Stage) -> Any:
    from pydantic import ValidationError

    try:
        return step.Options.model_validate(stage.with_)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'with'}: {e['msg']}" for e in exc.errors()
        )
        raise StageFailure(f"invalid with: for step '{stage.run}': {problems}") from None
