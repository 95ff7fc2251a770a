"""Typed artifacts: tables, metrics, JSON, files and folders over a store."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from lockgate.errors import StoreError
from lockgate.hashing import digest_bytes, hash_table, hash_tree, hash_value
from lockgate.store.artifacts import (
    ArtifactRef,
    load_json,
    load_manifest,
    load_metrics,
    load_table,
    restore_file,
    restore_tree,
    save_any,
    save_file,
    save_json,
    save_metrics,
    save_table,
    save_tree,
)
from lockgate.store.base import ObjectStore
from lockgate.store.local import LocalStore

D1, D2 = digest_bytes(b"1"), digest_bytes(b"2")


def test_ref_records_round_trip() -> None:
    same = ArtifactRef("file", D1, D1, {"size": 3})
    assert same.to_record() == {"kind": "file", "digest": D1, "meta": {"size": 3}}
    table = ArtifactRef("table", D1, D2)
    assert table.to_record() == {"kind": "table", "digest": D1, "object": D2}
    for ref in (same, table):
        assert ArtifactRef.from_record(ref.to_record()) == ref
    assert hash(same) == hash(ArtifactRef("file", D1, D1, {"size": 4}))  # meta is not hashed


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"kind": "blob", "digest": D1},
        {"kind": "file", "digest": "xyz"},
        {"kind": "table", "digest": D1, "object": "no"},
    ],
)
def test_bad_records_are_store_errors(record: dict) -> None:
    with pytest.raises(StoreError, match="not an artifact record"):
        ArtifactRef.from_record(record)


def test_table_round_trip_and_canonical_digest(store: ObjectStore) -> None:
    t = pa.table({"a": [1, 2, None], "s": ["x", None, "zz"], "f": [0.5, math.nan, -1.0]})
    ref = save_table(store, t)
    assert ref.kind == "table"
    assert ref.digest == hash_table(t)
    assert ref.digest != ref.object
    assert ref.meta == {"rows": 3, "columns": 3}
    loaded = load_table(store, ref, check_digest=True)
    assert hash_table(loaded) == ref.digest
    assert loaded.to_pylist()[0] == {"a": 1, "s": "x", "f": 0.5}
    assert store.get_bytes(ref.object)[:6] == b"ARROW1"


def test_chunked_and_polars_tables(store: ObjectStore) -> None:
    t = pa.table({"a": list(range(10)), "s": [str(i) for i in range(10)]})
    chunked = pa.Table.from_batches(t.slice(0, 3).to_batches() + t.slice(3).to_batches())
    assert save_table(store, chunked).digest == save_table(store, t).digest
    df = pl.DataFrame({"a": [1, 2], "c": pl.Series(["x", "y"], dtype=pl.Categorical)})
    ref = save_table(store, df)
    assert ref.digest == hash_table(df)
    assert load_table(store, ref).column("c").to_pylist() == ["x", "y"]


def test_table_record_pointing_at_other_data_is_caught(store: ObjectStore) -> None:
    ref = save_table(store, pa.table({"a": [1]}))
    other = save_table(store, pa.table({"a": [2]}))
    wrong = ArtifactRef("table", ref.digest, other.object)
    assert load_table(store, wrong).column("a").to_pylist() == [2]
    with pytest.raises(StoreError, match="does not hold table"):
        load_table(store, wrong, check_digest=True)


def test_loading_the_wrong_kind_is_clear(store: ObjectStore) -> None:
    ref = save_metrics(store, {"f1": 0.5})
    with pytest.raises(StoreError, match="is a metrics, not a table"):
        load_table(store, ref)


def test_metrics_round_trip(store: ObjectStore) -> None:
    metrics = {"roc_auc": 0.91, "counts": {"tp": 3, "fp": np.int64(1)}, "f1": np.float64(0.1)}
    ref = save_metrics(store, metrics)
    assert ref.kind == "metrics"
    assert (
        ref.digest
        == ref.object
        == hash_value({"roc_auc": 0.91, "counts": {"tp": 3, "fp": 1}, "f1": 0.1})
    )
    assert load_metrics(store, ref) == {"roc_auc": 0.91, "counts": {"tp": 3, "fp": 1}, "f1": 0.1}


@pytest.mark.parametrize(
    ("metrics", "error", "match"),
    [
        ({"f1": "high"}, TypeError, "f1 is a str, not a number"),
        ({"a": {"b": [1]}}, TypeError, "a.b is a list"),
        ([1, 2], TypeError, "not a dict"),
        ({"f1": math.nan}, ValueError, "JSON compliant"),
    ],
)
def test_bad_metrics(store: ObjectStore, metrics: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        save_metrics(store, metrics)  # type: ignore[arg-type]


def test_json_round_trip(store: ObjectStore) -> None:
    report = {"columns": [{"name": "age", "drifted": True, "test": "ks"}], "share_drifted": 0.5}
    ref = save_json(store, report)
    assert ref.kind == "json" and ref.digest == hash_value(report)
    assert load_json(store, ref) == report


def test_save_any_picks_the_kind(store: ObjectStore) -> None:
    from sklearn.dummy import DummyClassifier

    assert save_any(store, pa.table({"a": [1]})).kind == "table"
    assert save_any(store, pl.DataFrame({"a": [1]})).kind == "table"
    assert save_any(store, {"a": 1, "b": {"c": 2.0}}).kind == "metrics"
    assert save_any(store, {"a": "text"}).kind == "json"
    assert save_any(store, [1, 2]).kind == "json"
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    assert save_any(store, model).kind == "model"


def test_file_round_trip(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(b"\x00" * 1000)
    ref = save_file(store, src)
    assert ref == ArtifactRef(
        "file", digest_bytes(b"\x00" * 1000), digest_bytes(b"\x00" * 1000), {"size": 1000}
    )
    out = restore_file(store, ref, tmp_path / "restored" / "model.bin")
    assert out.read_bytes() == b"\x00" * 1000


def _folder(root: Path) -> Path:
    (root / "parts" / "x").mkdir(parents=True)
    (root / "a.csv").write_text("1,2\n")
    (root / "parts" / "p0.parquet").write_bytes(b"PAR1....")
    (root / "parts" / "x" / "empty").write_bytes(b"")
    (root / "parts" / "dup").write_text("1,2\n")
    return root


def test_tree_round_trip(store: ObjectStore, tmp_path: Path) -> None:
    src = _folder(tmp_path / "src")
    ref = save_tree(store, src)
    digest, manifest = hash_tree(src)
    assert ref.kind == "tree" and ref.digest == ref.object == digest
    assert ref.meta == {"files": 4, "size": 16}
    assert load_manifest(store, ref) == manifest
    dest = restore_tree(store, ref, tmp_path / "dest")
    assert hash_tree(dest)[0] == digest


def test_restore_tree_prune(store: ObjectStore, tmp_path: Path) -> None:
    ref = save_tree(store, _folder(tmp_path / "src"))
    dest = tmp_path / "dest"
    (dest / ".git").mkdir(parents=True)
    (dest / ".git" / "keep").write_text("x")
    (dest / "stale.txt").write_text("old output")
    restore_tree(store, ref, dest)
    assert (dest / "stale.txt").exists()
    restore_tree(store, ref, dest, prune=True)
    assert not (dest / "stale.txt").exists()
    assert (dest / ".git" / "keep").exists()
    assert hash_tree(dest)[0] == ref.digest


def test_manifest_with_unsafe_paths_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    from lockgate.hashing import canonical_json

    manifest = [{"path": "../escape", "hash": D1, "size": 1}]
    digest = store.put_bytes(canonical_json(manifest))
    with pytest.raises(StoreError, match="unsafe path"):
        restore_tree(store, ArtifactRef("tree", digest, digest), tmp_path / "dest")


def test_tree_objects_are_shared_and_deduplicated(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "cache")
    save_tree(store, _folder(tmp_path / "src"))
    # 3 distinct file contents (a.csv == parts/dup) + 1 manifest
    assert len(list(store.digests())) == 4


def test_importing_the_store_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lockgate.store, lockgate.store.artifacts, lockgate.store.remote\n"
        "heavy = ('pyarrow', 'numpy', 'polars', 'skops', 'sklearn')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
