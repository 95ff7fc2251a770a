"""Hostile specs: every one ends quickly with located, one-line errors saying how to fix it
(``spec.limits``), never a traceback, a hang, or gigabytes of memory."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from lockgate.errors import SpecError
from lockgate.gates import GateError, decide
from lockgate.graph.compile import compile_pipeline
from lockgate.spec import limits
from lockgate.spec.expr import ExprError, Ref, parse_expr
from lockgate.spec.load import load_spec, load_text
from lockgate.spec.params import ParamError, parse_override
from lockgate.spec.yamlread import read_yaml

SECONDS = 3.0  # each case takes well under a second on an idle machine; test machines are shared


def issues(text: str, **kw) -> list[str]:
    """The issues of compiling ``text``, which must fail with a SpecError quickly."""
    started = time.monotonic()
    with pytest.raises(SpecError) as info:
        compile_pipeline(load_text(text, file="pipelines/p.yaml", name="p", **kw))
    assert time.monotonic() - started < SECONDS
    found = [str(i) for i in info.value.issues]
    assert found and all("\n" not in f and len(f) < 600 for f in found), found
    return found


def one(text: str, **kw) -> str:
    found = issues(text, **kw)
    assert len(found) == 1, found
    return found[0]


def billion_laughs(levels: int) -> str:
    lines = ["version: 1", "stages:", "  a: {cmd: echo}", "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# -- YAML: aliases, nesting, numbers, tags ---------------------------------------------


@pytest.mark.parametrize("levels", [5, 9, 30])
def test_alias_bomb_is_refused_quickly(levels):
    text = billion_laughs(levels)
    assert len(text) < 2000
    found = one(text)
    assert re.match(r"^pipelines/p\.yaml:\d+:\d+: alias '\*a\d' repeats [\d,]+ values, which takes this "
                    r"document past 50,000, the most a spec may hold \(aliases of aliases multiply\); "
                    r"write the values out, or use fewer aliases$", found), found


def test_recursive_alias_is_refused():
    assert one("version: 1\nstages: &s\n  a: *s\n") == (
        "pipelines/p.yaml:3:6: alias '*s' is inside the value it refers to ('&s', line 2); "
        "a spec cannot contain itself"
    )


def test_undefined_alias_is_located():
    assert one("version: 1\nstages:\n  a: *nope\n") == (
        "pipelines/p.yaml:3:6: alias '*nope' refers to nothing; define '&nope' on a value above it"
    )


@pytest.mark.parametrize("text", [
    "version: 1\nstages:\n  a: {cmd: echo}\nparams:\n  x: " + "[" * 5000 + "]" * 5000 + "\n",
    "version: 1\nstages:\n  a: {cmd: echo}\nparams:\n  x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "version: 1\nstages:\n  a: {cmd: echo}\nparams:\n  x:\n    " + "- " * 500 + "1\n",
], ids=["flow-lists", "flow-mappings", "block-lists"])
def test_deep_nesting_is_refused(text):
    assert re.match(r"^pipelines/p\.yaml:[56]:\d+: nested more than 100 levels deep, the most a spec may be; "
                    r"flatten it$", one(text))


def test_nesting_through_aliases_counts_too():
    deep = "[" * 60 + "1" + "]" * 60
    text = f"version: 1\nstages:\n  a: {{cmd: echo}}\nparams:\n  x: &d {deep}\n  y: {'[' * 60}*d{']' * 60}\n"
    assert re.match(r"^pipelines/p\.yaml:6:\d+: alias '\*d' nests this document more than 100 levels deep",
                    one(text))


def test_too_many_values_without_aliases():
    values = ", ".join(["1"] * (limits.MAX_YAML_VALUES + 10))
    found = one(f"version: 1\nstages:\n  a: {{cmd: echo}}\nparams:\n  x: [{values}]\n")
    assert found.endswith("more than 50,000 values in one document, the most a spec may hold; keep data "
                          "in files the pipeline reads (deps:, inputs:), not in the spec")


@pytest.mark.parametrize("number", ["1" * 5000, "-" + "9" * 101, "0x" + "f" * 200, "1_0" * 100])
def test_huge_integers_are_refused(number):
    found = one(f"version: 1\nparams:\n  n: {number}\nstages:\n  a: {{cmd: echo}}\n")
    assert re.match(r"^pipelines/p\.yaml:3:6: an integer of [\d,]+ digits is longer than 100, the most a "
                    r"spec may hold; quote it to keep it as text$", found), found


def test_a_quoted_long_number_is_text():
    loaded = load_text(f"version: 1\nparams:\n  n: '{'1' * 5000}'\nstages:\n  a: {{cmd: echo}}\n")
    assert loaded.params["n"] == "1" * 5000


@pytest.mark.parametrize(("value", "tag"), [
    ("!!python/object/apply:os.system [echo pwned]", "!!python/object/apply:os.system"),
    ("!!python/object/apply:os.system {args: [echo]}", "!!python/object/apply:os.system"),
    ("!!python/name:os.system ''", "!!python/name:os.system"),
    ("!!python/object:builtins.dict {}", "!!python/object:builtins.dict"),
])
def test_python_tags_are_refused_wherever_they_are(value, tag):
    for text in (
        f"version: 1\nstages:\n  a: {{cmd: {value}}}\n",
        f"version: 1\nparams: {{x: [1, {{y: {value}}}]}}\nstages:\n  a: {{cmd: echo}}\n",
    ):
        found = one(text)
        assert re.match(rf"^pipelines/p\.yaml:\d+:\d+: tag '{re.escape(tag)}' is not allowed: lockgate never "
                        r"builds Python objects from a spec; remove it$", found), found


@pytest.mark.parametrize("value", ["!!binary aGVsbG8=", "!!set {a, b}", "!!omap [{a: 1}]", "!foo bar"])
def test_other_tags_are_refused(value):
    found = one(f"version: 1\nparams: {{x: {value}}}\nstages:\n  a: {{cmd: echo}}\n")
    assert found.endswith("is not allowed: a spec holds only strings, numbers, true/false, null, lists "
                          "and mappings; remove it"), found


def test_plain_tags_still_work():
    loaded = load_text("version: 1\nparams: {s: !!str 12, i: !!int '3', f: !!float 1}\nstages:\n  a: {cmd: echo}\n")
    assert loaded.params == {"s": "12", "i": 3, "f": 1.0}


@pytest.mark.parametrize(("key", "meaning"), [
    ("yes", "true"), ("no", "false"), ("on", "true"), ("off", "false"), ("True", "true"), ("null", "null"),
    ("~", "null"),
])
def test_yaml_11_keys_say_quote_it(key, meaning):
    found = one(f"version: 1\nstages:\n  {key}: {{cmd: echo}}\n")
    assert found == (f"pipelines/p.yaml:3:3: '{key}' as a key is read by YAML as {meaning}; "
                     f"quote it ('{key}':) to use it as a name")
    loaded = load_text(f"version: 1\nparams: {{'{key}': 1}}\nstages:\n  a: {{cmd: echo}}\n")
    assert loaded.params == {key: 1}


def test_dates_and_base_60_numbers_say_quote_it():
    found = issues("version: 1\nparams: {day: 2024-01-01, at: 12:30}\nstages:\n  a: {cmd: echo}\n")
    assert found == [
        "pipelines/p.yaml:2:15: YAML reads 2024-01-01 as a date; quote it ('2024-01-01') to keep it as text",
        "pipelines/p.yaml:2:31: YAML 1.1 reads 12:30 as the base-60 number 750; quote it ('12:30') "
        "to keep it as text",
    ]


def test_a_second_document_is_refused():
    assert one("version: 1\nstages:\n  a: {cmd: echo}\n---\nversion: 1\n") == (
        "pipelines/p.yaml:4:1: a second YAML document starts here; a spec is one document: "
        "remove the '---' line, or split the file"
    )


def test_merge_keys_follow_yaml_and_errors_point_at_the_merged_text():
    text = (
        "version: 1\n"
        "stages:\n"
        "  a: &base {cmd: echo, deps: [x], outz: [y]}\n"
        "  b: {<<: *base, deps: [z]}\n"
    )
    found = issues(text)
    assert found == [
        "pipelines/p.yaml:3:35: stage 'a': unknown key 'outz' (did you mean 'outs'?)",
        "pipelines/p.yaml:3:35: stage 'b': unknown key 'outz' (did you mean 'outs'?)",
    ]
    data, _ = read_yaml("a: &d {x: 1, y: 2}\nc: &e {x: 9, w: 8}\nb: {<<: [*d, *e], y: 7}\n", "f")
    assert data["b"] == {"x": 1, "y": 7, "w": 8}  # written keys win, then the first merged mapping


def test_a_second_merge_key_is_a_duplicate():
    found = one("version: 1\nstages:\n  a: &d {cmd: echo}\n  b:\n    <<: *d\n    <<: {desc: x}\n")
    assert found == ("pipelines/p.yaml:6:5: a second '<<' (the first is on line 5); merge several mappings "
                     "with one: <<: [*a, *b]")


def test_non_utf8_spec_names_the_first_bad_byte(tmp_path: Path):
    spec = tmp_path / "pipelines" / "p.yaml"
    spec.parent.mkdir()
    spec.write_bytes(b"version: 1\nstages:\n  a:\n    cmd: echo \xc3\xa9 \xff\xfe\n")
    with pytest.raises(SpecError) as info:
        load_spec(spec, root=tmp_path)
    assert [str(i) for i in info.value.issues] == [
        "pipelines/p.yaml:4:17: not UTF-8 text: byte 0xff cannot be decoded; save the file as UTF-8"
    ]


def test_spec_file_size_is_capped(tmp_path: Path):
    spec = tmp_path / "p.yaml"
    spec.write_bytes(b"version: 1\n#" + b"x" * limits.MAX_SPEC_BYTES)
    with pytest.raises(SpecError) as info:
        load_spec(spec, root=tmp_path)
    assert str(info.value) == ("p.yaml: larger than 10 MiB, the most a spec or params file may be; keep data "
                               "in files the pipeline reads (deps:, inputs:), not in the spec")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_params_file_that_never_ends_is_refused(tmp_path: Path):
    os.mkfifo(tmp_path / "params.yaml")  # reading it would block forever
    found = one("version: 1\nparams_file: params.yaml\nstages:\n  a: {cmd: echo}\n", root=tmp_path)
    assert found == "pipelines/p.yaml:2:14: params_file 'params.yaml' is not a regular file; name a YAML file"
    with pytest.raises(SpecError, match="not a regular file"):
        load_spec(tmp_path / "params.yaml", root=tmp_path)


def test_params_file_has_the_same_limits(tmp_path: Path):
    (tmp_path / "params.yaml").write_text("on: 1\nseed: !!python/name:os.system ''\n")
    found = issues("version: 1\nparams_file: params.yaml\nstages:\n  a: {cmd: echo}\n", root=tmp_path)
    assert found == [
        "params.yaml:1:1: 'on' as a key is read by YAML as true; quote it ('on':) to use it as a name",
        "params.yaml:2:7: tag '!!python/name:os.system' is not allowed: lockgate never builds Python "
        "objects from a spec; remove it",
    ]


# -- stages: matrix, counts, empty commands, resources, self-dependency -------------------


def test_a_million_stage_matrix_is_refused_before_expanding():
    axis = "[" + ", ".join(map(str, range(1000))) + "]"
    found = one(f"version: 1\nstages:\n  a:\n    cmd: echo ${{item.x}}\n    matrix: {{x: {axis}, y: {axis}}}\n")
    assert found == ("pipelines/p.yaml:5:5: stage 'a': matrix makes 1,000,000 stages (1000 x 1000), more "
                     "than 1,000 (the most one matrix may make); use fewer values, or split the stage")


def test_pipeline_stage_count_is_capped():
    many = "".join(f"  s{i}: {{cmd: echo}}\n" for i in range(limits.MAX_PIPELINE_STAGES + 1))
    assert one("version: 1\nstages:\n" + many) == (
        "pipelines/p.yaml:2:1: 2,001 stages, more than 2,000 (the most one pipeline may have); "
        "split it into several pipelines"
    )
    axis = "[" + ", ".join(map(str, range(700))) + "]"
    three = "".join(f"  m{i}: {{cmd: 'echo ${{item.x}}', matrix: {{x: {axis}}}}}\n" for i in range(3))
    assert one("version: 1\nstages:\n" + three).startswith(
        "pipelines/p.yaml:2:1: the matrices make 2,100 stages, more than 2,000"
    )


def test_interpolation_cannot_multiply_a_large_param():
    big = "[" + ", ".join(map(str, range(20_000))) + "]"
    axis = "[" + ", ".join(map(str, range(1000))) + "]"
    text = (f"version: 1\nparams:\n  big: {big}\nstages:\n  s:\n    call: m:f\n"
            f"    matrix: {{x: {axis}}}\n    with: {{p: '${{big}}'}}\n    out: [o]\n")
    assert one(text).startswith(
        "pipelines/p.yaml:5:3: stage 's': interpolating params makes the stages hold more than 100,000 values"
    )
    long = "x" * 100_000
    refs = "${a}" * 200
    text = f"version: 1\nparams: {{a: {long}}}\nstages:\n  s:\n    cmd: '{refs}'\n"
    assert "more than 10,000,000 characters of text in all" in one(text)


@pytest.mark.parametrize("cmd", ["''", "'   '", "[]", "['', ' ']"])
def test_empty_cmd_is_an_error(cmd):
    assert one(f"version: 1\nstages:\n  a: {{cmd: {cmd}}}\n") == (
        "pipelines/p.yaml:3:12: stage 'a': cmd is empty; write the command to run "
        "(e.g. cmd: python train.py), or remove the stage"
    )


def test_cmd_empty_after_interpolation_is_an_error():
    assert one("version: 1\nparams: {c: ''}\nstages:\n  a: {cmd: '${c}'}\n") == (
        "pipelines/p.yaml:4:12: stage 'a': cmd is empty once params are put in; give the params it uses "
        "a value, or write the command to run"
    )


def test_resource_bounds_read_like_the_other_errors():
    assert one("version: 1\nstages:\n  a: {cmd: echo, resources: {cpus: 0}}\n") == (
        "pipelines/p.yaml:3:36: stage 'a': 'resources.cpus' should be a number greater than 0, got 0"
    )


@pytest.mark.parametrize(("body", "expected"), [
    ("{cmd: echo, deps: [o.txt], outs: [o.txt]}",
     "pipelines/p.yaml:3:25: stage 'a' reads 'o.txt' (deps:), which it writes itself (outs: 'o.txt'); "
     "a stage cannot depend on its own output: remove it from deps:"),
    ("{cmd: echo, deps: [out/model.pkl], outs: [out]}",
     "pipelines/p.yaml:3:25: stage 'a' reads 'out/model.pkl' (deps:), which it writes itself (outs: 'out'); "
     "a stage cannot depend on its own output: remove it from deps:"),
    ("{cmd: echo, deps: [m.json], metrics: [m.json]}",
     "pipelines/p.yaml:3:25: stage 'a' reads 'm.json' (deps:), which it writes itself (metrics: 'm.json'); "
     "a stage cannot depend on its own output: remove it from deps:"),
    ("{call: m:f, in: {x: y}, out: [y]}",
     "pipelines/p.yaml:3:3: stage 'a' reads its own output 'y'; a stage cannot depend on itself"),
])
def test_a_stage_reading_its_own_output_is_an_error_naming_it(body, expected):
    assert one(f"version: 1\nstages:\n  a: {body}\n") == expected


def test_a_dep_folder_holding_the_stage_outputs_is_fine():
    loaded = load_text("version: 1\nstages:\n  a: {cmd: echo, deps: [data], outs: [data/out.csv]}\n")
    assert compile_pipeline(loaded).stages["a"].deps == ("data",)


# -- expressions: size at load, arithmetic at gate time ----------------------------------


@pytest.mark.parametrize(("expr", "message"), [
    (" + ".join(["1"] * 1000) + " > 0", "expression of 4,001 characters, more than 1,000"),
    ("1 " + "+ 1 " * 10_000_000 + "> 0", "expression of 40,000,005 characters, more than 1,000"),
    ("+".join(["s.k"] * 150) + " > 0", "expression of more than 200 terms"),
    ("-" * 300 + "1 > 0", "expression of more than 200 terms"),
    ("(" * 400 + "1" + ")" * 400 + " > 0", "malformed expression '((((("),
    ("'x' * 1000000000 == 'y'", "'*' works on numbers, not on text ('x'); compare text with == or !="),
    ("true + 1 > 0", "'+' works on numbers, not on true/false (True)"),
])
def test_expressions_are_bounded_at_load(expr, message):
    started = time.monotonic()
    with pytest.raises(ExprError, match=re.escape(message)):
        parse_expr(expr)
    assert time.monotonic() - started < SECONDS


def test_a_huge_when_is_one_clean_line():
    huge = " + ".join(["1"] * 2_500_000)
    found = one(f"version: 1\nstages:\n  a:\n    cmd: echo\n    when: '{huge} > 0'\n")
    assert found == ("pipelines/p.yaml:5:11: stage 'a': expression of 10,000,001 characters, more than 1,000 "
                     "(the most one when:/gate may be); split it into several gates, or compute the value "
                     "in a stage")


def test_distinct_expressions_of_a_pipeline_are_capped():
    gate = " + ".join(["p.k${item.x}"] * 40) + " > 1"
    axis = "[" + ", ".join(map(str, range(1000))) + "]"
    text = (f"version: 1\nstages:\n  p: {{cmd: echo, metrics: [m.json]}}\n  s:\n    cmd: echo\n"
            f"    matrix: {{x: {axis}}}\n    gates: ['{gate}']\n")
    assert "when:/gates: expressions add up to more than 100,000 characters" in one(text)


VALUES = {"s": {"name": "x", "big": 10**300, "huge": 10**4000, "items": [1, 2], "flag": True, "n": 3}}


def lookup(ref: Ref):
    return VALUES[ref.name][ref.key]


@pytest.mark.parametrize(("expr", "message"), [
    ("s.name * 1000000000 == 'y'", "'*' works on numbers, not on text ('x')"),
    ("s.items * 1000000000 == 1", "'*' works on numbers, not on a list ([1, 2])"),
    ("s.flag + 1 > 0", "'+' works on numbers, not on true/false (True)"),
    ("-s.name == 'x'", "'-' works on numbers, not on text ('x')"),
    ("s.huge * s.huge > 0", "a result is too large for a number"),
])
def test_gate_arithmetic_takes_numbers_only(expr, message):
    started = time.monotonic()
    with pytest.raises(GateError, match=re.escape(message)):
        decide(parse_expr(expr), lookup)
    assert time.monotonic() - started < SECONDS


def test_gate_results_stay_bounded_numbers():
    assert decide(parse_expr("s.n * 2 == 6"), lookup).holds  # small integers stay exact
    assert decide(parse_expr("s.n * 100000000000 * 100000000000 > 1"), lookup).holds  # > 64 bits: float


# -- -p overrides -----------------------------------------------------------------------------


@pytest.mark.parametrize(("override", "message"), [
    ("seed=[1", "-p seed='[1': YAML syntax error: while parsing a flow sequence opened here is never closed; "
                "write a complete value, or quote it to pass text: -p 'seed=\"[1\"'"),
    ("seed=!!python/name:os.system x", "-p seed='!!python/name:os.system x': tag '!!python/name:os.system' "
                                       "is not allowed"),
    ("seed=2024-01-01", "-p seed='2024-01-01': YAML reads 2024-01-01 as a date; quote it"),
])
def test_overrides_that_are_not_plain_yaml_values_are_errors(override, message):
    with pytest.raises(ParamError) as info:
        parse_override(override)
    assert str(info.value).startswith(message)
    found = one("version: 1\nparams: {seed: 1}\nstages:\n  a: {cmd: echo}\n", overrides=[override])
    assert found.startswith(f"pipelines/p.yaml: {message}")


def test_override_bomb_is_refused():
    bomb = "[" + ", ".join(f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)) + "]"
    with pytest.raises(ParamError, match="which takes this document past 50,000"):
        parse_override("seed=[&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol], " + bomb[1:])
