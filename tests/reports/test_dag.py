"""`lockgate dag`: edges labelled with what they carry (mermaid, dot, json), through
the pure renderers over a compiled pipeline, and the CLI's --labels/--no-labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lockgate.cli.main import main
from lockgate.project import Project
from lockgate.reports.dag import mermaid_escape, render, view_of
from tests.conftest import write

ODD = 'data/odd "x" |y| [z] (v1).csv'

SPEC = f"""
version: 1
inputs:
  customers: data/customers.parquet
stages:
  prepare:
    cmd: echo > '{ODD}'
    outs: ['{ODD}']
  split:
    uses: split
    in: {{table: customers}}
    deps: ['{ODD}']
    with: {{target: y}}
    out: [train, test]
  train:
    uses: train
    in: {{table: train}}
    with: {{target: y}}
    out: [model]
  evaluate:
    uses: evaluate
    in: {{model: model, table: test}}
    with: {{target: y}}
    out: [scores]
  deploy:
    uses: promote
    in: {{model: model}}
    with: {{model_name: m, alias: production}}
    gates: [scores.roc_auc >= 0.8]
  retrain:
    uses: train
    in: {{table: train}}
    when: scores.f1 < production.f1
    with: {{target: y}}
    out: [challenger]
"""


@pytest.fixture
def views(repo: Path):
    write(repo, "pipelines/p.yaml", SPEC)
    return [view_of(Project(repo).load("p"))]


def test_mermaid_edges_say_what_they_carry(views):
    text = render(views, "mermaid")
    ids = dict(re.findall(r'^  (s\d+)\["([^"]+)"\]$', text, re.MULTILINE))
    drawn = re.findall(r"^  (s\d+) (-->|-\.->)\|(.*)\| (s\d+)$", text, re.MULTILINE)
    edges = {(ids[a], ids[b]): (arrow, label) for a, arrow, label, b in drawn}
    assert edges[("split", "train")] == ("-->", "train")
    assert edges[("split", "evaluate")] == ("-->", "test")
    assert edges[("train", "evaluate")] == ("-->", "model")
    assert edges[("evaluate", "deploy")] == ("-.->", "gate: scores")  # orders, carries no data
    assert edges[("evaluate", "retrain")] == ("-.->", "when: scores")
    assert edges[("deploy", "retrain")] == ("-.->", "alias: production")
    # a path with characters mermaid reads as syntax: entity codes, quoted, nothing raw left
    arrow, label = edges[("prepare", "split")]
    assert arrow == "-->"
    assert label == '"data/odd #quot;x#quot; #124;y#124; #91;z#93; #40;v1#41;.csv"'
    assert not re.search(r'[|\[\](){}]', label.strip('"'))
    assert len(text.splitlines()) == 2 + len(views[0].nodes) + len(views[0].edges)


def test_mermaid_escape_leaves_plain_text_alone():
    assert mermaid_escape("data/customers.parquet") == "data/customers.parquet"
    assert mermaid_escape('a"b|c#d<e>') == "a#quot;b#124;c#35;d#lt;e#gt;"


def test_dot_labels_and_styles(views):
    text = render(views, "dot")
    assert '"split" -> "train" [label="train"];' in text
    assert '"evaluate" -> "deploy" [label="gate: scores", style=dashed];' in text
    assert '"deploy" -> "retrain" [label="alias: production", style=dotted];' in text
    assert '[label="data/odd \\"x\\" |y| [z] (v1).csv"]' in text


def test_without_labels_the_drawings_are_the_bare_graph(views):
    mermaid = render(views, "mermaid", edge_labels=False)
    assert "|" not in mermaid and "  s1 --> s2" in mermaid and "-.->" in mermaid
    dot = render(views, "dot", edge_labels=False)
    assert '"split" -> "train";' in dot and "label=" not in dot


def test_json_gains_links_and_keeps_edges(views):
    data = json.loads(render(views, "json"))
    assert ["split", "train"] in data["edges"]
    link = {(x["from"], x["to"]): x for x in data["links"]}
    assert link["split", "evaluate"] == {"from": "split", "to": "evaluate", "why": "artifact",
                                         "via": ["test"], "label": "test"}
    assert link["evaluate", "retrain"]["why"] == "expression"
    assert link["deploy", "retrain"]["label"] == "alias: production"


def test_ascii_is_unchanged(views):
    assert render(views, "ascii").splitlines()[-1].split() == [
        "retrain", "[uses", "train]", "<-", "split,", "evaluate,", "deploy",
    ]


def test_the_cli_labels_by_default_and_no_labels_turns_it_off(repo: Path):
    write(repo, "pipelines/p.yaml", SPEC)
    runner = CliRunner()
    labelled = runner.invoke(main, ["-C", str(repo), "dag", "--format", "mermaid"])
    assert labelled.exit_code == 0, labelled.output
    assert "-->|train|" in labelled.stdout and "-.->|gate: scores|" in labelled.stdout
    bare = runner.invoke(main, ["-C", str(repo), "dag", "--format", "mermaid", "--no-labels"])
    assert bare.exit_code == 0 and "-->|" not in bare.stdout
