"""`lockgate show` and `lockgate export` in-process (CliRunner), over one real run of a
small pipeline: a call stage's wide table and metrics, a cmd stage's table files,
text file, folder and nested (dvclive-style) metrics file."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lockgate.cli.main import main
from tests.conftest import git, write
from tests.e2e.helpers import lg

WIDE_COLUMNS = [f"feature_with_a_rather_long_name_{i:02d}" for i in range(26)] + ["churned"]

SPEC = """
version: 1
stages:
  make:
    call: src.m:make
    out: [wide, scores]
  evaluate:
    cmd: python src/files.py
    deps: [src/files.py]
    outs: [data/t.parquet, data/t.csv, data/notes.txt, data/parts]
    metrics: [metrics.json]
"""

CODE = f"""
import polars as pl

COLUMNS = {WIDE_COLUMNS!r}


def make():
    wide = pl.DataFrame({{name: [i * 1000.5 + j for i in range(12)] for j, name in enumerate(COLUMNS)}})
    return wide, {{"roc_auc": 0.91, "f1": 0.8, "by_split": {{"test": 0.9}}}}
"""

FILES = """
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

Path("data/parts").mkdir(parents=True, exist_ok=True)
table = pa.table({"id": list(range(30)), "city": [f"city-{i}" for i in range(30)]})
pq.write_table(table, "data/t.parquet")
pcsv.write_csv(table, "data/t.csv")
Path("data/notes.txt").write_text("first line\\nsecond line\\n")
for i in range(3):
    Path(f"data/parts/part-{i}.bin").write_bytes(bytes(100 * (i + 1)))
Path("metrics.json").write_text(json.dumps({"roc_auc": {"test": 0.93, "train": 0.99}, "rows": 30}))
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("show") / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, "pipelines/p.yaml", SPEC)
    write(root, "src/__init__.py", "")
    write(root, "src/m.py", CODE)
    write(root, "src/files.py", FILES)
    lg(root, "run", check=0)
    return root


def cli(repo: Path, *args: str, columns: int = 100) -> Result:
    return CliRunner().invoke(main, ["-C", str(repo), *args], env={"COLUMNS": str(columns)})


# -- one value: the names `metrics show` prints ------------------------------------------------


def test_show_a_metric_by_the_name_metrics_show_prints(ran: Path):
    done = cli(ran, "show", "scores.roc_auc")
    assert done.exit_code == 0, done.output
    assert done.stdout == "0.91\n"
    record = json.loads(cli(ran, "show", "scores.roc_auc", "--json").stdout)
    assert {k: record[k] for k in ("artifact", "key", "value", "pipeline", "stage")} == {
        "artifact": "scores", "key": "roc_auc", "value": 0.91, "pipeline": "p", "stage": "make",
    }
    assert cli(ran, "show", "p:scores.f1").stdout == "0.8\n"
    assert cli(ran, "show", "scores.by_split.test").stdout == "0.9\n"
    # a cmd stage's metrics files are one artifact named after the stage, at any depth
    assert cli(ran, "show", "evaluate.roc_auc.test").stdout == "0.93\n"
    assert json.loads(cli(ran, "show", "evaluate.roc_auc", "--json").stdout)["value"] == {
        "test": 0.93, "train": 0.99,
    }
    assert cli(ran, "show", "evaluate.rows").stdout == "30\n"
    shown = cli(ran, "metrics", "show").stdout  # prints the names gates and `show` read
    assert "evaluate.roc_auc.test" in shown and "scores.by_split.test" in shown


def test_a_missing_key_names_the_keys_that_exist_closest_first(ran: Path):
    done = cli(ran, "show", "scores.roc")
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr.startswith(
        "error: 'scores' has no key 'roc'; it has (closest first): scores.roc_auc, "
    ), done.stderr
    done = cli(ran, "show", "scores.roc_auc.test")
    assert done.exit_code == 2
    assert "'scores.roc_auc' is 0.91, not a mapping with a key 'test'" in done.stderr
    done = cli(ran, "show", "wide.churned")
    assert done.exit_code == 2 and "'wide' is a table, which has no keys" in done.stderr


def test_a_value_needs_no_cache_as_in_metrics_show(ran: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(ran, copy)
    shutil.rmtree(copy / ".lockgate" / "cache")
    assert cli(copy, "show", "scores.roc_auc").stdout == "0.91\n"
    assert cli(copy, "show", "evaluate.roc_auc.test").stdout == "0.93\n"
    assert cli(copy, "show", "metrics.json.rows").stdout == "30\n"
    done = cli(copy, "show", "wide")
    assert done.exit_code == 2 and "'wide' (from stage 'make') is not in the local cache" in done.stderr


# -- a cmd stage's files ---------------------------------------------------------------------


def test_a_cmd_stage_table_file_shows_schema_rows_and_head(ran: Path):
    for path, fmt in (("data/t.parquet", "parquet"), ("data/t.csv", "csv")):
        done = cli(ran, "show", path, "-n", "3")
        assert done.exit_code == 0, done.output
        text = done.stdout
        assert f"{fmt} file" in text and "30 rows x 2 columns" in text
        assert "  id: int64" in text and "  city: string" in text
        assert "city-2" in text and "city-3" not in text
        assert "(the first 3 of 30 rows; -n N shows more)" in text
        record = json.loads(cli(ran, "show", path, "--json", "-n", "2").stdout)
        assert record["format"] == fmt and record["rows"] == 30
        assert record["columns"] == {"id": "int64", "city": "string"}
        assert record["head"] == [{"id": 0, "city": "city-0"}, {"id": 1, "city": "city-1"}]


def test_a_cmd_stage_file_and_folder(ran: Path):
    text = cli(ran, "show", "data/notes.txt").stdout
    record = json.loads(cli(ran, "show", "data/notes.txt", "--json").stdout)
    assert record["size"] == len("first line\nsecond line\n")
    assert f"file, 23 bytes, digest {record['digest']}" in text and "second line" in text
    text = cli(ran, "show", "data/parts").stdout
    assert "folder, 3 files, 600 bytes" in text
    assert "part-0.bin" in text and "part-2.bin" in text
    assert json.loads(cli(ran, "show", "data/parts", "--json").stdout)["files"] == 3


# -- a wide table stays readable ---------------------------------------------------------------


def test_a_wide_table_keeps_every_column_name_and_value_whole_at_80_columns(ran: Path):
    done = cli(ran, "show", "wide", "-n", "3", columns=80)
    assert done.exit_code == 0, done.output
    text = done.stdout
    head = text.split("\n\n", 1)[1]  # after the schema listing: the drawn rows
    for name in WIDE_COLUMNS:
        assert re.search(rf"(^|\s){name}(\s|$)", head, re.MULTILINE), name
    assert "1000.5" in head and "2025.0" in head  # values whole: 2 * 1000.5 + 24
    assert max(len(line) for line in text.splitlines() if not line.startswith("p:")) <= 80


# -- a name that does not exist ----------------------------------------------------------------


def test_show_nonexistent_lists_the_artifacts_after_a_run(ran: Path):
    done = cli(ran, "show", "nonexistent")
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr == (
        "error: no artifact 'nonexistent' in pipelines/*.lock; artifacts: data/notes.txt, "
        "data/parts, data/t.csv, data/t.parquet, evaluate, metrics.json, scores, wide\n"
    )
    done = cli(ran, "show", "scorse")
    assert done.exit_code == 2 and done.stderr.rstrip().endswith("(did you mean 'scores'?)")
    assert "run the pipeline first" not in done.stderr


def test_show_before_any_run_says_to_run_first(repo: Path):
    write(repo, "pipelines/p.yaml", SPEC)
    done = cli(repo, "show", "scores")
    assert done.exit_code == 2
    assert "no lock files" in done.stderr and "run the pipeline first (lockgate run)" in done.stderr


# -- export honours the umask --------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_export_gives_files_the_mode_the_umask_says(ran: Path, tmp_path: Path, umask: int):
    before = os.umask(umask)
    try:
        exports = {"wide": "wide.parquet", "scores": "scores.json", "data/notes.txt": "notes.txt",
                   "p:wide": "wide.csv", "evaluate": "evaluate.json"}
        for artifact, name in exports.items():
            done = cli(ran, "export", artifact, str(tmp_path / name))
            assert done.exit_code == 0, done.output
        # an existing read-only file is replaced with the same mode too
        (tmp_path / "again.parquet").write_text("old")
        (tmp_path / "again.parquet").chmod(0o444)
        assert cli(ran, "export", "wide", str(tmp_path / "again.parquet")).exit_code == 0
    finally:
        os.umask(before)
    for name in [*exports.values(), "again.parquet"]:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
    assert json.loads((tmp_path / "evaluate.json").read_text())["roc_auc"] == {"test": 0.93, "train": 0.99}
    assert (tmp_path / "notes.txt").read_text() == "first line\nsecond line\n"
