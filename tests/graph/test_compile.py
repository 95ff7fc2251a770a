"""Spec -> stages -> DAG: matrix, interpolation, edges, and located graph errors."""

from __future__ import annotations

import re
import textwrap

import networkx as nx
import pytest

from lockgate.errors import SpecError
from lockgate.graph.compile import compile_pipeline
from lockgate.spec.load import load_text


def build(text: str, **kw):
    loaded = load_text(textwrap.dedent(text).lstrip("\n"), file="pipelines/p.yaml", name="p")
    return compile_pipeline(loaded, **kw)


def errors(text: str, **kw) -> list[str]:
    with pytest.raises(SpecError) as info:
        build(text, **kw)
    return [str(i) for i in info.value.issues]


CHURN = """
version: 1
params:
  seed: 7
  min_auc: 0.8
  model: {n_estimators: 10}
inputs:
  customers: data/customers.parquet
stages:
  prepare:
    cmd: python prep.py --seed ${seed}
    deps: [src/prep.py, data/raw.csv]
    outs: [data/customers.parquet]
  split:
    call: src.m:split
    in: {table: customers}
    with: {seed: "${seed}"}
    out: [train, test]
  train:
    call: src.m:train
    in: {table: train}
    with: {params: "${model}"}
    out: [model]
  evaluate:
    call: src.m:evaluate
    in: {model: model, table: test}
    out: [scores]
  report:
    cmd: python report.py
    deps: [data]
  deploy:
    uses: promote
    in: {model: model}
    with: {model_name: churn, alias: production}
    gates:
      - scores.roc_auc >= ${min_auc}
      - scores.f1 >= production.f1 - 0.02
"""


def test_edges_from_artifacts_paths_and_gates():
    p = build(CHURN)
    edges = set(p.graph.edges)
    assert ("prepare", "split") in edges  # input path lies under prepare's outs
    assert ("split", "train") in edges and ("split", "evaluate") in edges  # artifacts
    assert ("evaluate", "deploy") in edges  # only through the gate's reference
    assert ("prepare", "report") in edges  # an out lies inside a folder dep
    assert p.order()[0] == "prepare" and p.order()[-1] in {"deploy", "report"}


def test_params_used_and_interpolation():
    p = build(CHURN)
    assert p.stages["prepare"].run == "python prep.py --seed 7"
    assert p.stages["prepare"].params == {"seed": 7}
    assert p.stages["train"].with_ == {"params": {"n_estimators": 10}}
    assert p.stages["train"].params == {"model": {"n_estimators": 10}}
    assert p.stages["evaluate"].params == {}
    gate = p.stages["deploy"].gates[0]
    assert gate.source == "scores.roc_auc >= 0.8"  # interpolated inside gates too
    assert p.stages["deploy"].params == {"min_auc": 0.8}


def test_matrix_expands_with_suffixes_and_same_suffix_inputs():
    p = build("""
    version: 1
    stages:
      train:
        call: src.m:train
        matrix: {model: [rf, gbm], seed: [1, 2]}
        with: {estimator: "${item.model}", seed: "${item.seed}"}
        out: [model]
      evaluate:
        call: src.m:evaluate
        matrix: {model: [rf, gbm], seed: [1, 2]}
        in: {model: model}
        out: [scores]
    """)
    names = list(p.stages)
    assert names[:4] == ["train@rf-1", "train@rf-2", "train@gbm-1", "train@gbm-2"]
    assert p.stages["train@gbm-2"].with_ == {"estimator": "gbm", "seed": 2}
    assert p.stages["train@gbm-2"].outputs == ("model@gbm-2",)
    assert p.stages["evaluate@rf-2"].inputs == {"model": "model"}
    assert ("train@rf-2", "evaluate@rf-2") in p.graph.edges
    assert ("train@rf-1", "evaluate@rf-2") not in p.graph.edges


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            """
            version: 1
            stages:
              featurize:
                call: src.m:split
                out: [features]
              train:
                call: src.m:train
                in: {table: featurs}
            """,
            r"^pipelines/p\.yaml:8:17: stage 'train' reads 'featurs', which nothing produces; "
            r"did you mean 'features' \(stage 'featurize', line 3\)\?$",
            id="unknown-artifact",
        ),
        pytest.param(
            """
            version: 1
            stages:
              a: {call: src.m:split, out: [x]}
              b: {call: src.m:split, out: [x]}
            """,
            r"^pipelines/p\.yaml:4:32: artifact 'x' is produced twice: by stage 'a' \(line 3\) "
            r"and stage 'b'; rename one of them$",
            id="produced-twice",
        ),
        pytest.param(
            """
            version: 1
            stages:
              a: {call: src.m:split, in: {t: z}, out: [x]}
              b: {call: src.m:split, in: {t: x}, out: [y]}
              c: {call: src.m:split, in: {t: y}, out: [z]}
            """,
            r"^pipelines/p\.yaml:3:3: cycle between stages: a -> b -> c -> a "
            r"\('a' -> 'b' via 'x', 'b' -> 'c' via 'y', 'c' -> 'a' via 'z'\)",
            id="cycle",
        ),
        pytest.param(
            """
            version: 1
            stages:
              a: {call: src.m:split, in: {t: x}, out: [x]}
            """,
            r"^pipelines/p\.yaml:3:3: stage 'a' reads its own output 'x'",
            id="self-cycle",
        ),
        pytest.param(
            """
            version: 1
            stages:
              a: {call: src.m:evaluate, out: [scores]}
              b:
                cmd: echo
                gates: [scores.f1 > 0.5, scroes.f1 > 0.5]
            """,
            r"^pipelines/p\.yaml:6:30: stage 'b': gate refers to 'scroes.f1', but 'scroes' is neither "
            r"an artifact nor a registry alias; did you mean 'scores' \(stage 'a', line 3\)\?$",
            id="unknown-gate-reference",
        ),
        pytest.param(
            """
            version: 1
            stages:
              b:
                cmd: echo
                when: __import__('os').system('x')
            """,
            r"^pipelines/p\.yaml:5:11: stage 'b': function calls are not allowed",
            id="unsafe-expression",
        ),
        pytest.param(
            """
            version: 1
            stages:
              b:
                cmd: echo
                gates: ["scores.f1 >"]
            """,
            r"^pipelines/p\.yaml:5:13: stage 'b': malformed expression 'scores.f1 >'",
            id="malformed-expression",
        ),
        pytest.param(
            """
            version: 1
            params: {seed: 1}
            stages:
              b:
                cmd: echo ${sed}
            """,
            r"^pipelines/p\.yaml:5:10: stage 'b': unknown param 'sed'; did you mean 'seed'\?$",
            id="unknown-param",
        ),
        pytest.param(
            """
            version: 1
            stages:
              a: {cmd: echo, outs: [data]}
              b: {cmd: echo, outs: [data/x.csv]}
            """,
            r"^pipelines/p\.yaml:4:24: stage 'b' writes 'data/x\.csv', which overlaps 'data' "
            r"written by stage 'a'",
            id="overlapping-outs",
        ),
    ],
)
def test_graph_errors_are_located(text: str, expected: str):
    found = errors(text)
    assert len(found) == 1, found
    assert re.search(expected, found[0]), found[0]


def test_registry_alias_names_are_accepted_when_known():
    text = """
    version: 1
    stages:
      a: {call: src.m:evaluate, out: [scores]}
      b:
        cmd: echo
        gates: [scores.f1 >= staging.f1]
    """
    assert errors(text)  # unknown alias
    p = build(text, known_aliases={"staging"})
    assert list(p.graph.edges) == [("a", "b")]


def test_graph_is_networkx():
    assert isinstance(build(CHURN).graph, nx.DiGraph)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("uses: split\n    in: {table: t}\n    with: {test_sise: 0.2}\n    out: [a, b]",
         r"step 'split' has no option 'test_sise' \(did you mean 'test_size'\?\)"),
        ("uses: train\n    in: {table: t}\n    out: [m]",
         r"step 'train' needs 'with: \{target: \.\.\.\}'"),
        ("uses: split\n    in: {tabel: t}\n    out: [a, b]",
         r"step 'split' has no input 'tabel'; did you mean 'table'\?"),
        ("uses: split\n    in: {table: t}\n    out: [a]",
         r"step 'split' produces 2 artifacts; out: lists 1"),
        ("uses: split\n    in: {table: t}\n    with: {test_size: 2}\n    out: [a, b]",
         r"step 'split': with: 'test_size' input should be less than 1"),
    ],
)
def test_builtin_step_options_are_checked_at_load(body: str, expected: str):
    text = f"version: 1\ninputs: {{t: t.csv}}\nstages:\n  s:\n    {body}\n"
    with pytest.raises(SpecError) as info:
        compile_pipeline(load_text(text, file="pipelines/p.yaml"))
    assert any(re.search(expected, str(i)) for i in info.value.issues), info.value.issues


def test_later_stage_reading_an_alias_runs_after_earlier_promotes():
    p = build("""
    version: 1
    stages:
      m: {call: src.m:f, out: [model, scores]}
      deploy:
        uses: promote
        in: {model: model}
        with: {model_name: x, alias: production}
        gates: [scores.f1 >= production.f1]
      deploy2:
        uses: promote
        in: {model: model}
        with: {model_name: x, alias: production}
        gates: [scores.f1 > production.f1]
    """)
    assert ("deploy", "deploy2") in p.graph.edges
    assert ("deploy2", "deploy") not in p.graph.edges


def test_what_a_pipeline_reads_and_writes_for_watch():
    pipeline = build("""
        version: 1
        inputs:
          raw: data/raw.csv
        stages:
          prep:
            cmd: python prep.py
            deps: [prep.py, data/raw.csv]
            outs: [out/clean.csv]
            metrics: [out/m.json]
          fit:
            call: src.fit:fit
            in: {t: raw}
            out: [model]
    """)
    assert pipeline.read_paths() == {"pipelines/p.yaml", "data/raw.csv", "prep.py"}
    assert pipeline.written_paths() == {"out/clean.csv", "out/m.json"}
    assert pipeline.all_params_files() == ()
