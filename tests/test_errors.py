"""The exception tree drawn in errors.py is the one raised, and the one "did you mean"."""

from __future__ import annotations

import re

import lockgate.errors
import lockgate.executor.worker  # noqa: F401 - defines StageFailed's subclasses
import lockgate.registry  # noqa: F401 - defines AmbiguousAlias
import lockgate.store.artifacts  # noqa: F401 - defines WrongRecord
from lockgate.errors import LockgateError, did_you_mean


def _drawn() -> list[tuple[int, str]]:
    """(depth, name) of each class drawn in the module docstring, in order."""
    drawn = []
    for line in lockgate.errors.__doc__.splitlines():
        found = re.match(r"^\s*((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)(?:\s|$)", line)
        if found and ("──" in line or found.group(2) == "LockgateError"):
            drawn.append((len(found.group(1)) // 4 + ("──" in line), found.group(2)))
    return drawn


def _defined(cls: type = LockgateError, depth: int = 0) -> list[tuple[int, str]]:
    rows = [(depth, cls.__name__)]
    for sub in cls.__subclasses__():
        rows += _defined(sub, depth + 1)
    return rows


def test_the_drawn_tree_is_the_class_tree():
    assert sorted(_drawn()) == sorted(_defined())


def test_did_you_mean_forms():
    assert did_you_mean("featurs", ["labels", "features"]) == "; did you mean 'features'?"
    assert did_you_mean("outz", ["outs"], parens=True) == " (did you mean 'outs'?)"
    assert did_you_mean("roc_au", ["roc_auc"], qualify="scores.") == "; did you mean 'scores.roc_auc'?"
    assert did_you_mean("featurs", ["features"], label=lambda m: " (an input)") == \
        "; did you mean 'features' (an input)?"
    assert did_you_mean("zzz", ["features"]) == ""
    assert did_you_mean("a", ["beta", "alpha", "audit"]) == ""
    assert did_you_mean("a", ["beta", "audit", "alpha"], prefixed=True) == "; did you mean 'alpha'?"
    assert did_you_mean("key1", (f"key{i}" for i in range(10)), pool=5) == ""
    assert did_you_mean("key1", (f"key{i}" for i in range(10)), pool=10) == "; did you mean 'key1'?"
