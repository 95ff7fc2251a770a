"""The model registry file: round trip, determinism, aliases, rollback, resolve, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.errors import RegistryError
from lockgate.hashing import digest_bytes
from lockgate.registry import ModelVersion, Registry, alias_holders, registry_names
from lockgate.store.artifacts import ArtifactRef


def artifact(tag: str) -> dict:
    digest = digest_bytes(tag.encode())
    return {"kind": "model", "digest": digest, "meta": {"class": "sklearn.Dummy"}}


def add(reg: Registry, tag: str, **metrics: float) -> ModelVersion:
    return reg.add_version(
        artifact=artifact(tag), metrics=metrics or {"roc_auc": 0.81, "f1": 0.5},
        params={"C": 1.0, "features": ("a", "b")}, git_commit="abc123", pipeline="churn",
        stage="train", data={"train": digest_bytes(b"data")}, created="2024-05-01T12:00:00Z",
    )


def test_round_trip_and_deterministic_bytes(tmp_path: Path):
    reg = Registry.open(tmp_path, "churn")
    assert reg.versions == {} and reg.aliases == {} and not reg.path.exists()
    v1 = add(reg, "m1", roc_auc=0.8125, f1=0.1)
    v2 = add(reg, "m2")
    reg.set_alias("production", 1)
    reg.set_alias("production", 2)
    reg.set_alias("staging", 2)
    assert reg.save() is True
    first = reg.path.read_bytes()
    assert reg.save() is False  # unchanged bytes are not rewritten

    again = Registry.open(tmp_path, "churn")
    assert again.versions == {1: v1, 2: v2}
    assert again.aliases == {"production": 2, "staging": 2}
    assert again.history == {"production": [1]}
    assert again.versions[1].metrics == {"roc_auc": 0.8125, "f1": 0.1}
    assert again.versions[1].params == {"C": 1.0, "features": ["a", "b"]}
    again.save()
    assert again.path.read_bytes() == first
    assert again.to_text() == reg.to_text()

    text = first.decode()
    assert "&" not in text and "*id" not in text  # no anchors
    assert text.index("aliases:") < text.index("history:") < text.index("versions:")
    assert "roc_auc: 0.8125" in text
    assert not list(tmp_path.joinpath("registry").glob(".*.tmp"))
    assert reg.path.stat().st_mode & 0o777 == 0o644
    assert registry_names(tmp_path) == ["churn"]
    assert alias_holders(tmp_path) == {"production": ["churn"], "staging": ["churn"]}


def test_numpy_metrics_are_stored_as_plain_numbers(tmp_path: Path):
    np = pytest.importorskip("numpy")
    reg = Registry.open(tmp_path, "churn")
    add(reg, "m1", roc_auc=np.float64(0.75), n=np.int64(3))
    reg.save()
    assert Registry.open(tmp_path, "churn").versions[1].metrics == {"roc_auc": 0.75, "n": 3}


def test_add_is_idempotent_by_artifact_digest(tmp_path: Path):
    reg = Registry.open(tmp_path, "churn")
    v1 = add(reg, "m1")
    again = reg.add_version(
        artifact=ArtifactRef.from_record(artifact("m1")), metrics={"roc_auc": 0.99}, params={},
        git_commit="", pipeline="other", stage="other", data={},
    )
    assert again is v1 and len(reg.versions) == 1
    assert reg.find(v1.digest) is v1 and reg.find(digest_bytes(b"nope")) is None
    assert add(reg, "m2").version == 2


def test_version_numbers_never_reuse_a_removed_number(tmp_path: Path):
    reg = Registry.open(tmp_path, "churn")
    add(reg, "m1"), add(reg, "m2"), add(reg, "m3")
    del reg.versions[2]
    assert add(reg, "m4").version == 4


def test_created_defaults_to_utc_now(tmp_path: Path):
    reg = Registry.open(tmp_path, "churn")
    v = reg.add_version(artifact=artifact("m"), metrics={}, params={}, git_commit="",
                        pipeline="p", stage="s", data={})
    assert v.created.endswith("Z") and v.created[4] == "-" and len(v.created) == 20


def test_aliases_history_and_rollback(tmp_path: Path):
    reg = Registry.open(tmp_path, "churn")
    for tag in ("m1", "m2", "m3"):
        add(reg, tag)
    assert reg.set_alias("production", 1) is None
    assert reg.set_alias("production", 2) == 1
    assert reg.set_alias("production", 2) == 2  # no change, no history
    assert reg.set_alias("production", 3) == 2
    assert reg.history == {"production": [1, 2]}
    assert reg.alias_metrics("production") == reg.versions[3].metrics
    assert reg.alias_metrics("champion") is None
    assert reg.rollback("production") == (3, 2)
    assert reg.rollback("production") == (2, 1)
    assert reg.aliases == {"production": 1} and reg.history == {}
    with pytest.raises(RegistryError, match="no earlier version to roll back to"):
        reg.rollback("production")
    with pytest.raises(RegistryError, match="no alias 'prodution'; did you mean 'production'"):
        reg.rollback("prodution")
    with pytest.raises(RegistryError, match=r"has no version 9 \(versions: 1-3\)"):
        reg.set_alias("staging", 9)


@pytest.mark.parametrize("bad", ["3", "v3", "my-alias", "class", "", "2nd"])
def test_alias_names_must_be_identifiers_and_not_versions(tmp_path: Path, bad: str):
    reg = Registry.open(tmp_path, "churn")
    add(reg, "m1")
    with pytest.raises(RegistryError, match="is not an alias name"):
        reg.set_alias(bad, 1)


def test_resolve_by_alias_number_and_v_number(tmp_path: Path):
    reg = Registry.open(tmp_path, "churn")
    for tag in ("m1", "m2", "m3"):
        add(reg, tag)
    reg.set_alias("production", 2)
    assert reg.resolve("production").version == 2
    assert reg.resolve("3").version == 3
    assert reg.resolve("v3").version == 3
    assert reg.resolve("V1").version == 1
    with pytest.raises(RegistryError) as err:
        reg.resolve("prod")
    assert str(err.value) == "model 'churn' has no alias 'prod'; did you mean 'production'?"
    assert err.value.exit_code == 2
    with pytest.raises(RegistryError, match=r"^model 'churn' has no alias 'zzz' \(aliases: production\)$"):
        reg.resolve("zzz")
    with pytest.raises(RegistryError, match=r"^model 'churn' has no version 7 \(versions: 1-3\)$"):
        reg.resolve("v7")
    empty = Registry.open(tmp_path, "other")
    with pytest.raises(RegistryError, match="there are no aliases yet"):
        empty.resolve("production")


def test_open_existing_suggests_a_model(tmp_path: Path):
    reg = Registry.open(tmp_path, "churn")
    add(reg, "m1")
    reg.save()
    with pytest.raises(RegistryError, match="no model 'chrun' in registry/; did you mean 'churn'"):
        Registry.open_existing(tmp_path, "chrun")
    with pytest.raises(RegistryError, match="is not a model name"):
        Registry.open(tmp_path, "../escape")


def write_registry(root: Path, text: str) -> None:
    (root / "registry").mkdir(exist_ok=True)
    (root / "registry" / "churn.yaml").write_text(text, encoding="utf-8")


def good_text(tmp_path: Path) -> str:
    reg = Registry.open(tmp_path, "churn")
    add(reg, "m1"), add(reg, "m2")
    reg.set_alias("production", 1)
    reg.set_alias("production", 2)
    return reg.to_text()


def test_hand_edited_errors_name_the_file_and_line(tmp_path: Path):
    text = good_text(tmp_path)
    text = text.replace("production: 2", "production: 5").replace("f1: 0.5", "f1: high", 1)
    text = text.replace("  pipeline: churn", "  pipelin: churn", 1)
    write_registry(tmp_path, text)
    with pytest.raises(RegistryError) as err:
        Registry.open(tmp_path, "churn")
    lines = str(err.value).splitlines()
    assert len(lines) == 3, lines
    assert all(line.startswith("registry/churn.yaml:") for line in lines)
    message = str(err.value)
    assert "alias 'production' points to 5, which is not a version here (versions: 1, 2)" in message
    assert "version 1: metrics.f1 is a str, not a number" in message
    assert "version 1: unknown key 'pipelin'; did you mean 'pipeline'?" in message
    number = text.splitlines().index("  production: 5") + 1
    assert f"registry/churn.yaml:{number}: alias 'production'" in message
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("versions: [1, 2\n", r"^registry/churn.yaml:2:1: YAML syntax error"),
        ("- 1\n- 2\n", "a registry file holds a mapping, not a list"),
        ("", "the file is empty"),
        ("versions:\n  1:\n    artifact: {kind: model, digest: abc}\n", "artifact is not an artifact record"),
        ("versions:\n  one: {}\n", "version key 'one' is not a whole number"),
        ("schema: 2\n", "schema 2 is not supported"),
        ("name: other\n", "name 'other' does not match the file name 'churn'"),
    ],
)
def test_broken_files(tmp_path: Path, text: str, expected: str):
    write_registry(tmp_path, text)
    with pytest.raises(RegistryError, match=expected):
        Registry.open(tmp_path, "churn")
    assert alias_holders(tmp_path) == {}  # skipped: the commands that read it report it


def test_model_version_dict_round_trip():
    v = ModelVersion(version=4, artifact=artifact("m"), metrics={"f1": 0.5}, params={"C": 2},
                     git_commit="c", pipeline="p", stage="s", data={"x": "y"}, created="t")
    assert ModelVersion.from_dict(v.to_dict()) == v
    assert v.ref.kind == "model" and v.digest == v.artifact["digest"]


def test_promote_is_audited_first_and_a_known_artifact_keeps_its_version(tmp_path: Path):
    from lockgate.audit import AuditLog
    from lockgate.registry import Promotion, promote

    audit = AuditLog(tmp_path / "registry" / "audit.jsonl")
    first = promote(tmp_path, Promotion("churn", "production", artifact("m1"), metrics={"f1": 0.5}), audit)
    assert (first["version"], first["previous"]) == (1, None)
    registry = Registry.open(tmp_path, "churn")
    assert registry.aliases == {"production": 1} and registry.audit == first["audit"]
    record = audit.records()[-1]
    assert record["hash"] == first["audit"] and record["event"] == "promote" and record["metrics"] == {"f1": 0.5}
    assert "experiment" not in record
    again = promote(tmp_path, Promotion("churn", "production", artifact("m1")), audit)
    assert again == {"version": 1, "previous": 1, "unchanged": True} and len(audit.records()) == 1
    second = promote(tmp_path, Promotion("churn", "production", artifact("m2"), experiment="exp-1"), audit)
    assert (second["version"], second["previous"]) == (2, 1) and audit.records()[-1]["experiment"] == "exp-1"
