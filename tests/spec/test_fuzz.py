"""Random and mutated documents: the loader gives a clean SpecError or a valid spec, never
another exception; hostile ones (aliases, tags, nesting, huge numbers, escaping paths, big
matrices and expressions) too, quickly. Plain documents read as PyYAML reads them."""

from __future__ import annotations

import math
import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockgate.errors import SpecError
from lockgate.graph.compile import compile_pipeline
from lockgate.spec.load import load_text
from lockgate.spec.yamlread import read_yaml

SEED_SPEC = """version: 1
params: {seed: 7, model: {depth: 3}}
inputs: {customers: data/c.parquet}
stages:
  prep: {cmd: "python p.py ${seed}", deps: [p.py], outs: [data/c.parquet]}
  split: {call: src.m:split, in: {table: customers}, with: {seed: "${seed}"}, out: [train, test]}
  train: {call: src.m:train, in: {table: train}, with: {params: "${model}"}, out: [model]}
  evaluate: {call: src.m:evaluate, in: {model: model, table: test}, out: [scores]}
  deploy:
    uses: promote
    in: {model: model}
    with: {model_name: churn, alias: production}
    gates: ["scores.f1 >= production.f1 - 0.02"]
    when: scores.roc_auc > 0.5
"""

KEYS = ["version", "stages", "cmd", "call", "uses", "in", "out", "outs", "deps", "with",
        "gates", "when", "matrix", "params", "inputs", "${seed}", "${nope}", "a.b.c", ":"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(KEYS),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=4),
    ),
    max_leaves=20,
)


def check(text: str, overrides: tuple[str, ...] = ()) -> None:
    started = time.monotonic()
    try:
        loaded = load_text(text, file="pipelines/f.yaml", overrides=overrides)
        compile_pipeline(loaded)
    except SpecError as exc:
        assert exc.issues, "a SpecError must carry at least one issue"
        for issue in exc.issues:
            assert issue.file == "pipelines/f.yaml"
            assert "\n" not in issue.message
            assert len(issue.message) < 1000, issue.message
    assert time.monotonic() - started < 5, "a spec must never take long to load"


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(values)
def test_random_documents(doc):
    check(yaml.safe_dump(doc, allow_unicode=True))


@FAST
@given(st.data())
def test_mutated_valid_spec(data):
    text = SEED_SPEC
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        piece = data.draw(st.sampled_from([":", " ", "\n", "-", "[", "{", "}", "]", "'", '"', "\t",
                                           "${", "x", "  ", "__", "()", "call: src.m:train", "@"]))
        if op == "delete":
            text = text[:i] + text[i + 1:]
        elif op == "insert":
            text = text[:i] + piece + text[i:]
        else:
            text = text[:i] + piece + text[i + len(piece):]
    check(text)


@FAST
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    check(text)


def test_seed_spec_itself_is_valid():
    compile_pipeline(load_text(SEED_SPEC, file="pipelines/f.yaml"))


HOSTILE = [
    # aliases: a bomb, a recursive one, an undefined one, merges
    "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\nx1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n"
    "x2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\nx3: [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]\n",
    "r: &r [*r]\n", "&s s: *s\n", "u: *undefined\n", "m: {<<: *a0}\n", "<<: {version: 2}\n", "<<: [1, 2]\n",
    # nesting, numbers, tags, YAML 1.1 surprises
    "d: " + "[" * 3000 + "]" * 3000 + "\n", "d: " + "{a: " * 150 + "1" + "}" * 150 + "\n",
    "n: " + "9" * 5000 + "\n", "n: 0x" + "f" * 300 + "\n", "n: 1e99999\n", "n: -.inf\n", "n: 1:2:3:4:5\n",
    "t: !!python/object/apply:os.system [echo pwned]\n", "t: !!python/name:os.system ''\n", "t: !!binary aGk=\n",
    "t: !!set {a}\n", "t: !!omap [{a: 1}]\n", "t: !local x\n", "t: !!int zz\n", "t: !!bool maybe\n",
    "yes: 1\n", "on: 1\n", "~: 1\n", "? [a, b]\n: 1\n", "? {a: 1}\n: 2\n", "d: 2024-02-30\n", "---\nz: 1\n",
    "s: \"\\ud800\"\n", "s: \"a\\0b\"\n",
    # stages: escaping paths, names, empty commands, matrices, self-dependencies
    "  h1: {cmd: echo, outs: [../victim]}\n", "  h2: {cmd: echo, outs: [/etc/x], metrics: [.]}\n",
    "  h3: {cmd: echo, outs: [.git/hooks/x], deps: [.lockgate/cache]}\n", "  h4: {cmd: '', deps: [/x, ../y]}\n",
    "  h5: {cmd: [], outs: ['" + "a" * 300 + "']}\n", "  " + "s" * 250 + ": {cmd: echo}\n",
    "  h6: {cmd: 'echo ${item.a}', matrix: {a: [" + ", ".join(map(str, range(1100))) + "]}}\n",
    "  h7: {cmd: echo, matrix: {a: [" + ", ".join(map(str, range(100))) + "], b: [" + ", ".join(map(str, range(100))) + "]}}\n",
    "  h8: {cmd: echo, deps: [o8], outs: [o8]}\n", "  h9: {call: a.b:c, in: {x: y9}, out: [y9]}\n",
    "  h10: {cmd: echo, resources: {cpus: 0}}\n", "  h11: {cmd: echo, matrix: {a: ['" + "v" * 300 + "']}}\n",
    "  h12: {cmd: echo, deps: ['${seed}${seed}${seed}']}\n", "  h13: {cmd: '" + "${model}" * 5 + "'}\n",
    # expressions
    "  e1: {cmd: echo, when: '" + " + ".join(["1"] * 600) + " > 0'}\n",
    "  e2: {cmd: echo, gates: ['" + "-" * 500 + "1 > 0']}\n", "  e3: {cmd: echo, when: \"'x' * 999999999 == 'y'\"}\n",
    "  e4: {cmd: echo, when: '" + "(" * 300 + "1" + ")" * 300 + "'}\n", "  e5: {cmd: echo, gates: ['scores.f1 ** 999']}\n",
    "  e6: {cmd: echo, when: 'scores.__class__ > 1'}\n",
]
OVERRIDES = ["seed=[1", "seed=2024-01-01", "seed=!!python/name:os.system x", "seed=" + "9" * 5000, "seed=&a [*a]",
             "model.depth=yes", "seed=", "nope=1", "seed={a: [1, {b: 2}]}"]


@FAST
@given(st.data())
def test_hostile_fragments_in_a_valid_spec(data):
    text = SEED_SPEC
    for _ in range(data.draw(st.integers(1, 3))):
        piece = data.draw(st.sampled_from(HOSTILE))
        if piece.startswith("  "):  # a stage: under stages:
            at = text.index("  prep:")
        else:  # a top-level key, or anywhere
            lines = text.splitlines(keepends=True)
            at = sum(len(line) for line in lines[:data.draw(st.integers(0, len(lines)))])
        text = text[:at] + piece + text[at:]
    overrides = tuple(data.draw(st.lists(st.sampled_from(OVERRIDES), max_size=2)))
    check(text, overrides)


plain_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=False), st.text(max_size=12),
)
plain_values = st.recursive(
    plain_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=25,
)


@FAST
@given(plain_values, st.booleans())
def test_plain_documents_read_as_pyyaml_reads_them(doc, flow):
    text = yaml.safe_dump(doc, allow_unicode=True, default_flow_style=flow)
    expected = yaml.safe_load(text)
    got, positions = read_yaml(text, "f.yaml")
    assert got == expected or (isinstance(expected, float) and math.isnan(expected))
    assert all(line >= 1 and col >= 1 for line, col in positions.values.values())
