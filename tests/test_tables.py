"""Table files read as users' tools read them, and pandas values kept as tables: the index
as pandas' own parquet keeps it, a Series as a Series with its name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lockgate.hashing import hash_table
from lockgate.tables import TableFileError, from_pandas, read_table, to_pandas

pd = pytest.importorskip("pandas")


def test_empty_csv_cells_are_null_in_every_column(tmp_path: Path):
    """pandas and Kedro read an empty cell as missing, in text columns too (pyarrow alone
    keeps ""): a later dropna() then drops the same rows."""
    path = tmp_path / "c.csv"
    path.write_text("id,city,score,flag\n1,,2.5,t\n2,Oslo,,\n3,NA,1.0,f\n")
    table = read_table(path)
    assert table.column("city").to_pylist() == [None, "Oslo", None]
    assert table.column("score").to_pylist() == [2.5, None, 1.0]
    assert table.column("flag").to_pylist() == ["t", None, "f"]
    pd.testing.assert_frame_equal(to_pandas(table), pd.read_csv(path))


def test_csv_read_options_and_null_values_added_to_the_usual_markers(tmp_path: Path):
    path = tmp_path / "c.csv"
    path.write_text("# exported 2024\nid;amount;note\n1;-;x\n2;;\n3;4,5;NA\n")
    table = read_table(path, {"delimiter": ";", "skip_rows": 1, "null_values": ["-"], "decimal_point": ",",
                              "column_types": {"id": "int32"}})
    assert table.column("amount").to_pylist() == [None, None, 4.5]  # "-" and "" alike, as pandas' na_values
    assert table.column("note").to_pylist() == ["x", None, None]
    assert str(table.schema.field("id").type) == "int32"
    expected = pd.read_csv(path, sep=";", skiprows=1, na_values=["-"], decimal=",")
    pd.testing.assert_frame_equal(to_pandas(table), expected, check_dtype=False)


def test_a_folder_gives_each_file_the_options_of_its_kind(tmp_path: Path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.csv").write_text("x;y\n1;a\n")
    pd.DataFrame({"x": [2], "y": ["b"]}).to_excel(folder / "b.xlsx", index=False)
    table = read_table(folder, {"delimiter": ";", "sheet_id": 1})
    assert table.to_pydict() == {"x": [1, 2], "y": ["a", "b"]}


def test_excel_reads_as_pandas_reads_it(tmp_path: Path):
    pytest.importorskip("fastexcel")
    frame = pd.DataFrame({"id": [1, 2, 3], "name": ["a", None, "c"], "price": [1.5, None, 3.0],
                          "flag": ["t", "f", None]})
    frame.to_excel(tmp_path / "s.xlsx", index=False, sheet_name="data")
    table = read_table(tmp_path / "s.xlsx", {"sheet_name": "data"})
    pd.testing.assert_frame_equal(to_pandas(table), pd.read_excel(tmp_path / "s.xlsx"))


def test_excel_without_its_reader_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pd.DataFrame({"a": [1]}).to_excel(tmp_path / "s.xlsx", index=False)
    monkeypatch.setitem(sys.modules, "fastexcel", None)  # as if not installed
    with pytest.raises(TableFileError, match=r"s\.xlsx: reading Excel files needs the optional reader: "
                                             r"pip install 'lockgate\[excel\]'"):
        read_table(tmp_path / "s.xlsx")


def test_a_wrong_column_type_at_run_time_is_a_table_error(tmp_path: Path):
    (tmp_path / "c.csv").write_text("a\n1\n")
    with pytest.raises(TableFileError, match="column_types"):
        read_table(tmp_path / "c.csv", {"column_types": {"a": "integer"}})


FRAMES = {
    "default index": lambda: pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"]}),
    "shuffled index (a split)": lambda: pd.DataFrame({"a": [1.5, 2.5]}, index=[7, 3]),
    "named index": lambda: pd.DataFrame({"a": [1, 2]}, index=pd.Index([10, 20], name="id")),
    "range from 5": lambda: pd.DataFrame({"a": [1, 2]}, index=pd.RangeIndex(5, 7)),
    "multi-index": lambda: pd.DataFrame({"a": [1, 2]}, index=pd.MultiIndex.from_tuples(
        [(1, "x"), (2, "y")], names=["k", "l"])),
    "text index": lambda: pd.DataFrame({"a": [1, 2]}, index=["r1", "r2"]),
    "dtypes": lambda: pd.DataFrame({"b": [True, False], "c": pd.Categorical(["x", "y"]),
                                    "n": pd.array([1, None], dtype="Int64"),
                                    "t": pd.to_datetime(["2024-01-01", None])}),
}


@pytest.mark.parametrize("make", FRAMES.values(), ids=FRAMES.keys())
def test_a_dataframe_comes_back_as_it_was(make):
    frame = make()
    pd.testing.assert_frame_equal(to_pandas(from_pandas(frame)), frame, check_index_type="equiv")


@pytest.mark.parametrize("name", ["price", None, 0])
def test_a_series_comes_back_as_a_series_with_its_name_and_index(name):
    series = pd.Series([1.5, 2.5, None], index=[4, 2, 9], name=name)
    back = to_pandas(from_pandas(series))
    pd.testing.assert_series_equal(back, series)


def test_an_index_other_than_the_default_is_part_of_the_digest():
    """The same values under another index are another table to pandas code (df.loc):
    a stage reading it must not be restored from the cache as if nothing changed."""
    values = {"a": [1, 2]}
    digests = {hash_table(from_pandas(pd.DataFrame(values, index=index)))
               for index in (None, pd.RangeIndex(5, 7), [6, 5], pd.Index([0, 1], name="id"))}
    assert len(digests) == 4
    assert hash_table(from_pandas(pd.DataFrame(values))) == hash_table(from_pandas(pd.DataFrame(values).copy()))


def test_what_polars_readers_see_of_a_pandas_table():
    from lockgate.steps.base import to_polars

    table = from_pandas(pd.DataFrame({"a": [1, 2]}, index=[8, 9]))
    assert to_polars(table).columns == ["a"]  # the index columns pandas leaves are not data
    assert to_polars(pd.Series([1, 2], name="y")).columns == ["y"]  # handed pandas itself


def test_the_column_types_the_loader_accepts_are_pyarrows():
    import pyarrow as pa

    from lockgate.spec.reading import COLUMN_TYPES

    for name in COLUMN_TYPES:
        pa.type_for_alias(name)  # raises for a name pyarrow does not know
