"""Builtin steps for ``uses:``, found by name without importing them.

Each step lives in ``steps/builtins/NAME.py`` and is imported only when a
stage runs it (steps import scikit-learn, polars and skops). Its version is
declared here, so ``status`` can fingerprint a ``uses`` stage cheaply: bump a
step's version whenever its results could change.
"""

from __future__ import annotations

import importlib
from typing import Any

from lockgate.spec.names import BUILTIN_STEPS

STEP_VERSIONS: dict[str, str] = {name: "1" for name in BUILTIN_STEPS} | {
    "promote": "2",  # records nested metrics (dvclive-style) in the registry, not only top-level numbers
    "validate": "2",  # not_null counts NaN in float columns (nan_is_null)
}


def step_code(name: str) -> str:
    """What a ``uses`` stage's fingerprint records as its code."""
    return f"lockgate.steps.{name}@{STEP_VERSIONS.get(name, '0')}"


def load_step(name: str) -> Any:
    """The step module for ``name`` (it defines ``Options`` and ``run``)."""
    from lockgate.errors import StepError

    if name not in STEP_VERSIONS:
        raise StepError(name, f"unknown builtin step '{name}'")
    try:
        return importlib.import_module(f"lockgate.steps.builtins.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"lockgate.steps.builtins.{name}":
            raise StepError(name, f"the builtin step '{name}' is not available in this version") from None
        raise
