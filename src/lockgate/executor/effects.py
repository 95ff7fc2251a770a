"""The run's side effects outside the cache: registry promotions and the audit log.

Steps only ask for a promotion (``ctx.effects``); the runner calls ``apply``
in the main process after the stage's outputs are stored and before the
stage's run-cache entry is written, so a failed or interrupted stage never
half-promotes and a stage is never "restored" without its promotion having
happened. Every gate decision and promotion is appended to the hash-chained
audit log (``registry/audit.jsonl``, committed).

A promotion is one step that cannot half-happen: the audit record (which
holds everything the registry change needs) is appended first, then the
registry is saved naming that record (``audit:``). A crash in between leaves
a record the registry does not reflect; ``recover`` (run before anything
reads the registry) re-applies it. The log is the journal.

Records carry the params in effect and the ``-p`` overrides, so a promotion
from an experiment is never mistaken for one from the committed params.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate.graph.pipeline import Pipeline

if TYPE_CHECKING:
    from lockgate.audit import AuditLog
    from lockgate.registry import Registry

log = logging.getLogger(__name__)


class AmbiguousAlias(Exception):
    """An alias that several registries define, with no promote stage to say which."""


def model_name_for(pipeline: Pipeline, alias: str, stage: str | None = None,
                   holders: list[str] | None = None) -> str | None:
    """Which registry an alias in a gate refers to: the promote stage's own model,
    else the model of a promote stage in the pipeline that sets that alias, else the
    one registry that has the alias (``holders``: the registries holding it)."""
    stages = pipeline.stages
    if stage and stages[stage].kind == "uses" and stages[stage].run == "promote":
        return str(stages[stage].with_.get("model_name", pipeline.name))
    for s in stages.values():
        if s.kind == "uses" and s.run == "promote" and s.with_.get("alias") == alias:
            return str(s.with_.get("model_name", pipeline.name))
    holders = holders or []
    if len(holders) > 1:
        raise AmbiguousAlias(
            f"alias '{alias}' exists in several registries ({', '.join(holders)}); "
            "add a promote stage for the model you mean"
        )
    return holders[0] if holders else None


class Effects:
    def __init__(self, root: Path, *, experiment: str = "") -> None:
        self.root = root
        self.experiment = experiment  # set: records say the run was an experiment
        self._registries: dict[str, Registry] | None = None

    @cached_property
    def audit(self) -> AuditLog:
        """The audit log, opened on first use (`status` never needs it)."""
        from lockgate.audit import AuditLog, audit_path

        return AuditLog(audit_path(self.root))

    def _opened(self) -> dict[str, Registry]:
        """Every registry, read once per run; a promotion makes the next call read them again."""
        if self._registries is None:
            from lockgate.registry import Registry, registry_names

            self._registries = {n: Registry.open(self.root, n) for n in registry_names(self.root)}
        return self._registries

    def alias_metrics(self, pipeline: Pipeline, alias: str, stage: str | None = None) -> dict[str, Any] | None:
        from lockgate.gates import MissingValue
        from lockgate.registry import Registry

        registries = self._opened()
        holders = [n for n, registry in registries.items() if alias in registry.aliases]
        try:
            name = model_name_for(pipeline, alias, stage, holders)
        except AmbiguousAlias as exc:
            raise MissingValue(str(exc)) from None  # a gate that cannot be decided fails
        if name is None:
            return None
        registry = registries.get(name) or Registry.open(self.root, name)  # not created yet: no alias
        return registry.alias_metrics(alias)

    # -- promotions ------------------------------------------------------------------------

    def apply(self, pipeline: Pipeline, stage: str, effect: dict[str, Any]) -> dict[str, Any]:
        """Carry out a step's request (a promotion); returns what happened."""
        if effect.get("type") != "promote":
            raise ValueError(f"unknown effect {effect.get('type')!r}")
        from lockgate import gitrev
        from lockgate.registry import Registry

        registry = Registry.open(self.root, effect["model_name"])
        change = {
            "model": effect["model_name"], "alias": effect["alias"], "artifact": effect["artifact"],
            "metrics": effect["metrics"], "params": dict(pipeline.params),
            "overrides": pipeline.override_values(), "git_commit": gitrev.current_commit(self.root),
            "pipeline": pipeline.name, "stage": stage, "data": effect["data"],
        }
        if self.experiment:
            change["experiment"] = self.experiment
        existing = registry.find(str(effect["artifact"].get("digest", "")))
        if existing is not None and registry.aliases.get(effect["alias"]) == existing.version:
            return {"version": existing.version, "previous": existing.version, "unchanged": True}
        version = existing.version if existing is not None else max(registry.versions, default=0) + 1
        record = self.audit.append("promote", version=version, previous=registry.aliases.get(effect["alias"]),
                                   created=_now(), **change)
        applied = _apply_record(registry, record)
        self._registries = None
        return {**applied, "audit": record["hash"]}

    def recover(self) -> list[str]:
        """Re-apply promotions and rollbacks the audit log holds but a registry misses
        (a crash between the two writes); returns what was re-applied."""
        try:
            records = self.audit.records()
        except Exception:  # a damaged log: `audit verify` says where; nothing to replay
            return []
        if not records:  # nothing a registry could miss (and no registry module to load)
            return []
        from lockgate.registry import Registry, registry_names

        position = {r.get("hash"): i for i, r in enumerate(records)}
        redone = []
        from lockgate.errors import LockgateError

        for name in sorted({*registry_names(self.root), *(str(r["model"]) for r in records if r.get("model"))}):
            try:
                registry = Registry.open(self.root, name)
            except LockgateError:
                continue  # a broken registry file: the stage that needs it says so
            if registry.audit and registry.audit not in position:
                continue  # the log lost the anchor: `audit verify` reports it
            start = position.get(registry.audit, -1) + 1
            if not registry.audit and registry.versions:
                continue  # written before registries named their record: nothing to compare with
            pending = [r for r in records[start:] if r.get("model") == name
                       and r.get("event") in ("promote", "rollback")]
            for record in pending:
                _apply_record(registry, record)
                redone.append(f"{name} {record['event']} v{record['version']} (audit record {record['hash'][:12]})")
        for line in redone:
            log.warning("re-applied %s: the registry missed it (interrupted run)", line)
        if redone:
            self._registries = None
        return redone

    def manual(self, event: str, registry: Any, alias: str, version: int, previous: int | None) -> dict[str, Any]:
        """``registry promote|rollback`` by hand: audited first, then saved (one step)."""
        target = registry.versions[version]
        record = self.audit.append(event, model=registry.name, alias=alias, version=version, previous=previous,
                                   artifact=target.artifact, metrics=target.metrics, manual=True)
        _apply_record(registry, record)
        self._registries = None
        return record

    # -- gate decisions --------------------------------------------------------------------

    def gates(self, pipeline: Pipeline, stage: str, decisions: list[dict[str, Any]], holds: bool) -> str:
        """Audit a stage's gate decisions; returns the record's hash (the lock anchors it)."""
        fields: dict[str, Any] = {"pipeline": pipeline.name, "stage": stage, "holds": holds,
                                  "decisions": decisions}
        used = pipeline.stages[stage].params if stage in pipeline.stages else {}
        if used:
            fields["params"] = dict(used)
        if pipeline.overrides:
            fields["overrides"] = pipeline.override_values()
        if self.experiment:
            fields["experiment"] = self.experiment
        return str(self.audit.append("gate", **fields)["hash"])


def _apply_record(registry: Any, record: dict[str, Any]) -> dict[str, Any]:
    """Make ``registry`` reflect one audit record (a promotion or rollback) and save it,
    naming the record. Idempotent: a record already applied changes nothing."""
    alias, version = str(record["alias"]), int(record["version"])
    if record["event"] == "promote" and version not in registry.versions:
        added = registry.add_version(
            artifact=record["artifact"], metrics=record.get("metrics") or {}, params=record.get("params") or {},
            git_commit=record.get("git_commit", ""), pipeline=record.get("pipeline", ""),
            stage=record.get("stage", ""), data=record.get("data") or {}, created=record.get("created"),
            overrides=record.get("overrides") or {},
        )
        if added.version != version:  # the registry moved meanwhile (edited by hand): keep its number
            version = added.version
    previous = registry.aliases.get(alias)
    if record["event"] == "rollback" and previous is not None and previous == record.get("previous"):
        registry.rollback(alias)  # pops the alias's history, as the rollback did
    if registry.aliases.get(alias) != version:
        registry.set_alias(alias, version)
    registry.audit = str(record["hash"])
    registry.save()
    return {"version": version, "previous": previous if previous != version else record.get("previous")}


def _now() -> str:
    from lockgate.registry import utc_now

    return utc_now()
