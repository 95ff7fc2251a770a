"""From a loaded spec to Stage values.

``expand_stages`` turns a LoadedSpec into Stages: each ``matrix`` becomes one
stage per combination (``train@rf-1``, outputs suffixed the same way), each
``foreach`` one stage per element (``build@uk``, named as DVC names them), params
are interpolated into ``cmd``/``with``/``deps``/``outs``/``in``/``when``/``gates``
(recording exactly which keys each stage used), and expressions are parsed.
What interpolation produces is checked here too (``spec.paths``, ``spec.limits``):
every path a stage reads or writes, every stage and artifact name with its
matrix suffix, a ``promote`` stage's ``model_name``, and a ``cmd`` that ends up
empty.
"""

from __future__ import annotations

import posixpath
from typing import Any

from lockgate.errors import SpecError, SpecIssue
from lockgate.graph.stage import Kind, Stage, foreach_items, matrix_items
from lockgate.spec import limits
from lockgate.spec import models as m
from lockgate.spec.expr import Expr, ExprError, parse_expr
from lockgate.spec.limits import shown
from lockgate.spec.load import KEDRO_PARAM_RE, LoadedSpec, stage_params_path
from lockgate.spec.params import REF_RE, Budget, BudgetExceeded, ParamError, interpolate, lookup
from lockgate.spec.paths import check_name, check_path


def expand_stages(loaded: LoadedSpec) -> list[Stage]:
    """Every stage of the spec as Stage values; SpecError listing all problems."""
    issues: list[SpecIssue] = []
    stages: list[Stage] = []
    budget = Budget()
    exprs = _Exprs()
    for name, spec in loaded.spec.stages.items():
        combos = _combos(loaded, name, spec, issues)
        if combos is None:
            continue
        for suffix, item in combos:
            try:
                stage = _build(loaded, name, spec, suffix, item, issues, budget, exprs)
            except (BudgetExceeded, _TooManyExprs) as exc:  # stop: expanding further only costs more
                issues.append(loaded.issue(("stages", name), f"stage '{name}': {exc}", key=True))
                raise SpecError(issues) from None
            if stage is not None:
                stages.append(stage)
    if issues:
        raise SpecError(issues)
    return stages


def _combos(
    loaded: LoadedSpec, name: str, spec: m.CmdStage | m.CallStage | m.UsesStage, issues: list[SpecIssue]
) -> list[tuple[str, dict[str, Any]]] | None:
    """(suffix, the names the stage's ${...} gain: ``item``, ``key``) per expanded stage;
    None (with an issue) when the matrix or foreach cannot be expanded. A ``${param}``
    axis or foreach is resolved against the params first."""
    if spec.foreach is not None:
        items = _resolved(loaded, name, "foreach", spec.foreach, issues)
        if items is None:
            return None
        if not isinstance(items, (list, tuple, dict)) or not items:
            got = "empty" if isinstance(items, (list, tuple, dict)) else f"{type(items).__name__} {shown(items, 40)}"
            issues.append(loaded.issue(("stages", name, "foreach"),
                                       f"stage '{name}': foreach needs a non-empty list or mapping; got {got}"))
            return None
        if len(items) > limits.MAX_MATRIX_STAGES:
            issues.append(loaded.issue(("stages", name, "foreach"), (
                f"stage '{name}': foreach makes {len(items):,} stages, more than {limits.MAX_MATRIX_STAGES:,} "
                "(the most one stage may expand into); use fewer values, or split the stage"
            ), key=True))
            return None
        return foreach_items(items)
    matrix: dict[str, Any] = {}
    for axis, values in (spec.matrix or {}).items():
        values = _resolved(loaded, name, ("matrix", axis), values, issues)
        if values is None:
            return None
        if not isinstance(values, (list, tuple)) or not values:
            issues.append(loaded.issue(("stages", name, "matrix", axis),
                                       f"stage '{name}': matrix axis '{axis}' needs a non-empty list; "
                                       f"got {shown(values, 40)}"))
            return None
        matrix[axis] = tuple(values)
    size = 1
    for values in matrix.values():
        size *= len(values)
    if size > limits.MAX_MATRIX_STAGES:  # the loader says so first; never expand it anyway
        issues.append(loaded.issue(("stages", name, "matrix"), (
            f"stage '{name}': matrix makes {size:,} stages, more than {limits.MAX_MATRIX_STAGES:,} "
            "(the most one matrix may make); use fewer values, or split the stage"
        ), key=True))
        return None
    combos = matrix_items(matrix or None)
    names = [f"{name}@{suffix}" if suffix else name for suffix, _ in combos]
    if len(set(names)) != len(names):  # labels like "x-1"+"y" and "x"+"1-y" collide
        combos = [(str(i), item) for i, (_, item) in enumerate(combos)]
    # as in DVC, a matrix stage also knows ${key}: its combination's name
    return [(suffix, {"item": item, "key": suffix} if suffix else {}) for suffix, item in combos]


def _resolved(loaded: LoadedSpec, name: str, where: str | tuple[str, ...], value: Any,
              issues: list[SpecIssue]) -> Any:
    """``value``, or the param a whole-value ``${param}`` names (None with an issue)."""
    if not isinstance(value, str):
        return value
    found = REF_RE.fullmatch(value.strip())
    try:
        if found is None:
            raise ParamError(f"expected a list or a whole-value ${{param}}, got {shown(value, 40)}")
        return lookup(loaded.params, found.group(1).strip())
    except ParamError as exc:
        path = ("stages", name, *((where,) if isinstance(where, str) else where))
        issues.append(loaded.issue(path, f"stage '{name}': {exc}"))
        return None


class _TooManyExprs(Exception):
    """The pipeline's distinct expressions add up to more than ``MAX_EXPR_TOTAL_CHARS``."""


class _Exprs:
    """Parses each distinct expression once (a matrix repeats them; an Expr is a frozen
    value, so stages can share it), within ``MAX_EXPR_TOTAL_CHARS`` in all."""

    def __init__(self) -> None:
        self.parsed: dict[str, Expr | ExprError] = {}
        self.chars = 0

    def parse(self, text: str) -> Expr:
        found = self.parsed.get(text)
        if found is None:
            self.chars += min(len(text), limits.MAX_EXPR_CHARS + 1)  # a longer one fails at once
            if self.chars > limits.MAX_EXPR_TOTAL_CHARS:
                raise _TooManyExprs(
                    f"the pipeline's when:/gates: expressions add up to more than "
                    f"{limits.MAX_EXPR_TOTAL_CHARS:,} characters (after matrix expansion), the most "
                    "one pipeline may have; use fewer or shorter expressions"
                )
            try:
                found = parse_expr(text)
            except ExprError as exc:
                found = exc
            self.parsed[text] = found
        if isinstance(found, ExprError):
            raise found
        return found


class _Interp:
    """Interpolates one stage's fields, turning ParamError into located issues."""

    def __init__(self, loaded: LoadedSpec, base: str, item: dict[str, Any], issues: list[SpecIssue],
                 budget: Budget, exprs: _Exprs):
        self.budget = budget
        self.exprs = exprs
        self.loaded = loaded
        self.path = ("stages", base)
        self.prefix = f"stage '{base}': "
        self.namespace = {**loaded.params, **item} if item else loaded.params  # item (and key)
        self.reserved = tuple(item)  # names the expansion adds: not params
        self.used: dict[str, Any] = {}
        self.issues = issues
        self.ok = True

    def __call__(self, value: Any, *where: str | int) -> Any:
        try:
            return interpolate(value, self.namespace, self.used, self.budget)
        except BudgetExceeded:
            raise
        except ParamError as exc:
            self.fail(where, str(exc))
            return value

    def fail(self, where: tuple[str | int, ...], message: str) -> None:
        self.ok = False
        self.issues.append(self.loaded.issue((*self.path, *where), self.prefix + message))

    def expr(self, text: str | None, *where: str | int) -> Expr | None:
        if text is None:
            return None
        if len(text.strip()) > limits.MAX_EXPR_CHARS:  # too long as written: refuse before interpolating
            try:
                parse_expr(text)
            except ExprError as exc:
                self.fail(where, str(exc))
            return None
        resolved = self(text, *where)
        if not isinstance(resolved, str):
            self.fail(where, f"expected an expression, got {resolved!r}")
            return None
        try:
            return self.exprs.parse(resolved)
        except ExprError as exc:
            self.fail(where, str(exc))
            return None

    def paths(self, values: list[Any], where: str, *, writes: bool, wdir: str = "",
              at: int | None = None) -> list[str]:
        """Interpolated, checked (``spec.paths``) and normalized paths; only ``deps`` may
        lie outside the repository. Relative ones are taken from ``wdir`` (DVC's rule);
        ``at``: the entry's index, when ``values`` is one entry of a longer list."""
        resolved = self(values, where)
        try:
            texts = _paths(resolved)
        except ParamError as exc:
            self.fail((where,), str(exc))
            return []
        paths = []
        for i, text in enumerate(texts):
            if wdir and not text.startswith(("/", "\\")):
                text = posixpath.join(wdir, text)
            path, problem = check_path(text, f"{where} path", writes=writes)
            if problem:
                index = at if at is not None else i
                self.fail((where, index) if len(texts) == len(values) else (where,), problem)
            else:
                paths.append(path)
        return paths

    def params_used(self) -> dict[str, Any]:
        """Params referenced (``item.*`` and ``key`` excluded: they are part of the stage name)."""
        return {k: v for k, v in sorted(self.used.items()) if k.partition(".")[0] not in self.reserved}


def _build(
    loaded: LoadedSpec,
    base: str,
    spec: m.CmdStage | m.CallStage | m.UsesStage,
    suffix: str,
    item: dict[str, Any],
    issues: list[SpecIssue],
    budget: Budget,
    exprs: _Exprs,
) -> Stage | None:
    interp = _Interp(loaded, base, item, issues, budget, exprs)
    name = f"{base}@{suffix}" if suffix else base
    if suffix and (problem := check_name(name, f"stage name {shown(name)}")):
        interp.fail(("matrix",), problem + "; use shorter matrix values")
        return None
    wdir = ""
    if isinstance(spec, m.CmdStage) and spec.wdir is not None:
        resolved = interp(spec.wdir, "wdir")
        wdir, problem = check_path(str(resolved), "wdir", writes=False, inside=True)
        if problem:
            interp.fail(("wdir",), problem)
        wdir = "" if wdir == "." or problem else wdir
    common: dict[str, Any] = {
        "name": name,
        "pipeline": loaded.name,
        "base": base,
        "item": item["item"] if spec.matrix else dict(item),  # a matrix's values; foreach's item (and key)
        "deps": tuple(interp.paths(list(spec.deps), "deps", writes=False, wdir=wdir)),
        "frozen": spec.frozen,
        "always_changed": spec.always_changed,
        "when": interp.expr(spec.when, "when"),
        "gates": tuple(e for i, g in enumerate(spec.gates) if (e := interp.expr(g, "gates", i))),
        "resources": spec.resources.model_dump(exclude_none=True) if spec.resources else {},
        "desc": spec.desc,
        "file": loaded.file,
        "line": loaded.positions.of(("stages", base), key=True)[0],
    }
    if isinstance(spec, m.CmdStage):
        cmd = interp(spec.cmd if isinstance(spec.cmd, str) else list(spec.cmd), "cmd")
        if isinstance(cmd, list):
            cmd = [c for part in cmd for c in (part if isinstance(part, list) else [part])]
        if not (isinstance(cmd, str) or isinstance(cmd, list) and all(isinstance(c, str) for c in cmd)):
            interp.fail(("cmd",), f"cmd must be a string or a list of strings, got {shown(cmd)}")
            cmd = ""
        elif not any(part.strip() for part in ([cmd] if isinstance(cmd, str) else cmd)):
            interp.fail(("cmd",), "cmd is empty once params are put in; give the params it uses a value, "
                                  "or write the command to run")
        reads = _param_reads(loaded, spec)
        for key in reads:
            interp("${" + key + "}", "params")
        flags: dict[str, dict[str, Any]] = {}
        outs = _written(interp, spec.outs, "outs", wdir, flags)
        metrics = _written(interp, spec.metrics, "metrics", wdir, flags)
        plots: dict[str, dict[str, Any]] = {}
        for path, config in _written(interp, spec.plots, "plots", wdir, flags, with_config=True):
            if path in outs or path in metrics:
                interp.fail(("plots",), f"'{path}' is listed twice (plots: and "
                                        f"{'outs' if path in outs else 'metrics'}:); list it once")
                continue
            plots[path] = config
        stage = Stage(
            kind="cmd",
            run=cmd if isinstance(cmd, str) else tuple(cmd),
            outs=(*outs, *plots),  # plot files are outputs
            metrics=tuple(metrics),
            params=interp.params_used(),
            param_reads=tuple(reads),
            wdir=wdir,
            flags=flags,
            plots=plots,
            **common,
        )
    else:
        kind: Kind = "call" if isinstance(spec, m.CallStage) else "uses"
        run = spec.call if isinstance(spec, m.CallStage) else spec.uses
        inputs = {arg: interp(artifact, "in", arg) for arg, artifact in spec.in_.items()}
        with_ = interp(_kedro_params(spec.with_), "with")
        outputs = tuple(f"{o}@{suffix}" if suffix else o for o in spec.out)
        for i, out in enumerate(outputs):
            if suffix and (problem := check_name(out, f"artifact name {shown(out)}")):
                interp.fail(("out", i), problem + "; use shorter matrix values or a shorter name")
        model_name = with_.get("model_name") if _is_promote(spec) else None
        if isinstance(model_name, str) and (problem := check_name(model_name, f"model_name {shown(model_name)}")):
            interp.fail(("with", "model_name"), problem + "; shorten it")
        stage = Stage(
            kind=kind,
            run=run,
            inputs={k: str(v) for k, v in inputs.items()},
            outputs=outputs,
            with_=with_,
            params=interp.params_used(),
            executor=spec.executor or loaded.spec.executor or "",
            **common,
        )
    return stage if interp.ok else None


_PLOT_KEYS = ("x", "y", "template", "title", "x_label", "y_label", "header")


def _written(interp: _Interp, entries: tuple[Any, ...], where: str, wdir: str,
             flags: dict[str, dict[str, Any]], *, with_config: bool = False) -> Any:
    """The paths of ``outs``/``metrics``/``plots`` entries (a path, or ``{path: flags}``),
    recording the flags that differ from DVC's defaults in ``flags``; with
    ``with_config``, (path, plot config) pairs."""
    found: list[Any] = []
    for i, entry in enumerate(entries):
        text, options = (entry, None) if isinstance(entry, str) else next(iter(entry.items()))
        for path in interp.paths([text], where, writes=True, wdir=wdir, at=i):
            if options is not None:
                differs = {k: v for k, v in (("cache", options.cache), ("persist", options.persist))
                           if v != (k == "cache")}
                if differs:
                    flags[path] = differs
            if with_config:
                config = {k: getattr(options, k) for k in _PLOT_KEYS if getattr(options, k, None) is not None}
                found.append((path, interp(config, where, i) if config else {}))
            else:
                found.append(path)
    return found


def _param_reads(loaded: LoadedSpec, spec: m.CmdStage) -> list[str]:
    """The keys a ``cmd`` stage's program reads by itself: each plain key, each key of a
    ``{FILE: [keys]}`` entry, and every top-level key of a ``{FILE: }`` entry (DVC: the
    whole file)."""
    reads: list[str] = []
    for entry in spec.params:
        if isinstance(entry, str):
            reads.append(entry)
            continue
        ((file, keys),) = entry.items()
        if keys:
            reads += list(keys)
        else:
            reads += [str(k) for k in loaded.param_sources.get(stage_params_path(spec.wdir, file), {})]
    return list(dict.fromkeys(reads))


def _paths(values: Any) -> list[str]:
    """The path texts, for ``check_path`` to normalize (``./a/b/`` -> ``a/b``); a list
    param used as a whole value (``deps: "${files}"``) is spread out."""
    out = []
    flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
    for value in flat:
        if isinstance(value, (dict, list)):
            raise ParamError(f"a path must be a string, got {shown(value)}")
        out.append(str(value))
    return out


def _kedro_params(with_: dict[str, Any]) -> dict[str, Any]:
    """``with:`` with Kedro's ``"params:NAME"`` values read as ``"${NAME}"``: the same
    value, the same params recorded, the same fingerprint (whole values of with:'s own
    keys only, as Kedro passes them as node inputs; ``\\params:`` keeps the text)."""
    out = {}
    for key, value in with_.items():
        if isinstance(value, str) and value.startswith("\\params:"):
            value = value[1:]
        elif isinstance(value, str) and (found := KEDRO_PARAM_RE.fullmatch(value.strip())):
            value = "${" + found.group(1) + "}"
        out[key] = value
    return out


def _is_promote(spec: m.CmdStage | m.CallStage | m.UsesStage) -> bool:
    return isinstance(spec, m.UsesStage) and spec.uses == "promote"
