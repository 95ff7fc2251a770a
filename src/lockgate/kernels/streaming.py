"""Drift over data larger than memory: Parquet (or Arrow IPC) read in batches,
per-batch statistics merged, the same tests as ``drift_table``.

``streaming_drift(reference_path, current_path)`` scans each side once with
``pyarrow.dataset`` (at most ``batch_rows`` rows per column in memory, one
batch read ahead) and keeps per column only:

* row, missing (null/NaN/inf) and Arrow-null counts, min, max, and the
  mean and sum of squares merged with Chan's parallel formula: exact (up to
  float rounding) for the row counts Evidently's rule reads and for the
  population std that normalizes Wasserstein;
* value counts, exact, while a numeric column has at most
  ``COUNTS_LIMIT`` (10,000) distinct values; past that only "more than
  10,000" is kept, which cannot change the test choice (the rule's
  thresholds are 2, 5, 10 and 20 distinct values). String and dictionary
  columns always keep exact counts (their categories must fit in memory);
* a mergeable quantile sketch of the finite values (``QuantileSketch``).

The test is chosen by Evidently's default rule exactly as ``drift_table``
chooses it (``selection.py``), from those exact counts.

Exactness, test by test:

* chisquare, z, and jensenshannon / psi over category counts: **exact**
  (counts are merged exactly).
* jensenshannon / psi over a Sturges histogram (numeric columns with more
  than 20 distinct reference values): **exact**; the edges need the pooled
  min, max and size, known only after the first scan, so these columns (and
  only these) are read a second time to count the bins.
* ks and wasserstein: **approximate** once a batch holds more than
  ``sketch_size`` finite values (smaller batches are kept whole, and then
  the result equals ``drift_table``'s to the last bit). A sorted batch of
  ``m`` values is cut into ``sketch_size`` blocks of consecutive values;
  each block becomes one point (its median) weighted by its size. Points of
  all batches are merged (and, past ``MAX_POINTS``, re-blocked the same way).
  Every step records exact error bounds:

  - ``rank_error``: at any x the sketch's count of values <= x is off by at
    most the largest block of each step, summed over steps (about
    ``n / sketch_size`` plus one per batch). Hence
    ``|KS - KS_exact| <= rank_error_ref / n_ref + rank_error_cur / n_cur``;
    with the default 4096-point blocks that is below ``2 / 4096 + batches / n``
    (~5e-4). The p-value is computed from the sketched statistic with the
    exact sizes (SciPy's rules).
  - ``w1_error``: the exact sum of ``|x - its point|`` over every value, i.e.
    ``n`` times the Wasserstein distance between the data and its sketch.
    By the triangle inequality ``|W - W_exact| <= w1_error_ref / n_ref +
    w1_error_cur / n_cur``: about one block's spread, typically 1e-4 of the
    std or less for smooth data.

  Both bounds are returned per column (``ks_error_bound``,
  ``wasserstein_error_bound``, 0 when exact) by ``streaming_drift(...,
  with_bounds=True)``. A verdict can differ from the in-memory one only
  when the statistic lies within its bound of the threshold.

Memory: O(columns x (batch_rows + batches x sketch_size + distinct categories)),
independent of the row count up to the ``MAX_POINTS`` re-blocking cap.

Must not: import from the rest of lockgate (kernels are the bottom layer).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lockgate.kernels.columns import category_counts, finite_values, run_groups, sort_finite, storage_of
from lockgate.kernels.drift import (
    align_counts,
    chi2_counts,
    histogram_counts,
    js_distance,
    ks_from_sorted,
    n_distinct_sorted,
    psi_binned,
    sturges_edges,
    wasserstein_from_sorted,
    z_test_counts,
)
from lockgate.kernels.ks_pvalue import ks_pvalue_auto
from lockgate.kernels.selection import (
    Kind,
    choose_method,
    column_choices,
    column_kind,
    histogrammed,
    pooled_unique,
    threshold_for,
)
from lockgate.kernels.table import DriftResult, result_row

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds

DEFAULT_BATCH_ROWS = 250_000
DEFAULT_SKETCH_SIZE = 4096
MAX_POINTS = 1 << 18
"""Points a sketch holds before it is re-blocked to ``MAX_POINTS // 4`` (4 MiB per column)."""
COUNTS_LIMIT = 10_000
"""Distinct numeric values counted exactly; beyond, only 'more than this' is kept."""


# --------------------------------------------------------------------------- the sketch


@dataclass
class QuantileSketch:
    """Weighted points summarizing a sample, with exact error bounds (see module docstring).

    ``add_sorted`` summarizes one sorted batch; ``merge`` joins two sketches of
    disjoint data. ``exact`` while every point is one value of weight 1.
    """

    size: int = DEFAULT_SKETCH_SIZE
    n: int = 0
    rank_error: float = 0.0
    w1_error: float = 0.0
    _values: list[np.ndarray] = field(default_factory=list)
    _weights: list[np.ndarray] = field(default_factory=list)
    _points: int = 0

    @property
    def exact(self) -> bool:
        return self.rank_error == 0

    def add_sorted(self, values: np.ndarray) -> None:
        m = len(values)
        if m == 0:
            return
        self.n += m
        if m <= self.size:
            self._append(values.copy(), np.ones(m, dtype=np.float64))
            return
        bounds = np.linspace(0, m, self.size + 1).round().astype(np.int64)
        starts, ends = bounds[:-1], bounds[1:]
        sizes = ends - starts
        reps = values[(starts + ends - 1) // 2]
        self.w1_error += float(np.abs(values - np.repeat(reps, sizes)).sum())
        self.rank_error += float(sizes.max())
        self._append(reps, sizes.astype(np.float64))

    def merge(self, other: QuantileSketch) -> None:
        self.n += other.n
        self.rank_error += other.rank_error
        self.w1_error += other.w1_error
        values, weights = other.points()
        self._append(values, weights)

    def _append(self, values: np.ndarray, weights: np.ndarray) -> None:
        self._values.append(values)
        self._weights.append(weights)
        self._points += len(values)
        if self._points > MAX_POINTS:
            self._reblock(MAX_POINTS // 4)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted point values and their weights (summing to ``n``)."""
        if len(self._values) != 1:
            values = np.concatenate(self._values) if self._values else np.zeros(0)
            weights = np.concatenate(self._weights) if self._weights else np.zeros(0)
            order = np.argsort(values, kind="stable")
            self._values, self._weights = [values[order]], [weights[order]]
        return self._values[0], self._weights[0]

    def _reblock(self, blocks: int) -> None:
        values, weights = self.points()
        cum = np.cumsum(weights)
        total = cum[-1]
        block = np.minimum(((cum - weights) * blocks / total).astype(np.int64), blocks - 1)
        first = np.flatnonzero(np.concatenate(([True], block[1:] != block[:-1])))
        block_weight = np.add.reduceat(weights, first)
        before = np.concatenate(([0.0], cum[first[1:] - 1]))
        rep_index = np.searchsorted(cum, before + block_weight / 2, side="left")
        reps = values[rep_index]
        sizes = np.diff(np.append(first, len(values)))
        self.w1_error += float((weights * np.abs(values - np.repeat(reps, sizes))).sum())
        self.rank_error += float(block_weight.max())
        self._values, self._weights, self._points = [reps], [block_weight], len(reps)


def _cdfs(a: QuantileSketch, b: QuantileSketch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both sketches' CDFs at every distinct point of either."""
    av, aw = a.points()
    bv, bw = b.points()
    grid = np.unique(np.concatenate([av, bv]))
    fa = np.concatenate(([0.0], np.cumsum(aw)))[np.searchsorted(av, grid, side="right")] / a.n
    fb = np.concatenate(([0.0], np.cumsum(bw)))[np.searchsorted(bv, grid, side="right")] / b.n
    return grid, fa, fb


def sketch_ks(a: QuantileSketch, b: QuantileSketch) -> tuple[float, float]:
    """(KS statistic, p-value) from two sketches; equals ``ks_2samp`` when both are exact."""
    if a.exact and b.exact:
        return ks_from_sorted(a.points()[0], b.points()[0], "auto")
    _, fa, fb = _cdfs(a, b)
    return ks_pvalue_auto(a.n, b.n, float(np.max(np.abs(fa - fb))))


def sketch_wasserstein(a: QuantileSketch, b: QuantileSketch) -> float:
    """First Wasserstein distance from two sketches; exact when both are."""
    if a.exact and b.exact:
        return wasserstein_from_sorted(a.points()[0], b.points()[0])
    grid, fa, fb = _cdfs(a, b)
    return float(np.sum(np.abs(fa - fb)[:-1] * np.diff(grid)))


# --------------------------------------------------------------------------- one column


@dataclass
class ColumnStats:
    """Everything kept about one column of one side, merged batch by batch."""

    name: str
    arrow_type: Any
    storage: str  # "num" | "cat"
    sketch_size: int = DEFAULT_SKETCH_SIZE
    n_rows: int = 0
    n_missing: int = 0
    n_null: int = 0
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    keys: np.ndarray | None = None
    counts: np.ndarray | None = None
    many: bool = False  # more than COUNTS_LIMIT distinct numeric values
    sketch: QuantileSketch | None = None
    histogram: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.storage == "num":
            self.sketch = QuantileSketch(self.sketch_size)
            self.keys = np.zeros(0, dtype=np.float64)
            self.counts = np.zeros(0, dtype=np.int64)
        else:
            self.keys = np.zeros(0, dtype=object)
            self.counts = np.zeros(0, dtype=np.int64)

    @property
    def n(self) -> int:
        return self.n_rows - self.n_missing

    @property
    def n_unique(self) -> int:
        return COUNTS_LIMIT + 1 if self.many else len(self.keys)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else float("nan")

    def add(self, column: pa.ChunkedArray) -> None:
        self.n_rows += len(column)
        self.n_null += column.null_count
        if self.storage == "cat":
            keys, counts, n_missing = category_counts(column)
            self.n_missing += n_missing
            self._merge_counts(keys, counts)
            return
        values, n_missing = finite_values(column)
        self.n_missing += n_missing
        if len(values) == 0:
            return
        ordered = sort_finite(values)
        self._moments(ordered)
        assert self.sketch is not None
        self.sketch.add_sorted(ordered)
        if not self.many:
            if n_distinct_sorted(ordered) > COUNTS_LIMIT:
                self._drop_counts()
            else:
                self._merge_counts(*run_groups(ordered))

    def _moments(self, values: np.ndarray) -> None:
        m = len(values)
        mean = float(values.mean())
        m2 = float(np.square(values - mean).sum())
        delta = mean - self.mean
        total = self.count + m
        self.mean += delta * m / total
        self.m2 += m2 + delta * delta * self.count * m / total
        self.count = total
        self.lo = min(self.lo, float(values[0]))
        self.hi = max(self.hi, float(values[-1]))

    def _merge_counts(self, keys: np.ndarray, counts: np.ndarray) -> None:
        assert self.keys is not None and self.counts is not None
        if self.storage == "cat":
            merged: dict[Any, int] = dict(zip(self.keys.tolist(), self.counts.tolist()))
            for key, c in zip(keys.tolist(), counts.tolist()):
                merged[key] = merged.get(key, 0) + c
            pairs = sorted(merged.items())
            self.keys = np.array([p[0] for p in pairs], dtype=object)
            self.counts = np.array([p[1] for p in pairs], dtype=np.int64)
            return
        union, inverse = np.unique(np.concatenate([self.keys, keys]), return_inverse=True)
        if len(union) > COUNTS_LIMIT:
            self._drop_counts()
            return
        self.counts = np.bincount(inverse, weights=np.concatenate([self.counts, counts]),
                                  minlength=len(union)).astype(np.int64)
        self.keys = union

    def _drop_counts(self) -> None:
        self.many = True
        self.keys = self.counts = None

    def kind(self) -> Kind:
        """Evidently's ``infer_column_type`` of the whole column (``selection.column_kind``)."""
        kind = column_kind(self.arrow_type, self.n_null, self.n_unique)
        assert kind is not None  # _columns admits only types drift can test
        return kind


# --------------------------------------------------------------------------- reading


def dataset_of(source: Any, fmt: str | None = None) -> ds.Dataset:
    """A pyarrow Dataset from a Parquet/IPC file, a folder of them, or a Dataset;
    the format comes from the suffix (Parquet by default) unless ``fmt`` names it."""
    import pyarrow.dataset as ds

    if isinstance(source, ds.Dataset):
        return source
    path = Path(source)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    suffix = path.suffix.lower()
    fmt = fmt or ("ipc" if suffix in (".arrow", ".ipc", ".feather") else "parquet")
    try:
        return ds.dataset(str(path), format=fmt)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise ValueError(f"{path}: cannot read as {fmt}: {exc}") from exc


def _batches(dataset: ds.Dataset, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    import pyarrow.dataset as ds

    # No read-ahead and no whole-row-group pre-buffering: with the defaults the
    # scanner holds several row groups at once (measured: 785 MiB peak RSS to
    # scan 5M x 10 float64 in 1M-row groups, 270 MiB like this with 250k batches).
    options = {}
    if isinstance(dataset, ds.FileSystemDataset) and isinstance(dataset.format, ds.ParquetFileFormat):
        options["fragment_scan_options"] = ds.ParquetFragmentScanOptions(pre_buffer=False)
    yield from dataset.to_batches(
        columns=columns, batch_size=batch_rows, batch_readahead=0, fragment_readahead=1,
        use_threads=True, **options,
    )


def _scan(dataset: ds.Dataset, stats: dict[str, ColumnStats], batch_rows: int,
          pool: ThreadPoolExecutor) -> None:
    import pyarrow as pa

    names = list(stats)
    for batch in _batches(dataset, names, batch_rows):
        columns = {name: pa.chunked_array([batch.column(name)]) for name in names}
        list(pool.map(lambda n: stats[n].add(columns[n]), names))


def _histograms(dataset: ds.Dataset, edges: dict[str, np.ndarray], batch_rows: int,
                pool: ThreadPoolExecutor) -> dict[str, np.ndarray]:
    import pyarrow as pa

    counts = {name: np.zeros(len(e) - 1, dtype=np.int64) for name, e in edges.items()}

    def one(name: str, column: pa.ChunkedArray) -> None:
        values, _ = finite_values(column)
        counts[name] += histogram_counts(values, edges[name])

    names = list(edges)
    for batch in _batches(dataset, names, batch_rows):
        list(pool.map(lambda n: one(n, pa.chunked_array([batch.column(n)])), names))
    return counts


# --------------------------------------------------------------------------- the table


def _needs_histogram(method: str, ref: ColumnStats, cur: ColumnStats) -> bool:
    return method in ("psi", "jensenshannon") and histogrammed(cur.kind(), ref.n_unique)


def _method(name: str, ref: ColumnStats, cur: ColumnStats, choice: Mapping[str, Any]) -> str:
    def keys() -> tuple[np.ndarray, np.ndarray]:
        assert ref.keys is not None and cur.keys is not None  # asked only of few distinct values
        return ref.keys, cur.keys

    return choose_method(
        name, choice, cur.kind(), ref.n, cur.n, lambda: pooled_unique(ref.n_unique, cur.n_unique, keys)
    )


def _aligned(name: str, method: str, ref: ColumnStats, cur: ColumnStats) -> tuple[np.ndarray, np.ndarray]:
    if ref.many or cur.many:
        raise ValueError(
            f"column {name!r}: {method} needs exact value counts, but it has more than "
            f"{COUNTS_LIMIT} distinct values; choose ks, wasserstein, psi or jensenshannon"
        )
    assert ref.keys is not None and ref.counts is not None and cur.keys is not None and cur.counts is not None
    _, r, c = align_counts(ref.keys, ref.counts, cur.keys, cur.counts)
    return r, c


def _statistic(name: str, method: str, ref: ColumnStats, cur: ColumnStats) -> tuple[float, float | None, float]:
    """(statistic, p-value, error bound of the statistic)."""
    if method == "ks":
        assert ref.sketch is not None and cur.sketch is not None
        stat, p = sketch_ks(ref.sketch, cur.sketch)
        return stat, p, ref.sketch.rank_error / ref.sketch.n + cur.sketch.rank_error / cur.sketch.n
    if method == "wasserstein":
        assert ref.sketch is not None and cur.sketch is not None
        norm = max(ref.std, 0.001)
        bound = ref.sketch.w1_error / ref.sketch.n + cur.sketch.w1_error / cur.sketch.n
        return sketch_wasserstein(ref.sketch, cur.sketch) / norm, None, bound / norm
    if method == "chisquare":
        return (*chi2_counts(*_aligned(name, method, ref, cur)), 0.0)
    if method == "z":
        return (*z_test_counts(*_aligned(name, method, ref, cur)), 0.0)
    if ref.histogram is not None and cur.histogram is not None:
        r, c = ref.histogram / ref.n, cur.histogram / cur.n
    else:
        r, c = _aligned(name, method, ref, cur)
        r, c = r / ref.n, c / cur.n
    if method == "jensenshannon":
        return js_distance(r, c), None, 0.0
    return psi_binned(r, c), None, 0.0


def _columns(ref_schema: pa.Schema, cur_schema: pa.Schema, columns: list[str] | None) -> list[str]:
    if columns is None:
        names = []
        for f in cur_schema:
            if storage_of(f.type) is None:
                continue
            if f.name not in ref_schema.names:
                raise ValueError(f"column {f.name!r} is in the current data but not in the reference")
            names.append(f.name)
    else:
        names = list(columns)
    for name in names:
        for side, schema in (("reference", ref_schema), ("current", cur_schema)):
            if name not in schema.names:
                raise ValueError(f"{side} data has no column {name!r}")
        ref_storage = storage_of(ref_schema.field(name).type)
        cur_storage = storage_of(cur_schema.field(name).type)
        if ref_storage is None:
            raise ValueError(f"column {name!r} has type {ref_schema.field(name).type}, which drift cannot test")
        if cur_storage != ref_storage:
            raise ValueError(
                f"column {name!r} is {cur_schema.field(name).type} in current data but was "
                f"{'numeric' if ref_storage == 'num' else 'categorical'} in the reference"
            )
    if not names:
        raise ValueError("no columns to compare: neither side has numeric, boolean or string columns in common")
    return names


def streaming_drift(
    reference_path: Any,
    current_path: Any,
    columns: Iterable[str] | None = None,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    sketch_size: int = DEFAULT_SKETCH_SIZE,
    method: str | None = None,
    threshold: float | None = None,
    per_column: Mapping[str, Mapping[str, Any]] | None = None,
    drift_share: float = 0.5,
    with_bounds: bool = False,
) -> DriftResult:
    """``drift_table`` over Parquet/IPC files (or folders, or pyarrow Datasets) read in
    batches of ``batch_rows``; memory stays bounded (see the module docstring for
    what is exact and the error bounds of KS and Wasserstein).

    The options mean what they mean for ``drift_table``. ``with_bounds`` adds
    the column ``error_bound``: how far the statistic can be from the
    in-memory one (0 when exact).
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, got {batch_rows}")
    if sketch_size < 2:
        raise ValueError(f"sketch_size must be at least 2, got {sketch_size}")
    ref_ds, cur_ds = dataset_of(reference_path), dataset_of(current_path)
    names = _columns(ref_ds.schema, cur_ds.schema, None if columns is None else list(columns))
    choices = column_choices(names, method, threshold, per_column)

    def stats_for(schema: pa.Schema) -> dict[str, ColumnStats]:
        return {n: ColumnStats(n, schema.field(n).type, storage_of(schema.field(n).type) or "num",
                               sketch_size) for n in names}

    ref, cur = stats_for(ref_ds.schema), stats_for(cur_ds.schema)
    with ThreadPoolExecutor(max(1, min(len(names), os.cpu_count() or 1))) as pool:
        _scan(ref_ds, ref, batch_rows, pool)
        _scan(cur_ds, cur, batch_rows, pool)
        methods = {n: _method(n, ref[n], cur[n], choices[n]) for n in names}
        edges = {
            n: sturges_edges(min(ref[n].lo, cur[n].lo), max(ref[n].hi, cur[n].hi), ref[n].n + cur[n].n)
            for n in names if _needs_histogram(methods[n], ref[n], cur[n])
        }
        if edges:
            for side, dataset in ((ref, ref_ds), (cur, cur_ds)):
                for n, counts in _histograms(dataset, edges, batch_rows, pool).items():
                    side[n].histogram = counts
    rows = []
    for name in names:
        m, current = methods[name], cur[name]
        thr = threshold_for(m, choices[name])
        statistic, p_value, bound = _statistic(name, m, ref[name], current)
        row = result_row(name, current.kind(), m, statistic, p_value, thr, current.n_missing, current.n_rows)
        if with_bounds:
            row["error_bound"] = float(bound)
        rows.append(row)
    return DriftResult.from_rows(rows, drift_share, {"error_bound": "Float64"} if with_bounds else None)
