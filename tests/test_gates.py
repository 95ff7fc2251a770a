"""Gates and when: pure decisions from an expression and values; errors are never decisions."""

from __future__ import annotations

import pytest

from lockgate.gates import GateError, NoChampion, decide, value_at
from lockgate.spec.expr import ExprError, Ref, parse_expr
from lockgate.spec.limits import MAX_EXPR_CHARS, MAX_EXPR_NODES

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


# -- evaluation: precedence, chains, and/or, and what each decision records -------------------

NUMBERS = {"s": {"n": 3, "f1": 0.5, "big": 10**18}}


def numbers(ref: Ref):
    if ref.name == "staging":
        raise NoChampion("")
    return value_at(NUMBERS[ref.name], ref.key, ref.name)


def holds(expr: str) -> bool:
    return decide(parse_expr(expr), numbers).holds


@pytest.mark.parametrize("expr", [
    "s.n + 2 * 3 == 9",  # * before +
    "s.n * 2 + 1 == 7",
    "(s.n + 1) * 2 == 8",
    "10 - s.n - 2 == 5",  # left to right: (10 - 3) - 2
    "s.n - 1 - 1 == 1",
    "12 / s.n / 2 == 2",  # (12 / 3) / 2
    "12 / (s.n * 2) == 2",
    "-s.n + 5 == 2",  # unary minus binds tighter than +
    "-(s.n + 5) == -8",
    "s.n / 2 == 1.5",  # true division
    "s.n > 2 and not s.f1 > 0.6",  # not (s.f1 > 0.6): comparisons bind tighter than not
    "s.n > 5 and s.f1 > 0.6 or s.n == 3",  # (false and false) or true
    "s.n == 3 or s.f1 > 0.6 and s.n > 5",  # true or (false and false)
    "not (s.n > 5 or s.f1 > 0.6)",
])
def test_operators_bind_as_in_python(expr: str):
    assert holds(expr)


@pytest.mark.parametrize("expr", [
    "s.n > 5 and (s.f1 > 0.6 or s.n == 3)",
    "not s.n > 2",
    "s.n - (1 - 1) == 1",
    "12 / s.n * 2 == 2",  # (12 / 3) * 2 == 8
])
def test_parentheses_and_order_change_the_result(expr: str):
    assert not holds(expr)


@pytest.mark.parametrize(("expr", "expected"), [
    ("0 < s.f1 < 1", True),
    ("0 < s.f1 <= 0.5 < s.n", True),
    ("1 < s.f1 < 2", False),  # the first link fails
    ("0 < s.f1 > 1", False),  # the second link fails: a chain is every link, not the last
    ("s.n > s.f1 > 0.6", False),
    ("s.f1 < s.n == 3", True),
])
def test_chained_comparisons_hold_only_when_every_link_holds(expr: str, expected: bool):
    assert holds(expr) is expected


def test_no_champion_waives_only_the_links_that_read_it():
    assert holds("0 < staging.roc_auc < 2")
    assert not holds("staging.roc_auc < s.f1 < 0.4")  # s.f1 < 0.4 is still checked
    assert holds("s.f1 < staging.roc_auc < 0.1")  # both links read the alias
    assert not holds("staging.roc_auc > 1 and s.n > 5")
    assert holds("staging.roc_auc > 1 or s.n > 5")


def test_a_missing_key_is_an_error_even_where_and_or_would_not_need_it():
    """A typo is an error wherever it is: and/or read every term."""
    for expr in ("s.n > 5 and s.nn > 1", "s.n == 3 or s.nn > 1", "s.nn > 1 or true"):
        with pytest.raises(GateError, match="'s' has no key 'nn'; did you mean 's.n'"):
            decide(parse_expr(expr), numbers)


def test_a_decision_records_each_value_once_in_reading_order():
    decision = decide(parse_expr("s.f1 > 0.1 and s.n > s.f1 and s.n < 10"), numbers)
    assert list(decision.values.items()) == [("s.f1", 0.5), ("s.n", 3)]
    assert decision.to_record() == {"expr": "s.f1 > 0.1 and s.n > s.f1 and s.n < 10", "holds": True,
                                    "values": {"s.f1": 0.5, "s.n": 3}}


@pytest.mark.parametrize(("expr", "rendered"), [
    ("s.f1 > 0.6 and s.n > 1", "s.f1 > 0.6 and s.n > 1: fails (s.f1 = 0.5, s.n = 3)"),
    ("s.f1 > 0.1 and s.n > 1", "s.f1 > 0.1 and s.n > 1: holds (s.f1 = 0.5, s.n = 3)"),
    ("s.n >= (s.f1 - 0.005) * 20", "s.n = 3, needs >= (s.f1 - 0.005) * 20 = 9.9 (s.f1 = 0.5)"),
    ("s.n > s.f1 * -(s.n - 10)", "s.n = 3, needs > s.f1 * -(s.n - 10) = 3.5 (s.f1 = 0.5)"),
    ("s.n < 12 / (s.n * 2)", "s.n = 3, needs < 12 / (s.n * 2) = 2"),
    ("s.f1 * 3 > 1.6666", "s.f1 * 3 > 1.6666: fails (s.f1 = 0.5)"),  # no bare reference on the left
    ("s.n * 0.123456789 > 1", "s.n * 0.123456789 > 1: fails (s.n = 3)"),
    ("s.f1 == 0.123456789", "s.f1 = 0.5, needs == 0.123456789"),
    ("s.f1 == s.f1 / 3", "s.f1 = 0.5, needs == s.f1 / 3 = 0.1667"),  # 4 significant digits
])
def test_a_failed_bound_keeps_its_parentheses_and_shows_its_value(expr: str, rendered: str):
    assert decide(parse_expr(expr), numbers).render() == rendered


def test_large_integers_stay_exact_below_64_bits():
    assert holds("s.big + 1 - s.big == 1")  # 10**18 + 1: a float would lose the 1


# -- NaN and infinity -------------------------------------------------------------------------

SPECIAL = {"m": {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "x": 0.5}}


def special(ref: Ref):
    return value_at(SPECIAL[ref.name], ref.key, ref.name)


@pytest.mark.parametrize("expr", [
    "m.nan >= 0.5", "m.nan <= 0.5", "m.nan > m.x", "m.nan == m.nan", "m.nan == 0.5", "0 < m.nan < 1",
    "m.ninf >= 0.5",
])
def test_ordered_comparisons_with_nan_or_a_wrong_infinity_fail(expr: str):
    decision = decide(parse_expr(expr), special)
    assert not decision.holds
    assert ("m.nan" if "nan" in expr else "m.ninf") in decision.values  # recorded, shown in the render


@pytest.mark.parametrize("expr", ["m.nan + 0 > 0", "m.nan * 0 == 0", "-m.nan < 1", "m.inf - m.inf == 0",
                                  "m.inf * 0 == 0", "m.inf + 1 > 0", "m.x - m.ninf > 0"])
def test_arithmetic_on_nan_or_infinity_is_an_error_not_a_decision(expr: str):
    with pytest.raises(GateError, match=r"^'.*': "):
        decide(parse_expr(expr), special)


@pytest.mark.parametrize("expr", ["m.nan != 0.5", "not m.nan > 0.5", "not m.nan < 0.5 and m.x > 0"])
def test_nan_never_lets_a_gate_hold(expr: str):
    try:
        decision = decide(parse_expr(expr), special)
    except GateError:
        return  # an error is as good as a failed gate: the stage stops
    assert not decision.holds


# -- at the limits of spec.limits ----------------------------------------------------------------


def test_the_longest_expression_allowed_is_decided():
    head, tail = "s.n", "> 2"
    at_limit = head + " " * (MAX_EXPR_CHARS - len(head) - len(tail)) + tail
    assert len(at_limit) == MAX_EXPR_CHARS
    assert decide(parse_expr(f"  {at_limit}\n"), numbers).holds  # surrounding blanks do not count
    with pytest.raises(ExprError, match=f"expression of {MAX_EXPR_CHARS + 1:,} characters, more than "
                                        f"{MAX_EXPR_CHARS:,}"):
        parse_expr(head + " " + at_limit[len(head):])


def test_the_most_terms_allowed_are_decided():
    negations = MAX_EXPR_NODES - 3  # -...-s.n < 0: the negations, s.n, the comparison and 0
    deepest = "-" * negations + "s.n < 0"
    assert decide(parse_expr(deepest), numbers).holds is (negations % 2 == 1)
    with pytest.raises(ExprError, match=f"more than {MAX_EXPR_NODES} terms"):
        parse_expr("-" + deepest)
    widest = " + ".join(["s.n"] * ((MAX_EXPR_NODES - 1) // 2)) + " == 297"  # n refs, n - 1 '+', '==', 297
    assert parse_expr(widest).refs == (Ref("s", "n"),)
    assert decide(parse_expr(widest), numbers).holds


def test_a_failed_fairness_gate_names_the_groups_it_is_between():
    """The fairness step writes ``worst_group`` per attribute and ``worst_attribute`` for the
    figures taken over all of them; a gate that fails says which groups, for the audit log."""
    from lockgate.gates import decide
    from lockgate.spec.expr import parse_expr

    fair = {
        "demographic_parity_ratio": 0.25,
        "worst_attribute": {"demographic_parity_ratio": "age_band"},
        "age_band": {"demographic_parity_ratio": 0.25, "worst_group": "lowest: 40-plus (0.1); highest: under-40 (0.4)"},
        "region": {"demographic_parity_ratio": 0.9, "worst_group": "lowest: north (0.3); highest: south (0.33)"},
    }

    def lookup(ref):
        from lockgate.gates import value_at

        return value_at(fair, ref.key, ref.name)

    top = decide(parse_expr("fair.demographic_parity_ratio >= 0.8"), lookup)
    assert not top.holds
    assert top.to_record()["note"] == "fair.age_band.worst_group: lowest: 40-plus (0.1); highest: under-40 (0.4)"
    own = decide(parse_expr("fair.region.demographic_parity_ratio >= 0.95"), lookup)
    assert own.note == "fair.region.worst_group: lowest: north (0.3); highest: south (0.33)"
    assert decide(parse_expr("fair.region.demographic_parity_ratio >= 0.8"), lookup).note == ""  # holds
    assert "worst_group" not in decide(parse_expr("fair.demographic_parity_ratio >= 0.8"),
                                       lambda ref: 0.25).render()  # an artifact without them: nothing added
