"""A Kedro project in the style of the spaceflights starter, run by lockgate with its node
functions named directly in ``call:``: pandas in and out, CSVs with empty cells (one with
its own delimiter and null marker), an Excel sheet, Kedro's parameter files read as they
are, a ``parameters: dict`` argument given Kedro's way (``params:model_options``), a split
into four outputs, a LinearRegression, and the same R² as the nodes give when called in
plain Python on the files pandas reads (as Kedro does)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import write
from tests.e2e.helpers import lg

pd = pytest.importorskip("pandas")
pytest.importorskip("fastexcel")
pytest.importorskip("openpyxl")

NODES_PROCESSING = '''
import pandas as pd


def _flag(column: pd.Series) -> pd.Series:
    return column == "y"


def clean_operators(operators: pd.DataFrame) -> pd.DataFrame:
    operators["certified"] = _flag(operators["certified"])
    operators["rating"] = operators["rating"].str.rstrip("%").astype(float) / 100
    return operators


def clean_rockets(rockets: pd.DataFrame) -> pd.DataFrame:
    rockets["inspected"] = _flag(rockets["inspected"])
    rockets["cost"] = rockets["cost"].str.lstrip("$").str.replace(",", "").astype(float)
    return rockets


def build_table(rockets: pd.DataFrame, operators: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    rated = rockets.merge(ratings, left_on="id", right_on="rocket_id").drop(columns="id")
    table = rated.merge(operators, left_on="operator_id", right_on="id")
    return table.dropna()
'''

NODES_SCIENCE = '''
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split


def split_data(data: pd.DataFrame, parameters: dict) -> tuple:
    X = data[parameters["features"]]
    y = data["cost"]
    return train_test_split(X, y, test_size=parameters["test_size"], random_state=parameters["seed"])


def train_model(X_train: pd.DataFrame, y_train: pd.Series) -> LinearRegression:
    return LinearRegression().fit(X_train, y_train)


def evaluate_model(regressor: LinearRegression, X_test: pd.DataFrame, y_test: pd.Series) -> dict[str, float]:
    predicted = regressor.predict(X_test)
    return {"r2_score": r2_score(y_test, predicted), "mae": mean_absolute_error(y_test, predicted)}
'''

PARAMETERS = """
# Kedro's conf/base/parameters_science.yml, read as it is
model_options:
  test_size: 0.25
  seed: 11
  features: [engines, capacity, crew, inspected, certified, rating, score]
"""

SPEC = """
version: 1
params_file: [conf/base/parameters.yml, conf/base/parameters_science.yml]
inputs:
  operators:
    path: data/01_raw/operators.csv
    read: {delimiter: ";", null_values: ["-"]}
  ratings: data/01_raw/ratings.csv
  rockets: data/01_raw/rockets.xlsx
stages:
  clean_operators:
    call: src.rockets.pipelines.processing.nodes:clean_operators
    in: {operators: operators}
    out: [clean_operators]
  clean_rockets:
    call: src.rockets.pipelines.processing.nodes:clean_rockets
    in: {rockets: rockets}
    out: [clean_rockets]
  build_table:
    call: src.rockets.pipelines.processing.nodes:build_table
    in: {rockets: clean_rockets, operators: clean_operators, ratings: ratings}
    out: [model_input]
  split_data:
    call: src.rockets.pipelines.science.nodes:split_data
    in: {data: model_input}
    with: {parameters: "params:model_options"}
    out: [X_train, X_test, y_train, y_test]
  train_model:
    call: src.rockets.pipelines.science.nodes:train_model
    in: {X_train: X_train, y_train: y_train}
    out: [regressor]
  evaluate_model:
    call: src.rockets.pipelines.science.nodes:evaluate_model
    in: {regressor: regressor, X_test: X_test, y_test: y_test}
    out: [metrics]
"""


def _make_data(root: Path) -> None:
    """Raw files as people hand them over: text flags, "12%" and "$1,234.50" as text,
    empty cells here and there, one CSV with ';' and '-' for "unknown"."""
    import numpy as np

    rng = np.random.default_rng(5)
    raw = root / "data" / "01_raw"
    raw.mkdir(parents=True)
    n_ops, n_rockets = 40, 600
    lines = ["id;rating;base;certified"]
    for i in range(n_ops):
        rating = "-" if i % 9 == 4 else f"{rng.integers(40, 101)}%"
        base = "" if i % 7 == 3 else rng.choice(["Mars", "Luna", "Io"])
        certified = "" if i % 11 == 6 else rng.choice(["y", "n"])
        lines.append(f"{100 + i};{rating};{base};{certified}")
    (raw / "operators.csv").write_text("\n".join(lines) + "\n")
    lines = ["rocket_id,score,reviews"]
    for i in range(n_rockets):
        score = "" if i % 13 == 0 else f"{rng.normal(80, 8):.1f}"
        lines.append(f"{i},{score},{rng.integers(0, 300)}")
    (raw / "ratings.csv").write_text("\n".join(lines) + "\n")
    engines = rng.integers(1, 5, n_rockets).astype(float)
    engines[::17] = np.nan
    capacity = rng.integers(2, 12, n_rockets)
    crew = rng.integers(1, 6, n_rockets).astype(float)
    cost = 900 * engines + 350 * capacity + 120 * crew + rng.normal(0, 900, n_rockets) + 5000
    pd.DataFrame({
        "id": range(n_rockets),
        "kind": rng.choice(["Type V1", "Type F5", "Type A7"], n_rockets),
        "engines": engines,
        "capacity": capacity,
        "crew": crew,
        "inspected": rng.choice(["y", "n"], n_rockets),
        "cost": [f"${c:,.2f}" if c == c else None for c in cost],
        "operator_id": rng.integers(100, 100 + n_ops, n_rockets),
    }).to_excel(raw / "rockets.xlsx", index=False)


@pytest.fixture
def project(repo: Path) -> Path:
    _make_data(repo)
    for package in ("src/rockets", "src/rockets/pipelines", "src/rockets/pipelines/processing",
                    "src/rockets/pipelines/science"):
        write(repo, f"{package}/__init__.py", "")
    write(repo, "src/rockets/pipelines/processing/nodes.py", NODES_PROCESSING)
    write(repo, "src/rockets/pipelines/science/nodes.py", NODES_SCIENCE)
    write(repo, "conf/base/parameters.yml", "# nothing shared yet\n")
    write(repo, "conf/base/parameters_science.yml", PARAMETERS)
    write(repo, "pipelines/rockets.yaml", SPEC)
    return repo


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kedro_r2(root: Path) -> float:
    """The nodes called in plain Python on what pandas reads, as Kedro's datasets load
    them (pandas.CSVDataset with load_args, pandas.ExcelDataset)."""
    processing = _module(root / "src/rockets/pipelines/processing/nodes.py", "kedro_port_processing")
    science = _module(root / "src/rockets/pipelines/science/nodes.py", "kedro_port_science")
    raw = root / "data" / "01_raw"
    operators = processing.clean_operators(pd.read_csv(raw / "operators.csv", sep=";", na_values=["-"]))
    rockets = processing.clean_rockets(pd.read_excel(raw / "rockets.xlsx"))
    table = processing.build_table(rockets, operators, pd.read_csv(raw / "ratings.csv"))
    params = yaml.safe_load((root / "conf/base/parameters_science.yml").read_text())["model_options"]
    X_train, X_test, y_train, y_test = science.split_data(table, params)
    model = science.train_model(X_train, y_train)
    return science.evaluate_model(model, X_test, y_test)["r2_score"]


CHECK = """
import sys
from click.testing import CliRunner
from lockgate.cli import main
heavy = lambda: sorted(m for m in ("pandas", "fastexcel", "sklearn", "polars") if m in sys.modules)
import lockgate
print("import:", heavy())
for args in (["validate"], ["status"]):
    done = CliRunner().invoke(main, ["-C", {root!r}, *args])
    print(args[0], done.exit_code, done.output.strip().replace("\\n", " | "))
print("commands:", heavy())
spec = {root!r} + "/pipelines/rockets.yaml"
text = open(spec).read()
open(spec, "w").write(text.replace('null_values: ["-"]', 'null_values: ["-", "?"]'))
done = CliRunner().invoke(main, ["-C", {root!r}, "status"])
print("edited", done.exit_code, done.output.strip().replace("\\n", " | "))
"""


def test_spaceflights_style_nodes_run_unchanged_with_kedros_r2(project: Path):
    expected = _kedro_r2(project)
    done = lg(project, "run", check=0)
    assert "6 ran" in done.stdout + done.stderr
    lock = yaml.safe_load((project / "pipelines" / "rockets.lock").read_text())
    stages = lock["stages"]
    assert stages["evaluate_model"]["metrics"]["metrics"]["r2_score"] == pytest.approx(expected, rel=0, abs=1e-12)
    assert 0.2 < expected < 1  # a model worth comparing
    # Kedro's "params:NAME" is the param, recorded as ${NAME} records it
    assert stages["split_data"]["params"] == yaml.safe_load(PARAMETERS)
    # a Series stays a Series with its name, an index stays an index, a model is a model
    assert stages["split_data"]["outputs"]["y_train"]["kind"] == "table"
    assert stages["train_model"]["outputs"]["regressor"]["kind"] == "model"
    assert "read:operators" in stages["clean_operators"]["inputs"]

    checked = subprocess.run([sys.executable, "-c", CHECK.format(root=str(project))],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    out = checked.stdout.splitlines()
    assert out[0] == "import: []"
    assert out[1].startswith("validate 0 pipelines/rockets.yaml: ok (6 stages)"), out[1]
    assert out[2].startswith("status 0") and "up to date" in out[2], out[2]
    assert out[3] == "commands: []"  # neither pandas nor the Excel reader: they are optional
    # how an input is read is part of the fingerprint of the stage reading it
    assert "clean_operators" in out[4] and "read:operators" in out[4], out[4]


def test_the_fixture_reads_as_pandas_reads_it(project: Path):
    """What the R² rests on: the inputs as lockgate hands them to pandas nodes are what
    pandas reads (empty cells and '-' missing, in text columns too: those rows drop)."""
    from lockgate.tables import read_table, to_pandas

    raw = project / "data" / "01_raw"
    operators = pd.read_csv(raw / "operators.csv", sep=";", na_values=["-"])
    assert operators["rating"].isna().sum() == 4 and operators["base"].isna().sum() == 6
    ours = to_pandas(read_table(raw / "operators.csv", {"delimiter": ";", "null_values": ["-"]}))
    pd.testing.assert_frame_equal(ours, operators)
    pd.testing.assert_frame_equal(to_pandas(read_table(raw / "ratings.csv")), pd.read_csv(raw / "ratings.csv"))
    pd.testing.assert_frame_equal(to_pandas(read_table(raw / "rockets.xlsx")), pd.read_excel(raw / "rockets.xlsx"))
