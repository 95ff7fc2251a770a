"""The spec loader: valid specs load; every mistake is one located line with a fix."""

from __future__ import annotations

import re
import textwrap

import pytest

from lockgate.errors import SpecError
from lockgate.spec.load import load_text
from lockgate.spec.models import CallStage, CmdStage, UsesStage

VALID = """
version: 1
description: demo
params:
  seed: 7
  model: {n_estimators: 10, max_depth: 3}
inputs:
  customers: data/customers.parquet
stages:
  prepare:
    cmd: python prep.py
    deps: [prep.py]
    outs: [data/customers.parquet]
  split:
    uses: split
    in: {table: customers}
    with: {seed: "${seed}"}
    out: [train, test]
  features:
    call: src.features:build
    in: {table: train}
    out: train_features
"""


def load(text: str, **kw):
    return load_text(textwrap.dedent(text).lstrip("\n"), file="pipelines/p.yaml", **kw)


def errors(text: str, **kw) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(text, **kw)
    return [str(i) for i in info.value.issues]


def test_valid_spec_loads_each_kind():
    spec = load(VALID).spec
    assert isinstance(spec.stages["prepare"], CmdStage)
    assert isinstance(spec.stages["split"], UsesStage)
    assert isinstance(spec.stages["features"], CallStage)
    assert spec.stages["features"].out == ("train_features",)  # a single name is a list
    assert spec.stages["split"].in_ == {"table": "customers"}


def test_models_are_frozen():
    spec = load(VALID).spec
    with pytest.raises(Exception):
        spec.version = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "version: 1\nstages:\n  a:\n    cmd: [echo\n",
            r"^pipelines/p\.yaml:4:10: YAML syntax error: while parsing a flow sequence opened here is never closed$",
            id="yaml-syntax",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    cmd: echo a: b\n",
            r"^pipelines/p\.yaml:4:16: YAML syntax error: mapping values are not allowed here; "
            r"a value containing ': ' must be quoted$",
            id="yaml-unquoted-colon",
        ),
        pytest.param(
            "version: 1\nstages:\n  train:\n    uses: train\n    outz: [m]\n",
            r"^pipelines/p\.yaml:5:5: stage 'train': unknown key 'outz' \(did you mean 'out'\?\)$",
            id="unknown-key",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    cmd: echo\n    outz: [m]\n",
            r"^pipelines/p\.yaml:5:5: stage 'a': unknown key 'outz' \(did you mean 'outs'\?\)$",
            id="unknown-key-cmd",
        ),
        pytest.param(
            "version: 1\nparms: {}\nstages:\n  a:\n    cmd: echo\n",
            r"^pipelines/p\.yaml:2:1: unknown key 'parms' \(did you mean 'params'\?\)$",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    deps: [x]\n",
            r"^pipelines/p\.yaml:3:3: stage 'a' has no kind: add one of cmd:, call: or uses:",
            id="zero-kinds",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    cmd: echo\n    uses: train\n",
            r"^pipelines/p\.yaml:5:5: stage 'a' has both cmd: and uses:; a stage is exactly one kind",
            id="two-kinds",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    uses: tarin\n",
            r"^pipelines/p\.yaml:4:11: stage 'a': unknown step 'tarin'; did you mean 'train'\?$",
            id="unknown-step",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    cmd: echo\n    matrix: {seed: []}\n",
            r"^pipelines/p\.yaml:5:20: stage 'a': matrix axis 'seed' is empty",
            id="empty-matrix-axis",
        ),
        pytest.param(
            "version: 2\nstages:\n  a:\n    cmd: echo\n",
            r"^pipelines/p\.yaml:1:10: unsupported version 2; this lockgate reads version 1",
            id="unsupported-version",
        ),
        pytest.param(
            "stages:\n  a:\n    cmd: echo\n",
            r"^pipelines/p\.yaml:1:1: missing 'version: 1'",
            id="missing-version",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    cmd: echo\n  a:\n    cmd: echo\n",
            r"^pipelines/p\.yaml:5:3: duplicate key 'a' \(first written on line 3\)",
            id="duplicate-key",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    call: not-a-function\n",
            r"^pipelines/p\.yaml:4:11: stage 'a': call must be 'module.path:function'",
            id="bad-call",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    cmd: echo\n    deps: 3\n",
            r"^pipelines/p\.yaml:5:11: stage 'a': 'deps' should be a list, got 3$",
            id="wrong-type",
        ),
        pytest.param(
            "version: 1\nstages: {}\n",
            r"^pipelines/p\.yaml:2:9: no stages",
            id="no-stages",
        ),
        pytest.param(
            "version: 1\nstages:\n  a:\n    uses: split\n    out: [bad-name]\n",
            r"^pipelines/p\.yaml:5:11: stage 'a': artifact name 'bad-name' must be an identifier",
            id="bad-artifact-name",
        ),
    ],
)
def test_each_mistake_is_one_located_line(text: str, expected: str):
    found = errors(text)
    assert len(found) == 1, found
    assert re.search(expected, found[0]), found[0]


def test_all_errors_reported_at_once():
    text = """
    version: 1
    stages:
      a:
        uses: tarin
      b:
        cmd: echo
        outz: []
      c:
        deps: []
    """
    found = errors(text)
    assert [f.split(":")[1] for f in found] == ["4", "7", "8"]


def test_params_file_and_overrides(tmp_path):
    (tmp_path / "params.yaml").write_text("model: {max_depth: 5}\nseed: 1\n")
    text = """
    version: 1
    params_file: params.yaml
    params: {seed: 7, model: {max_depth: 3, n: 10}}
    stages:
      a: {cmd: echo}
    """
    loaded = load(text, root=tmp_path, overrides=["seed=3"])
    assert loaded.params == {"seed": 3, "model": {"max_depth": 5, "n": 10}}


def test_missing_params_file_is_located(tmp_path):
    text = "version: 1\nparams_file: nope.yaml\nstages:\n  a: {cmd: echo}\n"
    (found,) = errors(text, root=tmp_path)
    assert found.startswith("pipelines/p.yaml:2:14: params_file 'nope.yaml' does not exist")


def test_unknown_override_suggests_the_key():
    text = "version: 1\nparams: {model: {max_depth: 3}}\nstages:\n  a: {cmd: echo}\n"
    (found,) = errors(text, overrides=["model.max_dept=4"])
    assert "-p model.max_dept: no such param; did you mean 'model.max_depth'?" in found
