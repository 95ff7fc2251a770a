"""Digests of bytes, files, folders, JSON values and tables (lockgate.hashing)."""

from __future__ import annotations

import itertools
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from blake3 import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockgate.hashing import (
    MMAP_THRESHOLD,
    canonical_json,
    digest_bytes,
    hash_file,
    hash_table,
    hash_tree,
    hash_value,
    is_digest,
)

EMPTY_BLAKE3 = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"

# -- bytes, files, JSON ------------------------------------------------------------


def test_digest_bytes_is_blake3() -> None:
    assert digest_bytes(b"") == EMPTY_BLAKE3
    assert digest_bytes(b"abc") == blake3(b"abc").hexdigest()
    assert is_digest(digest_bytes(b"abc"))
    assert not is_digest("ABC") and not is_digest("g" * 64) and not is_digest(None)


@pytest.mark.parametrize("size", [0, 1, MMAP_THRESHOLD - 1, MMAP_THRESHOLD, 3 * MMAP_THRESHOLD + 7])
def test_hash_file_matches_digest_of_bytes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert hash_file(path) == digest_bytes(data)
    assert hash_file(str(path)) == digest_bytes(data)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1, (2, 3)], "é": "ü"}) == (
        '{"a":[1,[2,3]],"b":1,"é":"ü"}'.encode()
    )
    assert canonical_json({"x": 0.1}) == b'{"x":0.1}'
    assert canonical_json({"a": {"d": 1, "c": 2}}) == b'{"a":{"c":2,"d":1}}'


def test_canonical_json_converts_numpy_scalars() -> None:
    assert canonical_json({"n": np.int64(3), "f": np.float32(0.5)}) == b'{"f":0.5,"n":3}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_canonical_json_refuses_nan_and_infinity(bad: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": bad})


def test_canonical_json_refuses_unknown_types() -> None:
    with pytest.raises(TypeError, match="set"):
        canonical_json({"x": {1, 2}})


def test_hash_value_is_digest_of_canonical_json() -> None:
    assert hash_value({"b": 1, "a": 2}) == hash_value({"a": 2, "b": 1})
    assert hash_value({"a": 2}) == digest_bytes(b'{"a":2}')
    assert hash_value([1, 2]) == hash_value((1, 2))
    assert hash_value({"a": 1}) != hash_value({"a": 1.0})


def test_importing_hashing_stays_light() -> None:
    code = (
        "import sys, lockgate.hashing\n"
        "heavy = [m for m in ('pyarrow', 'numpy', 'polars') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- folders ---------------------------------------------------------------------


def _make_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.bin").write_bytes(b"\x00\x01")
    (root / "sub" / "deeper" / "c.txt").write_text("")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: x")
    (root / "sub" / ".lockgate").mkdir()
    (root / "sub" / ".lockgate" / "junk").write_text("x")


def test_hash_tree_manifest(tmp_path: Path) -> None:
    _make_tree(tmp_path)
    digest, manifest = hash_tree(tmp_path)
    assert manifest == [
        {"path": "a.txt", "hash": digest_bytes(b"alpha"), "size": 5},
        {"path": "sub/b.bin", "hash": digest_bytes(b"\x00\x01"), "size": 2},
        {"path": "sub/deeper/c.txt", "hash": EMPTY_BLAKE3, "size": 0},
    ]
    assert digest == hash_value(manifest)


def test_hash_tree_changes_with_content_and_names(tmp_path: Path) -> None:
    _make_tree(tmp_path)
    before, _ = hash_tree(tmp_path)
    (tmp_path / ".git" / "HEAD").write_text("ignored")
    (tmp_path / "empty-folder").mkdir()
    assert hash_tree(tmp_path)[0] == before
    (tmp_path / "a.txt").write_text("alphA")
    changed, _ = hash_tree(tmp_path)
    assert changed != before
    (tmp_path / "a.txt").rename(tmp_path / "A.txt")
    assert hash_tree(tmp_path)[0] not in (before, changed)


def test_hash_tree_uses_the_given_file_hash_and_keeps_links_as_links(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    seen: list[str] = []

    def fake(path: str) -> str:
        seen.append(path)
        return "0" * 64

    _, manifest = hash_tree(tmp_path, file_hash=fake)
    assert [(e["path"], e.get("link")) for e in manifest] == [("d/f", None), ("d/loop", str(tmp_path / "d"))]
    assert len(seen) == 1


# -- tables: fixed cases -------------------------------------------------------------


def golden_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, None, -4], pa.int64()),
            "score": pa.array([0.5, float("nan"), None, -0.0], pa.float64()),
            "name": pa.array(["ann", None, "", "zoë"], pa.string()),
            "flag": pa.array([True, False, None, True]),
            "tags": pa.array([[1, 2], None, [], [None]], pa.list_(pa.int32())),
            "pt": pa.array(
                [{"x": 1.0, "y": "a"}, None, {"x": None, "y": "b"}, {"x": 2.5, "y": None}]
            ),
            "cat": pa.array(["u", "v", None, "u"]).dictionary_encode(),
            "ts": pa.array([0, 1, None, 3], pa.timestamp("us", "UTC")),
        }
    )


def test_golden_digest() -> None:
    # If this fails, the table encoding changed: every cached table digest in
    # every user's lock file would change. Bump TABLE_ENCODING deliberately.
    assert hash_table(golden_table()) == (
        "18858606c4a2fe5bfe1e6c52fc73615a7678800066c0d25ac3aa79e0d381b3da"
    )


def test_chunking_slicing_and_metadata_do_not_matter() -> None:
    t = golden_table()
    digest = hash_table(t)
    rechunked = pa.Table.from_batches(t.slice(0, 1).to_batches() + t.slice(1).to_batches())
    assert rechunked.column(0).num_chunks == 2
    assert hash_table(rechunked) == digest
    padded = pa.concat_tables([t.slice(0, 2), t, t.slice(2)]).slice(2, 4)
    assert hash_table(padded) == digest
    assert hash_table(t.replace_schema_metadata({"pandas": "{}"})) == digest
    assert hash_table(pl.from_arrow(t.drop_columns(["cat"]).slice(0, 0))) is not None


def test_polars_dataframe_is_accepted() -> None:
    df = pl.DataFrame({"a": [1, 2, None], "s": ["x", None, "z"]})
    assert hash_table(df) == hash_table(df.to_arrow())


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a": pa.array([0, 1])}, {"a": pa.array([None, 1], pa.int64())}),
        ({"a": pa.array(["", "x"])}, {"a": pa.array([None, "x"])}),
        ({"a": pa.array([0.0])}, {"a": pa.array([-0.0])}),
        ({"a": pa.array([1])}, {"b": pa.array([1])}),
        ({"a": pa.array([1], pa.int64())}, {"a": pa.array([1], pa.int32())}),
        ({"a": pa.array(["x"], pa.string())}, {"a": pa.array(["x"], pa.large_string())}),
        ({"a": pa.array([1]), "b": pa.array([2])}, {"b": pa.array([2]), "a": pa.array([1])}),
        ({"a": pa.array(["ab", "c"])}, {"a": pa.array(["a", "bc"])}),
        ({"a": pa.array([[1], [2, 3]])}, {"a": pa.array([[1, 2], [3]])}),
        ({"a": pa.array([[1]])}, {"a": pa.array([None], pa.list_(pa.int64()))}),
        ({"a": pa.array([{"x": None}])}, {"a": pa.array([None], pa.struct([("x", pa.int64())]))}),
        ({"a": pa.array([1], pa.timestamp("s"))}, {"a": pa.array([1], pa.timestamp("ms"))}),
        ({"a": pa.array([1], pa.timestamp("s"))}, {"a": pa.array([1], pa.timestamp("s", "UTC"))}),
        ({"a": pa.array([True, False])}, {"a": pa.array([False, True])}),
        ({"a": pa.array([], pa.int64())}, {"a": pa.array([None], pa.int64())}),
    ],
)
def test_different_tables_hash_differently(left: dict, right: dict) -> None:
    assert hash_table(pa.table(left)) != hash_table(pa.table(right))


def test_every_nan_is_one_nan() -> None:
    quiet = struct.unpack("<d", bytes.fromhex("000000000000f87f"))[0]
    negative_payload = struct.unpack("<d", bytes.fromhex("010000000000f8ff"))[0]
    a = pa.table({"x": pa.array([quiet, 1.0])})
    b = pa.table({"x": pa.array(np.array([negative_payload, 1.0]))})
    assert hash_table(a) == hash_table(b)
    f32 = pa.table({"x": pa.array(np.array([np.nan, -np.nan], np.float32))})
    assert hash_table(f32) == hash_table(pa.table({"x": pa.array([np.nan, np.nan], pa.float32())}))


def test_bytes_under_null_slots_are_ignored() -> None:
    validity = pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes())
    ints_a = pa.Array.from_buffers(
        pa.int64(), 3, [validity, pa.py_buffer(np.array([1, 7, 3]).tobytes())]
    )
    ints_b = pa.Array.from_buffers(
        pa.int64(), 3, [validity, pa.py_buffer(np.array([1, 9, 3]).tobytes())]
    )
    offsets = pa.py_buffer(np.array([0, 1, 4, 5], np.int32).tobytes())
    strings = pa.Array.from_buffers(pa.string(), 3, [validity, offsets, pa.py_buffer(b"agarb")])
    assert strings.to_pylist() == ["a", None, "b"]
    assert hash_table(pa.table({"x": ints_a})) == hash_table(pa.table({"x": ints_b}))
    assert hash_table(pa.table({"s": strings})) == hash_table(pa.table({"s": ["a", None, "b"]}))
    lists = pa.ListArray.from_arrays(pa.array([0, 1, 3, 4], pa.int32()), pa.array([1, 8, 9, 2]))
    masked = pa.ListArray.from_arrays(
        pa.array([0, 1, 3, 4], pa.int32()),
        pa.array([1, 8, 9, 2]),
        mask=pa.array([False, True, False]),
    )
    assert hash_table(pa.table({"l": masked})) == hash_table(pa.table({"l": [[1], None, [2]]}))
    assert hash_table(pa.table({"l": masked})) != hash_table(pa.table({"l": lists}))


def test_dictionary_columns_hash_as_their_values() -> None:
    plain = pa.table({"c": pa.array(["a", "b", None, "a"])})
    encoded = pa.table({"c": pa.array(["a", "b", None, "a"]).dictionary_encode()})
    # two chunks with different dictionaries for the same values
    chunked = pa.table(
        {
            "c": pa.chunked_array(
                [
                    pa.array(["a", "b"]).dictionary_encode(),
                    pa.array([None, "a"]).dictionary_encode(),
                ]
            )
        }
    )
    assert hash_table(plain) == hash_table(encoded) == hash_table(chunked)
    categorical = pl.DataFrame({"c": pl.Series(["a", "b", None, "a"], dtype=pl.Categorical)})
    assert hash_table(categorical) == hash_table(
        pa.table({"c": pa.array(["a", "b", None, "a"], pa.large_string())})
    )


def test_maps_and_fixed_size_lists_and_decimals() -> None:
    from decimal import Decimal

    m = pa.array([[("a", 1)], None, [("b", 2), ("c", 3)]], pa.map_(pa.string(), pa.int64()))
    fixed = pa.array([[1, 2], None, [3, 4]], pa.list_(pa.int8(), 2))
    decimals = pa.array([Decimal("1.50"), None, Decimal("-2.25")], pa.decimal128(6, 2))
    t = pa.table({"m": m, "f": fixed, "d": decimals})
    rechunked = pa.Table.from_batches(t.slice(0, 2).to_batches() + t.slice(2).to_batches())
    assert hash_table(t) == hash_table(rechunked)
    assert hash_table(t.slice(1)) == hash_table(
        pa.Table.from_pylist(t.slice(1).to_pylist(), t.schema)
    )
    changed = t.set_column(
        2, "d", pa.array([Decimal("1.50"), None, Decimal("-2.26")], pa.decimal128(6, 2))
    )
    assert hash_table(changed) != hash_table(t)


def test_unsupported_types_are_refused_clearly() -> None:
    union = pa.UnionArray.from_sparse(
        pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])]
    )
    with pytest.raises(TypeError, match=r"column 'u'.*union"):
        hash_table(pa.table({"u": union}))
    with pytest.raises(TypeError, match="polars DataFrame"):
        hash_table({"a": [1]})


# -- tables: properties ------------------------------------------------------------

_FLOATS_NO_NAN = st.sampled_from([0.0, 1.5, -2.0, 1e300, math.inf])
_FLOATS_ANY = st.sampled_from([0.0, -0.0, 1.5, math.nan, -math.nan, math.inf])
_SMALL_TEXT = st.text("ab", max_size=2)


def _column_kinds(
    floats: st.SearchStrategy[float],
) -> dict[str, tuple[pa.DataType, st.SearchStrategy]]:
    ints = st.integers(-2, 2)
    return {
        "int64": (pa.int64(), ints),
        "int32": (pa.int32(), ints),
        "float64": (pa.float64(), floats),
        "float32": (pa.float32(), floats.filter(lambda x: abs(x) < 1e30)),
        "bool": (pa.bool_(), st.booleans()),
        "string": (pa.string(), _SMALL_TEXT),
        "large_string": (pa.large_string(), _SMALL_TEXT),
        "binary": (pa.binary(), st.binary(max_size=2)),
        "list": (pa.list_(pa.int64()), st.lists(st.none() | ints, max_size=2)),
        "struct": (
            pa.struct([("x", pa.float64()), ("y", pa.string())]),
            st.fixed_dictionaries({"x": st.none() | floats, "y": st.none() | _SMALL_TEXT}),
        ),
    }


@st.composite
def _schemas(draw: st.DrawFn, floats: st.SearchStrategy[float]) -> list[tuple[str, str]]:
    kinds = _column_kinds(floats)
    n = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from("abc"), min_size=n, max_size=n, unique=True))
    return [(name, draw(st.sampled_from(sorted(kinds)))) for name in names]


@st.composite
def _tables(
    draw: st.DrawFn,
    floats: st.SearchStrategy[float],
    schema: list[tuple[str, str]] | None = None,
    rows: int | None = None,
) -> pa.Table:
    kinds = _column_kinds(floats)
    schema = schema if schema is not None else draw(_schemas(floats))
    rows = rows if rows is not None else draw(st.integers(0, 5))
    arrays = []
    for _, kind in schema:
        dtype, values = kinds[kind]
        arrays.append(
            pa.array(draw(st.lists(st.none() | values, min_size=rows, max_size=rows)), dtype)
        )
    return pa.Table.from_arrays(arrays, names=[name for name, _ in schema])


@st.composite
def _table_pairs(draw: st.DrawFn, floats: st.SearchStrategy[float]) -> tuple[pa.Table, pa.Table]:
    first = draw(_tables(floats))
    if draw(st.booleans()):  # same shape: small value domains make equal pairs common
        schema = [(f.name, _kind_of(f.type)) for f in first.schema]
        second = draw(_tables(floats, schema=schema, rows=first.num_rows))
    else:
        second = draw(_tables(floats))
    return first, second


def _kind_of(dtype: pa.DataType) -> str:
    return next(k for k, (t, _) in _column_kinds(_FLOATS_ANY).items() if t == dtype)


@st.composite
def _rechunked(draw: st.DrawFn, table: pa.Table) -> pa.Table:
    """The same rows, cut into random batches, each possibly a slice of a
    bigger table (non-zero offsets)."""
    cuts = sorted(draw(st.lists(st.integers(0, table.num_rows), max_size=3)))
    bounds = [0, *cuts, table.num_rows]
    batches = []
    for start, end in itertools.pairwise(bounds):
        pad = draw(st.integers(0, 2))
        padded = pa.concat_tables(
            [table.slice(0, pad), table.slice(start, end - start)]
        ).combine_chunks()
        batches.extend(padded.slice(min(pad, padded.num_rows - (end - start))).to_batches())
    return pa.Table.from_batches(batches, schema=table.schema)


def _float_key(x: float) -> tuple[str, bytes]:
    return ("nan", b"") if math.isnan(x) else ("f", struct.pack("<d", x))


def _logical(value: object) -> object:
    """Values compared as hash_table promises: NaNs equal, -0.0 != 0.0."""
    if isinstance(value, float):
        return _float_key(value)
    if isinstance(value, list):
        return [_logical(v) for v in value]
    if isinstance(value, dict):
        return {k: _logical(v) for k, v in value.items()}
    return value


def _logically_equal(a: pa.Table, b: pa.Table) -> bool:
    if [(f.name, f.type) for f in a.schema] != [(f.name, f.type) for f in b.schema]:
        return False
    return _logical(a.to_pylist()) == _logical(b.to_pylist())


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(_table_pairs(_FLOATS_NO_NAN))
def test_tables_hash_equal_iff_equal(pair: tuple[pa.Table, pa.Table]) -> None:
    a, b = pair
    assert (hash_table(a) == hash_table(b)) == a.equals(b)


@PROPERTY
@given(_table_pairs(_FLOATS_ANY))
def test_tables_with_nan_and_signed_zero_hash_equal_iff_logically_equal(
    pair: tuple[pa.Table, pa.Table],
) -> None:
    a, b = pair
    assert (hash_table(a) == hash_table(b)) == _logically_equal(a, b)


@PROPERTY
@given(st.data())
def test_chunking_and_offsets_never_change_the_digest(data: st.DataObject) -> None:
    table = data.draw(_tables(_FLOATS_ANY))
    other = data.draw(_rechunked(table))
    assert _logically_equal(table, other)
    assert hash_table(other) == hash_table(table)
