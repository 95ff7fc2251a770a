"""`lockgate init --from-dvc`: every dvc.yaml key it carries, and one plain line for
each thing it cannot carry, saying why."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lockgate.cli.main import main
from lockgate.graph.compile import compile_pipeline
from lockgate.porting.dvc import convert, pipeline_name, write
from lockgate.tracked import gitignore_paths
from lockgate.spec.load import load_text
from tests.porting.dvc_project import write_project


def put(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def converted(root: Path, dvc_yaml: str, **files: str):
    put(root, {"dvc.yaml": dvc_yaml, **{k.replace("__", "/").replace("_dot_", "."): v for k, v in files.items()}})
    return convert(root, root / "dvc.yaml", "p")


def notes(conversion) -> str:
    return "\n".join(conversion.notes)


# -- the fixture project: what a DVC user has ----------------------------------------------------


def test_the_fixture_project_converts_with_its_semantics(tmp_path: Path):
    write_project(tmp_path)
    c = convert(tmp_path, tmp_path / "dvc.yaml", "mini")
    spec = c.spec
    assert spec["params_file"] == ["params.yaml", "report.yaml:report"]  # params.yaml first, then vars
    stages = spec["stages"]
    assert list(stages) == ["prepare", "featurize", "train", "evaluate", "history", "report"]
    assert stages["prepare"]["params"] == ["prepare.seed", "prepare.split"]
    assert stages["evaluate"]["outs"] == ["eval"]
    assert stages["evaluate"]["metrics"] == ["eval/metrics.json"]  # top-level metrics: on their stage
    assert stages["history"]["outs"] == [{"history.log": {"persist": True}}]
    assert stages["report"]["outs"] == [{"report.txt": {"cache": False}}]
    assert stages["report"]["always_changed"] is True
    assert stages["report"]["cmd"] == 'python src/report.py "${report.title}"'
    assert spec["plots"] == [{"PRC": {"template": "simple", "x": "recall",
                                      "y": {"eval/plots/prc/test.json": "precision"}}}]
    assert spec["artifacts"]["word-model"]["type"] == "model"
    assert c.problems == []
    assert [(d.path, d.state) for d in c.data] == [("data/data.csv", "verified")]
    # cached outputs, not `cache: false` ones
    assert c.ignore == ["data/features", "data/prepared", "eval", "history.log", "model.json"]
    assert notes(c).count("\n") == 0 and "artifacts: kept as declarations" in notes(c)
    assert c.text.startswith("# Converted from dvc.yaml")
    assert yaml.safe_load(c.text) == spec


def test_write_versions_verified_data_ignores_outputs_once_and_never_overwrites(tmp_path: Path):
    write_project(tmp_path)
    c = convert(tmp_path, tmp_path / "dvc.yaml", "mini")
    written = write(tmp_path, c)
    assert written.spec == "pipelines/mini.yaml" and (tmp_path / "pipelines/mini.yaml").read_text() == c.text
    assert written.versioned == ["data/data.csv"]
    assert "data/data.csv:" in (tmp_path / "data.lock").read_text()
    # data/.gitignore (DVC's) already ignores data.csv; report.txt has cache: false
    assert written.ignored == ["/data/features", "/data/prepared", "/eval", "/history.log", "/model.json"]
    assert (tmp_path / ".lockgate/.gitignore").is_file()
    with pytest.raises(Exception, match="pipelines/mini.yaml exists; nothing was written"):
        write(tmp_path, c)
    (tmp_path / "pipelines/mini.yaml").write_text("edited")
    again = write(tmp_path, c, force=True)
    assert again.ignored == [] and (tmp_path / "pipelines/mini.yaml").read_text() == c.text
    assert gitignore_paths(tmp_path, ["eval", "eval/metrics.json", "new/out"]) == ["/new/out"]


def test_the_cli_prints_what_it_could_not_carry_and_refuses_to_overwrite(tmp_path: Path):
    write_project(tmp_path)
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\n")
    first = CliRunner().invoke(main, ["-C", str(tmp_path), "init", "--from-dvc", "--name", "mini"])
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "created pipelines/mini.yaml from dvc.yaml"
    assert "versioned data/data.csv in data.lock (it matches its .dvc file)" in lines
    assert "  dvc.lock: its hashes are not reused: the first `lockgate run` runs every stage and hashes " \
           "again (DVC's cache and run-cache are not read either)" in lines
    second = CliRunner().invoke(main, ["-C", str(tmp_path), "init", "--from-dvc", "dvc.yaml", "--name", "mini"])
    assert second.exit_code == 2 and "pipelines/mini.yaml exists; nothing was written" in second.output
    assert CliRunner().invoke(main, ["-C", str(tmp_path), "init", "--force"]).exit_code == 2


def test_the_pipeline_is_named_after_the_folder(tmp_path: Path):
    folder = tmp_path / "my project.v2"
    folder.mkdir()
    (folder / "dvc.yaml").write_text("stages: {}\n")
    assert pipeline_name(tmp_path, folder / "dvc.yaml") == "my-project-v2"


# -- every key --------------------------------------------------------------------------------


def test_foreach_matrix_wdir_vars_and_interpolation(tmp_path: Path):
    c = converted(tmp_path, """
    vars:
      - models: {us: {threshold: 10}}
      - config.yaml:clean
    stages:
      cleanups:
        foreach: [raw1, labels1]
        do:
          cmd: clean.py "${item}" ${clean.level}
          outs: ["${item}.cln"]
      build:
        foreach:
          uk: {epochs: 3}
          us: {epochs: 10}
        do:
          cmd: python train.py '${key}' ${item.epochs} ${models.us.threshold}
          outs: ["model-${key}.hdfs"]
      train:
        matrix:
          model: [cnn, xgb]
          feature: ${features}
        cmd: ./train.py ${item.model} ${item.feature} ${features[0]}
        outs: ["${key}.pkl"]
      sub:
        wdir: nested
        cmd: [python a.py, python b.py]
        deps: [a.py]
        params: [lr]
        outs: [out.txt]
        frozen: true
    """, params_dot_yaml="features: [f1, f2]\n", config_dot_yaml="clean: {level: 2}\nother: 1\n",
        nested__params_dot_yaml="lr: 0.1\n")
    assert c.problems == [], c.problems
    spec = c.spec
    assert spec["params"] == {"models": {"us": {"threshold": 10}}}
    assert spec["params_file"] == ["params.yaml", "config.yaml:clean"]
    assert spec["stages"]["cleanups"] == {"foreach": ["raw1", "labels1"],
                                          "do": {"cmd": 'clean.py "${item}" ${clean.level}',
                                                 "outs": ["${item}.cln"]}}
    assert spec["stages"]["train"]["cmd"] == "./train.py ${item.model} ${item.feature} ${features.0}"
    assert spec["stages"]["sub"] == {"wdir": "nested", "cmd": ["python a.py", "python b.py"], "deps": ["a.py"],
                                     "params": [{"params.yaml": ["lr"]}], "outs": ["out.txt"], "frozen": True}
    pipeline = compile_pipeline(load_text(c.text, file="pipelines/p.yaml", name="p", root=tmp_path))
    assert sorted(pipeline.stages) == ["build@uk", "build@us", "cleanups@labels1", "cleanups@raw1", "sub",
                                       "train@cnn-f1", "train@cnn-f2", "train@xgb-f1", "train@xgb-f2"]
    assert pipeline.stages["build@us"].run == "python train.py 'us' 10 10"
    assert pipeline.stages["train@xgb-f2"].outs == ("xgb-f2.pkl",)
    assert pipeline.stages["sub"].outs == ("nested/out.txt",)
    assert pipeline.stages["sub"].params == {"lr": 0.1}
    assert c.ignore == ["cnn-f1.pkl", "cnn-f2.pkl", "labels1.cln", "model-uk.hdfs", "model-us.hdfs",
                        "nested/out.txt", "raw1.cln", "xgb-f1.pkl", "xgb-f2.pkl"]


def test_params_entries_outputs_flags_and_plots(tmp_path: Path):
    c = converted(tmp_path, """
    stages:
      train:
        cmd: python train.py
        params:
          - seed
          - train.yaml: [epochs]
          - all.json:
        outs:
          - model.pkl: {cache: true, persist: false, desc: the model}
          - logs: {persist: true}
        metrics:
          - m.json: {cache: false}
        plots:
          - loss.csv: {x: step, y: [loss, val_loss], template: linear, header: true, cache: false}
    """, params_dot_yaml="seed: 1\n", train_dot_yaml="epochs: 3\n", all_dot_json='{"beta": 2}')
    stage = c.spec["stages"]["train"]
    assert stage["params"] == ["seed", {"train.yaml": ["epochs"]}, {"all.json": None}]
    assert stage["outs"] == [{"model.pkl": {"desc": "the model"}}, {"logs": {"persist": True}}]
    assert stage["metrics"] == [{"m.json": {"cache": False}}]
    assert stage["plots"] == [{"loss.csv": {"x": "step", "y": ["loss", "val_loss"], "template": "linear",
                                            "header": True, "cache": False}}]
    assert c.problems == [] and c.ignore == ["logs", "model.pkl"]


def test_top_level_metrics_attach_to_the_stage_writing_them(tmp_path: Path):
    c = converted(tmp_path, """
    stages:
      a:
        cmd: python a.py
        outs: [scores.json, eval]
    metrics:
      - scores.json
      - eval/nested.json
      - elsewhere.json
    params:
      - extra.yaml
    """, extra_dot_yaml="k: 1\n")
    stage = c.spec["stages"]["a"]
    assert stage["outs"] == ["eval"]
    assert stage["metrics"] == ["scores.json", "eval/nested.json"]
    assert c.spec["params_file"] == "extra.yaml"
    assert ("dvc.yaml: metrics[2]: metrics file 'elsewhere.json' is written by no stage lockgate can see "
            "(or by a foreach/matrix stage); lockgate records the metrics a stage lists under metrics:, "
            "so add it to that stage") in c.notes


def test_a_dvc_yaml_in_a_subfolder_runs_its_stages_there(tmp_path: Path):
    put(tmp_path, {"sub/dvc.yaml": """
    stages:
      a:
        cmd: python a.py
        params: [lr]
        outs: [out]
    metrics: [out/m.json]
    plots: [out/p.json]
    """, "sub/params.yaml": "lr: 1\n"})
    c = convert(tmp_path, tmp_path / "sub" / "dvc.yaml")
    assert c.name == "sub"
    assert c.spec["params_file"] == "sub/params.yaml"
    assert c.spec["stages"]["a"] == {"wdir": "sub", "cmd": "python a.py", "params": ["lr"], "outs": ["out"],
                                     "metrics": ["out/m.json"]}
    assert c.spec["plots"] == ["sub/out/p.json"]
    assert c.ignore == ["sub/out"] and c.problems == []


# -- what cannot be carried, one line each ------------------------------------------------------------


def test_each_thing_not_carried_is_one_line_saying_why(tmp_path: Path):
    c = converted(tmp_path, """
    stages:
      1st.stage:
        cmd: python a.py ${opts}
        deps: [s3://bucket/raw.csv, a.py]
        params:
          - cfg.toml: [x]
        outs:
          - out: {remote: mine, push: false, labels: [x]}
        meta: {owner: me}
        checkpoint: true
      b:
        cmd: python b.py
        params: [nope]
        metrics: [m.tsv]
    datasets:
      - name: d
    schema: 2
    """, params_dot_yaml="opts: {lr: 0.1, fast: true, layers: [1, 2]}\n", cfg_dot_toml="x = 1\n")
    text = notes(c)
    stage = c.spec["stages"]["_1st_stage"]
    assert stage["cmd"] == "python a.py --lr ${opts.lr} --fast --layers ${opts.layers.0} ${opts.layers.1}"
    for expected in [
        "stage '1st.stage': renamed '_1st_stage': lockgate stage names hold letters, digits",
        "cmd unpacks ${opts} (DVC's dictionary unpacking): written out as flags",
        "dependency 's3://bucket/raw.csv' is a URL (an external dependency)",
        "params file 'cfg.toml' is not carried over: lockgate reads YAML and JSON params files",
        "outs 'out': remote: is not carried over: lockgate pushes every cached output to one remote",
        "outs 'out': push: is not carried over",
        "outs 'out': labels: is not carried over (an annotation; declare it under artifacts: instead)",
        "meta: is not carried over",
        "unknown key 'checkpoint', not carried over",
        "metrics 'm.tsv': lockgate reads JSON and YAML metrics files",
        "datasets: not carried over",
        "dvc.yaml: schema: unknown top-level key, not carried over",
    ]:
        assert expected in text, expected
    assert all(line.startswith("dvc.yaml: ") for line in c.notes)
    # a key the params file lacks (DVC fails too) is the converted spec's own error
    assert any("stage 'b': unknown param 'nope'" in p for p in c.problems), c.problems


def test_the_project_around_dvc_yaml_is_reported(tmp_path: Path):
    data = "a,b\n1,2\n"
    put(tmp_path, {
        ".dvc/config": """
        [core]
            remote = storage
        ['remote "storage"']
            url = s3://bucket/dvcstore
        """,
        ".dvcignore": "# comment\n*.tmp\n",
        "dvc.lock": "schema: '2.0'\n",
        "other/dvc.yaml": "stages: {}\n",
        "data/here.csv": data,
        "data/here.csv.dvc": f"outs:\n- md5: {hashlib.md5(data.encode()).hexdigest()}\n  hash: md5\n  path: here.csv\n",
        "data/changed.csv": "new\n",
        "data/changed.csv.dvc": "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  hash: md5\n  path: changed.csv\n",
        "data/gone.xml.dvc": """
        md5: f5ea021eddd7b1df6de80b904cba1da6
        frozen: true
        deps:
        - path: get-started/data.xml
          repo:
            url: https://github.com/iterative/dataset-registry
            rev_lock: f59388cd04276e75d70b2136597aaa27e7937cc3
        outs:
        - md5: 22a1a2931c8370d3aeedd7183606fd7f
          hash: md5
          path: gone.xml
        """,
        "images/dir/a.txt": "a\n", "images/dir/b/c.txt": "c\n",
    })
    entries = sorted([{"md5": hashlib.md5(b"a\n").hexdigest(), "relpath": "a.txt"},
                      {"md5": hashlib.md5(b"c\n").hexdigest(), "relpath": "b/c.txt"}], key=lambda e: e["relpath"])
    import json
    dir_md5 = hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"
    put(tmp_path, {"images/dir.dvc": f"outs:\n- md5: {dir_md5}\n  hash: md5\n  path: dir\n"})
    c = converted(tmp_path, "stages:\n  a: {cmd: echo}\n")
    assert {d.path: d.state for d in c.data} == {"data/here.csv": "verified", "data/changed.csv": "differs",
                                                 "data/gone.xml": "missing", "images/dir": "verified"}
    text = notes(c)
    for expected in [
        "dvc.lock: its hashes are not reused",
        ".dvc/config: remote 'storage' (s3://bucket/dvcstore) is not carried over: lockgate stores objects "
        "by BLAKE3 digest, not in DVC's md5 layout",
        ".dvcignore: not carried over",
        "other/dvc.yaml: another DVC pipeline, not converted here: lockgate init --from-dvc other/dvc.yaml",
        "data/gone.xml.dvc: a `dvc import` of get-started/data.xml from "
        "https://github.com/iterative/dataset-registry (revision f59388cd04): lockgate does not fetch data",
        "data/gone.xml.dvc: 'data/gone.xml' is not here (DVC's cache is not read): get it "
        "(dvc pull data/gone.xml.dvc), then `lockgate add data/gone.xml`",
        "data/changed.csv.dvc: 'data/changed.csv' differs from the version data/changed.csv.dvc records",
    ]:
        assert expected in text, expected
    assert c.add_commands() == ["lockgate add data/changed.csv", "lockgate add data/gone.xml"]


def test_a_converted_spec_that_does_not_load_says_why(tmp_path: Path):
    c = converted(tmp_path, """
    stages:
      a:
        cmd: python a.py
        outs: [/abs/out]
    """)
    assert any("is an absolute path" in p for p in c.problems), c.problems
