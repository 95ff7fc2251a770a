"""The model registry: ``registry/NAME.yaml``, one file per model, committed to git.

Owns: the file format and every write to it. A registry lists model
versions (the model's artifact record, the metrics, params, git commit,
pipeline, stage and input data digests recorded when it was added) and
aliases (``production: 3``) with, per alias, the versions it pointed to
before (newest last), so an alias can be rolled back. Version numbers only
grow; adding a model whose artifact digest is already registered returns
that version instead of a new one.

The file is deterministic YAML (sorted keys, no anchors, floats by ``repr``)
written atomically, so the same registry always gives the same bytes and a
diff shows exactly what changed. A hand-edited file is validated on load and
every problem reported at once as ``registry/NAME.yaml:LINE: ...``.

Also owns the one way a registry changes for a promotion or a rollback
(``promote``, ``move_alias``, ``recover``): the audit record, which holds
everything the change needs, is appended first, then the registry is saved
naming that record (``audit:``). A crash in between leaves a record the
registry does not reflect; ``recover`` re-applies it. The log is the journal.
And which registry an alias in a gate means (``model_name_for``).

Must not: take the repository lock or touch the object store (callers do: the
runner's effects, ``lockgate registry ...``).
"""

from __future__ import annotations

import datetime as _dt
import enum
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lockgate._fs import atomic_write_text
from lockgate.errors import RegistryError, StoreError, did_you_mean
from lockgate.store.artifacts import ArtifactRef, metrics_problem

if TYPE_CHECKING:
    from lockgate.audit import AuditLog
    from lockgate.graph.pipeline import Pipeline

REGISTRY_SCHEMA = 1
REGISTRY_DIR = "registry"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VERSION = re.compile(r"[vV]?([0-9]+)\Z")
_TOP_KEYS = ("aliases", "audit", "history", "name", "schema", "versions")
_VERSION_KEYS = ("artifact", "created", "data", "git_commit", "metrics", "overrides", "params",
                 "pipeline", "stage")


def utc_now() -> str:
    """The current time as ISO-8601 UTC to the second, e.g. ``2024-05-01T12:00:00Z``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ModelVersion:
    """One registered model, as recorded when it was added."""

    version: int
    artifact: dict[str, Any]  # an ArtifactRef record (kind, digest, object, meta)
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    git_commit: str = ""  # "" outside git or before the first commit
    pipeline: str = ""
    stage: str = ""
    data: dict[str, str] = field(default_factory=dict)  # input name -> data digest
    created: str = ""  # ISO-8601 UTC
    # -p overrides in effect when it was added (key -> value; empty: the committed params)
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """The model artifact's content digest."""
        return str(self.artifact.get("digest", ""))

    @property
    def ref(self) -> ArtifactRef:
        return ArtifactRef.from_record(self.artifact)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "artifact": self.artifact,
            "metrics": self.metrics,
            "params": self.params,
            "git_commit": self.git_commit,
            "pipeline": self.pipeline,
            "stage": self.stage,
            "data": self.data,
            "created": self.created,
            **({"overrides": self.overrides} if self.overrides else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelVersion:
        """From ``to_dict`` output (unvalidated; registry files are checked on load)."""
        created = d.get("created", "")
        if isinstance(created, _dt.datetime):  # an unquoted timestamp in a hand edit
            created = _iso(created)
        return cls(
            version=int(d["version"]),
            artifact=dict(d.get("artifact") or {}),
            metrics=dict(d.get("metrics") or {}),
            params=dict(d.get("params") or {}),
            git_commit=str(d.get("git_commit") or ""),
            pipeline=str(d.get("pipeline") or ""),
            stage=str(d.get("stage") or ""),
            data={str(k): str(v) for k, v in (d.get("data") or {}).items()},
            created=str(created or ""),
            overrides=dict(d.get("overrides") or {}),
        )


class Registry:
    """One model's registry file, loaded (empty when it does not exist yet).

    Changes stay in memory until ``save()``; callers that change a registry
    hold the repository lock between loading and saving.
    """

    def __init__(self, path: Path, name: str, *, display: str | None = None) -> None:
        check_model_name(name)
        self.path = Path(path)
        self.name = name
        self.display = display or str(path)  # how messages name the file
        self.versions: dict[int, ModelVersion] = {}
        self.aliases: dict[str, int] = {}
        self.history: dict[str, list[int]] = {}
        self.audit = ""  # the audit record of the last change: anchors the committed audit log
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{self.display}: cannot be read: {exc}") from exc
        self._load(text)

    @classmethod
    def open(cls, root: Path, name: str) -> Registry:
        """``root/registry/NAME.yaml``; an empty registry when the file is absent."""
        check_model_name(name)
        return cls(Path(root) / REGISTRY_DIR / f"{name}.yaml", name,
                   display=f"{REGISTRY_DIR}/{name}.yaml")

    @classmethod
    def open_existing(cls, root: Path, name: str) -> Registry:
        """Like ``open``, but a model with no registry file is an error (with "did you mean")."""
        check_model_name(name)
        path = Path(root) / REGISTRY_DIR / f"{name}.yaml"
        if not path.is_file():
            names = registry_names(root)
            raise RegistryError(
                f"no model '{name}' in {REGISTRY_DIR}/"
                f"{did_you_mean(name, names, prefixed=True) or _listed(names, 'models')}"
            )
        return cls.open(root, name)

    # -- reading -----------------------------------------------------------------

    def find(self, artifact_digest: str) -> ModelVersion | None:
        """The version holding the model with this artifact digest, if any."""
        for number in sorted(self.versions):
            if self.versions[number].digest == artifact_digest:
                return self.versions[number]
        return None

    def resolve(self, alias_or_version: str | int) -> ModelVersion:
        """A version by alias (``production``) or number (``3``, ``v3``)."""
        text = str(alias_or_version).strip()
        number = _VERSION.match(text)
        if number and text not in self.aliases:
            version = int(number.group(1))
            if version in self.versions:
                return self.versions[version]
            raise RegistryError(
                f"model '{self.name}' has no version {version} ({self._versions_phrase()})"
            )
        if text in self.aliases:
            return self.versions[self.aliases[text]]
        raise RegistryError(
            f"model '{self.name}' has no alias '{text}'{self._alias_hint(text)}"
        )

    def alias_metrics(self, alias: str) -> dict[str, Any] | None:
        """The metrics recorded for the version ``alias`` points to; None when there is no such alias."""
        version = self.aliases.get(alias)
        if version is None:
            return None
        return self.versions[version].metrics

    def aliases_of(self, version: int) -> list[str]:
        return sorted(a for a, v in self.aliases.items() if v == version)

    # -- changing ----------------------------------------------------------------

    def add_version(
        self,
        *,
        artifact: ArtifactRef | Mapping[str, Any],
        metrics: Mapping[str, Any],
        params: Mapping[str, Any],
        git_commit: str,
        pipeline: str,
        stage: str,
        data: Mapping[str, str],
        created: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Register a model; if its artifact digest is already registered, that
        version is returned unchanged (adding is idempotent)."""
        record = artifact.to_record() if isinstance(artifact, ArtifactRef) else dict(artifact)
        try:
            ref = ArtifactRef.from_record(record)
        except StoreError as exc:
            raise ValueError(f"model '{self.name}': {exc}") from None
        existing = self.find(ref.digest)
        if existing is not None:
            return existing
        metrics = _plain(dict(metrics))
        problem = metrics_problem(metrics)
        if problem:
            raise ValueError(f"model '{self.name}': metrics must be a dict of numbers: {problem}")
        version = ModelVersion(
            version=max(self.versions, default=0) + 1,
            artifact=_plain(ref.to_record()),
            metrics=metrics,
            params=_plain(dict(params)),
            git_commit=str(git_commit or ""),
            pipeline=str(pipeline or ""),
            stage=str(stage or ""),
            data={str(k): str(v) for k, v in data.items()},
            created=created or utc_now(),
            overrides=_plain(dict(overrides or {})),
        )
        self.versions[version.version] = version
        return version

    def set_alias(self, alias: str, version: int) -> int | None:
        """Point ``alias`` at ``version``; returns the version it pointed to before
        (None for a new alias), which is pushed on the alias's history."""
        check_alias_name(alias)
        if version not in self.versions:
            raise RegistryError(
                f"model '{self.name}' has no version {version} ({self._versions_phrase()})"
            )
        previous = self.aliases.get(alias)
        if previous == version:
            return previous
        if previous is not None:
            self.history.setdefault(alias, []).append(previous)
        self.aliases[alias] = version
        return previous

    def rollback_target(self, alias: str) -> tuple[int, int]:
        """(from, to) of a rollback of ``alias``, changing nothing; RegistryError if none."""
        if alias not in self.aliases:
            raise RegistryError(
                f"model '{self.name}' has no alias '{alias}'{self._alias_hint(alias)}"
            )
        earlier = self.history.get(alias) or []
        if not earlier:
            raise RegistryError(
                f"alias '{alias}' of model '{self.name}' has no earlier version to roll back to "
                f"(it has pointed only to v{self.aliases[alias]})"
            )
        return self.aliases[alias], earlier[-1]

    def rollback(self, alias: str) -> tuple[int, int]:
        """Point ``alias`` back at the version it pointed to before; returns (from, to)."""
        if alias not in self.aliases:
            raise RegistryError(
                f"model '{self.name}' has no alias '{alias}'{self._alias_hint(alias)}"
            )
        earlier = self.history.get(alias) or []
        if not earlier:
            raise RegistryError(
                f"alias '{alias}' of model '{self.name}' has no earlier version to roll back to "
                f"(it has pointed only to v{self.aliases[alias]})"
            )
        current, target = self.aliases[alias], earlier.pop()
        if not earlier:
            del self.history[alias]
        self.aliases[alias] = target
        return current, target

    # -- the file ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REGISTRY_SCHEMA,
            "name": self.name,
            **({"audit": self.audit} if self.audit else {}),
            "aliases": dict(sorted(self.aliases.items())),
            "history": {a: list(h) for a, h in sorted(self.history.items()) if h},
            "versions": {
                n: {k: v for k, v in self.versions[n].to_dict().items() if k != "version"}
                for n in sorted(self.versions)
            },
        }

    def to_text(self) -> str:
        return yaml.dump(
            self.to_dict(), Dumper=_Dumper, sort_keys=True, default_flow_style=False,
            allow_unicode=True, width=100,
        )

    def save(self) -> bool:
        """Write the file atomically; returns False (writing nothing) when its bytes are unchanged."""
        text = self.to_text()
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return False
        except (OSError, UnicodeDecodeError):
            pass
        atomic_write_text(self.path, text)
        # 0644 whatever the umask: a committed file, read by every clone
        self.path.chmod(0o644)
        return True

    def _load(self, text: str) -> None:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise RegistryError(
                f"{self.display}{where}: YAML syntax error: {problem}; fix the file "
                "or restore it with `git checkout`"
            ) from None
        problems = _check_file(data, self.name)
        if problems:
            lines = _key_lines(node) if node is not None else {}
            located = sorted((_line_of(path, lines), msg) for path, msg in problems)
            raise RegistryError(
                "\n".join(f"{self.display}{f':{line}' if line else ''}: {msg}"
                          for line, msg in located)
            )
        assert isinstance(data, dict)
        versions = data.get("versions") or {}
        self.versions = {
            int(n): ModelVersion.from_dict({**rec, "version": n}) for n, rec in versions.items()
        }
        self.aliases = {str(a): int(v) for a, v in (data.get("aliases") or {}).items()}
        self.history = {
            str(a): [int(v) for v in h] for a, h in (data.get("history") or {}).items() if h
        }
        self.audit = str(data.get("audit") or "")

    def _alias_hint(self, alias: str) -> str:
        return did_you_mean(alias, self.aliases, prefixed=True) or _listed(sorted(self.aliases), "aliases")

    def _versions_phrase(self) -> str:
        if not self.versions:
            return "it has no versions yet"
        numbers = sorted(self.versions)
        if numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 2:
            return f"versions: {numbers[0]}-{numbers[-1]}"
        return "versions: " + ", ".join(str(n) for n in numbers)


def registry_names(root: Path) -> list[str]:
    """The models with a registry file under ``root/registry/``, sorted."""
    folder = Path(root) / REGISTRY_DIR
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.is_file() and _NAME.match(p.stem))


def alias_holders(root: Path) -> dict[str, list[str]]:
    """alias -> the models whose registry has it (a broken registry file is skipped:
    the commands that read it report it)."""
    holders: dict[str, list[str]] = {}
    for name in registry_names(root):
        try:
            aliases = Registry.open(root, name).aliases
        except RegistryError:
            continue
        for alias in aliases:
            holders.setdefault(alias, []).append(name)
    return holders


class AmbiguousAlias(RegistryError):
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


# -- promotions: audited first, then saved (one step that cannot half-happen) --------------


@dataclass(frozen=True)
class Promotion:
    """A request to point ``alias`` of ``model`` at a model artifact, with what the
    registry records about it (and the audit log with it)."""

    model: str
    alias: str
    artifact: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)  # the -p values of an experiment
    git_commit: str = ""
    pipeline: str = ""
    stage: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    experiment: str = ""  # set: the promotion came from an experiment's run

    def fields(self) -> dict[str, Any]:
        values = {"model": self.model, "alias": self.alias, "artifact": self.artifact, "metrics": self.metrics,
                  "params": self.params, "overrides": self.overrides, "git_commit": self.git_commit,
                  "pipeline": self.pipeline, "stage": self.stage, "data": self.data}
        return {**values, "experiment": self.experiment} if self.experiment else values


def promote(root: Path, promotion: Promotion, audit: AuditLog) -> dict[str, Any]:
    """Register the artifact (a known digest keeps its version) and point the alias at
    it: the audit record first, then the registry naming it. Returns ``version``,
    ``previous`` and ``audit`` (the record's hash), or ``unchanged``."""
    registry = Registry.open(root, promotion.model)
    existing = registry.find(str(promotion.artifact.get("digest", "")))
    if existing is not None and registry.aliases.get(promotion.alias) == existing.version:
        return {"version": existing.version, "previous": existing.version, "unchanged": True}
    version = existing.version if existing is not None else max(registry.versions, default=0) + 1
    record = audit.append("promote", version=version, previous=registry.aliases.get(promotion.alias),
                          created=utc_now(), **promotion.fields())
    return {**apply_record(registry, record), "audit": record["hash"]}


def move_alias(registry: Registry, event: str, alias: str, version: int, previous: int | None,
               audit: AuditLog) -> dict[str, Any]:
    """``lockgate registry promote|rollback`` by hand: audited first, then saved."""
    target = registry.versions[version]
    record = audit.append(event, model=registry.name, alias=alias, version=version, previous=previous,
                          artifact=target.artifact, metrics=target.metrics, manual=True)
    apply_record(registry, record)
    return record


def recover(root: Path, audit: AuditLog) -> list[str]:
    """Re-apply promotions and rollbacks the audit log holds but a registry misses (a
    crash between the two writes); what was re-applied, one line each."""
    try:
        records = audit.records()
    except Exception:  # noqa: BLE001 - a damaged log: `audit verify` says where; nothing to replay
        return []
    position = {r.get("hash"): i for i, r in enumerate(records)}
    redone = []
    for name in sorted({*registry_names(root), *(str(r["model"]) for r in records if r.get("model"))}):
        try:
            registry = Registry.open(root, name)
        except RegistryError:
            continue  # a broken registry file: the stage that needs it says so
        if registry.audit and registry.audit not in position:
            continue  # the log lost the anchor: `audit verify` reports it
        if not registry.audit and registry.versions:
            continue  # written before registries named their record: nothing to compare with
        start = position.get(registry.audit, -1) + 1
        pending = [r for r in records[start:] if r.get("model") == name and r.get("event") in ("promote", "rollback")]
        for record in pending:
            apply_record(registry, record)
            redone.append(f"{name} {record['event']} v{record['version']} (audit record {record['hash'][:12]})")
    return redone


def apply_record(registry: Registry, record: dict[str, Any]) -> dict[str, Any]:
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


def check_model_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith((".yaml", ".yml")):
        raise RegistryError(
            f"'{name}' is not a model name: use letters, digits, '_', '.' and '-' "
            "(it names the file registry/NAME.yaml)"
        )


def check_alias_name(alias: str) -> None:
    """An alias is used in gate expressions (``production.f1``), so it must be
    an identifier, and not look like a version number (``v3``)."""
    if (
        not isinstance(alias, str)
        or not _ALIAS.match(alias)
        or keyword.iskeyword(alias)
        or _VERSION.match(alias)
    ):
        raise RegistryError(
            f"'{alias}' is not an alias name: use a letter or '_' then letters, digits "
            "or '_' (gates refer to it as ALIAS.metric), not a version like 'v3'"
        )


# -- validation of a (hand-edited) file ---------------------------------------------------

Problem = tuple[tuple[str, ...], str]


def _check_file(data: Any, name: str) -> list[Problem]:
    if data is None:
        return [((), "the file is empty; delete it or restore it with `git checkout`")]
    if not isinstance(data, dict):
        return [((), f"a registry file holds a mapping, not a {_kind(data)}")]
    problems: list[Problem] = []
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(((str(key),), f"unknown key '{key}'{did_you_mean(str(key), _TOP_KEYS, prefixed=True)}"))
    if data.get("schema", REGISTRY_SCHEMA) != REGISTRY_SCHEMA:
        problems.append(((("schema",)), f"schema {data['schema']!r} is not supported "
                                        f"(this lockgate reads schema {REGISTRY_SCHEMA})"))
    if "name" in data and data["name"] != name:
        problems.append((("name",), f"name '{data['name']}' does not match the file name '{name}'"))
    versions = data.get("versions") or {}
    if not isinstance(versions, dict):
        problems.append((("versions",), f"versions is a {_kind(versions)}, not a mapping "
                                        "of version number -> record"))
        versions = {}
    for number, record in versions.items():
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            problems.append((("versions", str(number)),
                             f"version key {number!r} is not a whole number >= 1"))
            continue
        problems += _check_version(number, record)
    known = {n for n in versions if isinstance(n, int)}
    aliases = data.get("aliases") or {}
    if not isinstance(aliases, dict):
        problems.append((("aliases",), f"aliases is a {_kind(aliases)}, not a mapping alias -> version"))
        aliases = {}
    for alias, version in aliases.items():
        path = ("aliases", str(alias))
        try:
            check_alias_name(str(alias))
        except RegistryError as exc:
            problems.append((path, str(exc)))
        if version not in known or isinstance(version, bool):
            problems.append((path, f"alias '{alias}' points to {version!r}, which is not a version "
                                   f"here ({_listing(known)})"))
    history = data.get("history") or {}
    if not isinstance(history, dict):
        problems.append((("history",), f"history is a {_kind(history)}, not a mapping alias -> list"))
        history = {}
    for alias, earlier in history.items():
        path = ("history", str(alias))
        if not isinstance(earlier, list):
            problems.append((path, f"history of '{alias}' is a {_kind(earlier)}, not a list of versions"))
            continue
        bad = [v for v in earlier if v not in known or isinstance(v, bool)]
        if bad:
            problems.append((path, f"history of '{alias}' names {', '.join(map(repr, bad))}, "
                                   f"not versions here ({_listing(known)})"))
    return problems


def _check_version(number: int, record: Any) -> list[Problem]:
    base = ("versions", str(number))
    if not isinstance(record, dict):
        return [(base, f"version {number} is a {_kind(record)}, not a mapping")]
    problems: list[Problem] = []
    for key in record:
        if key not in _VERSION_KEYS:
            problems.append(((*base, str(key)), f"version {number}: unknown key '{key}'"
                                                f"{did_you_mean(str(key), _VERSION_KEYS, prefixed=True)}"))
    if "artifact" not in record:
        problems.append((base, f"version {number} has no artifact record"))
    else:
        artifact = record["artifact"]
        try:
            if not isinstance(artifact, dict):
                raise StoreError(f"a {_kind(artifact)}")
            ArtifactRef.from_record(artifact)
        except StoreError:
            problems.append(((*base, "artifact"), f"version {number}: artifact is not an artifact "
                             "record (kind, digest and object as 64-hex digests)"))
    metrics = record.get("metrics") or {}
    problem = metrics_problem(metrics, "metrics")
    if problem:
        problems.append(((*base, "metrics"), f"version {number}: {problem}"))
    for key in ("params", "data", "overrides"):
        value = record.get(key) or {}
        if not isinstance(value, dict):
            problems.append(((*base, key), f"version {number}: {key} is a {_kind(value)}, not a mapping"))
    for key in ("git_commit", "pipeline", "stage", "created"):
        value = record.get(key, "")
        if value is not None and not isinstance(value, str | _dt.datetime):
            problems.append(((*base, key), f"version {number}: {key} is a {_kind(value)}, not text"))
    return problems


def _key_lines(node: yaml.Node, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """1-based line of each mapping key, by its path of keys (as text)."""
    lines: dict[tuple[str, ...], int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, str(key_node.value))
            lines.update(_key_lines(value_node, key_path))
            lines[key_path] = key_node.start_mark.line + 1
    return lines


def _line_of(path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> int:
    """The line of the deepest key of ``path`` found in the file (0: the whole file)."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 0


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "text", type(None): "empty value"}.get(
        type(value), type(value).__name__
    )


def _listing(known: set[int]) -> str:
    return "versions: " + ", ".join(str(n) for n in sorted(known)) if known else "there are none"


def _listed(choices: list[str], what: str) -> str:
    """`` (aliases: a, b)``, else `` (there are no aliases yet)``."""
    return f" ({what}: {', '.join(map(str, choices))})" if choices else f" (there are no {what} yet)"


def _iso(moment: _dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    """Plain YAML-safe data: numpy scalars as Python numbers, tuples as lists, keys as text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return _plain(value.item())
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if value is None or type(value) in (bool, int, float, str):
        return value
    for plain in (bool, int, float, str):  # subclasses (IntEnum, ...) as the plain type
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, Path):
        return value.as_posix()
    raise TypeError(f"cannot record a {type(value).__name__} in the registry: {value!r}")


class _Dumper(yaml.SafeDumper):
    """SafeDumper that never emits anchors/aliases (they make diffs unreadable)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


__all__ = [
    "REGISTRY_SCHEMA",
    "AmbiguousAlias",
    "ModelVersion",
    "Promotion",
    "Registry",
    "alias_holders",
    "apply_record",
    "check_alias_name",
    "check_model_name",
    "model_name_for",
    "move_alias",
    "promote",
    "recover",
    "registry_names",
    "utc_now",
]
