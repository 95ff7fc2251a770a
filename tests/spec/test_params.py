"""Params: interpolation keeps types for whole values; overrides must name real keys."""

from __future__ import annotations

import pytest

from lockgate.spec.params import (
    ParamError,
    apply_overrides,
    interpolate,
    parse_override,
    references,
)

PARAMS = {"seed": 7, "flag": True, "model": {"n_estimators": 200, "max_depth": 8}, "name": "rf"}


def test_whole_value_keeps_type_and_records_use():
    used: dict = {}
    assert interpolate("${model}", PARAMS, used) == {"n_estimators": 200, "max_depth": 8}
    assert interpolate("${seed}", PARAMS, used) == 7
    assert used == {"model": PARAMS["model"], "seed": 7}


def test_inside_a_string_scalars_render():
    used: dict = {}
    out = interpolate("train --depth ${model.max_depth} --flag ${flag} ${name}", PARAMS, used)
    assert out == "train --depth 8 --flag true rf"
    assert set(used) == {"model.max_depth", "flag", "name"}


def test_nested_containers_and_escape():
    out = interpolate({"a": ["${seed}", {"b": "x${seed}"}], "c": r"\${literal}"}, PARAMS, {})
    assert out == {"a": [7, {"b": "x7"}], "c": "${literal}"}


def test_mapping_inside_string_is_an_error():
    with pytest.raises(ParamError, match="is a mapping and cannot be placed inside a string"):
        interpolate("run ${model}", PARAMS, {})


def test_unknown_reference_suggests():
    with pytest.raises(ParamError, match="unknown param 'model.max_dept'; did you mean 'model.max_depth'"):
        interpolate("${model.max_dept}", PARAMS, {})


def test_overrides_parse_yaml_values():
    assert parse_override("model.max_depth=12") == ("model.max_depth", 12)
    assert parse_override("name=gbm") == ("name", "gbm")
    assert parse_override("flag=false") == ("flag", False)
    new = apply_overrides(PARAMS, ["model.max_depth=12", "seed=1"])
    assert new["model"] == {"n_estimators": 200, "max_depth": 12} and new["seed"] == 1
    assert PARAMS["seed"] == 7  # the input is not mutated


@pytest.mark.parametrize("bad", ["seed", "=3", "sed=1", "model.depth=3"])
def test_bad_overrides(bad: str):
    with pytest.raises(ParamError):
        apply_overrides(PARAMS, [bad])


def test_references_without_resolving():
    assert references({"a": "${x} and ${y.z}", "b": ["${w}"]}) == ["x", "y.z", "w"]
