"""Streaming drift: equal to ``drift_table`` where it claims exactness, within its
stated bounds where it sketches, on Parquet files read in many small batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lockgate.kernels import drift_table
from lockgate.kernels import drift as _d
from lockgate.kernels.streaming import QuantileSketch, streaming_drift

COLUMNS = ["a", "b", "c", "d", "s", "f", "t", "i"]


def frame(rng: np.random.Generator, n: int, shift: float) -> pa.Table:
    return pa.table({
        "a": rng.normal(shift, 1, n),
        "b": rng.gamma(2.0, 1.0 + shift, n),
        "c": rng.integers(0, 4, n),  # few values: categorical tests
        "d": rng.integers(0, 30, n),  # 30 values: histogram for psi/js, counts kept
        "s": pa.array(rng.choice(["x", "y", "z"], n)),
        "f": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 1, n))),
        "t": rng.random(n) < 0.3 + shift / 5,
        "i": pa.array(rng.integers(0, 8, n), mask=rng.random(n) < 0.05),  # int with nulls: numeric
    })


@pytest.fixture(params=[800, 4000], ids=["small-reference", "large-reference"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[pa.Table, pa.Table, Path, Path]:
    rng = np.random.default_rng(7)
    ref, cur = frame(rng, request.param, 0.0), frame(rng, 3000, 0.25)
    ref_path, cur_path = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    pq.write_table(ref, ref_path, row_group_size=700)
    pq.write_table(cur, cur_path, row_group_size=700)
    return ref, cur, ref_path, cur_path


def _rows(result) -> list[dict]:
    return result.table.to_dicts()


def test_equals_drift_table_when_batches_fit_the_sketch(files) -> None:
    ref, cur, ref_path, cur_path = files
    exact = drift_table(ref, cur)
    streamed = streaming_drift(ref_path, cur_path, batch_rows=500)  # 6+ batches per side
    for got, want in zip(_rows(streamed), _rows(exact), strict=True):
        assert got["column"] == want["column"] and got["test"] == want["test"]
        assert got["kind"] == want["kind"] and got["drifted"] == want["drifted"]
        assert got["statistic"] == pytest.approx(want["statistic"], rel=1e-9, abs=1e-12)
        if want["p_value"] is None:  # a distance test has no p-value
            assert got["p_value"] is None
        else:
            assert got["p_value"] == pytest.approx(want["p_value"], rel=1e-9, abs=1e-12)
        assert got["missing_share"] == want["missing_share"]
    assert {r["test"] for r in _rows(exact)} >= ({"ks", "chisquare", "z"} if ref.num_rows <= 1000
                                                 else {"wasserstein", "jensenshannon"})
    assert streamed.dataset_drift == exact.dataset_drift


@pytest.mark.parametrize("method", ["psi", "jensenshannon", "ks", "wasserstein"])
def test_explicit_methods_match(files, method: str) -> None:
    ref, cur, ref_path, cur_path = files
    columns = ["a", "b", "d", "f"]
    exact = drift_table(ref, cur, columns, method=method)
    streamed = streaming_drift(ref_path, cur_path, columns, method=method, batch_rows=900)
    for got, want in zip(_rows(streamed), _rows(exact), strict=True):
        assert got["statistic"] == pytest.approx(want["statistic"], rel=1e-9, abs=1e-12)


def test_sketched_statistics_stay_within_their_bounds(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 60_000
    ref = pa.table({"a": rng.normal(0, 1, n), "b": rng.lognormal(0, 1, n)})
    cur = pa.table({"a": rng.normal(0.05, 1, n), "b": rng.lognormal(0.3, 1, n)})
    pq.write_table(ref, tmp_path / "ref.parquet", row_group_size=10_000)
    pq.write_table(cur, tmp_path / "cur.parquet", row_group_size=10_000)
    for method in ("ks", "wasserstein"):
        exact = _rows(drift_table(ref, cur, method=method))
        got = _rows(streaming_drift(tmp_path / "ref.parquet", tmp_path / "cur.parquet", method=method,
                                    batch_rows=7000, sketch_size=256, with_bounds=True))
        for g, e in zip(got, exact, strict=True):
            assert g["error_bound"] > 0
            assert abs(g["statistic"] - e["statistic"]) <= g["error_bound"]
            assert g["drifted"] == e["drifted"]  # both columns are far from their thresholds
    # default rule on a large reference: wasserstein, bound small against the 0.1 threshold
    default = _rows(streaming_drift(tmp_path / "ref.parquet", tmp_path / "cur.parquet",
                                    batch_rows=7000, with_bounds=True))
    assert [r["test"] for r in default] == ["wasserstein", "wasserstein"]
    assert max(r["error_bound"] for r in default) < 0.01


def test_sketch_bounds_hold_through_merge_and_reblocking(monkeypatch: pytest.MonkeyPatch) -> None:
    import lockgate.kernels.streaming as streaming

    monkeypatch.setattr(streaming, "MAX_POINTS", 2000)  # force re-blocking
    rng = np.random.default_rng(11)
    a_values, b_values = rng.standard_t(3, 40_000), rng.standard_t(3, 30_000) + 0.1
    a, b = QuantileSketch(128), QuantileSketch(128)
    for chunk in np.array_split(a_values, 17):
        a.add_sorted(np.sort(chunk))
    part = QuantileSketch(128)
    for chunk in np.array_split(b_values, 5):
        part.add_sorted(np.sort(chunk))
    b.merge(part)
    assert a.n == 40_000 and b.n == 30_000
    assert a.points()[1].sum() == pytest.approx(a.n)
    ks_exact, _ = _d.ks_from_sorted(np.sort(a_values), np.sort(b_values))
    w_exact = _d.wasserstein_from_sorted(np.sort(a_values), np.sort(b_values))
    ks, _ = streaming.sketch_ks(a, b)
    assert abs(ks - ks_exact) <= a.rank_error / a.n + b.rank_error / b.n
    assert abs(streaming.sketch_wasserstein(a, b) - w_exact) <= a.w1_error / a.n + b.w1_error / b.n


def test_folders_of_files_and_arrow_ipc(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    ref, cur = frame(rng, 2000, 0.0), frame(rng, 2000, 0.3)
    (tmp_path / "ref").mkdir()
    for i, part in enumerate(ref.to_batches(max_chunksize=600)):
        pq.write_table(pa.Table.from_batches([part]), tmp_path / "ref" / f"part-{i}.parquet")
    with pa.ipc.new_file(tmp_path / "cur.arrow", cur.schema) as writer:
        writer.write_table(cur, max_chunksize=500)
    exact = _rows(drift_table(ref, cur))
    got = _rows(streaming_drift(tmp_path / "ref", tmp_path / "cur.arrow", batch_rows=400))
    assert [r["statistic"] for r in got] == pytest.approx([r["statistic"] for r in exact], rel=1e-9)


def test_errors_name_the_column(files, tmp_path: Path) -> None:
    _, _, ref_path, cur_path = files
    with pytest.raises(ValueError, match="reference data has no column 'nope'"):
        streaming_drift(ref_path, cur_path, ["nope"])
    with pytest.raises(ValueError, match="does not exist"):
        streaming_drift(tmp_path / "missing.parquet", cur_path)
    pq.write_table(pa.table({"a": pa.array(["x", "y"])}), tmp_path / "strings.parquet")
    with pytest.raises(ValueError, match="column 'a' is string in current data but was numeric"):
        streaming_drift(ref_path, tmp_path / "strings.parquet", ["a"])
    with pytest.raises(ValueError, match="method 'chisquare' applies to categorical columns"):
        streaming_drift(ref_path, cur_path, ["a"], method="chisquare")


def test_the_drift_step_streams_its_inputs(files, tmp_path: Path) -> None:
    from lockgate.steps.base import StepContext
    from lockgate.steps.builtins import drift
    from lockgate.steps.options import DriftOptions

    ref, cur, ref_path, cur_path = files
    ctx = StepContext(stage=None, root=ref_path.parent,  # type: ignore[arg-type]
                      input_records={"reference": {"path": ref_path.name}, "current": {"path": cur_path.name}})
    streamed = drift.run({}, DriftOptions(streaming=True, batch_rows=1000, exclude=["i"]), ctx)
    in_memory = drift.run({"reference": ref, "current": cur}, DriftOptions(exclude=["i"]), ctx)
    assert streamed["n_columns"] == in_memory["n_columns"] == len(COLUMNS) - 1
    assert streamed["n_drifted"] == in_memory["n_drifted"]
    assert [c["test"] for c in streamed["columns"]] == [c["test"] for c in in_memory["columns"]]


def test_the_drift_step_streams_table_artifacts_from_the_cache(files, tmp_path: Path) -> None:
    from lockgate.steps.base import StepContext
    from lockgate.steps.builtins import drift
    from lockgate.steps.options import DriftOptions
    from lockgate.store.artifacts import save_table
    from lockgate.store.local import LocalStore

    ref, cur, _, _ = files
    store = LocalStore(tmp_path / ".lockgate" / "cache")
    records = {"reference": save_table(store, ref).to_record(), "current": save_table(store, cur).to_record()}
    files = {arg: store.path_of(record["object"]) for arg, record in records.items()}  # as the worker hands them
    ctx = StepContext(stage=None, root=tmp_path, input_records=records, object_files=files)  # type: ignore[arg-type]
    streamed = drift.run({}, DriftOptions(streaming=True, batch_rows=700), ctx)
    in_memory = drift.run({"reference": ref, "current": cur}, DriftOptions(), ctx)
    assert [c["statistic"] for c in streamed["columns"]] == pytest.approx(
        [c["statistic"] for c in in_memory["columns"]], rel=1e-9)
