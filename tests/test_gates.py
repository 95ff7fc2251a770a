"""Gates and when: pure decisions from an expression and values; errors are never decisions."""

from __future__ import annotations

import pytest

from lockgate.gates import GateError, NoChampion, decide, value_at
from lockgate.spec.expr import Ref, parse_expr

VALUES = {
    "scores": {"roc_auc": 0.812, "f1": 0.5},
    "evaluate": {"roc_auc": {"test": 0.93, "train": 0.99}, "step": 3},
    "production": {"roc_auc": 0.84},
}


def lookup(ref: Ref):
    if ref.name == "staging":
        raise NoChampion("no model has the alias 'staging' yet")
    return value_at(VALUES[ref.name], ref.key, ref.name)


def test_nested_values_are_read_at_any_depth():
    assert decide(parse_expr("evaluate.roc_auc.test >= 0.9"), lookup).holds
    assert not decide(parse_expr("evaluate.roc_auc.test > evaluate.roc_auc.train"), lookup).holds


@pytest.mark.parametrize(("expr", "message"), [
    ("scores.roc_auk >= 0.8", r"'scores' has no key 'roc_auk'; did you mean 'scores.roc_auc'\?"),
    ("evaluate.roc_auc.tset >= 0.8", r"'evaluate.roc_auc' has no key 'tset'; did you mean 'evaluate.roc_auc.test'\?"),
    ("evaluate.roc_auc >= 0.8", r"'evaluate.roc_auc' is a mapping \(test, train\), not a value; "
                                r"name one of its keys, e.g. evaluate.roc_auc.test"),
    ("scores.f1.test >= 0.8", r"'scores.f1' is 0.5, not a mapping with a key 'test'"),
    ("scores.f1 / (scores.f1 - scores.f1) > 1", "division by zero"),
    ("scores.f1 > 'high'", "cannot compare these values"),
])
def test_what_cannot_be_decided_is_an_error_naming_the_key_never_a_decision(expr, message):
    with pytest.raises(GateError, match=message) as info:
        decide(parse_expr(expr), lookup, where="pipelines/p.yaml:9")
    assert str(info.value).startswith(f"pipelines/p.yaml:9: '{expr}': ")


def test_a_failed_gate_prints_both_sides_values():
    decision = decide(parse_expr("scores.roc_auc >= production.roc_auc - 0.005"), lookup, where="p.yaml:4")
    assert not decision.holds
    assert decision.render() == (
        "scores.roc_auc = 0.812, needs >= production.roc_auc - 0.005 = 0.835 "
        "(production.roc_auc = 0.84) (p.yaml:4)"
    )
    plain = decide(parse_expr("scores.roc_auc >= 0.85"), lookup)
    assert plain.render() == "scores.roc_auc = 0.812, needs >= 0.85"


def test_no_champion_holds_and_says_why():
    decision = decide(parse_expr("scores.roc_auc >= staging.roc_auc + 0.01"), lookup)
    assert decision.holds and "no model has the alias 'staging' yet" in decision.render()


@pytest.mark.parametrize("text", ["1e308 * 10 > 0", "m.big * m.big > 0", "0 - m.big * m.big < 0"])
def test_a_result_that_overflows_is_an_error_not_a_pass(text: str):
    """A float overflow gives inf, and inf > 0 holds: a gate must not pass on it."""
    with pytest.raises(GateError, match="a result is too large for a number"):
        decide(parse_expr(text), lambda ref: 1e200, "gate")
    assert decide(parse_expr("m.big * 10 > m.big"), lambda ref: 1e200).holds
