"""The small expression language of ``when:`` and ``gates:``.

Parsed once, at load time, with Python's ``ast`` and a whitelist of node types:
comparisons (chained too), ``and``/``or``/``not``, ``+ - * /``, unary minus,
numbers, booleans, strings, and references ``ARTIFACT.KEY`` (or ``ALIAS.KEY``
for a registry alias). Anything else is a spec error. Nothing is ever
``eval``'d: the tree is converted into the plain frozen values below, which
``lockgate.gates`` evaluates.

Bounded (``spec.limits``): at most ``MAX_EXPR_CHARS`` characters (checked before
parsing) and ``MAX_EXPR_NODES`` terms; arithmetic on a string constant is
refused here, and on any value that is not a number when ``gates`` evaluates.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Union

from lockgate.spec.limits import MAX_EXPR_CHARS, MAX_EXPR_NODES, shown

ALLOWED_HELP = (
    "expressions use comparisons, and/or/not, + - * /, numbers and "
    "ARTIFACT.KEY references, e.g. 'scores.roc_auc >= 0.85'"
)


class ExprError(Exception):
    """An expression outside the language; ``offset`` is its 0-based column in the text."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Ref:
    """``name.key``: a key of a metrics artifact, or of a registry alias's metrics;
    ``key`` is a dotted path into nested values (``roc_auc.test``)."""

    name: str
    key: str

    def __str__(self) -> str:
        return f"{self.name}.{self.key}"


@dataclass(frozen=True)
class Const:
    value: float | int | bool | str


@dataclass(frozen=True)
class Unary:
    op: str  # "not", "-", "+"
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str  # "+", "-", "*", "/"
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and", "or"
    values: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    left: Node
    ops: tuple[str, ...]  # "<", "<=", ">", ">=", "==", "!="
    comparators: tuple[Node, ...]


Node = Union[Ref, Const, Unary, Binary, BoolOp, Compare]


@dataclass(frozen=True)
class Expr:
    """A parsed expression: its source text, tree, and the references it reads."""

    source: str
    tree: Node
    refs: tuple[Ref, ...]

    def __str__(self) -> str:
        return self.source


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_UNARY = {ast.Not: "not", ast.USub: "-", ast.UAdd: "+"}
_BOOL = {ast.And: "and", ast.Or: "or"}
_NAMED_CONSTANTS = {"true": True, "false": False, "True": True, "False": False}
_FORBIDDEN_WORDS = {
    ast.Call: "function calls",
    ast.Subscript: "subscripts ([...])",
    ast.Lambda: "lambda",
    ast.IfExp: "'x if c else y'",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.NamedExpr: "':='",
    ast.Await: "await",
    ast.JoinedStr: "f-strings",
}


def parse_expr(text: str) -> Expr:
    """Parse ``text`` or raise ExprError saying what is not allowed and where."""
    source = text.strip()
    if not source:
        raise ExprError("empty expression; " + ALLOWED_HELP)
    if len(source) > MAX_EXPR_CHARS:
        raise ExprError(
            f"expression of {len(source):,} characters, more than {MAX_EXPR_CHARS:,} (the most one "
            "when:/gate may be); split it into several gates, or compute the value in a stage"
        )
    try:
        module = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        offset = max((exc.offset or 1) - 1, 0)
        raise ExprError(f"malformed expression {shown(source)} ({exc.msg}); {ALLOWED_HELP}", offset) from None
    except (ValueError, RecursionError, MemoryError):  # e.g. a NUL character; nesting the parser refuses
        raise ExprError(f"malformed expression {shown(source)}; {ALLOWED_HELP}") from None
    refs: list[Ref] = []
    tree = _convert(module.body, refs, [0])
    return Expr(source=source, tree=tree, refs=tuple(dict.fromkeys(refs)))


def _convert(node: ast.AST, refs: list[Ref], terms: list[int]) -> Node:
    terms[0] += 1  # counted on the way down, so recursion stops within MAX_EXPR_NODES levels
    if terms[0] > MAX_EXPR_NODES:
        raise ExprError(
            f"expression of more than {MAX_EXPR_NODES} terms, the most one when:/gate may have; "
            "split it into several gates, or compute the value in a stage"
        )
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (bool, int, float, str)):
            return Const(node.value)
        raise ExprError(f"{node.value!r} is not a number or a string", node.col_offset)
    if isinstance(node, ast.Attribute):
        return _ref(node, refs)
    if isinstance(node, ast.Name):
        if node.id in _NAMED_CONSTANTS:
            return Const(_NAMED_CONSTANTS[node.id])
        _no_dunder(node.id, node)
        raise ExprError(
            f"bare name '{node.id}': write ARTIFACT.KEY (e.g. scores.{node.id}) "
            f"or ${{{node.id}}} for a param",
            node.col_offset,
        )
    if isinstance(node, ast.BoolOp):
        return BoolOp(_BOOL[type(node.op)], tuple(_convert(v, refs, terms) for v in node.values))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = _convert(node.operand, refs, terms)
        if type(node.op) is not ast.Not:
            _no_text(operand, _UNARY[type(node.op)], node)
        return Unary(_UNARY[type(node.op)], operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _convert(node.left, refs, terms), _convert(node.right, refs, terms)
        _no_text(left, _BINOPS[type(node.op)], node)
        _no_text(right, _BINOPS[type(node.op)], node)
        return Binary(_BINOPS[type(node.op)], left, right)
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        return Compare(
            _convert(node.left, refs, terms),
            tuple(_CMPOPS[type(op)] for op in node.ops),
            tuple(_convert(c, refs, terms) for c in node.comparators),
        )
    raise ExprError(f"{_describe(node)} not allowed; {ALLOWED_HELP}", getattr(node, "col_offset", 0))


def _ref(node: ast.Attribute, refs: list[Ref]) -> Ref:
    """``a.b.c.d`` -> Ref("a", "b.c.d"): nested metrics (dvclive's ``{"roc_auc": {"test": ..}}``)
    are read at any depth."""
    keys: list[str] = []
    base: ast.AST = node
    while isinstance(base, ast.Attribute):
        _no_dunder(base.attr, base)
        keys.append(base.attr)
        base = base.value
    if not isinstance(base, ast.Name):
        raise ExprError(
            f"'{ast.unparse(node)}': references are ARTIFACT.KEY (or ARTIFACT.KEY.SUBKEY...)",
            node.col_offset,
        )
    _no_dunder(base.id, node)
    ref = Ref(base.id, ".".join(reversed(keys)))
    refs.append(ref)
    return ref


def _no_text(operand: Node, op: str, node: ast.AST) -> None:
    if isinstance(operand, Const) and (isinstance(operand.value, (str, bool))):
        what = "text" if isinstance(operand.value, str) else "true/false"
        raise ExprError(
            f"'{op}' works on numbers, not on {what} ({shown(operand.value)}); compare text with == or !=",
            node.col_offset,
        )


def _no_dunder(name: str, node: ast.AST) -> None:
    if name.startswith("__"):
        raise ExprError(f"names starting with '__' are not allowed ('{name}')", node.col_offset)


def _describe(node: ast.AST) -> str:
    for kind, words in _FORBIDDEN_WORDS.items():
        if isinstance(node, kind):
            return f"{words} are" if words.endswith("s") or words.endswith(")") else f"{words} is"
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare)):
        return "this operator is"
    return f"'{type(node).__name__}' is"


_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7}


def unparse(node: Node, parent: int = 0) -> str:
    """Source text for a tree (parenthesized only where needed)."""
    if isinstance(node, Ref):
        return str(node)
    if isinstance(node, Const):
        return repr(node.value) if isinstance(node.value, str) else str(node.value).lower() if isinstance(node.value, bool) else str(node.value)
    if isinstance(node, Unary):
        level = _PRECEDENCE["not" if node.op == "not" else "neg"]
        text = f"not {unparse(node.operand, level)}" if node.op == "not" else f"{node.op}{unparse(node.operand, level)}"
    elif isinstance(node, Binary):
        level = _PRECEDENCE[node.op]
        text = f"{unparse(node.left, level)} {node.op} {unparse(node.right, level + 1)}"
    elif isinstance(node, BoolOp):
        level = _PRECEDENCE[node.op]
        text = f" {node.op} ".join(unparse(v, level + 1) for v in node.values)
    else:
        level = _PRECEDENCE["cmp"]
        parts = [unparse(node.left, level + 1)]
        for op, comparator in zip(node.ops, node.comparators):
            parts += [op, unparse(comparator, level + 1)]
        text = " ".join(parts)
    return f"({text})" if level < parent else text
