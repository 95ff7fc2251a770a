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


# Label arrays are passed to kernels in one of a few dtypes so that numba
# compiles a handful of signatures, and bool/int labels are reinterpreted
# (a view, no copy) rather than widened to float: bool and 8-bit ints read as
# uint8, 32/64-bit ints as int32/int64 of the same width. A view can turn a
# value outside {0, 1} into another value outside {0, 1} (int8 -1 reads as
# 255), never into 0 or 1, so validation in the kernel stays exact; error
# messages are built from the caller's original values.
_LABEL_VIEWS = {1: np.uint8, 4: np.int32, 8: np.int64}


def as_labels(values: Any, name: str = "y_true") -> np.ndarray:
    """``values`` as a contiguous uint8, int32, int64, float32 or float64 array."""
    array = as_numpy(values, name)
    kind = array.dtype.kind
    if kind == "O":
        array = _objects_to_float(array, name)
    elif kind == "b":
        array = array.view(np.uint8)
    elif kind in "iu":
        view = _LABEL_VIEWS.get(array.dtype.itemsize)
        array = array.view(view) if view is not None else array.astype(np.int32)
    elif kind == "f":
        if array.dtype.itemsize < 4:
            array = array.astype(np.float32)
        elif array.dtype.itemsize > 8:
            array = array.astype(np.float64)
    else:
        raise ValueError(describe_bad_labels(array, name))
    return np.ascontiguousarray(array)


def as_scores(values: Any, name: str = "y_score") -> np.ndarray:
    """``values`` as contiguous float32 (kept as is) or float64 (everything else)."""
    array = as_numpy(values, name)
    if array.dtype == np.float32:
        return np.ascontiguousarray(array)
    if array.dtype == object:
        array = _objects_to_float(array, name)
    elif array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float64)


def _objects_to_float(array: np.ndarray, name: str) -> np.ndarray:
    if any(v is None for v in array):
        raise ValueError(f"{name} contains missing values (None/null); drop or impute those rows first")
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError):
        found = ", ".join(sorted({repr(v) for v in array})[:10])
        raise ValueError(f"{name} must be numeric; found values {found}") from None


def describe_bad_labels(values: Any, name: str) -> str:
    """The error message for labels outside {0, 1}, naming the values found (slow path only)."""
    array = as_numpy(values, name)
    if array.dtype.kind == "f" and np.isnan(array).any():
        return f"{name} contains NaN; drop or impute those rows first"
    try:
        found = np.unique(array)
    except TypeError:  # mixed objects that do not order
        found = np.array(sorted({repr(v) for v in array}), dtype=object)
    shown = ", ".join(repr(v.item()) for v in found[:10]) + (", ..." if found.size > 10 else "")
    return (
        f"{name} must hold binary labels 0 and 1 (or True/False); found values {shown}. "
        "Map the classes to 0 (negative) and 1 (positive) first"
    )
