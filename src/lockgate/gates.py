"""Evaluate ``when:``/``gates:`` expressions: pure, expression + values -> Decision.

A failed gate is a result, not an exception (STYLE §8). A term that
references a registry alias that does not exist yet holds: there is no
champion to beat, and the decision says so. Values come from a lookup the
caller supplies (metrics artifacts and registry aliases), so this module reads
nothing.

Evaluation is bounded (``spec.limits``): arithmetic (``+ - * /``, unary ``-``)
takes numbers only, never text, lists or true/false, so no expression can build
a huge string or list (``'x' * n``); an integer result wider than 64 bits
becomes a float, and a float result that overflows is a GateError.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lockgate.errors import did_you_mean
from lockgate.spec.expr import Binary, BoolOp, Compare, Const, Expr, Node, Ref, Unary, unparse
from lockgate.spec.limits import shown as _shown

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
}
_MAX_INT_BITS = 64  # wider integer results become floats, so repeated '*' cannot grow them


class NoChampion(Exception):
    """A reference to a registry alias that does not exist yet."""


class GateError(Exception):
    """An expression that cannot be decided: a key the artifact lacks, a mapping
    where a number belongs, a comparison of unlike values, a division by zero.
    Never a decision (a typo must not read as BLOCKED): the stage fails, naming it."""


class MissingValue(GateError):
    """A reference whose artifact (or alias) exists but lacks the key."""


Lookup = Callable[[Ref], Any]
"""Returns the value of ``name.key``; raises NoChampion / GateError."""


@dataclass(frozen=True)
class Decision:
    """Whether an expression held, with the values it used, for people and the lock file."""

    expr: str
    holds: bool
    values: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    where: str = ""

    needs: str = ""  # for a failed `ref OP expr`: "OP expr", shown as "ref = v, needs OP expr"
    needs_value: Any = None  # the value of that `expr` when it is not a plain number

    def render(self) -> str:
        """``scores.roc_auc = 0.812, needs >= 0.85 (pipelines/churn.yaml:41)``; with a
        computed bound: ``..., needs >= production.roc_auc - 0.005 = 0.807 (production.roc_auc = 0.812)``"""
        used = ", ".join(f"{k} = {_fmt(v)}" for k, v in self.values.items())
        if self.holds:
            text = f"{self.expr}: holds" + (f" ({used})" if used else "")
        elif self.needs and used:
            left, *others = list(self.values.items())
            text = f"{left[0]} = {_fmt(left[1])}, needs {self.needs}"
            if self.needs_value is not None:
                text += f" = {_fmt(self.needs_value)}"
            if others:
                text += " (" + ", ".join(f"{k} = {_fmt(v)}" for k, v in others) + ")"
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


def value_at(values: Any, key: str, name: str) -> Any:
    """``values[a][b]`` for the dotted ``key`` ``a.b`` of artifact ``name``; GateError
    naming the key and the keys that exist (closest first) when it is not there, or
    when it names a mapping rather than a value."""
    node = values
    for depth, part in enumerate(key.split(".")):
        if not isinstance(node, dict) or part not in node:
            keys = sorted(_leaf_keys(values)) if isinstance(values, dict) else []
            hint = did_you_mean(key, keys, qualify=f"{name}.")
            listed = ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "")
            here = ".".join([name, *key.split(".")[:depth]])
            if isinstance(node, dict):
                raise MissingValue(f"'{here}' has no key '{part}'{hint} (it has: {listed or 'nothing'})")
            raise MissingValue(f"'{here}' is {_fmt(node)}, not a mapping with a key '{part}'{hint}")
        node = node[part]
    if isinstance(node, dict):
        inner = sorted(_leaf_keys(node))
        example = f"{name}.{key}.{inner[0]}" if inner else f"{name}.{key}.KEY"
        raise MissingValue(f"'{name}.{key}' is a mapping ({', '.join(inner[:8])}), not a value; "
                           f"name one of its keys, e.g. {example}")
    return node


def _leaf_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            keys.extend(_leaf_keys(value, f"{prefix}{key}."))
        else:
            keys.append(f"{prefix}{key}")
    return keys


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def decide(expr: Expr, lookup: Lookup, where: str = "") -> Decision:
    """Evaluate ``expr``; raises GateError (with ``where`` and the expression in its
    message) when it cannot be decided."""
    values: dict[str, Any] = {}
    notes: list[str] = []
    try:
        holds = bool(_eval(expr.tree, lookup, values, notes))
        nans = [name for name, value in values.items() if isinstance(value, float) and math.isnan(value)]
        if nans:  # `m.nan != 0.5` and `not m.nan > 0.5` are true in Python: NaN never lets a gate hold
            holds = False
            notes.append(f"{', '.join(nans)} {'is' if len(nans) == 1 else 'are'} NaN: a gate never holds on NaN")
        needs, needs_value = _needs(expr.tree, lookup, holds)
        if not holds:
            notes += _worst_groups(expr, lookup)
    except GateError as exc:
        raise GateError(_where(expr, where, str(exc))) from None
    except ZeroDivisionError:
        raise GateError(_where(expr, where, "division by zero")) from None
    except OverflowError:
        raise GateError(_where(expr, where, "a result is too large for a number")) from None
    except TypeError:
        shown = ", ".join(f"{k} = {_fmt(v)}" for k, v in values.items())
        raise GateError(_where(expr, where, f"cannot compare these values ({shown})")) from None
    return Decision(expr.source, holds, values, "; ".join(dict.fromkeys(notes)), where, needs, needs_value)


def _worst_groups(expr: Expr, lookup: Lookup) -> list[str]:
    """Which group a failed figure is worst for, when its artifact says so (the fairness
    step does: ``worst_group`` beside each attribute's figures, and ``worst_attribute``
    naming the attribute behind a figure taken over all of them)."""
    out = []
    for ref in expr.refs:
        parent, _, leaf = ref.key.rpartition(".")
        prefix = f"{parent}." if parent else ""
        where = [f"{prefix}worst_group"]
        attribute = _optional(lookup, Ref(ref.name, f"{prefix}worst_attribute.{leaf}"))
        if isinstance(attribute, str):
            where.append(f"{prefix}{attribute}.worst_group")
        for key in where:
            text = _optional(lookup, Ref(ref.name, key))
            if isinstance(text, str):
                out.append(f"{ref.name}.{key}: {text}")
                break
    return out


def _optional(lookup: Lookup, ref: Ref) -> Any:
    try:
        return lookup(ref)
    except (GateError, NoChampion):
        return None


def _where(expr: Expr, where: str, message: str) -> str:
    return f"{where + ': ' if where else ''}'{expr.source}': {message}"


def _needs(tree: Node, lookup: Lookup, holds: bool) -> tuple[str, Any]:
    """``>= 0.85`` for ``scores.roc_auc >= 0.85``: what the left-hand reference had to be,
    and the bound's value when it is computed (``production.roc_auc - 0.005``)."""
    if not (isinstance(tree, Compare) and len(tree.ops) == 1 and isinstance(tree.left, Ref)):
        return "", None
    right = tree.comparators[0]
    value = None
    if not holds and not isinstance(right, Const):
        computed = _eval(right, lookup, {}, [])
        value = None if computed is _UNKNOWN else computed
    return f"{tree.ops[0]} {unparse(right)}", value


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
        if node.op == "not":
            return not operand
        return _bounded(operator.neg(_number(operand, node.op)) if node.op == "-" else _number(operand, node.op))
    if isinstance(node, Binary):
        left = _eval(node.left, lookup, values, notes)
        right = _eval(node.right, lookup, values, notes)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        return _bounded(_ARITH[node.op](_number(left, node.op), _number(right, node.op)))
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


def _number(value: Any, op: str) -> int | float:
    """``value`` when arithmetic may use it: an int or a float, not true/false."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = ("true/false" if isinstance(value, bool) else "text" if isinstance(value, str)
                else "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list)
                else "null" if value is None else type(value).__name__)
        raise GateError(f"'{op}' works on numbers, not on {kind} ({_shown(value, 40)})")
    return value


def _bounded(value: int | float) -> int | float:
    """An integer result wider than 64 bits as a float (OverflowError if even that is too
    small); a float result that overflowed to infinity is an OverflowError too: a gate
    must not pass on ``inf > 0``."""
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        value = float(value)
    if isinstance(value, float) and math.isnan(value):  # inf - inf, inf * 0
        raise GateError("a result is not a number (NaN)")
    if isinstance(value, float) and math.isinf(value):
        raise OverflowError
    return value
