"""What a first run claims must be true: nested metrics gate, a typo in a gate fails
instead of blocking, a run that changes nothing changes nothing, -f forces only
what it names, and the committed audit log notices a cut tail."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, write
from tests.e2e.helpers import lg

SPEC = """
version: 1
params: {auc: 0.93}
stages:
  prepare:
    cmd: mkdir -p runs && echo x >> runs/prepare && echo data > data.txt
    outs: [data.txt]
  evaluate:                        # dvclive-style nested metrics
    cmd: >-
      mkdir -p runs && echo x >> runs/evaluate && wc -c < data.txt > /dev/null &&
      echo '{"roc_auc": {"test": ${auc}, "train": 0.99}, "step": 3}' > metrics.json
    deps: [data.txt]
    metrics: [metrics.json]
  deploy:
    cmd: mkdir -p runs && echo x >> runs/deploy && echo ok > deployed.txt
    outs: [deployed.txt]
    gates: ["evaluate.roc_auc.test >= 0.9"]
"""


def runs(repo: Path, stage: str) -> int:
    path = repo / "runs" / stage
    return len(path.read_text().split()) if path.exists() else 0


def outcomes(repo: Path, *args: str, code: int = 0) -> dict[str, dict]:
    done = lg(repo, "run", "--json", *args, check=code)
    return {s["stage"]: s for s in json.loads(done.stdout)["stages"]}


def test_nested_metrics_gate_and_a_typo_fails_instead_of_blocking(repo: Path):
    write(repo, "pipelines/p.yaml", SPEC)
    got = outcomes(repo)
    assert got["deploy"]["outcome"] == "ran"
    shown = lg(repo, "metrics", "show", check=0).stdout.splitlines()
    assert shown[0].split() == ["pipeline", "stage", "metric", "value"]
    assert any(line.split() == ["p", "evaluate", "evaluate.roc_auc.test", "0.93"] for line in shown)
    assert lg(repo, "show", "evaluate.roc_auc.test", check=0).stdout.strip() == "0.93"
    audit = (repo / "registry/audit.jsonl").read_text()

    write(repo, "pipelines/p.yaml", SPEC.replace("evaluate.roc_auc.test >= 0.9", "evaluate.roc_auc.tset >= 0.9"))
    got = outcomes(repo, code=1)
    assert got["deploy"]["outcome"] == "failed"
    assert got["deploy"]["message"].endswith(
        "'evaluate.roc_auc.tset >= 0.9': 'evaluate.roc_auc' has no key 'tset'; "
        "did you mean 'evaluate.roc_auc.test'? (it has: roc_auc.test, roc_auc.train, step)")
    assert (repo / "registry/audit.jsonl").read_text() == audit  # a typo is not a decision

    write(repo, "pipelines/p.yaml", SPEC.replace("evaluate.roc_auc.test >= 0.9", "evaluate.roc_auc >= 0.9"))
    got = outcomes(repo, code=1)
    assert "'evaluate.roc_auc' is a mapping (test, train), not a value" in got["deploy"]["message"]


def test_a_run_that_changes_nothing_changes_nothing_and_force_forces_only_its_target(repo: Path):
    write(repo, "pipelines/p.yaml", SPEC)
    outcomes(repo)
    lock = (repo / "pipelines/p.lock").read_bytes()
    assert {s["outcome"] for s in outcomes(repo).values()} == {"cached"}
    assert (repo / "pipelines/p.lock").read_bytes() == lock  # durations of what did not run stay
    got = outcomes(repo, "-f", "evaluate")
    assert got["prepare"]["outcome"] == "cached" and got["evaluate"]["outcome"] == "ran"
    assert (runs(repo, "prepare"), runs(repo, "evaluate")) == (1, 2)
    assert (repo / "pipelines/p.lock").read_bytes() == lock  # the same work, the same result


def test_audit_verify_notices_a_cut_tail_the_lock_anchors(repo: Path):
    write(repo, "pipelines/p.yaml", SPEC)
    outcomes(repo)
    write(repo, "pipelines/p.yaml", SPEC.replace("auc: 0.93", "auc: 0.95"))
    outcomes(repo)
    log = repo / "registry/audit.jsonl"
    assert len(log.read_text().splitlines()) == 2  # both gate decisions, in git's reach
    git(repo, "add", "-A")
    assert "registry/audit.jsonl" in git(repo, "diff", "--cached", "--name-only").split()
    assert "chain intact" in lg(repo, "audit", "verify", check=0).stdout
    log.write_text(log.read_text().splitlines(keepends=True)[0])  # the last decision removed
    done = lg(repo, "audit", "verify", check=1)
    assert "pipelines/p.lock names record" in done.stdout and "removed from its end" in done.stdout
    log.unlink()
    assert "pipelines/p.lock names record" in lg(repo, "audit", "verify", check=1).stdout
