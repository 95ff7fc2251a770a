"""The keys a converted DVC pipeline needs, with DVC's semantics: foreach/do, matrix's
${key}, wdir, output flags, plots, frozen/always_changed, params files as a list, and
cmd stages reading keys of another params file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lockgate.errors import SpecError
from lockgate.graph.compile import compile_pipeline
from lockgate.spec.load import load_text


def compiled(text: str, root: Path | str = ".", **kw):
    loaded = load_text(textwrap.dedent(text).lstrip("\n"), file="pipelines/p.yaml", root=root, **kw)
    return compile_pipeline(loaded)


def errors(text: str, root: Path | str = ".") -> str:
    with pytest.raises(SpecError) as info:
        compiled(text, root)
    return "\n".join(str(i) for i in info.value.issues)


# -- foreach / do (DVC's names: parsing/__init__.py ForeachDefinition) ------------------------


def test_foreach_over_simple_values_names_stages_by_value():
    p = compiled("""
    version: 1
    stages:
      cleanups:
        foreach: [raw1, labels1, raw2]
        do:
          cmd: clean.py "${item}"
          outs: ["${item}.cln"]
    """)
    assert list(p.stages) == ["cleanups@raw1", "cleanups@labels1", "cleanups@raw2"]
    assert p.stages["cleanups@raw2"].run == 'clean.py "raw2"'
    assert p.stages["cleanups@raw2"].outs == ("raw2.cln",)


def test_foreach_over_mappings_in_a_list_names_stages_by_index():
    p = compiled("""
    version: 1
    stages:
      train:
        foreach:
          - {epochs: 3, thresh: 10}
          - {epochs: 10, thresh: 15}
        do:
          cmd: python train.py ${item.epochs} ${item.thresh}
    """)
    assert {n: s.run for n, s in p.stages.items()} == {
        "train@0": "python train.py 3 10", "train@1": "python train.py 10 15"}


def test_foreach_over_a_mapping_gives_key_and_item():
    p = compiled("""
    version: 1
    stages:
      build:
        foreach:
          uk: {epochs: 3}
          us: {epochs: 10}
        do:
          cmd: python train.py '${key}' ${item.epochs}
          outs: ["model-${key}.hdfs"]
    """)
    assert p.stages["build@uk"].run == "python train.py 'uk' 3"
    assert p.stages["build@us"].outs == ("model-us.hdfs",)
    assert p.stages["build@us"].params == {}  # item and key name the stage: not params


def test_foreach_from_a_param_and_values_that_are_not_names_use_the_index():
    p = compiled("""
    version: 1
    params:
      files: [data/a.csv, data/b.csv]
    stages:
      clean:
        foreach: ${files}
        do:
          cmd: clean.py ${item}
    """)
    assert {n: s.run for n, s in p.stages.items()} == {"clean@0": "clean.py data/a.csv",
                                                       "clean@1": "clean.py data/b.csv"}


def test_a_param_named_key_is_still_a_param_outside_an_expansion():
    p = compiled("""
    version: 1
    params: {key: 3}
    stages:
      a:
        cmd: echo ${key}
    """)
    assert p.stages["a"].params == {"key": 3}


@pytest.mark.parametrize("body, message", [
    ("foreach: 3\n    do: {cmd: x}", "foreach: takes a list, a mapping, or a whole-value ${param}"),
    ("foreach: []\n    do: {cmd: x}", "foreach: is empty"),
    ("foreach: [a]", "foreach: and do: go together; add do:"),
    ("foreach: [a]\n    do: {cmd: x}\n    outs: [y]", "the stage's keys go under do: (move 'outs' there)"),
    ("foreach: [a]\n    do: {cmd: x, matrix: {m: [1]}}", "do: cannot hold matrix:"),
    ("foreach: [a]\n    do: {cmd: x, outz: [y]}", "unknown key 'outz' (did you mean 'outs'?)"),
    ("foreach: ${nope}\n    do: {cmd: x}", "unknown param '${nope}'"),
])
def test_foreach_mistakes_are_located_with_a_fix(body, message):
    text = "version: 1\nstages:\n  s:\n    " + body + "\n"
    found = errors(text)
    assert message.replace("'${nope}'", "'nope'") in found, found
    assert found.startswith("pipelines/p.yaml:")


def test_matrix_knows_key_and_takes_an_axis_from_a_param():
    p = compiled("""
    version: 1
    params:
      models: [cnn, xgb]
    stages:
      train:
        matrix: {model: "${models}", feature: [f1, f2]}
        cmd: ./train.py --feature ${item.feature} ${item.model}
        outs: ["${key}.pkl"]
    """)
    assert sorted(p.stages) == ["train@cnn-f1", "train@cnn-f2", "train@xgb-f1", "train@xgb-f2"]
    assert p.stages["train@xgb-f2"].outs == ("xgb-f2.pkl",)


# -- wdir, output flags, plots, frozen, always_changed ------------------------------------------


def test_wdir_makes_every_path_of_the_stage_relative_to_it():
    p = compiled("""
    version: 1
    stages:
      a:
        wdir: sub
        cmd: python run.py
        deps: [run.py, ../shared.csv]
        outs: [out.txt]
        metrics: [m.json]
        plots: [p.json]
    """)
    stage = p.stages["a"]
    assert (stage.wdir, stage.deps, stage.outs, stage.metrics) == (
        "sub", ("sub/run.py", "shared.csv"), ("sub/out.txt", "sub/p.json"), ("sub/m.json",))
    assert stage.definition()["wdir"] == "sub"


def test_wdir_cannot_leave_the_repository():
    assert "leads out of the repository" in errors("""
    version: 1
    stages:
      a: {wdir: .., cmd: x}
    """)


def test_output_flags_plots_frozen_and_always_changed_reach_the_stage():
    p = compiled("""
    version: 1
    stages:
      a:
        cmd: python run.py
        outs:
          - model.pkl
          - log.txt: {persist: true}
          - big: {cache: false}
        metrics:
          - m.json: {cache: false}
        plots:
          - roc.json: {x: fpr, y: tpr, template: simple}
        frozen: true
      b:
        cmd: date > now.txt
        outs: [now.txt]
        always_changed: true
    """)
    a, b = p.stages["a"], p.stages["b"]
    assert a.outs == ("model.pkl", "log.txt", "big", "roc.json")  # plot files are outputs
    assert a.flags == {"log.txt": {"persist": True}, "big": {"cache": False}, "m.json": {"cache": False}}
    assert a.plots == {"roc.json": {"x": "fpr", "y": "tpr", "template": "simple"}}
    assert not a.cached("big") and a.cached("model.pkl") and a.persists("log.txt")
    assert a.frozen and not a.uses_run_cache
    assert b.always_changed and not b.uses_run_cache
    assert a.definition()["uncached"] == ["big", "m.json"]


def test_a_spec_without_the_new_keys_keeps_its_definition():
    stage = compiled("""
    version: 1
    stages:
      a: {cmd: x, outs: [y]}
    """).stages["a"]
    assert set(stage.definition()) == {"kind", "run", "inputs", "outputs", "with", "deps", "outs",
                                       "metrics", "when", "gates"}
    assert stage.uses_run_cache


def test_an_output_entry_maps_one_path_and_a_plot_is_listed_once():
    assert "each outs entry maps one path to its flags" in errors("""
    version: 1
    stages:
      a: {cmd: x, outs: [{a: {cache: false}, b: {}}]}
    """)
    assert "'y' is listed twice (plots: and metrics:)" in errors("""
    version: 1
    stages:
      a: {cmd: x, plots: [y], metrics: [y]}
    """)


def test_pipeline_plots_and_artifacts_are_kept_and_checked():
    p = load_text(textwrap.dedent("""
    version: 1
    stages:
      a: {cmd: x, outs: [eval]}
    plots:
      - ROC: {template: simple, x: fpr, y: {eval/roc/train.json: tpr, eval/roc/test.json: tpr}}
      - eval/importance.png
    artifacts:
      text-classification: {path: model.pkl, type: model, labels: [nlp]}
    """).lstrip(), file="pipelines/p.yaml")
    assert p.spec.plots[0]["ROC"].y == {"eval/roc/train.json": "tpr", "eval/roc/test.json": "tpr"}
    assert p.spec.artifacts["text-classification"].labels == ("nlp",)
    found = errors("""
    version: 1
    stages:
      a: {cmd: x}
    plots:
      - ROC: {y: {../out.json: tpr}}
      - Z: {colour: red}
    """)
    assert "leads out of the repository" in found and "unknown key 'colour'" in found


# -- params files ----------------------------------------------------------------------------


def test_params_files_merge_in_order_and_a_selection_imports_only_its_keys(tmp_path: Path):
    (tmp_path / "base.yml").write_text("lr: 0.1\nmodel: {depth: 3, trees: 10}\n")
    (tmp_path / "local.yml").write_text("model: {depth: 5}\n")
    (tmp_path / "more.yaml").write_text("report: {title: T}\nlr: 9\n")
    p = compiled("""
    version: 1
    params_file: [base.yml, local.yml, "more.yaml:report"]
    stages:
      a: {cmd: "echo ${model.depth} ${model.trees} ${lr} ${report.title}"}
    """, tmp_path)
    assert p.stages["a"].run == "echo 5 10 0.1 T"
    assert p.params_files == ("base.yml", "local.yml", "more.yaml")
    assert "has no key 'nope'" in errors("""
    version: 1
    params_file: ["more.yaml:nope"]
    stages:
      a: {cmd: x}
    """, tmp_path)


def test_a_cmd_stage_reads_keys_of_another_params_file_which_joins_the_params(tmp_path: Path):
    (tmp_path / "params.yaml").write_text("prepare: {split: 0.2}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "train.yaml").write_text("epochs: 3\nlr: 0.1\n")
    (tmp_path / "all.json").write_text('{"seed": 4}')
    p = compiled("""
    version: 1
    params_file: params.yaml
    stages:
      a:
        wdir: sub
        cmd: python train.py
        params:
          - train.yaml: [epochs]
      b:
        cmd: python b.py ${lr}
        params:
          - prepare.split
          - all.json:
    """, tmp_path, overrides=["epochs=5"])
    assert p.stages["a"].param_reads == ("epochs",)
    assert p.stages["a"].params == {"epochs": 5}
    assert p.stages["b"].param_reads == ("prepare.split", "seed")  # a whole file: every key
    assert p.params_files == ("params.yaml", "sub/train.yaml", "all.json")


def test_a_params_file_that_contradicts_the_params_is_refused(tmp_path: Path):
    (tmp_path / "params.yaml").write_text("lr: 0.1\n")
    (tmp_path / "other.yaml").write_text("lr: 0.5\n")
    (tmp_path / "p.toml").write_text("a = 1\n")
    found = errors("""
    version: 1
    params_file: params.yaml
    stages:
      a:
        cmd: x
        params: [{other.yaml: [lr]}, {p.toml: [a]}]
    """, tmp_path)
    assert "params file 'other.yaml' sets 'lr' to 0.5, but it is already 0.1" in found
    assert "lockgate reads YAML (and JSON) params files" in found


def test_the_schema_describes_the_new_keys():
    from lockgate.spec.schema import spec_json_schema

    schema = spec_json_schema()
    defs = schema["$defs"]
    cmd = defs["CmdStage"]["properties"]
    assert {"wdir", "plots", "frozen", "always_changed"} <= set(cmd)
    assert "foreach" not in cmd  # written as {foreach:, do:}, its own shape
    assert defs["ForeachStage"]["required"] == ["foreach", "do"]
    assert {"$ref": "#/$defs/ForeachStage"} in schema["properties"]["stages"]["additionalProperties"]["anyOf"]
    assert {"cache", "persist"} <= set(defs["OutFlags"]["properties"])
    assert {"x", "y", "template"} <= set(defs["PlotFlags"]["properties"])
    assert {"plots", "artifacts"} <= set(schema["properties"])
    assert any(c.get("type") == "array" for c in schema["properties"]["params_file"]["anyOf"])
