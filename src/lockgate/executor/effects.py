"""The run's side effects outside the cache: registry promotions and the audit log.

Steps only ask for a promotion (``ctx.effects``); the runner calls ``apply``
in the main process after the stage's outputs are stored, so a failed or
interrupted stage never half-promotes. Every gate decision and promotion is
appended to the hash-chained audit log.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate.graph.pipeline import Pipeline

if TYPE_CHECKING:
    from lockgate.registry import Registry


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
    def __init__(self, root: Path) -> None:
        from lockgate.audit import AuditLog

        self.root = root
        self.audit = AuditLog(root / ".lockgate" / "audit.jsonl")
        self._registries: dict[str, Registry] | None = None

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

    def apply(self, pipeline: Pipeline, stage: str, effect: dict[str, Any]) -> dict[str, Any]:
        if effect.get("type") != "promote":
            raise ValueError(f"unknown effect {effect.get('type')!r}")
        from lockgate.registry import Registry

        registry = Registry.open(self.root, effect["model_name"])
        version = registry.add_version(
            artifact=effect["artifact"], metrics=effect["metrics"], params=effect["params"],
            git_commit=_git_commit(self.root), pipeline=pipeline.name, stage=stage, data=effect["data"],
        )
        previous = registry.set_alias(effect["alias"], version.version)
        registry.save()
        self._registries = None
        record = self.audit.append(
            "promote", model=effect["model_name"], alias=effect["alias"], version=version.version,
            previous=previous, artifact=effect["artifact"].get("digest"), metrics=effect["metrics"],
            pipeline=pipeline.name, stage=stage, data=effect["data"],
        )
        return {"version": version.version, "previous": previous, "audit": record.get("seq")}

    def gates(self, pipeline: Pipeline, stage: str, decisions: list[dict[str, Any]], holds: bool) -> None:
        self.audit.append(
            "gate", pipeline=pipeline.name, stage=stage, holds=holds, decisions=decisions,
        )


def _git_commit(root: Path) -> str:
    import subprocess

    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""
