"""A Stage is a plain, frozen value: one runnable unit after matrix expansion and
interpolation. It knows nothing about running itself; the executor does that.
(``graph.expand`` makes Stages from a spec; this module imports no pydantic.)
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any, Literal

from lockgate.spec.expr import Expr, parse_expr

Kind = Literal["cmd", "call", "uses"]


@dataclass(frozen=True, eq=True)
class Stage:
    """One stage, ready to plan and run. Treat its mappings as read-only."""

    name: str
    kind: Kind
    run: str | tuple[str, ...]  # the command(s), "module:function", or the step name
    pipeline: str = ""
    base: str = ""  # the name written in the spec (before matrix expansion)
    item: dict[str, Any] = field(default_factory=dict)  # this stage's matrix values
    inputs: dict[str, str] = field(default_factory=dict)  # argument -> artifact
    outputs: tuple[str, ...] = ()  # artifact names produced
    with_: dict[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()  # repository-relative paths read
    outs: tuple[str, ...] = ()  # repository-relative paths written (cmd)
    metrics: tuple[str, ...] = ()  # JSON files of numbers written (cmd)
    when: Expr | None = None
    gates: tuple[Expr, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)  # dotted key -> value used
    param_reads: tuple[str, ...] = ()  # cmd `params:`: keys its program reads by itself (a params file)
    resources: dict[str, Any] = field(default_factory=dict)
    desc: str = ""
    file: str = ""
    line: int = 0

    def definition(self) -> dict[str, Any]:
        """The normalized definition hashed into the fingerprint (no positions, no desc)."""
        return {
            "kind": self.kind,
            "run": list(self.run) if isinstance(self.run, tuple) else self.run,
            "inputs": dict(sorted(self.inputs.items())),
            "outputs": list(self.outputs),
            "with": self.with_,
            "deps": sorted(self.deps),
            "outs": sorted(self.outs),
            "metrics": sorted(self.metrics),
            "when": self.when.source if self.when else None,
            "gates": [g.source for g in self.gates],
        }

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields (expressions as their source), for the plan cache."""
        data = {f: getattr(self, f) for f in self.__dataclass_fields__}
        data["when"] = self.when.source if self.when else None
        data["gates"] = [g.source for g in self.gates]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stage:
        fields = dict(data)
        fields["run"] = fields["run"] if isinstance(fields["run"], str) else tuple(fields["run"])
        for key in ("outputs", "deps", "outs", "metrics", "param_reads"):
            fields[key] = tuple(fields.get(key) or ())
        fields["when"] = parse_expr(fields["when"]) if fields["when"] else None
        fields["gates"] = tuple(parse_expr(g) for g in fields["gates"])
        return cls(**fields)


def matrix_items(matrix: dict[str, tuple[Any, ...]] | None) -> list[tuple[str, dict[str, Any]]]:
    """(suffix, item) per combination, in axis order: ``rf-1``, ``rf-2``, ``gbm-1``, ..."""
    if not matrix:
        return [("", {})]
    axes = list(matrix)
    combos = []
    for values in itertools.product(*(list(enumerate(matrix[a])) for a in axes)):
        item = {a: v for a, (_, v) in zip(axes, values)}
        suffix = "-".join(_label(i, v) for i, v in values)
        combos.append((suffix, item))
    return combos


def _label(index: int, value: Any) -> str:
    if isinstance(value, (str, int, float, bool)) and str(value).replace(".", "").replace("_", "").replace("-", "").isalnum():
        return str(value).lower() if isinstance(value, bool) else str(value)
    return str(index)


def norm_path(text: str) -> str:
    """A repository-relative POSIX path, normalized: ``./a/b/`` -> ``a/b``."""
    text = text.replace("\\", "/").strip()
    while text.startswith("./"):
        text = text[2:]
    return text.rstrip("/") or "."


def paths_overlap(a: str, b: str) -> bool:
    """The same path, or one inside the other (a folder and a file in it)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def overlapping_paths(path: str, known: Container[str], sorted_known: list[str]) -> list[str]:
    """Paths of ``known`` at or above ``path`` (its folders), then those inside it if it
    is a folder; ``sorted_known`` is ``sorted(known)``, so the search is a bisection."""
    found = []
    parts = path.split("/")
    for i in range(len(parts), 0, -1):
        prefix = "/".join(parts[:i])
        if prefix in known:
            found.append(prefix)
    start = bisect.bisect_left(sorted_known, path + "/")
    for other in sorted_known[start:]:
        if not other.startswith(path + "/"):
            break
        found.append(other)
    return found
