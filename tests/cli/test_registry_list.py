"""`registry list` / `registry show NAME` text: the metrics the gates read first, then the
headline metrics that fit, never a metric cut in half (in-process, CliRunner)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lockgate.cli.main import main
from lockgate.cli.registry_cmds import _metrics_line
from lockgate.hashing import digest_bytes
from lockgate.registry import Registry
from tests.conftest import write

SPEC = """
version: 1
inputs:
  data: data/t.parquet
stages:
  train:
    uses: train
    in: {table: data}
    with: {target: y}
    out: [model]
  monitor:
    uses: evaluate
    in: {model: model, table: data}
    with: {target: y}
    out: [live_scores]
  deploy:
    uses: promote
    in: {model: model, metrics: live_scores}
    with: {model_name: churn, alias: production}
    gates:
      - live_scores.log_loss <= 0.7
      - live_scores.roc_auc >= production.roc_auc - 0.005
  retrain:
    uses: train
    in: {table: data}
    when: live_scores.f1 < production.f1 - 0.02
    with: {target: y}
    out: [challenger]
"""

# what the evaluate step records: the alphabetically first four are none of the gated ones
METRICS = {
    "accuracy": 0.6493, "average_precision": 0.6719, "expected_cost": 169880.0,
    "expected_cost_per_row": 113.25, "f1": 0.596, "fn": 332, "fp": 194, "log_loss": 0.646,
    "precision": 0.6667, "recall": 0.5389, "roc_auc": 0.7057, "rows": 1500, "tn": 586, "tp": 388,
}


@pytest.fixture
def registered(repo: Path) -> Path:
    write(repo, "pipelines/churn.yaml", SPEC)
    reg = Registry.open(repo, "churn")
    for i in (1, 2):
        reg.add_version(
            artifact={"kind": "model", "digest": digest_bytes(f"m{i}".encode())},
            metrics={**METRICS, "roc_auc": 0.70 + i / 100}, params={}, git_commit="abc",
            pipeline="churn", stage="deploy", data={}, created=f"2024-05-0{i}T12:00:00Z",
        )
    reg.set_alias("production", 2)
    reg.save()
    return repo


def cli(repo: Path, *args: str, columns: int = 100) -> Result:
    return CliRunner().invoke(main, ["-C", str(repo), *args], env={"COLUMNS": str(columns)})


def shown_metrics(text: str) -> list[str]:
    return re.findall(r"([A-Za-z_][\w.]*)=", text)


@pytest.mark.parametrize("columns", [80, 100, 200])
def test_list_shows_the_gated_metrics_first_and_never_cuts_one(registered: Path, columns: int):
    done = cli(registered, "registry", "list", columns=columns)
    assert done.exit_code == 0, done.output
    names = shown_metrics(done.stdout)
    assert "roc_auc=0.72" in done.stdout and "f1=0.596" in done.stdout
    assert "log_loss=0.646" in done.stdout  # a gate reads it through live_scores
    assert set(names) <= set(METRICS) and "…" not in done.stdout
    row = done.stdout.split("v2", 1)[1].split("v1", 1)[0]
    assert shown_metrics(row)[:3] == ["log_loss", "roc_auc", "f1"]  # in the order the spec reads them
    assert "more)" in done.stdout


def test_list_on_a_wide_terminal_fills_with_the_headline_metrics_in_order(registered: Path):
    text = cli(registered, "registry", "list", columns=200).stdout
    row = text.split("v2", 1)[1].split("v1", 1)[0]
    assert shown_metrics(row) == ["log_loss", "roc_auc", "f1", "precision", "recall", "accuracy",
                                  "average_precision"]
    assert "(+7 more)" in row


def test_a_broken_spec_does_not_break_the_list(registered: Path):
    write(registered, "pipelines/broken.yaml", "version: 1\nstages:\n  a:\n\tcmd: echo\n")
    done = cli(registered, "registry", "list")
    assert done.exit_code == 0, done.output
    assert "roc_auc=" in done.stdout and "f1=" in done.stdout


def test_json_is_unchanged(registered: Path):
    data = json.loads(cli(registered, "registry", "list", "--json").stdout)
    assert data["churn"]["versions"]["2"]["metrics"]["roc_auc"] == 0.72
    assert data["churn"]["aliases"] == {"production": 2}


def test_show_name_lists_versions_with_the_gated_metrics(registered: Path):
    done = cli(registered, "registry", "show", "churn")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[1] == "  production -> v2"
    v2 = next(line for line in lines if line.startswith("  v2  "))
    assert shown_metrics(v2)[:3] == ["log_loss", "roc_auc", "f1"] and len(v2) <= 100


def test_metrics_line_packs_whole_items():
    line = _metrics_line(METRICS, ["roc_auc"], width=30, lines=2)
    assert line.splitlines() == ["roc_auc=0.7057 f1=0.596", "precision=0.6667 (+11 more)"]
    assert _metrics_line({"roc_auc": {"test": 0.9}, "n": 3}, ["roc_auc.test"], width=40) == (
        "roc_auc.test=0.9 (+1 more)"
    )
    assert _metrics_line(METRICS, [], width=10) == "(+14 more)"  # nothing is cut to fit
