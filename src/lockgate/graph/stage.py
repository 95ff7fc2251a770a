"""A Stage is a plain, frozen value: one runnable unit after matrix expansion and
interpolation. It knows nothing about running itself; the executor does that.
(``graph.expand`` makes Stages from a spec; this module imports no pydantic.)
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Container
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from lockgate.spec.expr import Expr

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
    wdir: str = ""  # cmd: the folder the command runs in ("" : the repository root)
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)  # out path -> {cache: False, persist: True}
    plots: dict[str, dict[str, Any]] = field(default_factory=dict)  # plot path (also in outs) -> x/y/template
    frozen: bool = False  # never run: the lock entry stands
    always_changed: bool = False  # run every time, never restored from the run-cache
    executor: str = ""  # call/uses: "thread", "process", or "" (the local executor picks); not in the fingerprint

    def cached(self, path: str) -> bool:
        """Whether an output is stored in the cache (DVC's ``cache: true``, the default)."""
        return bool(self.flags.get(path, {}).get("cache", True))

    def persists(self, path: str) -> bool:
        """Whether an output stays in place while the command runs (DVC's ``persist``)."""
        return bool(self.flags.get(path, {}).get("persist", False))

    @property
    def uses_run_cache(self) -> bool:
        """DVC's rule: no run-cache for a stage that always runs, keeps an output from run
        to run (persist), or has an output that is not cached."""
        written = (*self.outs, *self.metrics)
        return not (self.always_changed or any(self.persists(p) or not self.cached(p) for p in written))

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
            # only when set, so that specs without them keep their fingerprints; as DVC's
            # stage digest, frozen and persist are left out (they do not change the result)
            **({"wdir": self.wdir} if self.wdir else {}),
            **({"uncached": sorted(p for p in self.flags if not self.cached(p))}
               if any(not self.cached(p) for p in self.flags) else {}),
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
        if fields["when"] or fields["gates"]:  # most stages have neither: no parser to import
            from lockgate.spec.expr import parse_expr

            fields["when"] = parse_expr(fields["when"]) if fields["when"] else None
            fields["gates"] = tuple(parse_expr(g) for g in fields["gates"])
        else:
            fields["when"], fields["gates"] = None, ()
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


def foreach_items(items: Any) -> list[tuple[str, dict[str, Any]]]:
    """(suffix, names it adds: ``item``, and ``key`` for a mapping) per element of a
    ``foreach``, named as DVC names them: a mapping by its keys, a list of simple values
    by the values, a list holding lists or mappings by the index. Names that cannot be
    part of a file name (``data/a.csv``), or that repeat, fall back to the index."""
    if isinstance(items, dict):
        found = [(_to_str(k), {"item": v, "key": _to_str(k)}) for k, v in items.items()]
    elif any(isinstance(v, (dict, list, tuple)) for v in items):
        return [(str(i), {"item": v}) for i, v in enumerate(items)]
    else:
        found = [(_to_str(v), {"item": v}) for v in items]
    names = [name for name, _ in found]
    if len(set(names)) != len(names) or any(not _usable(n) for n in names):
        return [(str(i), extra) for i, (_, extra) in enumerate(found)]
    return found


def _to_str(value: Any) -> str:
    """DVC's rendering of a value in a stage name: ``true``/``false``, else ``str()``."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _usable(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\0@") \
        and not name.isspace()


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
