"""What a `call` function is handed and what lockgate keeps of what it returns: pandas
where the parameter asks for it (however the annotation is spelled), Series kept as
Series, and no array, column or other data value ever stored as a "model"."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from lockgate.errors import StageFailed
from lockgate.executor.worker import Job, JobResult, _as_requested, _save_outputs, _wants, run_job
from lockgate.graph.stage import Stage
from lockgate.project import Layout
from lockgate.store.memory import MemoryStore

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

ANNOTATED = '''
from typing import Annotated, Any, Optional, Union

import pandas as pd
import polars as pl
import pyarrow as pa
from pandas import DataFrame


def f(a: pd.DataFrame, b: "pd.Series", c: Optional[pd.DataFrame], d: "pandas.DataFrame",
      e: pd.Series | None, f: DataFrame, g: Any, h: dict, i: pa.Table, j: pl.DataFrame, k,
      l: Union[pd.DataFrame, pd.Series], m: Annotated[pd.Series, "target"], n: "Optional['pd.Series']",
      o: list[pd.DataFrame]):
    pass
'''
WANTED = {"a": "pandas-frame", "b": "pandas-series", "c": "pandas-frame", "d": "pandas-frame",
          "e": "pandas-series", "f": "pandas-frame", "g": "", "h": "", "i": "arrow", "j": "polars",
          "k": "", "l": "pandas", "m": "pandas-series", "n": "pandas-series", "o": ""}


@pytest.mark.parametrize("future", [False, True], ids=["evaluated", "future-annotations"])
def test_annotations_say_what_a_table_becomes_however_spelled(future: bool):
    source = ("from __future__ import annotations\n" if future else "") + ANNOTATED
    namespace: dict = {}
    exec(compile(source, "nodes.py", "exec", dont_inherit=True), namespace)  # noqa: S102 - test code
    assert {arg: _wants(namespace["f"], arg) for arg in WANTED} == WANTED


def _job(root: Path, run: str, outputs: tuple[str, ...], inputs: dict | None = None,
         in_: dict | None = None) -> Job:
    stage = Stage(name=run.partition(":")[2], kind="call", run=run, pipeline="p", outputs=outputs,
                  inputs=in_ or {a: a for a in (inputs or {})})
    return Job(stage=stage, root=str(root), layout=Layout.of(root),
               log_path=str(root / ".lockgate" / "logs" / f"{stage.name}.log"), inputs=inputs or {}, deps={})


def test_pandas_flows_between_stages_as_kedro_nodes_expect(tmp_path: Path):
    module = f"nodes_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent('''
        from typing import Optional
        import pandas as pd
        import polars as pl
        import pyarrow as pa
        from sklearn.linear_model import LinearRegression


        def make():
            X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.9, 0.3]}, index=[9, 4, 7, 1])
            y = pd.Series([3.0, 5.0, 7.5, 9.0], index=X.index, name="price")
            return X, y, pd.Series([1, 2]), LinearRegression().fit(X, y)


        def use(X: Optional[pd.DataFrame], y: "pd.Series", plain, as_polars: pl.DataFrame,
                as_arrow: pa.Table, model):
            return {"frame": isinstance(X, pd.DataFrame), "index": X.index.tolist() == [9, 4, 7, 1],
                    "series": isinstance(y, pd.Series) and y.name == "price",
                    "unnamed": isinstance(plain, pd.Series) and plain.name is None,
                    "polars": isinstance(as_polars, pl.DataFrame) and as_polars.columns == ["a", "b"],
                    "arrow": isinstance(as_arrow, pa.Table),
                    "r2": float(model.score(X, y))}
    '''))
    made = run_job(_job(tmp_path, f"{module}:make", ("X", "y", "plain", "model")))
    assert made.ok, made.error
    assert [made.outputs[n]["kind"] for n in ("X", "y", "plain", "model")] == ["table", "table", "table", "model"]
    records = {"X": made.outputs["X"], "y": made.outputs["y"], "plain": made.outputs["plain"],
               "as_polars": made.outputs["X"], "as_arrow": made.outputs["X"], "model": made.outputs["model"]}
    used = run_job(_job(tmp_path, f"{module}:use", ("checks",), inputs=records))
    assert used.ok, used.error
    checks = used.metrics["checks"]
    assert {k: v for k, v in checks.items() if k != "r2"} == dict.fromkeys(
        ("frame", "index", "series", "unnamed", "polars", "arrow"), True)
    assert checks["r2"] == pytest.approx(1.0, abs=0.2)


def test_a_series_parameter_given_a_wide_table_says_so():
    import pyarrow as pa

    def train(y: pd.Series):
        return y

    with pytest.raises(StageFailed, match=r"argument 'y' is annotated pd.Series, but the table it reads "
                                          r"has 3 columns \(a, b, c\); give it a one-column table"):
        _as_requested(pa.table({"a": [1], "b": [2], "c": [3]}), train, "y")


@pytest.mark.parametrize(("make", "hint"), [
    (lambda: np.arange(3.0), "make the array a table: pd.DataFrame(array) or pd.Series(array, name=...)"),
    (lambda: np.float64(0.5), "put the value in a dict: {'value': ...}"),
    (lambda: 3, "put the value in a dict: {'value': ...}"),
    (lambda: pd.Index([1, 2]), ""),
    (lambda: __import__("pyarrow").array([1, 2]), "make it a table: pa.table({'name': array})"),
    (lambda: __import__("polars").LazyFrame({"a": [1]}), "call .collect() on the LazyFrame"),
    (lambda: (1, 2), "a stage with several outputs lists them all under out:"),
], ids=["numpy array", "numpy scalar", "int", "pandas Index", "arrow array", "LazyFrame", "tuple"])
def test_data_values_are_never_stored_as_models(tmp_path: Path, make, hint: str):
    value = make()
    with pytest.raises(StageFailed) as info:
        _save_outputs(_job(tmp_path, "m:f", ("out",)), MemoryStore(), value, JobResult(ok=False))
    message = str(info.value)
    assert message.startswith(f"output 'out' is a {type(value).__module__}.{type(value).__qualname__}, "
                              "which lockgate cannot store: return a table")
    assert message.endswith(hint)


def test_a_polars_column_is_a_one_column_table(tmp_path: Path):
    import polars as pl

    result = JobResult(ok=False)
    _save_outputs(_job(tmp_path, "m:f", ("out",)), MemoryStore(), pl.Series("score", [1.0, 2.0]), result)
    assert result.outputs["out"]["kind"] == "table" and result.outputs["out"]["meta"]["columns"] == 1
