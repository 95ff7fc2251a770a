"""The JSON Schema of a pipeline spec, for editors (``lockgate schema``)."""

from __future__ import annotations

from typing import Any

from lockgate.spec.models import PipelineSpec


def spec_json_schema() -> dict[str, Any]:
    schema = PipelineSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "lockgate pipeline spec (version 1)"
    schema["properties"]["version"]["const"] = 1
    return schema
