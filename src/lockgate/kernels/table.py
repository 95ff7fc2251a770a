"""Whole-table drift with Evidently's default test choice, and the reusable reference profile.

Owns two things: running the columns concurrently, each with the test
Evidently 0.7.23's default rule gives it (so the same columns are flagged on
the same data), and ``Profile``, the reference side of every comparison
computed once and stored as an Arrow table. The statistics themselves live in
``drift.py``.

``drift_table(reference, current)`` is ``drift_table(profile(reference), current)``:
both paths go through the same ``Profile``, so their results are identical by
construction, and a cached profile makes a new batch cost only that batch.

Which test a column gets (Evidently's rule, with the Evidently sources it
mirrors) is ``selection.py``'s; reading Arrow columns is ``columns.py``'s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from lockgate.kernels import drift as _d
from lockgate.kernels.columns import category_counts, finite_values, run_groups, sort_finite, storage_of
from lockgate.kernels.selection import (
    DISTINCT_CAP,
    Kind,
    choose_method,
    column_choices,
    column_kind,
    drifted,
    histogrammed,
    pooled_unique,
    threshold_for,
)

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

# Profiles keep value counts of numeric columns with at most this many distinct
# values: enough for every categorical test without touching the sorted values.
_STORED_COUNTS_LIMIT = 10_000
PROFILE_FORMAT = "lockgate.drift-profile/1"


# --------------------------------------------------------------------------- Arrow access


def _arrow_table(frame: Any) -> pa.Table:
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return frame
    if hasattr(frame, "to_arrow"):  # polars.DataFrame
        return frame.to_arrow()
    raise TypeError(
        f"expected a pyarrow.Table, a polars.DataFrame or a Profile, got {type(frame).__name__}"
    )


# --------------------------------------------------------------------------- the profile


@dataclass(frozen=True, eq=False)
class ColumnProfile:
    """What comparisons against one reference column need, computed once.

    ``storage == "num"``: ``values`` holds every finite value, sorted (exact,
    so results equal the unprofiled path), with ``std`` (population, in the
    original order, as Evidently's ``np.std``) and, for columns with few
    distinct values, ``keys``/``counts``. ``storage == "cat"``: ``keys`` are
    the sorted categories and ``counts`` their counts.
    """

    name: str
    storage: Literal["num", "cat"]
    arrow_type: str
    n_rows: int
    n_missing: int
    n_unique: int
    std: float | None = None
    values: np.ndarray | None = None
    keys: np.ndarray | None = None
    counts: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Non-missing values: the size Evidently's rule and tests see."""
        return self.n_rows - self.n_missing

    def value_counts(self) -> tuple[np.ndarray, np.ndarray]:
        if self.keys is not None and self.counts is not None:
            return self.keys, self.counts
        assert self.values is not None
        return run_groups(self.values)


def _profile_column(name: str, column: pa.ChunkedArray) -> ColumnProfile | None:
    storage = storage_of(column.type)
    if storage is None:
        return None
    if storage == "cat":
        keys, counts, n_missing = category_counts(column)
        return ColumnProfile(name, "cat", str(column.type), len(column), n_missing, len(keys), keys=keys, counts=counts)
    values, n_missing = finite_values(column)
    std = float(np.std(values)) if len(values) else float("nan")
    ordered = sort_finite(values)
    n_unique = _d.n_distinct_sorted(ordered)
    keys = counts = None
    if n_unique <= _STORED_COUNTS_LIMIT:
        keys, counts = run_groups(ordered)
    return ColumnProfile(
        name, "num", str(column.type), len(column), n_missing, n_unique, std, ordered, keys, counts
    )


@dataclass(frozen=True, eq=False)
class Profile:
    """A reference dataset reduced to what drift checks against it need (see ``profile``)."""

    columns: dict[str, ColumnProfile] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ColumnProfile:
        return self.columns[name]

    def to_arrow(self) -> pa.Table:
        """One row per column; lists hold the sorted values / categories. Cacheable as Parquet/IPC."""
        import pyarrow as pa

        cols = list(self.columns.values())

        def floats(get: Any) -> pa.Array:
            return pa.array([None if get(c) is None else get(c) for c in cols], type=pa.large_list(pa.float64()))

        data = {
            "column": pa.array([c.name for c in cols], type=pa.string()),
            "storage": pa.array([c.storage for c in cols], type=pa.string()),
            "arrow_type": pa.array([c.arrow_type for c in cols], type=pa.string()),
            "n_rows": pa.array([c.n_rows for c in cols], type=pa.int64()),
            "n_missing": pa.array([c.n_missing for c in cols], type=pa.int64()),
            "n_unique": pa.array([c.n_unique for c in cols], type=pa.int64()),
            "std": pa.array([c.std for c in cols], type=pa.float64()),
            "values": floats(lambda c: c.values),
            "num_keys": floats(lambda c: c.keys if c.storage == "num" else None),
            "cat_keys": pa.array(
                [c.keys.tolist() if c.storage == "cat" else None for c in cols], type=pa.large_list(pa.large_string())
            ),
            "counts": pa.array([c.counts for c in cols], type=pa.large_list(pa.int64())),
        }
        meta = {"format": PROFILE_FORMAT, "columns": json.dumps([c.name for c in cols])}
        return pa.table(data).replace_schema_metadata({f"lockgate.{k}": v for k, v in meta.items()})

    @classmethod
    def from_arrow(cls, table: pa.Table) -> Profile:
        """Inverse of ``to_arrow``; refuses tables that are not lockgate drift profiles."""
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if meta.get("lockgate.format") != PROFILE_FORMAT:
            raise ValueError(
                f"not a lockgate drift profile (schema metadata 'lockgate.format' is "
                f"{meta.get('lockgate.format')!r}, expected {PROFILE_FORMAT!r})"
            )
        table = table.combine_chunks()
        columns: dict[str, ColumnProfile] = {}
        for row in range(table.num_rows):
            columns[_cell(table, "column", row)] = _column_from_row(table, row)
        return cls(columns)


def _cell(table: pa.Table, name: str, row: int) -> Any:
    return table.column(name).chunk(0)[row].as_py()


def _list_cell(table: pa.Table, name: str, row: int, dtype: Any) -> np.ndarray | None:
    scalar = table.column(name).chunk(0)[row]
    if not scalar.is_valid:
        return None
    return np.ascontiguousarray(scalar.values.to_numpy(zero_copy_only=False), dtype=dtype)


def _column_from_row(table: pa.Table, row: int) -> ColumnProfile:
    storage = _cell(table, "storage", row)
    keys = (
        _list_cell(table, "num_keys", row, np.float64)
        if storage == "num"
        else _list_cell(table, "cat_keys", row, object)
    )
    return ColumnProfile(
        name=_cell(table, "column", row),
        storage=storage,
        arrow_type=_cell(table, "arrow_type", row),
        n_rows=_cell(table, "n_rows", row),
        n_missing=_cell(table, "n_missing", row),
        n_unique=_cell(table, "n_unique", row),
        std=_cell(table, "std", row),
        values=_list_cell(table, "values", row, np.float64),
        keys=keys,
        counts=_list_cell(table, "counts", row, np.int64),
    )


def _workers(n_tasks: int) -> int:
    return max(1, min(n_tasks, os.cpu_count() or 1))


def profile(reference: Any, columns: Iterable[str] | None = None) -> Profile:
    """Profile ``reference`` (a pyarrow Table or polars DataFrame) once for later drift checks.

    Columns of unsupported types (dates, lists, binary, ...) are skipped when
    ``columns`` is None and an error when named.
    """
    table = _arrow_table(reference)
    names = list(table.column_names) if columns is None else list(columns)
    for name in names:
        if name not in table.column_names:
            raise ValueError(f"reference has no column {name!r}; it has {table.column_names}")
    with ThreadPoolExecutor(_workers(len(names))) as pool:
        parts = list(pool.map(lambda n: _profile_column(n, table.column(n)), names))
    if columns is not None:
        for name, part in zip(names, parts):
            if part is None:
                raise ValueError(f"column {name!r} has type {table.column(name).type}, which drift cannot test")
    return Profile({p.name: p for p in parts if p is not None})


# --------------------------------------------------------------------------- the current side


@dataclass(frozen=True, eq=False)
class _Current:
    kind: Kind
    n_rows: int
    n_missing: int
    n_unique: int  # exact up to DISTINCT_CAP, DISTINCT_CAP + 1 for any more
    finite: np.ndarray | None = None  # finite floats in the column's order (numeric storage)
    cat_keys: np.ndarray | None = None  # categories (categorical storage)
    cat_counts: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.n_rows - self.n_missing

    @cached_property
    def values(self) -> np.ndarray:
        """The finite values sorted, on demand: the default test on a large
        reference (Wasserstein against the profile's sorted values) needs no sort."""
        assert self.finite is not None
        return sort_finite(self.finite)

    @cached_property
    def _groups(self) -> tuple[np.ndarray, np.ndarray]:
        # Only categorical tests need these: computed on demand, as a pass costs
        # as much as the sort for a continuous column.
        if self.finite is None:
            assert self.cat_keys is not None and self.cat_counts is not None
            return self.cat_keys, self.cat_counts
        return run_groups(self.values)

    @property
    def keys(self) -> np.ndarray:
        return self._groups[0]

    @property
    def counts(self) -> np.ndarray:
        return self._groups[1]


def _current_column(name: str, column: pa.ChunkedArray, storage: str) -> _Current:
    if storage_of(column.type) != storage:
        raise ValueError(
            f"column {name!r} is {column.type} in current data but was "
            f"{'numeric' if storage == 'num' else 'categorical'} in the reference"
        )
    if storage == "cat":
        keys, counts, n_missing = category_counts(column)
        return _Current("cat", len(column), n_missing, len(keys), cat_keys=keys, cat_counts=counts)
    values, n_missing = finite_values(column)
    n_unique = _d.n_distinct_upto(values, DISTINCT_CAP)
    # pandas' nunique on the int column itself (no nulls there, so nothing was dropped)
    kind = column_kind(column.type, column.null_count, n_unique)
    assert kind is not None
    return _Current(kind, len(column), n_missing, n_unique, finite=values)


# --------------------------------------------------------------------------- tests per column


def _aligned(ref: ColumnProfile, cur: _Current) -> tuple[np.ndarray, np.ndarray]:
    ref_keys, ref_counts = ref.value_counts()
    _, r, c = _d.align_counts(ref_keys, ref_counts, cur.keys, cur.counts)
    return r, c


def _binned(ref: ColumnProfile, cur: _Current) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's ``get_binned_data`` proportions (without the zero fill)."""
    if histogrammed(cur.kind, ref.n_unique):
        assert ref.values is not None and cur.values is not None
        lo = min(ref.values[0], cur.values[0])
        hi = max(ref.values[-1], cur.values[-1])
        edges = _d.sturges_edges(lo, hi, ref.n + cur.n)
        r = _d.histogram_counts_sorted(ref.values, edges)
        c = _d.histogram_counts_sorted(cur.values, edges)
    else:
        r, c = _aligned(ref, cur)
    return r / ref.n, c / cur.n


def _statistic(method: str, ref: ColumnProfile, cur: _Current) -> tuple[float, float | None]:
    if method == "ks":
        return _d.ks_from_sorted(ref.values, cur.values, "auto")
    if method == "wasserstein":
        norm = max(float(ref.std), 0.001)
        return _d.wasserstein_sorted_ref(ref.values, cur.finite) / norm, None
    if method == "chisquare":
        return _d.chi2_counts(*_aligned(ref, cur))
    if method == "z":
        return _d.z_test_counts(*_aligned(ref, cur))
    r, c = _binned(ref, cur)
    if method == "jensenshannon":
        return _d.js_distance(r, c), None
    return _d.psi_binned(r, c), None


def _compare(
    name: str, ref: ColumnProfile, column: pa.ChunkedArray, choice: Mapping[str, Any]
) -> dict[str, Any]:
    cur = _current_column(name, column, ref.storage)
    method = choose_method(
        name, choice, cur.kind, ref.n, cur.n,
        lambda: pooled_unique(ref.n_unique, cur.n_unique, lambda: (ref.value_counts()[0], cur.keys)),
    )
    threshold = threshold_for(method, choice)
    statistic, p_value = _statistic(method, ref, cur)
    return result_row(name, cur.kind, method, statistic, p_value, threshold, cur.n_missing, cur.n_rows)


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True, eq=False)
class DriftResult:
    """Per-column drift (``table``) and the dataset verdict, as Evidently's DataDriftPreset reports it."""

    table: pl.DataFrame
    drift_share: float = 0.5

    @property
    def n_drifted(self) -> int:
        return int(self.table["drifted"].sum())

    @property
    def share_drifted(self) -> float:
        return self.n_drifted / self.table.height

    @property
    def dataset_drift(self) -> bool:
        return self.share_drifted >= self.drift_share

    @property
    def drifted_columns(self) -> list[str]:
        return self.table.filter(self.table["drifted"])["column"].to_list()

    @classmethod
    def from_rows(
        cls, rows: list[dict[str, Any]], drift_share: float = 0.5, extra: Mapping[str, str] | None = None
    ) -> DriftResult:
        """The result of ``result_row`` rows; ``extra`` names further columns and their polars types."""
        import polars as pl

        schema = {**_SCHEMA, **(extra or {})}
        return cls(pl.DataFrame(rows, schema={k: getattr(pl, v) for k, v in schema.items()}), drift_share)


_SCHEMA = {
    "column": "Utf8",
    "kind": "Utf8",
    "test": "Utf8",
    "statistic": "Float64",
    "p_value": "Float64",
    "threshold": "Float64",
    "drifted": "Boolean",
    "missing_share": "Float64",
}


def result_row(
    name: str, kind: str, method: str, statistic: float, p_value: float | None, threshold: float,
    n_missing: int, n_rows: int,
) -> dict[str, Any]:
    """One column's row of ``DriftResult.table``, with Evidently's verdict."""
    return {
        "column": name,
        "kind": kind,
        "test": method,
        "statistic": float(statistic),
        "p_value": None if p_value is None else float(p_value),
        "threshold": threshold,
        "drifted": drifted(method, statistic, p_value, threshold),
        "missing_share": n_missing / n_rows if n_rows else 0.0,
    }


def _default_columns(ref: Profile, current: pa.Table) -> list[str]:
    """Current's testable columns, as Evidently's DataDriftPreset takes them from the current data."""
    names = []
    for name in current.column_names:
        if storage_of(current.column(name).type) is None:
            continue
        if name not in ref.columns:
            raise ValueError(f"column {name!r} is in the current data but not in the reference")
        names.append(name)
    return names


def drift_table(
    reference: Any,
    current: Any,
    columns: Iterable[str] | None = None,
    *,
    method: str | None = None,
    threshold: float | None = None,
    per_column: Mapping[str, Mapping[str, Any]] | None = None,
    drift_share: float = 0.5,
) -> DriftResult:
    """Test every column of ``current`` against ``reference`` with Evidently's default rule.

    ``reference`` is a pyarrow Table, a polars DataFrame or a ``Profile``;
    ``current`` a Table or DataFrame. ``method``/``threshold`` override the
    test for all columns, ``per_column={"col": {"method": "psi", "threshold": 0.2}}``
    for one; method names are Evidently's. Columns run concurrently.
    """
    table = _arrow_table(current)
    names = None if columns is None else list(columns)
    ref = reference if isinstance(reference, Profile) else profile(reference, names)
    if names is None:
        names = _default_columns(ref, table)
    for name in names:
        if name not in table.column_names:
            raise ValueError(f"current data has no column {name!r}")
        if name not in ref.columns:
            raise ValueError(f"reference has no testable column {name!r}")
    if not names:
        raise ValueError("no columns to compare: neither side has numeric, boolean or string columns in common")
    choices = column_choices(names, method, threshold, per_column)
    with ThreadPoolExecutor(_workers(len(names))) as pool:
        rows = list(pool.map(lambda n: _compare(n, ref[n], table.column(n), choices[n]), names))
    return DriftResult.from_rows(rows, drift_share)
