"""Stage fingerprints (DESIGN §3) and why a stage is stale.

A fingerprint hashes a canonical record we own: the stage's normalized
definition, the values of only the params it references, the code it runs
(for a ``call`` function, a mapping of every repository file its module
reaches and every distribution they import, see ``codegraph``; a builtin
step's version), and the digests of everything it reads. The record's parts
are kept in the lock file so ``explain`` can name what changed, down to the
file. Pure functions: the caller supplies the digests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lockgate.graph.stage import Stage
from lockgate.hashing import hash_value
from lockgate.lock import StageLock

FINGERPRINT_VERSION = 1  # bump when the record's shape changes


@dataclass(frozen=True)
class Record:
    """Everything a fingerprint is made of."""

    definition: str
    params: Mapping[str, Any]
    code: str | Mapping[str, str]  # call: path or pkg:NAME -> digest or version; uses: step version
    inputs: Mapping[str, str]  # argument -> artifact digest
    deps: Mapping[str, str]  # path -> digest

    @property
    def fingerprint(self) -> str:
        return hash_value({
            "v": FINGERPRINT_VERSION,
            "definition": self.definition,
            "params": finite(dict(self.params)),
            "code": self.code if isinstance(self.code, str) else dict(self.code),
            "inputs": dict(self.inputs),
            "deps": dict(self.deps),
        })


def definition_digest(stage: Stage) -> str:
    definition = stage.definition()
    try:  # the same digest as through finite() whenever canonical JSON takes it: no walk
        return hash_value(definition)
    except (ValueError, TypeError):  # an inf/NaN (canonical JSON refuses them), or a value equal to one
        return hash_value(finite(definition))


def finite(value: Any) -> Any:
    """``value`` with every inf/NaN float spelled as a tagged string, so canonical
    JSON (which has no such numbers) can hash params like ``clip: .inf``."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return {"$float": repr(value)}
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def explain(record: Record, locked: StageLock | None) -> list[str]:
    """Why ``record`` is not what the lock holds, in the user's words (empty: it is)."""
    if locked is None or not locked.fingerprint:  # no entry, or only a blocked gate's record
        return ["new"]
    reasons: list[str] = []
    if record.definition != locked.definition:
        reasons.append("changed definition")
    for key in sorted(set(record.params) | set(locked.params)):
        if record.params.get(key, _MISSING) != locked.params.get(key, _MISSING):
            reasons.append(f"changed param {key}")
    reasons += code_changes(record.code, locked.code)
    for path in sorted(set(record.deps) | set(locked.deps)):
        if record.deps.get(path) != locked.deps.get(path):
            reasons.append(f"changed dependency {path}")
    for arg in sorted(set(record.inputs) | set(locked.inputs)):
        if record.inputs.get(arg) != locked.inputs.get(arg):
            if arg.startswith("expr:"):
                reasons.append(f"changed {arg[5:]} (read by when/gates)")
            else:
                reasons.append(f"changed input {arg}")
    if not reasons and record.fingerprint != locked.fingerprint:
        reasons.append("changed fingerprint format")
    return reasons


def code_changes(now: str | Mapping[str, str], then: str | Mapping[str, str]) -> list[str]:
    """``changed code src/nodes.py``, ``added code src/new.py``, ``changed package
    scikit-learn 1.5.2 -> 1.6.0``: files first, then packages. A lock from before
    code was recorded per file (one digest) can only say ``changed code``."""
    if now == then:
        return []
    if isinstance(now, str) or isinstance(then, str):
        return ["changed code"]
    from lockgate.codegraph import PACKAGE_PREFIX
    files: list[str] = []
    packages: list[str] = []
    for key in sorted(set(now) | set(then)):
        old, new = then.get(key), now.get(key)
        if old == new:
            continue
        if key.startswith(PACKAGE_PREFIX):
            name = key[len(PACKAGE_PREFIX):]
            if old is None:
                packages.append(f"added package {name} {new}")
            elif new is None:
                packages.append(f"removed package {name} {old}")
            else:
                packages.append(f"changed package {name} {old} -> {new}")
        else:
            verb = "added" if old is None else "removed" if new is None else "changed"
            files.append(f"{verb} code {key}")
    return files + packages


_MISSING = object()
