"""when/gates expressions: a whitelist of ast nodes, parsed into plain values."""

from __future__ import annotations

import pytest

from lockgate.spec.expr import BoolOp, Compare, Const, ExprError, Ref, parse_expr


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
