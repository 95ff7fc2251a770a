"""``promote``: register the model as a new version and point an alias at it.

The step asks; the runner does it: the registry file and the audit log are
written in the main process after the stage succeeds (so a failed or
interrupted run never half-promotes).
"""

from __future__ import annotations

from typing import Any

from lockgate.steps.base import StepContext, StepFailure, numeric_values
from lockgate.steps.options import PromoteOptions as Options


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> dict[str, Any] | None:
    record = ctx.input_records.get("model", {})
    if record.get("kind") != "model":
        raise StepFailure(f"promote: input 'model' is a {record.get('kind', 'path')}, not a model")
    metrics = inputs.get("metrics")
    if metrics is not None and not isinstance(metrics, dict):
        raise StepFailure("promote: input 'metrics' must be a metrics artifact (a dict of numbers)")
    ctx.effects.append({
        "type": "promote",
        "model_name": options.model_name,
        "alias": options.alias,
        "artifact": record,
        "metrics": numeric_values(metrics or {}),
        "params": dict(ctx.stage.params),
        "data": {k: v for k, v in ctx.input_digests.items() if not k.startswith("expr:")},
        "stage": ctx.stage.name,
        "pipeline": ctx.stage.pipeline,
    })
    if ctx.stage.outputs:
        return {"promoted": 1, **numeric_values(metrics or {})}
    return None
