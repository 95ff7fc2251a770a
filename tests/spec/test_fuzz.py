"""Random and mutated documents: the loader gives a clean SpecError or a valid spec, never
another exception."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockgate.errors import SpecError
from lockgate.graph.compile import compile_pipeline
from lockgate.spec.load import load_text

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


def check(text: str) -> None:
    try:
        loaded = load_text(text, file="pipelines/f.yaml")
        compile_pipeline(loaded)
    except SpecError as exc:
        assert exc.issues, "a SpecError must carry at least one issue"
        for issue in exc.issues:
            assert issue.file == "pipelines/f.yaml"
            assert "\n" not in issue.message


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
