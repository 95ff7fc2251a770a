"""Names and patterns of the spec language, without pydantic, so that commands that
only read compiled plans (``status``, a no-op ``run``) never import it."""

from __future__ import annotations

import re

BUILTIN_STEPS: tuple[str, ...] = (
    "split",
    "train",
    "predict",
    "evaluate",
    "drift",
    "validate",
    "promote",
    "fairness",
    "explain",
)
"""Names accepted by ``uses:``. Each step's ``with:`` schema lives with the step."""

STAGE_KINDS: tuple[str, ...] = ("cmd", "call", "uses")

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""Stage and artifact names: identifiers, so gates can say ``scores.roc_auc``."""

STAGE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
"""Stage names may also hold '-'; '@' is reserved for matrix expansion."""

CALL_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
