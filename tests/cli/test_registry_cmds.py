"""registry list/show/promote/rollback/export and audit verify/show through `python -m lockgate`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lockgate.audit import AuditLog
from lockgate.hashing import digest_bytes
from lockgate.registry import Registry
from tests.conftest import git


def lockgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lockgate", *args], cwd=cwd, capture_output=True, text=True
    )


def fake_artifact(tag: str) -> dict:
    return {"kind": "model", "digest": digest_bytes(tag.encode())}


@pytest.fixture
def registered(repo: Path) -> Path:
    """A repo whose registry/churn.yaml has three versions, production -> v2 (was v1)."""
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    reg = Registry.open(repo, "churn")
    for i, auc in enumerate((0.71, 0.78, 0.83), 1):
        reg.add_version(
            artifact=fake_artifact(f"m{i}"), metrics={"roc_auc": auc, "f1": 0.5}, params={"C": i},
            git_commit="abc", pipeline="churn", stage="train", data={"train": "d" * 64},
            created=f"2024-05-0{i}T12:00:00Z",
        )
    reg.set_alias("production", 1)
    reg.set_alias("production", 2)
    reg.save()
    return repo


def test_list_and_show(registered: Path):
    done = lockgate("registry", "list", cwd=registered)
    assert done.returncode == 0, done.stderr
    assert "churn" in done.stdout and "v3" in done.stdout and "production" in done.stdout

    done = lockgate("registry", "list", "--json", cwd=registered)
    data = json.loads(done.stdout)
    assert data["churn"]["aliases"] == {"production": 2}
    assert sorted(data["churn"]["versions"]) == ["1", "2", "3"]

    done = lockgate("registry", "show", "churn", "production", "--json", cwd=registered)
    record = json.loads(done.stdout)
    assert record["version"] == 2 and record["aliases"] == ["production"]
    assert record["metrics"] == {"roc_auc": 0.78, "f1": 0.5}

    done = lockgate("registry", "show", "churn", "v3", cwd=registered)
    assert done.returncode == 0 and done.stdout.startswith("churn v3\n")
    assert "roc_auc: 0.83" in done.stdout

    done = lockgate("registry", "show", "churn", cwd=registered)
    assert "production -> v2 (before: v1)" in done.stdout


def test_unknown_names_are_usage_errors_with_suggestions(registered: Path):
    done = lockgate("registry", "show", "churn", "prodution", cwd=registered)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "error: model 'churn' has no alias 'prodution'; did you mean 'production'?"
    )
    done = lockgate("registry", "show", "chrun", cwd=registered)
    assert done.returncode == 2 and "did you mean 'churn'" in done.stderr
    done = lockgate("registry", "list", "--json", cwd=registered.parent)
    assert done.returncode == 2 and done.stdout == ""  # not inside a repository
    assert "not inside a lockgate repository" in done.stderr


def test_empty_registry(repo: Path):
    done = lockgate("registry", "list", "--json", cwd=repo)
    assert done.returncode == 0 and json.loads(done.stdout) == {}
    done = lockgate("audit", "verify", cwd=repo)
    assert done.returncode == 0 and "0 records, chain intact" in done.stdout


def test_broken_registry_file_is_named(registered: Path):
    path = registered / "registry" / "churn.yaml"
    path.write_text(path.read_text().replace("production: 2", "production: 7"))
    done = lockgate("registry", "list", cwd=registered)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: registry/churn.yaml:")
    assert "points to 7" in done.stderr


def test_promote_rollback_and_audit(registered: Path):
    done = lockgate("registry", "promote", "churn", "v3", "--alias", "production", cwd=registered)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "churn: production v2 -> v3"
    reg = Registry.open(registered, "churn")
    assert reg.aliases == {"production": 3} and reg.history == {"production": [1, 2]}

    done = lockgate("registry", "promote", "churn", "production", "--alias", "staging", cwd=registered)
    assert done.stdout.strip() == "churn: staging (new alias) -> v3"
    done = lockgate("registry", "promote", "churn", "3", "--alias", "staging", cwd=registered)
    assert "nothing changed" in done.stdout

    done = lockgate("registry", "rollback", "churn", "production", cwd=registered)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "churn: production v3 -> v2 (rolled back)"
    assert Registry.open(registered, "churn").aliases == {"production": 2, "staging": 3}

    done = lockgate("registry", "rollback", "churn", "staging", cwd=registered)
    assert done.returncode == 2 and "no earlier version to roll back to" in done.stderr

    records = AuditLog(registered / "registry" / "audit.jsonl").records()
    assert [(r["event"], r["alias"], r["version"], r["previous"]) for r in records] == [
        ("promote", "production", 3, 2),
        ("promote", "staging", 3, None),
        ("rollback", "production", 2, 3),
    ]
    head = git(registered, "rev-parse", "HEAD").strip()
    assert all(r["manual"] is True and r["model"] == "churn" for r in records)
    assert all(r["commit"] == head and r["who"] for r in records)
    assert records[0]["metrics"] == {"roc_auc": 0.83, "f1": 0.5}
    assert (registered / ".lockgate" / ".gitignore").is_file()

    done = lockgate("audit", "verify", cwd=registered)
    assert done.returncode == 0
    assert done.stdout.startswith("registry/audit.jsonl: 3 records, chain intact")
    done = lockgate("audit", "show", "-n", "2", "--json", cwd=registered)
    assert [r["seq"] for r in json.loads(done.stdout)] == [2, 3]
    done = lockgate("audit", "show", cwd=registered)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 3

    # tamper: the verify command names the line, exit 1, JSON stays JSON
    path = registered / "registry" / "audit.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[2])
    done = lockgate("audit", "verify", cwd=registered)
    assert done.returncode == 1
    assert "line 2: seq 3 follows 1 (removed?)" in done.stdout
    done = lockgate("audit", "verify", "--json", cwd=registered)
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert (result["ok"], result["first_bad"], result["count"]) == (False, 2, 2)


def test_promote_to_unknown_version_changes_nothing(registered: Path):
    before = (registered / "registry" / "churn.yaml").read_bytes()
    done = lockgate("registry", "promote", "churn", "v9", "--alias", "production", cwd=registered)
    assert done.returncode == 2 and "has no version 9" in done.stderr
    done = lockgate("registry", "promote", "churn", "v3", "--alias", "v2", cwd=registered)
    assert done.returncode == 2 and "is not an alias name" in done.stderr
    assert (registered / "registry" / "churn.yaml").read_bytes() == before
    assert not (registered / "registry" / "audit.jsonl").exists()


def test_export_a_model(repo: Path):
    np = pytest.importorskip("numpy")
    linear = pytest.importorskip("sklearn.linear_model")
    from lockgate.store.artifacts import file_content_digest, load_model_file, save_model
    from lockgate.store.local import LocalStore

    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    model = linear.LogisticRegression().fit(x, [0, 1, 0, 1])
    ref = save_model(LocalStore(repo / ".lockgate" / "cache"), model)
    reg = Registry.open(repo, "churn")
    reg.add_version(artifact=ref, metrics={"roc_auc": 1.0}, params={}, git_commit="",
                    pipeline="churn", stage="train", data={})
    reg.add_version(artifact=fake_artifact("not cached"), metrics={}, params={}, git_commit="",
                    pipeline="churn", stage="train", data={})
    reg.set_alias("production", 1)
    reg.save()

    done = lockgate("registry", "export", "churn", "production", "out/model.lgm", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote churn v1 (model ")
    exported = repo / "out" / "model.lgm"
    assert digest_bytes(exported.read_bytes()) == ref.object
    assert file_content_digest(exported.read_bytes()) == ref.digest
    loaded = load_model_file(exported)
    assert (loaded.predict(x) == model.predict(x)).all()

    done = lockgate("registry", "export", "churn", "v2", "m2.lgm", cwd=repo)
    assert done.returncode == 2
    assert "is not in the local cache; run `lockgate pull`" in done.stderr
    assert not (repo / "m2.lgm").exists()
