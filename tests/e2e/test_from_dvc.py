"""A DVC project ported unchanged: `lockgate init --from-dvc`, then run, experiments,
gates, and DVC's persist / cache: false / always_changed / frozen, on our own small
DVC-style project (tests/porting/dvc_project.py)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lockgate.lock import LockFile
from lockgate.store.local import LocalStore
from tests.conftest import git
from tests.e2e.helpers import lg
from tests.porting.dvc_project import write_project


def _runs(repo: Path, name: str) -> int:
    path = repo / "runs" / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def _edit_spec(repo: Path, change) -> None:
    spec = repo / "pipelines" / "mini.yaml"
    data = yaml.safe_load(spec.read_text())
    change(data["stages"])
    spec.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_dvc_project_runs_unchanged_with_dvc_semantics(tmp_path: Path):
    repo = tmp_path / "mini"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_project(repo)
    scripts = {p: p.read_bytes() for p in (repo / "src").iterdir()}

    done = lg(repo, "init", "--from-dvc", check=0)
    assert "created pipelines/mini.yaml from dvc.yaml" in done.stdout
    assert "versioned data/data.csv in data.lock" in done.stdout
    ignored = (repo / ".gitignore").read_text().splitlines()
    assert {"/data/prepared", "/data/features", "/model.json", "/eval", "/history.log"} <= set(ignored)
    assert "/report.txt" not in ignored and "/data/data.csv" not in ignored  # cache: false; DVC's data/.gitignore

    # a gate on the converted metrics, as a reviewer would add it
    _edit_spec(repo, lambda stages: stages["history"].update(gates=["evaluate.avg_prec.test >= 0.5"]))
    lg(repo, "run", check=0)
    metrics = json.loads((repo / "eval" / "metrics.json").read_text())
    shown = lg(repo, "show", "evaluate.avg_prec.test", check=0).stdout.strip()
    assert float(shown) == metrics["avg_prec"]["test"] < 1
    lock = LockFile.read(repo / "pipelines" / "mini.lock", "mini")
    assert lock.stages["history"].gates[0]["holds"] is True
    assert (repo / "history.log").read_text().count("\n") == 1

    # cache: false: hashed and recorded, never stored; the run-cache is off for that stage
    report = lock.stages["report"].outputs["report.txt"]
    assert report["cache"] is False and not LocalStore(repo / ".lockgate" / "cache").has(report["digest"])

    # -p reaches the script through params.yaml; outputs are removed before a stage runs
    params = (repo / "params.yaml").read_bytes()
    (repo / "data" / "prepared" / "stale.txt").write_text("left by hand\n")
    done = lg(repo, "run", "-p", "prepare.split=0.3", "--name", "split30", check=0)
    assert (repo / "seen.txt").read_text().splitlines()[-2:] == ["prepare split=0.3", "featurize max_features=12"]
    assert (repo / "params.yaml").read_bytes() == params
    exp = LockFile.read(repo / ".lockgate" / "experiments" / "split30" / "mini.lock", "mini")
    assert exp.stages["prepare"].outputs["data/prepared"]["meta"]["files"] == 2  # stale.txt was removed
    reports = _runs(repo, "report")

    # frozen: never run, even when its params change; persist: history.log is appended to
    _edit_spec(repo, lambda stages: stages["prepare"].update(frozen=True))
    text = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(text.replace("split: 0.25", "split: 0.5").replace("smoothing: 1.0", "smoothing: 3.0"))
    prepares = _runs(repo, "prepare")
    lg(repo, "run", check=0)
    assert _runs(repo, "prepare") == prepares
    assert (repo / "history.log").read_text().count("\n") == 2  # persist: true kept the first line
    assert _runs(repo, "report") == reports + 1  # always_changed

    status = json.loads(lg(repo, "status", "--json").stdout)
    by_stage = {s["stage"]: s for s in status["stages"]}
    assert by_stage["prepare"]["outcome"] == "cached" and by_stage["prepare"]["reasons"] == ["frozen"]
    assert by_stage["report"]["outcome"] == "stale" and by_stage["report"]["reasons"] == ["always changed"]
    assert {p: p.read_bytes() for p in (repo / "src").iterdir()} == scripts  # the scripts ran unchanged
