"""From a loaded spec to Stage values.

``expand_stages`` turns a LoadedSpec into Stages: each ``matrix`` becomes one
stage per combination (``train@rf-1``, outputs suffixed the same way), params
are interpolated into ``cmd``/``with``/``deps``/``outs``/``in``/``when``/``gates``
(recording exactly which keys each stage used), and expressions are parsed.
What interpolation produces is checked here too (``spec.paths``, ``spec.limits``):
every path a stage reads or writes, every stage and artifact name with its
matrix suffix, a ``promote`` stage's ``model_name``, and a ``cmd`` that ends up
empty.
"""

from __future__ import annotations

from typing import Any

from lockgate.errors import SpecError, SpecIssue
from lockgate.graph.stage import Kind, Stage, matrix_items
from lockgate.spec import limits
from lockgate.spec import models as m
from lockgate.spec.expr import Expr, ExprError, parse_expr
from lockgate.spec.limits import shown
from lockgate.spec.load import LoadedSpec
from lockgate.spec.params import Budget, BudgetExceeded, ParamError, interpolate
from lockgate.spec.paths import check_name, check_path


def expand_stages(loaded: LoadedSpec) -> list[Stage]:
    """Every stage of the spec as Stage values; SpecError listing all problems."""
    issues: list[SpecIssue] = []
    stages: list[Stage] = []
    budget = Budget()
    exprs = _Exprs()
    for name, spec in loaded.spec.stages.items():
        size = 1
        for values in (spec.matrix or {}).values():
            size *= len(values)
        if size > limits.MAX_MATRIX_STAGES:  # the loader says so first; never expand it anyway
            issues.append(loaded.issue(("stages", name, "matrix"), (
                f"stage '{name}': matrix makes {size:,} stages, more than {limits.MAX_MATRIX_STAGES:,} "
                "(the most one matrix may make); use fewer values, or split the stage"
            ), key=True))
            continue
        combos = matrix_items(spec.matrix)
        names = [f"{name}@{suffix}" if suffix else name for suffix, _ in combos]
        if len(set(names)) != len(names):  # labels like "x-1"+"y" and "x"+"1-y" collide
            combos = [(str(i), item) for i, (_, item) in enumerate(combos)]
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
        self.namespace = {**loaded.params, "item": item} if item else loaded.params
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

    def paths(self, values: list[Any], where: str, *, writes: bool) -> list[str]:
        """Interpolated, checked (``spec.paths``) and normalized paths; only ``deps`` may
        lie outside the repository."""
        resolved = self(values, where)
        try:
            texts = _paths(resolved)
        except ParamError as exc:
            self.fail((where,), str(exc))
            return []
        paths = []
        for i, text in enumerate(texts):
            path, problem = check_path(text, f"{where} path", writes=writes)
            if problem:
                self.fail((where, i) if len(texts) == len(values) else (where,), problem)
            else:
                paths.append(path)
        return paths

    def params_used(self) -> dict[str, Any]:
        """Params referenced (``item.*`` excluded: it is part of the stage name)."""
        return {k: v for k, v in sorted(self.used.items()) if not (k == "item" or k.startswith("item."))}


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
    common: dict[str, Any] = {
        "name": name,
        "pipeline": loaded.name,
        "base": base,
        "item": item,
        "deps": tuple(interp.paths(list(spec.deps), "deps", writes=False)),
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
        for key in spec.params:
            interp("${" + key + "}", "params")
        stage = Stage(
            kind="cmd",
            run=cmd if isinstance(cmd, str) else tuple(cmd),
            outs=tuple(interp.paths(list(spec.outs), "outs", writes=True)),
            metrics=tuple(interp.paths(list(spec.metrics), "metrics", writes=True)),
            params=interp.params_used(),
            param_reads=tuple(spec.params),
            **common,
        )
    else:
        kind: Kind = "call" if isinstance(spec, m.CallStage) else "uses"
        run = spec.call if isinstance(spec, m.CallStage) else spec.uses
        inputs = {arg: interp(artifact, "in", arg) for arg, artifact in spec.in_.items()}
        with_ = interp(dict(spec.with_), "with")
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
            **common,
        )
    return stage if interp.ok else None


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


def _is_promote(spec: m.CmdStage | m.CallStage | m.UsesStage) -> bool:
    return isinstance(spec, m.UsesStage) and spec.uses == "promote"
