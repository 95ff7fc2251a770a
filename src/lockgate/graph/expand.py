"""From a loaded spec to Stage values.

``expand_stages`` turns a LoadedSpec into Stages: each ``matrix`` becomes one
stage per combination (``train@rf-1``, outputs suffixed the same way), params
are interpolated into ``cmd``/``with``/``deps``/``outs``/``in``/``when``/``gates``
(recording exactly which keys each stage used), and expressions are parsed.
"""

from __future__ import annotations

from typing import Any

from lockgate.errors import SpecError, SpecIssue
from lockgate.graph.stage import Kind, Stage, matrix_items, norm_path
from lockgate.spec import models as m
from lockgate.spec.expr import Expr, ExprError, parse_expr
from lockgate.spec.load import LoadedSpec
from lockgate.spec.params import ParamError, interpolate


def expand_stages(loaded: LoadedSpec) -> list[Stage]:
    """Every stage of the spec as Stage values; SpecError listing all problems."""
    issues: list[SpecIssue] = []
    stages: list[Stage] = []
    for name, spec in loaded.spec.stages.items():
        combos = matrix_items(spec.matrix)
        names = [f"{name}@{suffix}" if suffix else name for suffix, _ in combos]
        if len(set(names)) != len(names):  # labels like "x-1"+"y" and "x"+"1-y" collide
            combos = [(str(i), item) for i, (_, item) in enumerate(combos)]
        for suffix, item in combos:
            stage = _build(loaded, name, spec, suffix, item, issues)
            if stage is not None:
                stages.append(stage)
    if issues:
        raise SpecError(issues)
    return stages


class _Interp:
    """Interpolates one stage's fields, turning ParamError into located issues."""

    def __init__(self, loaded: LoadedSpec, base: str, item: dict[str, Any], issues: list[SpecIssue]):
        self.loaded = loaded
        self.path = ("stages", base)
        self.prefix = f"stage '{base}': "
        self.namespace = {**loaded.params, "item": item} if item else loaded.params
        self.used: dict[str, Any] = {}
        self.issues = issues
        self.ok = True

    def __call__(self, value: Any, *where: str | int) -> Any:
        try:
            return interpolate(value, self.namespace, self.used)
        except ParamError as exc:
            self.fail(where, str(exc))
            return value

    def fail(self, where: tuple[str | int, ...], message: str) -> None:
        self.ok = False
        self.issues.append(self.loaded.issue((*self.path, *where), self.prefix + message))

    def expr(self, text: str | None, *where: str | int) -> Expr | None:
        if text is None:
            return None
        resolved = self(text, *where)
        if not isinstance(resolved, str):
            self.fail(where, f"expected an expression, got {resolved!r}")
            return None
        try:
            return parse_expr(resolved)
        except ExprError as exc:
            self.fail(where, str(exc))
            return None

    def paths(self, values: list[Any], where: str) -> list[str]:
        try:
            return _paths(self(values, where))
        except ParamError as exc:
            self.fail((where,), str(exc))
            return []

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
) -> Stage | None:
    interp = _Interp(loaded, base, item, issues)
    name = f"{base}@{suffix}" if suffix else base
    common: dict[str, Any] = {
        "name": name,
        "pipeline": loaded.name,
        "base": base,
        "item": item,
        "deps": tuple(interp.paths(list(spec.deps), "deps")),
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
            interp.fail(("cmd",), f"cmd must be a string or a list of strings, got {cmd!r}")
            cmd = ""
        for key in spec.params:
            interp("${" + key + "}", "params")
        stage = Stage(
            kind="cmd",
            run=cmd if isinstance(cmd, str) else tuple(cmd),
            outs=tuple(interp.paths(list(spec.outs), "outs")),
            metrics=tuple(interp.paths(list(spec.metrics), "metrics")),
            params=interp.params_used(),
            param_reads=tuple(spec.params),
            **common,
        )
    else:
        kind: Kind = "call" if isinstance(spec, m.CallStage) else "uses"
        run = spec.call if isinstance(spec, m.CallStage) else spec.uses
        inputs = {arg: interp(artifact, "in", arg) for arg, artifact in spec.in_.items()}
        with_ = interp(dict(spec.with_), "with")
        stage = Stage(
            kind=kind,
            run=run,
            inputs={k: str(v) for k, v in inputs.items()},
            outputs=tuple(f"{o}@{suffix}" if suffix else o for o in spec.out),
            with_=with_,
            params=interp.params_used(),
            **common,
        )
    return stage if interp.ok else None


def _paths(values: Any) -> list[str]:
    """Repository-relative POSIX paths, normalized (``./a/b/`` -> ``a/b``); a list
    param used as a whole value (``deps: "${files}"``) is spread out."""
    out = []
    flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
    for value in flat:
        if isinstance(value, dict):
            raise ParamError(f"a path must be a string, got a mapping {value!r}")
        out.append(norm_path(str(value)))
    return out
