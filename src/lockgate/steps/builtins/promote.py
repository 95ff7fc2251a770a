"""``promote``: register the model as a new version and point an alias at it.

The step asks; the runner does it: the registry file and the audit log are
written in the main process after the stage succeeds (so a failed or
interrupted run never half-promotes).
"""

from __future__ import annotations

from typing import Any

from lockgate.errors import StageFailed
from lockgate.steps.base import StepContext, model_file_format, numeric_values
from lockgate.steps.options import PromoteOptions as Options


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> dict[str, Any] | None:
    record = dict(ctx.input_records.get("model", {}))
    if record.get("kind") == "file" and "written_at" in record:  # a model file a cmd stage wrote
        written = record.pop("written_at")
        fmt = model_file_format(ctx.root / written)
        record["meta"] = {**record.get("meta", {}), "format": fmt, "file": written}
    elif record.get("kind") != "model":
        raise StageFailed(f"promote: input 'model' is a {record.get('kind', 'path')}, not a model "
                          "(a model artifact, or a model file a cmd stage writes: in: {model: model.pkl})")
    metrics = inputs.get("metrics")
    if metrics is not None and not isinstance(metrics, dict):
        raise StageFailed("promote: input 'metrics' must be a metrics artifact (a dict of numbers)")
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
