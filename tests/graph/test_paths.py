"""Paths and names a spec may use (``spec.paths``), checked when it loads: nothing a spec
says can make lockgate write, restore or prune outside the repository, at its root, or
in ``.git/`` / ``.lockgate/``; data outside may only be read (deps:, inputs:)."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from lockgate.errors import SpecError
from lockgate.graph.compile import compile_pipeline, missing_reads
from lockgate.spec.load import load_text
from lockgate.spec.paths import check_name, check_path, normalize


def build(text: str, **kw):
    loaded = load_text(textwrap.dedent(text).lstrip("\n"), file="pipelines/p.yaml", name=kw.pop("name", "p"), **kw)
    return compile_pipeline(loaded)


def errors(text: str, **kw) -> list[str]:
    with pytest.raises(SpecError) as info:
        build(text, **kw)
    return [str(i) for i in info.value.issues]


WRITES = "lockgate writes, restores and prunes it, so it must be inside the repository: " \
         "write it relative to the repository root"


@pytest.mark.parametrize(("path", "message"), [
    ("../victim", f"outs path '../victim' leads out of the repository; {WRITES}"),
    ("a/../../victim", f"outs path 'a/../../victim' leads out of the repository; {WRITES}"),
    ("..\\\\victim", f"outs path '..\\\\victim' leads out of the repository; {WRITES}"),
    ("/etc/cron.d/x", f"outs path '/etc/cron.d/x' is an absolute path; {WRITES}"),
    ("C:/Windows/x", f"outs path 'C:/Windows/x' is an absolute path; {WRITES}"),
    (".", "outs path '.' is the repository root itself; name the files or folders it writes inside it"),
    ("./", "outs path './' is the repository root itself; name the files or folders it writes inside it"),
    ("a/..", "outs path 'a/..' is the repository root itself; name the files or folders it writes inside it"),
    (".git/hooks/pre-commit", "outs path '.git/hooks/pre-commit' is inside .git/, git's own folder; "
                              "use another folder"),
    ("sub/.git/config", "outs path 'sub/.git/config' is inside .git/, git's own folder; use another folder"),
    (".lockgate/cache", "outs path '.lockgate/cache' is inside .lockgate/, lockgate's own state folder; "
                        "use another folder"),
    ("x" * 201, "outs path 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'...: the name "
                "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... is 201 bytes long, more than 200 (the most a file or "
                "folder name lockgate writes may be); shorten it"),
    ("a/" * 2100 + "b", "is 4,201 bytes long, more than 4,096 (the most a path may be); shorten it"),
    ("", "outs path is empty; name a file or folder, relative to the repository root"),
])
def test_outs_must_stay_inside_the_repository(path, message):
    (found,) = errors(f"""
    version: 1
    stages:
      a: {{cmd: echo, outs: ["{path}"]}}
    """)
    assert found.startswith("pipelines/p.yaml:3:25: stage 'a': "), found
    assert found.endswith(message), found


def test_metrics_too_and_the_path_from_params():
    found = errors("""
    version: 1
    params: {up: ..}
    stages:
      a: {cmd: echo, metrics: [/tmp/m.json]}
      b: {cmd: echo, outs: ["${up}/victim"]}
    """)
    assert found == [
        f"pipelines/p.yaml:4:28: stage 'a': metrics path '/tmp/m.json' is an absolute path; {WRITES}",
        f"pipelines/p.yaml:5:25: stage 'b': outs path '../victim' leads out of the repository; {WRITES}",
    ]


def test_paths_are_normalized():
    p = build("""
    version: 1
    stages:
      a: {cmd: echo, outs: ["./data/x/../model/"]}
      b: {cmd: echo, deps: ["data//model/w.bin"], outs: [o]}
    """)
    assert p.stages["a"].outs == ("data/model",)
    assert p.stages["b"].deps == ("data/model/w.bin",)
    assert [(a, b) for a, b, *_ in p.links] == [("a", "b")]


def test_deps_and_inputs_may_read_outside_the_repository():
    p = build("""
    version: 1
    inputs: {shared: /data/shared/customers.parquet, sibling: ../other/x.csv}
    stages:
      a: {call: m:f, in: {t: shared, u: sibling}, out: [z]}
      b: {cmd: echo, deps: [/opt/lookup.csv, ../common/src/], outs: [o]}
    """)
    assert p.inputs == {"shared": "/data/shared/customers.parquet", "sibling": "../other/x.csv"}
    assert p.stages["b"].deps == ("/opt/lookup.csv", "../common/src")


@pytest.mark.parametrize(("spec_line", "message"), [
    ("inputs: {x: .lockgate/cache/objects}",
     "pipelines/p.yaml:2:13: input 'x' path '.lockgate/cache/objects' is inside .lockgate/, lockgate's own state "
     "folder; use another folder"),
    ("inputs: {x: .}",
     "pipelines/p.yaml:2:13: input 'x' path '.' is the repository root itself; name the files or folders it "
     "reads inside it"),
])
def test_inputs_never_name_the_root_or_lockgate_state(spec_line, message):
    found = errors(f"version: 1\n{spec_line}\nstages:\n  a: {{call: m:f, in: {{t: x}}, out: [z]}}\n")
    assert found == [message]


@pytest.mark.parametrize("dep", [".", ".git", ".git/HEAD", "a" * 256])
def test_deps_never_name_the_root_git_or_too_long_names(dep):
    (found,) = errors(f"version: 1\nstages:\n  a: {{cmd: echo, deps: ['{dep}']}}\n")
    assert found.startswith("pipelines/p.yaml:3:25: stage 'a': deps path ")


def test_a_read_name_may_be_255_bytes():
    assert build(f"version: 1\nstages:\n  a: {{cmd: echo, deps: ['{'a' * 255}']}}\n").stages["a"].deps


@pytest.mark.parametrize(("name", "message"), [
    ("../secret.yaml", "pipelines/p.yaml:2:14: params_file '../secret.yaml' leads out of the repository; "
                       "it must be inside the repository: write it relative to the repository root"),
    ("/etc/passwd", "pipelines/p.yaml:2:14: params_file '/etc/passwd' is an absolute path; it must be "
                    "inside the repository: write it relative to the repository root"),
    (".git/config", "pipelines/p.yaml:2:14: params_file '.git/config' is inside .git/, git's own folder; "
                    "use another folder"),
])
def test_params_file_must_be_inside_the_repository(tmp_path: Path, name, message):
    found = errors(f"version: 1\nparams_file: {name}\nstages:\n  a: {{cmd: echo}}\n", root=tmp_path)
    assert found == [message]


def test_names_that_become_file_names_are_bounded():
    found = errors(f"version: 1\nstages:\n  {'s' * 201}: {{cmd: echo}}\n")
    assert [re.sub(r"'[a-z]{30,}'\.\.\.", "'...'", f) for f in found] == [
        "pipelines/p.yaml:3:3: stage name '...' is 201 bytes long, more than 200 (the most a name that "
        "lockgate puts in file names may be); shorten it",
    ]
    found = errors(f"""
    version: 1
    stages:
      m:
        cmd: echo
        matrix: {{x: ["{'v' * 199}"]}}
      p:
        call: m:f
        matrix: {{x: ["{'v' * 190}"]}}
        out: [{'o' * 20}]
      promote:
        uses: promote
        in: {{model: {'o' * 20}}}
        with: {{model_name: {'n' * 201}}}
    """)
    assert [re.sub(r"'[a-z@]{30,}'\.\.\.", "'...'", f) for f in found] == [
        "pipelines/p.yaml:5:13: stage 'm': stage name '...' is 201 bytes long, more than 200 (the most a "
        "name that lockgate puts in file names may be); use shorter matrix values",
        "pipelines/p.yaml:9:11: stage 'p': artifact name '...' is 211 bytes long, more than 200 (the most "
        "a name that lockgate puts in file names may be); use shorter matrix values or a shorter name",
        "pipelines/p.yaml:13:24: stage 'promote': model_name '...' is 201 bytes long, more than 200 (the "
        "most a name that lockgate puts in file names may be); shorten it",
    ]


@pytest.mark.parametrize("name", [".", "..", "p" * 201])
def test_pipeline_name_must_be_a_file_name(name):
    (found,) = errors("version: 1\nstages:\n  a: {cmd: echo}\n", name=name)
    assert found.startswith("pipelines/p.yaml: the pipeline name (the spec's file name) ")
    assert found.endswith("; rename the file")


def test_check_path_and_normalize_directly():
    assert normalize(" ./a//b/../c/ ") == "a/c"
    assert normalize("//x/y") == "/x/y"
    assert check_path("data/x.csv", "deps path", writes=False) == ("data/x.csv", "")
    assert check_path("../x", "deps path", writes=False) == ("../x", "")
    assert check_path("../x", "outs path", writes=True)[1]
    assert check_path("a\0b", "outs path", writes=True)[1].endswith("holds a NUL character; remove it")
    assert check_name("ok_name", "stage name") == ""
    assert check_name("..", "the pipeline name") == "the pipeline name cannot be part of a file name"


def test_missing_reads_names_each_path_and_the_stage_needing_it(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("")
    p = build("""
    version: 1
    inputs: {raw: data/raw.csv, made: out/made.csv, unused: nope.csv, far: /nonexistent/x.csv}
    stages:
      a: {cmd: echo, deps: [src/a.py, src/b.py, out/sub], outs: [out2]}
      b: {cmd: echo, deps: [data/raw.csv], outs: [out]}
      c: {call: m:f, in: {t: raw, m: made, f: far}, out: [z]}
    """)
    found = missing_reads([p], lambda path: os.path.exists(tmp_path / path))
    assert [(where, message) for _, where, message in found] == [
        (("stages", "a", "deps", 1), "stage 'a' needs 'src/b.py' (deps:), which does not exist and which "
                                     "no stage writes; create it, correct the path, or add a stage that writes it"),
        (("stages", "b", "deps", 0), "stage 'b' needs 'data/raw.csv' (deps:), which does not exist and which "
                                     "no stage writes; create it, correct the path, or add a stage that writes it"),
        (("inputs", "raw"), "input 'raw' is 'data/raw.csv', which does not exist and which no stage writes; "
                            "stage 'c' reads it: create it, correct the path, or add a stage that writes it"),
        (("inputs", "far"), "input 'far' is '/nonexistent/x.csv', which does not exist and which no stage "
                            "writes; stage 'c' reads it: create it, correct the path, or add a stage that writes it"),
    ]
