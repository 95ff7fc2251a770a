"""Arrow columns as drift reads them: how a column is kept, its finite values, its categories.

Owns the conversions shared by in-memory (``table.py``) and streaming
(``streaming.py``) drift, from one ``pyarrow.ChunkedArray`` (a whole column or
one batch of it) to NumPy: numeric columns (float, integer, boolean) become
float64 without null/NaN/inf, as Evidently drops all three; string and
dictionary columns become sorted categories with their counts.

Imports nothing from the rest of lockgate; pyarrow and polars load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


def storage_of(arrow_type: pa.DataType) -> Literal["num", "cat"] | None:
    """How a reference column is kept: float values ("num"), category counts ("cat"), or not at all."""
    import pyarrow.types as t

    if t.is_floating(arrow_type) or t.is_integer(arrow_type) or t.is_boolean(arrow_type):
        return "num"
    if t.is_dictionary(arrow_type) or t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return "cat"
    if hasattr(t, "is_string_view") and t.is_string_view(arrow_type):
        return "cat"
    return None


def finite_values(column: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Float64 values without null/NaN/inf (Evidently drops all three), and how many were dropped."""
    import pyarrow as pa

    if pa.types.is_boolean(column.type) or pa.types.is_integer(column.type):
        column = column.cast(pa.float64())
    array = column.to_numpy()  # nulls become NaN
    array = np.asarray(array, dtype=np.float64)
    keep = np.isfinite(array)
    n_keep = int(np.count_nonzero(keep))
    if n_keep < len(array):
        array = array[keep]
    return np.ascontiguousarray(array), len(keep) - n_keep


def category_counts(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted categories (as str), their counts, and the null count of a string/dictionary column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    counted = pc.value_counts(column)
    values = counted.field("values").to_pylist()
    counts = counted.field("counts").to_numpy()
    pairs = sorted((v, int(c)) for v, c in zip(values, counts) if v is not None)
    keys = np.array([p[0] for p in pairs], dtype=object)
    return keys, np.array([p[1] for p in pairs], dtype=np.int64), column.null_count


def sort_finite(values: np.ndarray) -> np.ndarray:
    """Ascending copy of NaN-free floats.

    polars' single-threaded sort is ~2x faster than ``np.sort`` here (measured:
    29 ms vs 55 ms for 1e6 float64 on 2 cores) and leaves the threads to the
    column pool; the order is the same total order, so results do not change.
    """
    import polars as pl

    if len(values) < 4096:
        return np.sort(values)
    ordered = pl.Series(values, nan_to_null=False).sort(multithreaded=False).to_numpy()
    return np.ascontiguousarray(ordered, dtype=np.float64)


def run_groups(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their counts of a sorted array, in O(n)."""
    if len(sorted_values) == 0:
        return sorted_values, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    counts = np.diff(np.append(starts, len(sorted_values)))
    return sorted_values[starts], counts.astype(np.int64)
