"""Evaluate ``when:``/``gates:`` expressions: pure, expression + values -> Decision.

A failed gate is a result, not an exception (STYLE §8). A term that
references a registry alias that does not exist yet holds: there is no
champion to beat, and the decision says so. Values come from a lookup the
caller supplies (metrics artifacts and registry aliases), so this module reads
nothing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lockgate.spec.expr import Binary, BoolOp, Compare, Const, Expr, Node, Ref, Unary, unparse

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
}


class NoChampion(Exception):
    """A reference to a registry alias that does not exist yet."""


class MissingValue(Exception):
    """A reference whose artifact exists but lacks the key (or is not numeric)."""


Lookup = Callable[[Ref], Any]
"""Returns the value of ``name.key``; raises NoChampion / MissingValue."""


@dataclass(frozen=True)
class Decision:
    """Whether an expression held, with the values it used, for people and the lock file."""

    expr: str
    holds: bool
    values: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    where: str = ""

    needs: str = ""  # for a failed `ref OP expr`: "OP expr", shown as "ref = v, needs OP expr"

    def render(self) -> str:
        """``scores.roc_auc = 0.812, needs >= 0.85 (pipelines/churn.yaml:41)``"""
        used = ", ".join(f"{k} = {_fmt(v)}" for k, v in self.values.items())
        if self.holds:
            text = f"{self.expr}: holds" + (f" ({used})" if used else "")
        elif self.needs and used:
            text = f"{used}, needs {self.needs}"
        else:
            text = f"{self.expr}: fails" + (f" ({used})" if used else "")
        if self.note:
            text += f"; {self.note}"
        if self.where:
            text += f" ({self.where})"
        return text

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"expr": self.expr, "holds": self.holds, "values": self.values}
        if self.note:
            record["note"] = self.note
        return record


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def decide(expr: Expr, lookup: Lookup, where: str = "") -> Decision:
    values: dict[str, Any] = {}
    notes: list[str] = []
    try:
        holds = bool(_eval(expr.tree, lookup, values, notes))
    except MissingValue as exc:
        return Decision(expr.source, False, values, str(exc), where)
    except ZeroDivisionError:
        return Decision(expr.source, False, values, "division by zero", where)
    except TypeError as exc:
        return Decision(expr.source, False, values, f"cannot compare: {exc}", where)
    return Decision(expr.source, holds, values, "; ".join(dict.fromkeys(notes)), where, _needs(expr.tree))


def _needs(tree: Node) -> str:
    """``>= 0.85`` for ``scores.roc_auc >= 0.85``: what the left-hand reference had to be."""
    if isinstance(tree, Compare) and len(tree.ops) == 1 and isinstance(tree.left, Ref):
        return f"{tree.ops[0]} {unparse(tree.comparators[0])}"
    return ""


class _Unknown:
    """The value of a reference to an alias with no version: every comparison with it holds."""


_UNKNOWN = _Unknown()


def _eval(node: Node, lookup: Lookup, values: dict[str, Any], notes: list[str]) -> Any:
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Ref):
        try:
            value = lookup(node)
        except NoChampion as exc:
            notes.append(str(exc) or f"no '{node.name}' yet, so there is no champion to beat")
            return _UNKNOWN
        values[str(node)] = value
        return value
    if isinstance(node, Unary):
        operand = _eval(node.operand, lookup, values, notes)
        if operand is _UNKNOWN:
            return _UNKNOWN
        return {"not": operator.not_, "-": operator.neg, "+": operator.pos}[node.op](operand)
    if isinstance(node, Binary):
        left = _eval(node.left, lookup, values, notes)
        right = _eval(node.right, lookup, values, notes)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        return _ARITH[node.op](left, right)
    if isinstance(node, BoolOp):
        results = [_eval(v, lookup, values, notes) for v in node.values]
        truth = [True if r is _UNKNOWN else bool(r) for r in results]
        return all(truth) if node.op == "and" else any(truth)
    if isinstance(node, Compare):
        left = _eval(node.left, lookup, values, notes)
        for op, comparator in zip(node.ops, node.comparators):
            right = _eval(comparator, lookup, values, notes)
            if left is not _UNKNOWN and right is not _UNKNOWN and not _CMP[op](left, right):
                return False
            left = right
        return True
    raise TypeError(f"unexpected node {node!r}")
