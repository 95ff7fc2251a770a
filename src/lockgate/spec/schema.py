"""The JSON Schema of a pipeline spec, for editors (``lockgate schema``).

A ``uses:`` stage's ``with:`` is described per step: the caller passes the
steps' options models (``lockgate.steps.options.OPTIONS``; the spec layer does
not import the steps), and the schema says, with ``if``/``then`` on the
``uses`` value, that ``with:`` of ``uses: split`` follows ``SplitOptions``, so
an editor completes and checks its keys. Every option also accepts a whole-value
``"${param}"``, as the loader does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from lockgate.spec.models import PipelineSpec
from lockgate.spec.names import BUILTIN_STEPS

PARAM_REF = {
    "type": "string",
    "pattern": r"^\$\{[^}]+\}$",
    "description": "A whole-value ${param} (or ${item.KEY} in a matrix stage), "
                   "replaced by its value, type kept, when the spec loads.",
}


def spec_json_schema(step_options: Mapping[str, type[BaseModel]] | None = None) -> dict[str, Any]:
    """The spec's JSON Schema (draft 2020-12); with ``step_options`` (step name ->
    its ``with:`` model), each builtin step's ``with:`` is described too."""
    schema = PipelineSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "lockgate pipeline spec (version 1)"
    schema["properties"]["version"]["const"] = 1
    _add_foreach(schema)
    if step_options:
        _add_step_options(schema, step_options)
    return schema


def _add_foreach(schema: dict[str, Any]) -> None:
    """A stage is also written DVC's way, ``{foreach: ..., do: {stage}}``: the loader folds
    ``foreach`` into the stage, so the schema moves it back out, where the user writes it."""
    defs = schema["$defs"]
    kinds = schema["properties"]["stages"]["additionalProperties"]["anyOf"]
    foreach = None
    for ref in kinds:
        foreach = defs[ref["$ref"].rpartition("/")[2]]["properties"].pop("foreach", foreach)
    if foreach is None:
        return
    foreach = {k: v for k, v in foreach.items() if k != "default"}
    foreach["anyOf"] = [c for c in foreach["anyOf"] if c.get("type") != "null"]
    defs["ForeachStage"] = {
        "type": "object",
        "title": "ForeachStage",
        "description": "One stage per element of foreach (DVC's foreach/do).",
        "properties": {"foreach": foreach, "do": {"anyOf": copy.deepcopy(kinds),
                                                 "description": "The stage to repeat."}},
        "required": ["foreach", "do"],
        "additionalProperties": False,
    }
    kinds.append({"$ref": "#/$defs/ForeachStage"})


def _add_step_options(schema: dict[str, Any], step_options: Mapping[str, type[BaseModel]]) -> None:
    defs = schema["$defs"]
    defs["ParamReference"] = dict(PARAM_REF)
    uses = defs["UsesStage"]
    uses["properties"]["uses"]["enum"] = list(BUILTIN_STEPS)
    branches = []
    for step, model in step_options.items():
        name = _merge_defs(defs, model.model_json_schema(by_alias=True), model.__name__)
        then: dict[str, Any] = {"properties": {"with": {"$ref": f"#/$defs/{name}"}}}
        if defs[name].get("required"):
            then["required"] = ["with"]
        branches.append({
            "if": {"properties": {"uses": {"const": step}}, "required": ["uses"]},
            "then": then,
        })
    uses["allOf"] = branches


def _merge_defs(defs: dict[str, Any], model_schema: dict[str, Any], name: str) -> str:
    """Put an options model's schema (and the models it uses) into ``defs`` under
    unused names, its properties accepting ``${param}``; returns the model's name."""
    model_schema = copy.deepcopy(model_schema)
    inner = model_schema.pop("$defs", {})
    renamed: dict[str, str] = {}
    for key in [*inner, name]:
        new, n = key, 1
        while new in defs:
            n += 1
            new = f"{key}{n}"
        renamed[key] = new
    for key, sub in [*inner.items(), (name, model_schema)]:
        defs[renamed[key]] = _with_params(_renamed_refs(sub, renamed))
    return renamed[name]


def _renamed_refs(node: Any, renamed: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _renamed_refs(v, renamed) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = "#/$defs/" + renamed.get(ref[len("#/$defs/"):], ref[len("#/$defs/"):])
        return out
    if isinstance(node, list):
        return [_renamed_refs(v, renamed) for v in node]
    return node


_KEPT = ("title", "description", "default", "examples")


def _with_params(model_schema: dict[str, Any]) -> dict[str, Any]:
    """Each property also accepts a whole-value ``${param}`` string (a property that
    is a plain string already does; wrapping it would only blur the completion)."""
    for key, prop in list(model_schema.get("properties", {}).items()):
        if prop.get("type") == "string" and "pattern" not in prop and "enum" not in prop:
            continue
        kept = {k: prop[k] for k in _KEPT if k in prop}
        value = {k: v for k, v in prop.items() if k not in _KEPT}
        choices = value["anyOf"] if list(value) == ["anyOf"] else [value]
        model_schema["properties"][key] = {**kept, "anyOf": [*choices, {"$ref": "#/$defs/ParamReference"}]}
    return model_schema
