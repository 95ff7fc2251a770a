"""Turn what users pass (lists, NumPy, pyarrow arrays, polars Series) into NumPy arrays.

Zero-copy where the source allows it (a pyarrow array without nulls, a polars
Series of one chunk); pyarrow and polars are recognised by duck typing so this
module imports neither.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_numpy(values: Any, name: str = "values") -> np.ndarray:
    """A 1-D NumPy view (or copy, when unavoidable) of ``values``; nulls become NaN."""
    if isinstance(values, np.ndarray):
        array = values
    elif hasattr(values, "combine_chunks"):  # pyarrow.ChunkedArray
        array = _arrow_to_numpy(values.combine_chunks())
    elif hasattr(values, "to_numpy") and hasattr(values, "null_count") and hasattr(values, "type"):
        array = _arrow_to_numpy(values)  # pyarrow.Array
    elif hasattr(values, "to_numpy"):  # polars.Series, pandas.Series
        array = values.to_numpy()
    else:
        array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _arrow_to_numpy(array: Any) -> np.ndarray:
    if array.null_count == 0:
        try:
            return array.to_numpy(zero_copy_only=True)
        except Exception:  # strings, booleans: a copy is unavoidable
            return array.to_numpy(zero_copy_only=False)
    return array.to_numpy(zero_copy_only=False)


def as_float(values: Any, name: str = "values") -> np.ndarray:
    """``values`` as contiguous float64 (ints and float32 are widened)."""
    array = as_numpy(values, name)
    if array.dtype == object:
        array = np.array([np.nan if v is None else v for v in array], dtype=np.float64)
    return np.ascontiguousarray(array, dtype=np.float64)


def check_same_length(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if len(a) != len(b):
        raise ValueError(f"{names[0]} and {names[1]} differ in length: {len(a)} != {len(b)}")


def check_not_empty(a: np.ndarray, name: str) -> None:
    if len(a) == 0:
        raise ValueError(f"{name} is empty")


def check_finite_labels(a: np.ndarray, name: str) -> None:
    """Labels and scores may not hold NaN: a metric over them would be meaningless."""
    if a.dtype.kind == "f" and np.isnan(a).any():
        raise ValueError(f"{name} contains NaN; drop or impute those rows first")
