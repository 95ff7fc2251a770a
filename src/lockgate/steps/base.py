"""The builtin step protocol.

A step module defines ``Options`` (a frozen pydantic model for its ``with:``)
and ``run(inputs, options, ctx) -> value`` (one value, or a tuple for several
``out`` names, in order). ``options(with_)`` validates ``with:``. Steps never
write the registry or the lock file themselves: side effects they request
(a promotion) go into ``ctx.effects`` for the runner to carry out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockgate.graph.stage import Stage


@dataclass
class StepContext:
    stage: Stage
    root: Path
    input_digests: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    effects: list[dict[str, Any]] = field(default_factory=list)
