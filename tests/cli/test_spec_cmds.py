"""init / validate / schema / dag through the real console script, in real git repos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "churn"


def lockgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lockgate", *args], cwd=cwd, capture_output=True, text=True
    )


def test_init_validate_and_dag_in_a_fresh_repo(repo: Path):
    done = lockgate("init", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert (repo / "pipelines" / "example.yaml").is_file()
    assert (repo / ".lockgate" / ".gitignore").read_text().strip().endswith("*")
    assert lockgate("init", cwd=repo).stdout.startswith("already initialized")
    done = lockgate("validate", cwd=repo)
    assert done.returncode == 0 and "pipelines/example.yaml: ok (1 stage)" in done.stdout


def test_spec_error_is_one_line_exit_2_no_traceback(repo: Path):
    write(repo, "pipelines/bad.yaml", """
    version: 1
    stages:
      train:
        uses: train
        outz: [model]
    """)
    done = lockgate("validate", cwd=repo)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "pipelines/bad.yaml:5:5: stage 'train': unknown key 'outz' (did you mean 'out'?)"
    )
    assert "Traceback" not in done.stderr


def test_yaml_syntax_error_through_the_cli(repo: Path):
    write(repo, "pipelines/bad.yaml", "version: 1\nstages:\n  a:\n\tcmd: echo\n")
    done = lockgate("dag", "bad", cwd=repo)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("pipelines/bad.yaml:4:1: YAML syntax error:")


def test_every_error_in_every_spec_is_reported(repo: Path):
    write(repo, "pipelines/a.yaml", "version: 1\nstages:\n  x: {uses: tarin}\n")
    write(repo, "pipelines/b.yaml", "version: 3\nstages:\n  x: {cmd: echo}\n")
    done = lockgate("validate", cwd=repo)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("pipelines/a.yaml:3:13: stage 'x': unknown step 'tarin'")
    assert lines[1].startswith("pipelines/b.yaml:1:10: unsupported version 3")
    assert lines[2] == "2 problems; nothing was run"


def test_unknown_pipeline_name_suggests(repo: Path):
    write(repo, "pipelines/churn.yaml", "version: 1\nstages:\n  a: {cmd: echo}\n")
    done = lockgate("dag", "chrun", cwd=repo)
    assert done.returncode == 2
    assert "no pipeline 'chrun'" in done.stderr and "did you mean 'churn'?" in done.stderr


def test_dash_C_works_like_git(repo: Path, tmp_path: Path):
    write(repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: echo}\n")
    done = lockgate("-C", str(repo), "validate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("fmt", ["ascii", "mermaid", "dot", "json"])
def test_dag_formats_on_the_example(fmt: str):
    done = lockgate("dag", "churn", "--format", fmt, cwd=EXAMPLE)
    assert done.returncode == 0, done.stderr
    if fmt == "json":
        graph = json.loads(done.stdout)
        assert ["split", "features"] in graph["edges"]
        assert ["evaluate", "deploy"] in graph["edges"]
        assert ["deploy", "promote_challenger"] in graph["edges"]  # alias order
        assert graph["nodes"][0] == "generate"
    elif fmt == "mermaid":
        assert done.stdout.startswith("flowchart TD")
    elif fmt == "dot":
        assert '"split" -> "features" [label="train, test"];' in done.stdout
    else:
        assert "deploy" in done.stdout and "<- validate, train, evaluate, monitor" in done.stdout


def test_schema_is_json_schema(tmp_path: Path):
    done = lockgate("schema", cwd=tmp_path)
    schema = json.loads(done.stdout)
    assert schema["properties"]["version"]["const"] == 1
    stage_refs = json.dumps(schema["properties"]["stages"])
    for kind in ("CmdStage", "CallStage", "UsesStage"):
        assert kind in stage_refs
    assert schema["$defs"]["CallStage"]["additionalProperties"] is False


LIGHT_CHECK = """
import sys
from click.testing import CliRunner
from lockgate.cli import main
runner = CliRunner()
for args in {args!r}:
    result = runner.invoke(main, args, catch_exceptions=False)
heavy = sorted(m for m in ("numba", "polars", "pyarrow", "sklearn", "scipy", "skops")
               if m in sys.modules)
print(",".join(heavy))
"""


@pytest.mark.parametrize(
    "args",
    [[["--help"]], [["--version"]], [["-C", "{example}", "validate"]], [["-C", "{example}", "dag"]]],
    ids=["help", "version", "validate", "dag"],
)
def test_light_commands_import_nothing_heavy(args):
    args = [[a.format(example=EXAMPLE) for a in argv] for argv in args]
    done = subprocess.run(
        [sys.executable, "-c", LIGHT_CHECK.format(args=args)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_import_lockgate_is_light():
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys, lockgate; print([m for m in ('numba','polars','pyarrow','sklearn') if m in sys.modules])"],
        capture_output=True, text=True,
    )
    assert done.stdout.strip() == "[]"


def test_two_pipelines_writing_one_path_is_one_error_at_the_later_writer(repo: Path):
    write(repo, "pipelines/a.yaml", """
    version: 1
    stages:
      make:
        cmd: mkdir -p data && echo 1 > data/x.csv
        outs: [data]
    """)
    write(repo, "pipelines/b.yaml", """
    version: 1
    stages:
      ok:
        cmd: echo 2 > other.csv
        outs: [other.csv]
      clash:
        cmd: echo 2 > data/x.csv
        outs: [data/x.csv]
    """)
    done = lockgate("validate", cwd=repo)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "pipelines/b.yaml:8:11: stage 'clash' writes 'data/x.csv', which pipeline 'a' (stage 'make') "
        "also writes; each path has one writer"
    ], lines
    assert "Traceback" not in done.stderr
