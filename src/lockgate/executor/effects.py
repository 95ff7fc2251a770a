"""The run's side effects outside the cache: registry promotions and the audit log.

Steps only ask for a promotion (``ctx.effects``); the runner calls ``apply``
in the main process after the stage's outputs are stored and before the
stage's run-cache entry is written, so a failed or interrupted stage never
half-promotes and a stage is never "restored" without its promotion having
happened. Every gate decision and promotion is appended to the hash-chained
audit log (``registry/audit.jsonl``, committed).

A promotion is one step that cannot half-happen (``registry.promote``: the
audit record first, then the registry naming it); ``recover`` runs before
anything reads the registry and re-applies what a crash left half done.

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
        from lockgate.registry import AmbiguousAlias, Registry, model_name_for

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
        from lockgate.registry import Promotion, promote

        promotion = Promotion(
            model=effect["model_name"], alias=effect["alias"], artifact=effect["artifact"],
            metrics=effect["metrics"], params=dict(pipeline.params), overrides=pipeline.override_values(),
            git_commit=gitrev.current_commit(self.root), pipeline=pipeline.name, stage=stage,
            data=effect["data"], experiment=self.experiment,
        )
        done = promote(self.root, promotion, self.audit)
        self._registries = None
        return done

    def recover(self) -> list[str]:
        """Re-apply promotions and rollbacks the audit log holds but a registry misses
        (a crash between the two writes); returns what was re-applied."""
        if not self.audit.path.exists():  # nothing a registry could miss (and no registry module to load)
            return []
        from lockgate.registry import recover

        redone = recover(self.root, self.audit)
        for line in redone:
            log.warning("re-applied %s: the registry missed it (interrupted run)", line)
        if redone:
            self._registries = None
        return redone

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
