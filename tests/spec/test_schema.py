"""`lockgate schema`: every builtin step's `with:` is described (keys, types,
descriptions), per `uses:` value, so editors complete and check it."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lockgate.cli.main import main
from lockgate.spec.models import allowed_keys
from lockgate.spec.names import BUILTIN_STEPS
from lockgate.steps.options import OPTIONS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn" / "pipelines" / "churn.yaml"


@pytest.fixture(scope="module")
def schema() -> dict:
    done = CliRunner().invoke(main, ["schema"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def resolve(schema: dict, ref: str) -> dict:
    assert ref.startswith("#/$defs/"), ref
    return schema["$defs"][ref[len("#/$defs/"):]]


def test_each_step_with_follows_its_options_model(schema: dict):
    uses = schema["$defs"]["UsesStage"]
    assert uses["properties"]["uses"]["enum"] == list(BUILTIN_STEPS)
    branches = {b["if"]["properties"]["uses"]["const"]: b for b in uses["allOf"]}
    assert set(branches) == set(OPTIONS)
    for step, model in OPTIONS.items():
        branch = branches[step]
        assert branch["if"]["required"] == ["uses"]
        options = resolve(schema, branch["then"]["properties"]["with"]["$ref"])
        assert set(options["properties"]) == set(allowed_keys(model)), step
        assert options["additionalProperties"] is False  # a typo in `with:` is flagged
        assert options["description"] == inspect.cleandoc(model.__doc__), step
        for name, field in model.model_fields.items():
            if field.description:
                assert options["properties"][field.alias or name]["description"] == field.description
        if any(f.is_required() for f in model.model_fields.values()):
            assert branch["then"]["required"] == ["with"], step
    split = resolve(schema, branches["split"]["then"]["properties"]["with"]["$ref"])
    assert split["properties"]["test_size"]["default"] == 0.25
    # nested models (evaluate's cost) resolve inside the same document
    evaluate = resolve(schema, branches["evaluate"]["then"]["properties"]["with"]["$ref"])
    cost_refs = [c["$ref"] for c in evaluate["properties"]["cost"]["anyOf"] if "$ref" in c]
    assert "fn" in resolve(schema, cost_refs[0])["properties"]


def test_every_ref_resolves(schema: dict):
    def refs(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(schema):
        assert isinstance(resolve(schema, ref), dict)


def test_a_whole_value_param_is_accepted_for_any_option(schema: dict):
    pattern = schema["$defs"]["ParamReference"]["pattern"]
    assert pattern == r"^\$\{[^}]+\}$"
    seed = schema["$defs"]["SplitOptions"]["properties"]["seed"]
    assert {"$ref": "#/$defs/ParamReference"} in seed["anyOf"]
    assert {"type": "integer"} in seed["anyOf"]


def test_the_schema_validates_real_specs_when_a_validator_is_installed(schema: dict):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    spec = yaml.safe_load(EXAMPLE.read_text())
    assert [e.message for e in validator.iter_errors(spec)] == []
    stage_schema = {"$ref": "#/$defs/UsesStage", "$defs": schema["$defs"]}
    stage = jsonschema.Draft202012Validator(stage_schema)
    bad = {"uses": "split", "in": {"table": "t"}, "with": {"target": "y", "test_sise": 0.2}}
    errors = [(list(e.absolute_path), e.message) for e in stage.iter_errors(bad)]
    assert errors == [(["with"], "Additional properties are not allowed ('test_sise' was unexpected)")]
    assert not list(stage.iter_errors({"uses": "train", "with": {"target": "y", "params": "${model}"}}))
    errors = stage.iter_errors({"uses": "split", "with": {"seed": "abc"}})
    assert [e.absolute_path[-1] for e in errors] == ["seed"]
