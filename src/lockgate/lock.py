"""``pipelines/NAME.lock``: what last ran, as deterministic, diff-friendly YAML.

One entry per stage: its fingerprint and the record it was computed from
(definition digest, params used, code digests per file, input digests), the outputs
it produced (artifact references), metrics, gate decisions and duration.
Keeping the record, not just the digest, lets ``status`` say *which* input
changed (STYLE §6). Keys are sorted and floats written by ``repr``, so the
same content always gives the same bytes; writes are atomic.

Reading works on text, so lock files can come from any git revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lockgate._fs import atomic_write_text

LOCK_SCHEMA = 1


@dataclass
class StageLock:
    """One stage's entry. ``outputs`` maps artifact name or out path -> artifact record."""

    fingerprint: str
    kind: str
    definition: str  # digest of the normalized stage definition
    # call: {repository path or "pkg:DISTRIBUTION": digest or version}, what the code
    # fingerprint was made of (a lock from before holds one digest); uses: the step's version
    code: str | dict[str, str] = ""
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # argument -> digest of its artifact
    deps: dict[str, str] = field(default_factory=dict)  # dependency path -> digest
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    gates: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "definition": self.definition,
            "params": self.params,
            "inputs": self.inputs,
            "deps": self.deps,
            "outputs": self.outputs,
            "duration": round(self.duration, 3),
        }
        if self.code:
            data["code"] = self.code
        if self.metrics:
            data["metrics"] = self.metrics
        if self.gates:
            data["gates"] = self.gates
        return data

    def metrics_by_artifact(self, stage: str) -> dict[str, Any]:
        if self.kind != "cmd":
            return self.metrics
        merged: dict[str, Any] = {}
        for values in self.metrics.values():  # every metrics file of the stage
            if isinstance(values, dict):
                merged.update(values)
        return {stage: merged}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageLock:
        return cls(
            fingerprint=str(data.get("fingerprint", "")),
            kind=str(data.get("kind", "")),
            definition=str(data.get("definition", "")),
            code=_code(data.get("code")),
            params=dict(data.get("params") or {}),
            inputs={str(k): str(v) for k, v in (data.get("inputs") or {}).items()},
            deps={str(k): str(v) for k, v in (data.get("deps") or {}).items()},
            outputs={str(k): dict(v) for k, v in (data.get("outputs") or {}).items()},
            metrics=dict(data.get("metrics") or {}),
            gates=list(data.get("gates") or []),
            duration=float(data.get("duration") or 0.0),
        )


def _code(value: Any) -> str | dict[str, str]:
    """A stage's ``code`` as read: a mapping (``call``), or one string (``uses``, or a
    ``call`` stage locked before code was recorded per file)."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in sorted(value.items())}
    return str(value or "")


@dataclass
class LockFile:
    pipeline: str
    stages: dict[str, StageLock] = field(default_factory=dict)
    # `inputs:` paths as last read: path -> artifact record, so push, pull and a fresh
    # clone get the raw data too (DESIGN §3: inputs are versioned like outputs)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the hash of the last audit record a run of this pipeline appended: anchors the
    # committed audit log, so `audit verify` notices records removed from its end
    audit: str = ""

    def to_text(self) -> str:
        """Sorted, stable YAML, one block per stage. A stage whose entry is unchanged since
        the lock was read or last dumped reuses its block, so rewriting a 1000-stage lock
        after one stage ran dumps one block, not a thousand."""
        top: dict[str, Any] = {"pipeline": self.pipeline, "schema": LOCK_SCHEMA}
        if self.audit:
            top["audit"] = self.audit
        if self.inputs:
            top["inputs"] = self.inputs
        head = _dump(top)
        if not self.stages:
            return head + "stages: {}\n"
        known = self._blocks
        fresh: dict[str, tuple[str, str]] = {}
        for name in sorted(self.stages):
            entry = self.stages[name].to_dict()
            key = _block_key(name, entry)
            reuse = name in known and known[name][0] == key
            fresh[name] = known[name] if reuse else (key, _dump_block(name, entry))
        self.__dict__["_block_cache"] = fresh
        return head + "stages:\n" + "".join(block for _, block in fresh.values())

    @property
    def _blocks(self) -> dict[str, tuple[str, str]]:
        """stage -> (its entry's key, its YAML block), from the text last read or dumped."""
        cache = self.__dict__.get("_block_cache")
        if cache is None:  # read with the keys the parsed-lock cache kept: split the text now
            text, keys = self.__dict__.pop("_source", ("", {}))
            blocks = _source_blocks(text)
            cache = self.__dict__["_block_cache"] = {
                name: (key, blocks[name]) for name, key in keys.items() if name in blocks}
        return cache

    def remember_source(self, text: str, keys: dict[str, str] | None = None) -> None:
        """``text`` is what this lock was read from: keep each stage's block of it. ``keys``
        are the blocks' keys as the parsed-lock cache kept them when ``text`` was written:
        then the text is split only if the lock is written again (`status` and a run with
        nothing to do never are)."""
        if keys is not None:
            self.__dict__.pop("_block_cache", None)
            self.__dict__["_source"] = (text, keys)
            return
        blocks = _source_blocks(text)
        self.__dict__["_block_cache"] = {
            name: (_block_key(name, entry.to_dict()), blocks[name])
            for name, entry in self.stages.items() if name in blocks
        }

    @classmethod
    def from_text(cls, text: str, pipeline: str = "") -> LockFile:
        import yaml

        data = yaml.load(text, Loader=_loader()) or {}
        if not isinstance(data, dict):
            raise ValueError("a lock file holds a mapping")
        stages = data.get("stages") or {}
        return cls(
            pipeline=str(data.get("pipeline") or pipeline),
            stages={str(k): StageLock.from_dict(v) for k, v in stages.items()},
            inputs={str(k): dict(v) for k, v in (data.get("inputs") or {}).items() if isinstance(v, dict)},
            audit=str(data.get("audit") or ""),
        )

    @classmethod
    def read(cls, path: Path, pipeline: str = "", cache_dir: Path | None = None) -> LockFile:
        """The lock at ``path``; an empty one when the file does not exist (or is unreadable:
        a damaged lock only makes stages stale, it never stops a run).

        With ``cache_dir``, the parsed lock is kept there as JSON keyed by the digest of
        the file's bytes: parsing a 1000-stage YAML lock costs ~0.3 s, JSON ~20 ms."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return cls(pipeline=pipeline)
        cached = _cached(cache_dir, path, text) if cache_dir is not None else None
        if cached is not None:
            return cached
        import yaml  # only when the parsed-lock cache misses: a no-op run and `status` never load it

        try:
            lock = cls.from_text(text, pipeline)
        except (ValueError, yaml.YAMLError, AttributeError, TypeError):
            return cls(pipeline=pipeline)
        lock.remember_source(text)
        if cache_dir is not None:
            _remember(cache_dir, path, text, lock)
        return lock

    def write(self, path: Path, cache_dir: Path | None = None) -> bool:
        """Write atomically; returns False (and writes nothing) when the bytes are unchanged."""
        text = self.to_text()
        if cache_dir is not None:
            _remember(cache_dir, path, text, self)
        try:
            if path.read_text(encoding="utf-8") == text:
                return False
        except OSError:
            pass
        atomic_write_text(path, text)
        return True

    def all_metrics(self) -> dict[str, dict[str, Any]]:
        """stage -> its metrics by artifact: ``{"scores": {"roc_auc": ...}}``. A ``cmd``
        stage's metrics files are one artifact named after the stage, as gates read them
        (``evaluate.roc_auc.test``), so ``metrics show`` prints the names gates use."""
        return {name: s.metrics_by_artifact(name) for name, s in sorted(self.stages.items()) if s.metrics}


def _dump(data: Any) -> str:
    import yaml

    return yaml.dump(data, Dumper=_dumper(), sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=100)


def _source_blocks(text: str) -> dict[str, str]:
    """A lock file's own text (as ``to_text`` wrote it) split into its stages' blocks:
    a block runs from its ``  NAME:`` line to the next one."""
    body = text.partition("\nstages:\n")[2]
    lines = body.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("  ") and line[2:3] not in (" ", "-", "")]
    blocks = {}
    for first, nxt in zip(starts, [*starts[1:], len(lines)]):
        name = lines[first].strip()
        if not name.endswith(":"):
            return {}  # not our layout (hand-edited): dump everything
        name = name[:-1].strip("'\"")
        blocks[name] = "".join(lines[first:nxt])
    return blocks


def _block_key(name: str, entry: dict[str, Any]) -> str:
    import json

    return json.dumps([name, entry], sort_keys=True, default=str)


def _dump_block(name: str, entry: dict[str, Any]) -> str:
    """One stage's entry as it stands under ``stages:`` (indented two spaces)."""
    text = _dump({name: entry})
    return "".join("  " + line if line.strip() else line for line in text.splitlines(keepends=True))


@cache
def _loader() -> type:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~8x faster on big locks


@cache
def _dumper() -> type:
    import yaml

    class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]  # libyaml: same bytes, ~5x faster
        """SafeDumper that never emits anchors/aliases (they make diffs unreadable)."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return _Dumper


def _cache_file(cache_dir: Path, path: Path) -> Path:
    return cache_dir / f"{path.stem}.json"


def _cached(cache_dir: Path, path: Path, text: str) -> LockFile | None:
    import json

    from lockgate.hashing import digest_bytes

    try:
        data = json.loads(_cache_file(cache_dir, path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("digest") != digest_bytes(text.encode("utf-8")):
        return None
    lock = data["lock"]
    parsed = LockFile(
        pipeline=str(lock.get("pipeline", "")),
        stages={k: StageLock.from_dict(v) for k, v in (lock.get("stages") or {}).items()},
        inputs=dict(lock.get("inputs") or {}),
        audit=str(lock.get("audit") or ""),
    )
    keys = data.get("blocks")
    parsed.remember_source(text, keys if isinstance(keys, dict) else None)
    return parsed


def _remember(cache_dir: Path, path: Path, text: str, lock: LockFile) -> None:
    import json

    from lockgate.hashing import digest_bytes

    data = {
        "digest": digest_bytes(text.encode("utf-8")),
        "lock": {"pipeline": lock.pipeline, "inputs": lock.inputs, "audit": lock.audit,
                 "stages": {k: v.to_dict() | {"duration": v.duration} for k, v in lock.stages.items()}},
        # each stage block's key, as ``text`` was made (to_text) or read (remember_source)
        "blocks": {name: key for name, (key, _) in lock._blocks.items()},
    }
    try:
        encoded = json.dumps(data)
        if json.loads(encoded) != data:  # number keys (class_weight: {0: 1}) would come back as text
            _cache_file(cache_dir, path).unlink(missing_ok=True)
            return
        atomic_write_text(_cache_file(cache_dir, path), encoded, durable=False)
    except (OSError, TypeError, ValueError):
        pass  # a cache: never a reason to fail
