"""The git-native workflow on real repositories: metrics/params diffs across revisions,
`run --ci --frozen --summary`, and the lock merge driver under a real `git merge`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lockgate import gitrev
from lockgate.lock import LockFile
from tests.conftest import git, write
from tests.e2e.helpers import lg

SPEC = """
version: 1
params:
  x: 0.7

  n: 3
stages:
  score:
    call: src.steps:score
    with: {x: "${x}"}
    out: [scores]
  report:
    cmd: "echo '{\\"n\\": ${n}}' > report.json"
    params: [n]
    outs: [report.json]
    metrics: [report.json]
    gates: [scores.x > 0.5]
"""

STEPS = """
def score(*, x):
    return {"x": x, "nested": {"y": 2.0}}
"""


@pytest.fixture
def project(repo: Path) -> Path:
    write(repo, "pipelines/demo.yaml", SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/steps.py", STEPS)
    write(repo, ".gitignore", "report.json\n__pycache__/\n*.md\n")
    return repo


def set_param(repo: Path, key: str, value: str) -> None:
    spec = repo / "pipelines/demo.yaml"
    lines = [f"  {key}: {value}" if line.startswith(f"  {key}: ") else line
             for line in spec.read_text().splitlines()]
    spec.write_text("\n".join(lines) + "\n")


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def test_diffs_frozen_check_and_summary(project: Path) -> None:
    lg(project, "run", check=0)
    commit(project, "first run")
    summary = project / "summary.md"

    # fresh lock: --frozen passes, the summary holds the gate decision
    done = lg(project, "run", "--ci", "--frozen", "--summary", str(summary), check=0)
    assert "lock files match HEAD" in done.stderr
    text = summary.read_text()
    assert text.startswith("## lockgate run: ✅ passed")
    assert "`scores.x > 0.5` | ✅ holds" in text and "`scores.x` = 0.7" in text
    assert "match the committed ones" in text

    # a param change committed without its lock: the lock is stale
    set_param(project, "x", "0.9")
    set_param(project, "n", "4")
    commit(project, "spec only")
    env_summary = project / "step-summary.md"
    env_summary.write_text("earlier step\n")
    done = subprocess.run([sys.executable, "-m", "lockgate", "run", "--ci", "--frozen"], cwd=project,
                          capture_output=True, text=True, env={**os.environ, "GITHUB_STEP_SUMMARY": str(env_summary)})
    assert done.returncode == 1, done.stderr
    assert "pipelines/demo.lock differs from the committed one" in done.stderr
    assert "stage 'score' changed" in done.stderr and "stage 'report' changed" in done.stderr
    text = env_summary.read_text()
    assert text.startswith("earlier step\n## lockgate run: ❌ lock file out of date")  # appended
    assert "| `score` | `scores.x` | 0.7 | 0.9 | +0.2 | +28.6% |" in text

    # HEAD vs the workspace, JSON only on stdout
    metrics = json.loads(lg(project, "metrics", "diff", "HEAD", "--json", check=0).stdout)
    assert metrics["old"] == "HEAD" and metrics["new"] == "workspace"
    score = metrics["metrics"]["demo"]["score"]
    assert (score["scores.x"]["old"], score["scores.x"]["new"]) == (0.7, 0.9)
    assert score["scores.x"]["change"] == pytest.approx(0.2)
    assert score["scores.x"]["relative"] == pytest.approx(0.2 / 0.7)
    assert "scores.nested.y" not in score  # unchanged: only with --all
    assert metrics["metrics"]["demo"]["report"]["report.n"] == {  # a cmd stage's metrics: named after it
        "status": "changed", "old": 3, "new": 4, "change": 1, "relative": pytest.approx(1 / 3)}
    params = json.loads(lg(project, "params", "diff", "--json", check=0).stdout)
    assert params["params"]["demo"]["score"]["x"]["old"] == 0.7
    assert params["params"]["demo"]["score"]["x"]["new"] == 0.9
    assert params["params"]["demo"]["report"]["n"]["new"] == 4
    md = lg(project, "metrics", "diff", "--md", "--all", check=0).stdout
    assert "| `score` | `scores.nested.y` | 2 | 2 |" in md

    # committing the lock makes the next frozen run pass
    commit(project, "lock")
    lg(project, "run", "--frozen", check=0)


def test_diff_across_commits_leaves_the_workspace_alone(project: Path) -> None:
    lg(project, "run", check=0)
    first = commit(project, "x=0.7")
    set_param(project, "x", "0.8")
    lg(project, "run", check=0)
    second = commit(project, "x=0.8")
    set_param(project, "x", "0.6")
    lg(project, "run", check=0)  # the workspace lock differs from both commits
    lock_before = (project / "pipelines/demo.lock").read_bytes()
    status_before = git(project, "status", "--porcelain")

    data = json.loads(lg(project, "metrics", "diff", first, second, "--json", check=0).stdout)
    change = data["metrics"]["demo"]["score"]["scores.x"]
    assert (change["old"], change["new"]) == (0.7, 0.8)
    shown = json.loads(lg(project, "metrics", "show", "--rev", first, "--json", check=0).stdout)
    assert shown["demo"]["score"]["scores"]["x"] == 0.7
    # the same, in process
    old, new = gitrev.read_locks(project, first), gitrev.read_locks(project, None)
    assert old["demo"].stages["score"].metrics["scores"]["x"] == 0.7
    assert new["demo"].stages["score"].metrics["scores"]["x"] == 0.6

    assert (project / "pipelines/demo.lock").read_bytes() == lock_before
    assert git(project, "status", "--porcelain") == status_before
    assert git(project, "rev-parse", "HEAD").strip() == second


def test_blocked_gate_in_summary_and_exit_3(project: Path) -> None:
    set_param(project, "x", "0.3")
    commit(project, "first")
    summary = project / "summary.md"
    lg(project, "run", "--ci", "--summary", str(summary), check=3)
    text = summary.read_text()
    assert text.startswith("## lockgate run: ⛔ a gate blocked a stage")
    assert "**blocked** (1): `report`" in text
    assert "| `report` | `scores.x > 0.5` | ⛔ fails | `scores.x` = 0.3 |" in text
    assert "--frozen" not in text


def test_errors_are_one_line_and_exit_2(project: Path, tmp_path: Path) -> None:
    done = lg(project, "metrics", "diff", "HEAD", check=2)  # no commit yet
    assert done.stderr.strip() == "error: unknown revision 'HEAD' (is there a commit yet?)"
    commit(project, "specs")
    done = lg(project, "run", "--ci", "--base", "no-such-branch", check=2)
    assert done.stderr.strip() == "error: unknown revision 'no-such-branch'"
    assert not (project / "pipelines/demo.lock").exists()  # nothing ran
    plain = tmp_path / "plain"
    (plain / "pipelines").mkdir(parents=True)
    done = lg(plain, "params", "diff", check=2)
    assert len(done.stderr.strip().splitlines()) == 1 and "not in a git repository" in done.stderr


MERGE_SPEC = """
version: 1
params:
  a: 1

  b: 1

  c1: 1

  c2: 1
stages:
  sa: {call: "src.steps:value", with: {v: "${a}"}, out: [ma]}
  sb: {call: "src.steps:value", with: {v: "${b}"}, out: [mb]}
  sc: {call: "src.steps:pair", with: {v: "${c1}", w: "${c2}"}, out: [mc], gates: ["md.v >= 0"]}
  sd: {call: "src.steps:value", with: {v: 0}, out: [md]}
"""

MERGE_STEPS = """
def value(*, v):
    return {"v": v}


def pair(*, v, w):
    return {"v": v, "w": w}
"""


def test_merge_driver_merges_stage_by_stage(repo: Path, tmp_path: Path) -> None:
    write(repo, "pipelines/p.yaml", MERGE_SPEC)
    write(repo, "src/__init__.py", "")
    write(repo, "src/steps.py", MERGE_STEPS)
    write(repo, ".gitignore", "__pycache__/\n")
    lg(repo, "run", check=0)
    first = lg(repo, "merge-driver", "install", check=0)
    lg(repo, "merge-driver", "install", check=0)  # idempotent
    assert "added 'pipelines/*.lock merge=lockgate', 'registry/audit.jsonl merge=lockgate-audit'" in first.stdout
    assert (repo / ".gitattributes").read_text() == (
        "pipelines/*.lock merge=lockgate\nregistry/audit.jsonl merge=lockgate-audit\n")
    assert git(repo, "config", "merge.lockgate-audit.driver").strip() == "lockgate merge-driver audit %O %A %B"
    assert git(repo, "config", "merge.lockgate.driver").strip() == "lockgate merge-driver run %O %A %B %P"
    assert git(repo, "config", "merge.lockgate.name").strip() == "lockgate lock files"
    commit(repo, "base")
    base = LockFile.from_text((repo / "pipelines/p.lock").read_text()).stages

    # feature: sa changes; sc changes through c1.  main: sb changes; sc changes through c2.
    git(repo, "checkout", "-q", "-b", "feature")
    set_spec_param(repo, "a", "2")
    set_spec_param(repo, "c1", "5")
    lg(repo, "run", check=0)
    commit(repo, "feature")
    feature = LockFile.from_text((repo / "pipelines/p.lock").read_text()).stages
    git(repo, "checkout", "-q", "main")
    set_spec_param(repo, "b", "3")
    set_spec_param(repo, "c2", "7")
    lg(repo, "run", check=0)
    commit(repo, "main")
    ours = LockFile.from_text((repo / "pipelines/p.lock").read_text()).stages

    # git runs `lockgate` from PATH: make sure it is this one
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "lockgate"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m lockgate \"$@\"\n")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@e"}
    done = subprocess.run(["git", "merge", "--no-edit", "feature"], cwd=repo, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "marked stale: sc" in done.stdout + done.stderr

    text = (repo / "pipelines/p.lock").read_text()
    assert "<<<<<<<" not in text and git(repo, "status", "--porcelain") == ""
    # both branches audited sc's gate: the committed log keeps both, joined by a merge record
    audit = [json.loads(line) for line in (repo / "registry/audit.jsonl").read_text().splitlines()]
    assert [r["event"] for r in audit] == ["gate", "gate", "gate", "merge"]
    assert "verified" not in done.stderr and lg(repo, "audit", "verify", check=0).stdout.count("chain intact") == 1
    merged = LockFile.from_text(text).stages
    assert set(merged) == {"sa", "sb", "sd"}
    assert merged["sa"].fingerprint == feature["sa"].fingerprint != base["sa"].fingerprint
    assert merged["sb"].fingerprint == ours["sb"].fingerprint != base["sb"].fingerprint
    assert merged["sd"].fingerprint == base["sd"].fingerprint

    # the next run rebuilds only the dropped stage
    result = json.loads(lg(repo, "run", "--json", check=0).stdout)
    assert {s["stage"]: s["outcome"] for s in result["stages"]} == {
        "sa": "cached", "sb": "cached", "sc": "ran", "sd": "cached"}
    final = LockFile.from_text((repo / "pipelines/p.lock").read_text()).stages
    assert final["sc"].metrics == {"mc": {"v": 5, "w": 7}}
    lg(repo, "audit", "verify", check=0)  # the rerun's gate record follows the merge record


def set_spec_param(repo: Path, key: str, value: str) -> None:
    spec = repo / "pipelines/p.yaml"
    lines = [f"  {key}: {value}" if line.startswith(f"  {key}: ") else line
             for line in spec.read_text().splitlines()]
    spec.write_text("\n".join(lines) + "\n")
