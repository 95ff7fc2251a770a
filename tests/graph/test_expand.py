"""Kedro's `params:NAME` in `with:` is the param `${NAME}`: the same value, the same params
recorded, the same fingerprint; and `inputs:` read options reach the compiled pipeline."""

from __future__ import annotations

import textwrap

import pytest

from lockgate.errors import SpecError
from lockgate.fingerprint import definition_digest
from lockgate.graph.compile import compile_pipeline
from lockgate.graph.pipeline import Pipeline
from lockgate.spec.load import load_text

SPEC = """
version: 1
params:
  model_options: {test_size: 0.2, seed: 3, features: [a, b]}
inputs:
  table: {path: data/t.csv, read: {delimiter: ";"}}
stages:
  split:
    call: src.nodes:split_data
    in: {data: table}
    with: {parameters: PARAM, size: SIZE, label: price}
    out: [X_train, X_test, y_train, y_test]
"""


def build(parameters: str, size: str = "0.5", overrides: tuple[str, ...] = ()):
    text = textwrap.dedent(SPEC).lstrip("\n").replace("PARAM", parameters).replace("SIZE", size)
    return compile_pipeline(load_text(text, file="pipelines/p.yaml", name="p", overrides=overrides))


def test_kedros_params_prefix_is_the_param_and_fingerprints_the_same():
    kedro = build('"params:model_options"', '"params:model_options.test_size"').stages["split"]
    ours = build('"${model_options}"', '"${model_options.test_size}"').stages["split"]
    assert kedro.with_ == ours.with_ == {
        "parameters": {"test_size": 0.2, "seed": 3, "features": ["a", "b"]}, "size": 0.2, "label": "price"}
    assert kedro.params == ours.params == {
        "model_options": {"test_size": 0.2, "seed": 3, "features": ["a", "b"]}, "model_options.test_size": 0.2}
    assert definition_digest(kedro) == definition_digest(ours)
    overridden = build('"params:model_options"', overrides=("model_options.seed=9",)).stages["split"]
    assert overridden.with_["parameters"]["seed"] == 9


def test_an_unknown_kedro_param_is_located_with_a_suggestion():
    with pytest.raises(SpecError) as info:
        build('"params:model_option"')
    (issue,) = info.value.issues
    assert str(issue) == ("pipelines/p.yaml:10:11: stage 'split': unknown param 'model_option'; "
                          "did you mean 'model_options'?")


def test_a_literal_params_text_is_escaped_and_other_text_is_left_alone():
    stage = build('"\\\\params:model_options"', '"see params:model_options"').stages["split"]
    assert stage.with_["parameters"] == "params:model_options"
    assert stage.with_["size"] == "see params:model_options"
    assert stage.params == {}


def test_read_options_reach_the_pipeline_and_its_plan_cache_copy():
    pipeline = build('"params:model_options"')
    assert pipeline.inputs == {"table": "data/t.csv"}
    assert pipeline.reads == {"table": {"delimiter": ";"}}
    assert Pipeline.from_dict(pipeline.to_dict()).reads == pipeline.reads
