"""Run effects: registries are read once per run and again after a promotion."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from lockgate import registry as registry_module
from lockgate.executor.effects import Effects
from lockgate.hashing import digest_bytes
from lockgate.registry import Registry

NO_PROMOTE_STAGES = SimpleNamespace(  # the alias is found by its holder
    name="churn", stages={}, params={"seed": 7}, overrides=(), override_values=dict,
)


def promote_effect(tag: str, auc: float) -> dict:
    return {
        "type": "promote", "model_name": "churn", "alias": "production",
        "artifact": {"kind": "model", "digest": digest_bytes(tag.encode()), "meta": {}},
        "metrics": {"roc_auc": auc}, "params": {}, "data": {},
    }


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    names: list[str] = []
    real_init = Registry.__init__

    def counting_init(self, path, name, **kw):
        names.append(name)
        real_init(self, path, name, **kw)

    monkeypatch.setattr(registry_module.Registry, "__init__", counting_init)
    return names


def test_registries_are_read_once_until_a_promotion(tmp_path: Path, opened: list[str]):
    effects = Effects(tmp_path)
    effects.apply(NO_PROMOTE_STAGES, "deploy", promote_effect("m1", 0.7))
    for other in ("fraud", "uplift"):
        Registry.open(tmp_path, other).save()
    opened.clear()

    for _ in range(5):
        assert effects.alias_metrics(NO_PROMOTE_STAGES, "production") == {"roc_auc": 0.7}
    assert sorted(opened) == ["churn", "fraud", "uplift"]  # one read each, not one per gate term

    effects.apply(NO_PROMOTE_STAGES, "deploy", promote_effect("m2", 0.9))
    opened.clear()
    assert effects.alias_metrics(NO_PROMOTE_STAGES, "production") == {"roc_auc": 0.9}
    assert sorted(opened) == ["churn", "fraud", "uplift"]


def test_a_promotion_interrupted_before_the_registry_save_is_reapplied(tmp_path: Path, monkeypatch):
    """The audit record is written first and holds the whole change: a crash before the
    registry save loses nothing; the next run (recover) finishes it, once."""
    from lockgate.audit import AuditLog, audit_path

    effects = Effects(tmp_path)
    first = effects.apply(NO_PROMOTE_STAGES, "deploy", promote_effect("m1", 0.7))
    assert Registry.open(tmp_path, "churn").audit == first["audit"]

    def crash(self):
        raise KeyboardInterrupt  # killed between the audit append and the registry write

    monkeypatch.setattr(Registry, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        effects.apply(NO_PROMOTE_STAGES, "deploy", promote_effect("m2", 0.9))
    monkeypatch.undo()
    assert Registry.open(tmp_path, "churn").aliases == {"production": 1}  # not yet
    assert [r["version"] for r in AuditLog(audit_path(tmp_path)).records()] == [1, 2]

    assert Effects(tmp_path).recover() != []
    registry = Registry.open(tmp_path, "churn")
    assert registry.aliases == {"production": 2} and registry.history == {"production": [1]}
    assert registry.versions[2].metrics == {"roc_auc": 0.9} and registry.versions[2].params == {"seed": 7}
    assert registry.audit == AuditLog(audit_path(tmp_path)).records()[-1]["hash"]
    assert Effects(tmp_path).recover() == []  # applied once
    again = Effects(tmp_path).apply(NO_PROMOTE_STAGES, "deploy", promote_effect("m2", 0.9))
    assert again["unchanged"] and len(AuditLog(audit_path(tmp_path)).records()) == 2  # no new record
