"""when/gates expressions: a whitelist of ast nodes, parsed into plain values."""

from __future__ import annotations

import re

import pytest

from lockgate.spec.expr import Binary, BoolOp, Compare, Const, ExprError, Ref, Unary, parse_expr


def test_references_and_structure():
    expr = parse_expr("scores.roc_auc >= 0.85 and not drift.share_drifted > 0.5")
    assert expr.refs == (Ref("scores", "roc_auc"), Ref("drift", "share_drifted"))
    assert isinstance(expr.tree, BoolOp) and expr.tree.op == "and"


def test_arithmetic_chained_comparisons_and_constants():
    expr = parse_expr("0 < scores.f1 <= production.f1 - 0.02 * 2 or true")
    left = expr.tree.values[0]
    assert isinstance(left, Compare) and left.ops == ("<", "<=")
    assert expr.tree.values[1] == Const(True)


def test_nested_references_read_any_depth():
    expr = parse_expr("evaluate.roc_auc.test >= 0.9 and a.b.c.d < 1")
    assert expr.refs == (Ref("evaluate", "roc_auc.test"), Ref("a", "b.c.d"))
    assert str(expr.refs[0]) == "evaluate.roc_auc.test"


def test_duplicate_references_listed_once():
    assert parse_expr("a.b > 1 and a.b < 2").refs == (Ref("a", "b"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('rm -rf /')", "function calls are not allowed"),
        ("scores.f1()", "function calls are not allowed"),
        ("f(a).b > 1", "references are ARTIFACT.KEY"),
        ("a.b.__class__ > 1", "names starting with '__' are not allowed"),
        ("a[0] > 1", "subscripts"),
        ("(lambda: 1)() > 0", "not allowed"),
        ("x > 1", "bare name 'x'"),
        ("a.__class__ > 1", "names starting with '__' are not allowed"),
        ("__x.y > 1", "names starting with '__' are not allowed"),
        ("a.b ** 2 > 1", "not allowed"),
        ("a.b if c.d else 1", "not allowed"),
        ("[x for x in y.z]", "not allowed"),
        ("a.b >", "malformed expression"),
        ("", "empty expression"),
        ("None > a.b", "is not a number"),
    ],
)
def test_anything_else_is_rejected(text: str, message: str):
    with pytest.raises(ExprError, match=message):
        parse_expr(text)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("a.b > 1 and f(x)", "function calls are not allowed", 12),
        ("'x'.upper() == 'X'", "function calls are not allowed", 0),
        ("a.b > 0 and (lambda: 1)", "lambda is not allowed", 13),
        ("a.b[1:2] > 0", "subscripts", 0),
        ("a.b > 1 and c.d[0] > 1", "subscripts", 12),
        ("(1).real > 0", "references are ARTIFACT.KEY", 0),
        ("'x'.y == 1", "references are ARTIFACT.KEY", 0),
        ("a.b > 1 and c.__dict__ > 1", "names starting with '__' are not allowed ('__dict__')", 12),
        ("__builtins__.open > 1", "names starting with '__' are not allowed ('__builtins__')", 0),
        ("a.b.__class__.c > 1", "names starting with '__' are not allowed ('__class__')", 0),
        ("f'{a.b}' == 'x'", "f-strings are not allowed", 0),
        ("await a.b", "await is not allowed", 0),
        ("(x := a.b) > 1", "':=' is not allowed", 1),
        ("a.b // 2 > 1", "this operator is not allowed", 0),
        ("a.b % 2 == 0", "this operator is not allowed", 0),
        ("a.b @ c.d > 0", "this operator is not allowed", 0),
        ("a.b & 1 == 1", "this operator is not allowed", 0),
        ("~a.b > 1", "this operator is not allowed", 0),
        ("a.b in c.d", "this operator is not allowed", 0),
        ("a.b is c.d", "this operator is not allowed", 0),
        ("[1] == a.b", "not allowed", 0),
        ("{'k': 1} == a.b", "not allowed", 0),
        ("(1, 2) == a.b", "not allowed", 0),
        ("a.b > 1 and {c.d} == 1", "not allowed", 12),
    ],
)
def test_everything_outside_the_whitelist_is_refused_where_it_stands(text: str, message: str, column: int):
    with pytest.raises(ExprError, match=re.escape(message)) as info:
        parse_expr(text)
    assert info.value.offset == column


def test_what_the_whitelist_allows_is_exactly_its_tree():
    expr = parse_expr("not -a.b + 2 * c.d.e / 4 >= 1 or x.y != 'text' and true")
    assert expr.tree == BoolOp("or", (
        Unary("not", Compare(
            Binary("+", Unary("-", Ref("a", "b")), Binary("/", Binary("*", Const(2), Ref("c", "d.e")), Const(4))),
            (">=",), (Const(1),))),
        BoolOp("and", (Compare(Ref("x", "y"), ("!=",), (Const("text"),)), Const(True))),
    ))
