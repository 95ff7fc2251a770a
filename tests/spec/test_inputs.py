"""`inputs:` entries: a path, or {path, read: {options}} checked against the reader when
the spec loads; a path lockgate cannot read as a table is an error now, not at run time;
and Kedro's `params:NAME` written in `in:` gets a pointed answer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lockgate.errors import SpecError
from lockgate.spec.load import load_text
from lockgate.spec.reading import read_option_problems


def load(text: str, root: Path | str = "."):
    return load_text(text, file="pipelines/p.yaml", name="p", root=root)


def errors(text: str, root: Path | str = ".") -> list[str]:
    with pytest.raises(SpecError) as info:
        load(text, root)
    return [str(i) for i in info.value.issues]


STAGE = """
stages:
  use:
    call: src.nodes:use
    in: {table: customers}
    out: [result]
"""


def with_stage(head: str) -> str:
    return textwrap.dedent(head).lstrip("\n") + STAGE.lstrip("\n")


def test_an_input_with_read_options():
    loaded = load(with_stage("""
    version: 1
    inputs:
      customers:
        path: data/customers.csv
        read: {delimiter: ";", null_values: ["-", "?"], column_types: {id: int64}}
      shuttles: data/shuttles.xlsx
    """))
    assert loaded.spec.input_paths() == {"customers": "data/customers.csv", "shuttles": "data/shuttles.xlsx"}
    assert loaded.spec.input_reads() == {
        "customers": {"delimiter": ";", "null_values": ["-", "?"], "column_types": {"id": "int64"}}}


@pytest.mark.parametrize(("entry", "expected"), [
    ('{path: data/c.csv, read: {sep: ";"}}',
     "pipelines/p.yaml:3:40: input 'customers': unknown CSV read option 'sep' (pandas' name; lockgate's is "
     "'delimiter')"),
    ("{path: data/c.csv, read: {delimeter: ','}}",
     "pipelines/p.yaml:3:40: input 'customers': unknown CSV read option 'delimeter' (did you mean 'delimiter'?)"),
    ("{path: data/c.csv, read: {delimiter: ';;'}}",
     "pipelines/p.yaml:3:40: input 'customers': read option 'delimiter' takes one character, got ';;'"),
    ("{path: data/c.csv, read: {null_values: '-'}}",
     "pipelines/p.yaml:3:40: input 'customers': read option 'null_values' takes a list of strings, got '-'"),
    ("{path: data/c.csv, read: {column_types: {id: integer}}}",
     "pipelines/p.yaml:3:40: input 'customers': read option 'column_types' gives column 'id' the type "
     "'integer', which is not one; use int64, float64, string, bool, date32 or timestamp[s] (pyarrow's "
     "type names)"),
    ("{path: data/c.xlsx, read: {engine: openpyxl}}",
     "pipelines/p.yaml:3:41: input 'customers': unknown Excel read option 'engine' (pandas' name; lockgate "
     "reads CSV with pyarrow and Excel with fastexcel: remove it)"),
    ("{path: data/c.parquet, read: {columns: [a]}}",
     "pipelines/p.yaml:3:44: input 'customers': parquet files take no read options; remove read:"),
    ("{path: data/c.csv, reed: {}}",
     "pipelines/p.yaml:3:33: input 'customers': unknown key 'reed' (did you mean 'read'?)"),
    ("{read: {delimiter: ';'}}", "pipelines/p.yaml:3:14: input 'customers': missing required key 'path'"),
    ("3", "pipelines/p.yaml:3:14: input 'customers' is a path, or {path: ..., read: {...}}; got 3"),
])
def test_input_entry_errors_are_located_with_the_fix(entry: str, expected: str):
    assert errors(f"version: 1\ninputs:\n  customers: {entry}\n" + STAGE.lstrip("\n")) == [expected]


@pytest.mark.parametrize("path", ["data/model.pkl", "data/notes.json", "data/c.tsv"])
def test_an_input_lockgate_cannot_read_is_refused_when_the_spec_loads(path: str):
    suffix = path.rpartition(".")[2]
    assert errors(f"version: 1\ninputs:\n  customers: {path}\n" + STAGE.lstrip("\n")) == [
        f"pipelines/p.yaml:3:14: input 'customers' is '{path}', which lockgate cannot read as a table: it "
        "reads .parquet, .pq, .csv, .arrow, .feather, .ipc, .xlsx, .xlsm, .xls files, or a folder of them; "
        "a file your code opens itself goes under the stage's deps:"
    ], suffix


def test_folders_are_checked_when_read_not_when_loaded(tmp_path: Path):
    (tmp_path / "data" / "batch.v2").mkdir(parents=True)  # a folder with a dot in its name
    loaded = load(with_stage("""
    version: 1
    inputs:
      customers: {path: data/batch.v2, read: {delimiter: ";", sheet_name: s}}
      live: data/live
    """), root=tmp_path)
    assert loaded.spec.input_paths()["customers"] == "data/batch.v2"
    assert errors(with_stage("""
    version: 1
    inputs:
      customers: {path: data/live, read: {delimiter: ";", sheet: s}}
    """)) == ["pipelines/p.yaml:3:55: input 'customers': unknown CSV or Excel read option 'sheet' "
                     "(did you mean 'sheet_id'?)"]


def test_every_read_option_problem_at_once():
    problems = read_option_problems("csv", {"sep": ";", "skip_rows": -1, "encoding": "utf9", "zz": 1})
    assert [option for option, _ in problems] == ["sep", "skip_rows", "encoding", "zz"]
    assert problems[3][1].startswith("unknown CSV read option 'zz'; known: delimiter, quote_char")


def test_kedros_params_in_in_points_to_with():
    assert errors(textwrap.dedent("""
    version: 1
    params: {model_options: {test_size: 0.2}}
    inputs: {table: data/t.csv}
    stages:
      split:
        call: src.nodes:split_data
        in: {data: table, parameters: "params:model_options"}
        out: [X_train, X_test]
    """).lstrip("\n")) == [
        "pipelines/p.yaml:7:35: stage 'split': in: 'parameters' reads 'params:model_options', a param the "
        "Kedro way; in: names artifacts, params go in with: write with: {parameters: \"${model_options}\"} "
        "(or \"params:model_options\") and remove it from in:"
    ]
