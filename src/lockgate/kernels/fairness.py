"""Group fairness metrics as numba kernels: fairlearn's ``MetricFrame`` numbers in one pass.

This module owns the group table (n, selection rate, TPR, FPR, FNR, precision,
accuracy, ROC AUC, base rate per group) and the disparity functions of
fairlearn 0.15 (``demographic_parity_difference``/``_ratio``,
``equalized_odds_difference``/``_ratio``, ``equal_opportunity_difference``/
``_ratio``) with fairlearn's signatures and semantics:

* Groups are the observed values (several sensitive columns: their observed
  combinations), in sorted order as pandas' ``groupby`` gives them.
* ``between_groups``: difference = max - min of the per-group rate, ratio =
  min / max (0 / 0 is NaN, as pandas divides); ``to_overall`` compares each
  group with the whole table. Equalized odds ``worst_case`` is Python's
  ``max``/``min`` over (TPR, FPR) exactly as fairlearn applies them, NaN rules
  included; ``mean`` their mean.
* A rate with an empty denominator is 0 (scikit-learn's ``confusion_matrix(
  normalize="true")`` turns 0 / 0 into 0): a group with no positives has TPR 0.

Where we knowingly differ: fairlearn refuses a missing sensitive value; here
null (None, NaN) is a group of its own, sorted last, so that rows with an
unknown attribute are measured rather than dropped. It equals fairlearn run on
the same data with the nulls replaced by one new label.

How the speed is found: every sensitive column is turned into integer codes
once, without a Python loop: integers and booleans by offset (a polars boolean
unpacked from its Arrow bitmap), a polars categorical by its physical codes,
short polars strings by hashing their 16-byte Arrow string views in one
compiled pass, other strings by Arrow dictionary encoding. One pass then
counts (tn, fp, fn, tp) per joint group code of the first two columns (more
columns are folded into one first), in two fixed halves on two cores, reading
0/1 labels without comparisons or branches (indices are unsigned: numba's
wraparound check on signed indices cost 2-4x). Groups are sorted once, after
counting, and every rate comes from the counts. Bootstrap intervals draw the
cell counts from their multinomial law (the same law as counting resampled
rows) instead of resampling rows, unless rows carry weights.

Imports nothing from the rest of lockgate; pyarrow and polars are imported only
to read a column that comes from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from lockgate.kernels._compile import announce_compile, njit
from lockgate.kernels._inputs import as_numpy
from lockgate.kernels._parallel import _in_halves

__all__ = [
    "BootstrapResult",
    "GroupMetrics",
    "bootstrap_disparities",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "group_metrics",
]

Method = Literal["between_groups", "to_overall"]

# Integer columns spanning at most this many values are coded by offset (no
# sort, no hash); wider ones are coded with np.unique (a sort).
_DENSE_INT_RANGE = 1 << 16
# Joint group spaces up to this size are counted in a dense table.
_DENSE_GROUPS = 1 << 22
_SPLIT_MIN = 1 << 18
# Cells per group in the count table: (tn, fp, fn, tp).
_CELLS = 4


# --------------------------------------------------------------------------
# Sensitive columns -> integer codes and a lookup to the sorted group order.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Coded:
    """One sensitive column as integer codes: row i is in group ``labels[codes[i] - offset]``
    (``labels`` in code order, not sorted: groups are sorted once, after counting)."""

    name: str
    codes: np.ndarray
    offset: int
    labels: list[Any]


def _columns_of(sensitive_features: Any) -> list[tuple[str, Any]]:
    """(name, values) per sensitive column, named as fairlearn names them."""
    sf = sensitive_features
    module = type(sf).__module__
    if module.startswith("polars") and hasattr(sf, "columns") and hasattr(sf, "get_column"):
        return [(str(c), sf.get_column(c)) for c in sf.columns]
    if module.startswith("pandas") and hasattr(sf, "columns"):
        return [(str(c), sf[c]) for c in sf.columns]
    if module.startswith("pyarrow") and hasattr(sf, "column_names"):
        return [(str(c), sf.column(c)) for c in sf.column_names]
    if isinstance(sf, dict):
        return [(str(k), v) for k, v in sf.items()]
    if isinstance(sf, (list, tuple)) and sf and not all(np.isscalar(v) or v is None for v in sf):
        return [(_name_of(v, f"sensitive_feature_{i}"), v) for i, v in enumerate(sf)]
    if isinstance(sf, np.ndarray) and sf.ndim == 2:
        return [(f"sensitive_feature_{i}", sf[:, i]) for i in range(sf.shape[1])]
    return [(_name_of(sf, "sensitive_feature_0"), sf)]


def _name_of(values: Any, default: str) -> str:
    name = getattr(values, "name", None)
    return name if isinstance(name, str) and name else default


def _encode(name: str, values: Any, n: int) -> _Coded:
    if hasattr(values, "dtype") and type(values).__module__.startswith("polars"):
        coded = _encode_polars(name, values, n)
        if coded is not None:
            return coded
        values = values.to_arrow()
    if type(values).__module__.startswith("pyarrow"):
        return _encode_arrow(name, values, n)
    array = as_numpy(values, name) if not isinstance(values, list) else np.asarray(values, dtype=object)
    if len(array) != n:
        raise ValueError(f"sensitive feature '{name}' has {len(array)} values, y has {n}")
    kind = array.dtype.kind
    if kind == "b":
        return _Coded(name, array.view(np.uint8), 0, [False, True])
    if kind in "iu" and n:
        low, high = int(array.min()), int(array.max())
        if high - low < _DENSE_INT_RANGE:
            codes = array if array.dtype != np.uint64 else array.astype(np.int64)
            return _Coded(name, codes, low, list(range(low, high + 1)))
    if kind in "iuf":
        return _encode_sorted(name, array)
    import pyarrow as pa

    try:
        arrow = pa.array(array, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"sensitive feature '{name}' mixes values of several types ({exc})") from None
    return _encode_arrow(name, arrow, n)


def _encode_polars(name: str, series: Any, n: int) -> _Coded | None:
    """A polars categorical or enum by its physical codes (zero-copy), and numbers and
    booleans without nulls as NumPy; None for what goes through Arrow instead."""
    import polars as pl

    if len(series) != n:
        raise ValueError(f"sensitive feature '{name}' has {len(series)} values, y has {n}")
    dtype = series.dtype
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        categories = dtype.categories
        labels = (categories if isinstance(categories, pl.Series) else categories.to_series()).to_list()
        if len(labels) > max(4 * n, _DENSE_INT_RANGE):  # a process-wide category list far larger than the column
            return None
        physical = series.to_physical()
        if physical.null_count():
            physical = physical.fill_null(len(labels))
        return _Coded(name, physical.to_numpy(), 0, [*labels, None])
    if series.null_count() == 0 and dtype == pl.Boolean:
        array = series.to_arrow()
        if array.offset == 0:  # the Arrow bitmap unpacked: faster than polars' own to_numpy
            bitmap = np.frombuffer(array.buffers()[1], dtype=np.uint8)
            return _Coded(name, np.unpackbits(bitmap, count=n, bitorder="little"), 0, [False, True])
    if series.null_count() == 0 and (dtype.is_numeric() or dtype == pl.Boolean):
        return _encode(name, series.to_numpy(), n)
    if dtype == pl.String and series.null_count() == 0:
        return _encode_views(name, series.to_arrow(compat_level=pl.CompatLevel.newest()))
    return None


# At most this many distinct short strings are coded from Arrow string views directly.
_VIEW_SLOTS = 256


def _encode_views(name: str, array: Any) -> _Coded | None:
    """Strings of at most 12 bytes (Arrow string views hold them inline: length and bytes
    in 16 bytes) coded by hashing the 16 bytes, zero-copy from polars; None (dictionary
    encoding instead) for longer strings, nulls, or more than a few hundred values."""
    import pyarrow as pa

    if not pa.types.is_string_view(array.type) or array.null_count or array.offset:
        return None
    views = np.frombuffer(array.buffers()[1], dtype=np.uint64)[: 2 * len(array)]
    codes, firsts, found = _hash_views(views, _VIEW_SLOTS)
    if found < 0:
        return None
    labels = [array[int(row)].as_py() for row in firsts[:found]]
    return _Coded(name, codes, 0, labels)


@njit(nogil=True)
def _hash_views(views, slots):
    """Codes (first-seen order) of inline string views; (codes, first row per code,
    number of codes), or -1 as the count when a string is longer than 12 bytes or
    there are more than ``slots // 2`` distinct strings."""
    n = views.size // 2
    codes = np.empty(n, dtype=np.int32)
    keys_lo = np.zeros(slots, dtype=np.uint64)
    keys_hi = np.zeros(slots, dtype=np.uint64)
    slot_code = np.full(slots, -1, dtype=np.int32)
    firsts = np.empty(slots // 2, dtype=np.int64)
    found = 0
    mask = np.uint64(slots - 1)
    for j in range(n):
        i = np.uint64(j)
        lo = views[np.uint64(2) * i]
        hi = views[np.uint64(2) * i + np.uint64(1)]
        length = lo & np.uint64(0xFFFFFFFF)
        if length > np.uint64(12):
            return codes, firsts, -1
        h = ((lo * np.uint64(0x9E3779B97F4A7C15)) ^ (hi * np.uint64(0xC2B2AE3D27D4EB4F))) >> np.uint64(56)
        k = h & mask
        while True:
            code = slot_code[k]
            if code < 0:
                if found == slots // 2:
                    return codes, firsts, -1
                slot_code[k] = found
                keys_lo[k] = lo
                keys_hi[k] = hi
                firsts[found] = j
                codes[i] = found
                found += 1
                break
            if keys_lo[k] == lo and keys_hi[k] == hi:
                codes[i] = code
                break
            k = (k + np.uint64(1)) & mask
    return codes, firsts, found


def _encode_sorted(name: str, array: np.ndarray) -> _Coded:
    """Numbers with a wide range (or floats): codes from a sort; NaN is the null group."""
    labels, inverse = np.unique(array, return_inverse=True, equal_nan=True)
    values: list[Any] = labels.tolist()
    if values and isinstance(values[-1], float) and math.isnan(values[-1]):
        values[-1] = None
    return _Coded(name, inverse.astype(np.int64), 0, values)


def _encode_arrow(name: str, values: Any, n: int) -> _Coded:
    """Arrow columns: numbers as NumPy, strings by dictionary encoding, dictionary
    (categorical) columns by their own codes; null is one more code."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if len(values) != n:
        raise ValueError(f"sensitive feature '{name}' has {len(values)} values, y has {n}")
    kind = values.type
    if not pa.types.is_dictionary(kind):
        if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_boolean(kind):
            if values.null_count and not pa.types.is_floating(kind):
                return _encode(name, pc.fill_null(values.cast(pa.float64()), float("nan")).to_numpy(), n)
            return _encode(name, values.to_numpy(zero_copy_only=False), n)
        if pa.types.is_string_view(kind) or pa.types.is_binary_view(kind):
            values = values.cast(pa.large_string() if pa.types.is_string_view(kind) else pa.large_binary())
        values = values.dictionary_encode(null_encoding="mask")
    indices = values.indices
    size = len(values.dictionary)
    if indices.null_count:
        indices = pc.fill_null(indices, size)  # null -> one more code
    codes = indices.to_numpy(zero_copy_only=False)
    if codes.dtype == np.uint64:
        codes = codes.astype(np.int64)
    return _Coded(name, codes, 0, values.dictionary.to_pylist() + [None])


# --------------------------------------------------------------------------
# The counting pass.
# --------------------------------------------------------------------------


# Indices are computed as uint64 on purpose: numba checks every signed index for
# wraparound (a negative index counts from the end), a branch per access that made
# these passes 2-4x slower; codes are in range by construction.


@njit(nogil=True)
def _fold(joint, codes, offset, stride, start, stop):
    """joint[i] += (codes[i] - offset) * stride over rows [start, stop)."""
    for j in range(stop - start):
        i = np.uint64(start + j)
        joint[i] += (codes[i] - offset) * stride


@njit(nogil=True)
def _group_of(a, a_off, b, b_off, b_size, b_step, i):
    return np.uint64((a[i] - a_off) * b_size + (b[i * b_step] - b_off))


@njit(nogil=True)
def _count_binary(a, a_off, b, b_off, b_size, truth, t_on, pred, p_on, start, stop, n_groups):
    """Per group (tn, fp, fn, tp) of rows [start, stop), labels read as 0/1 as they are.

    A row's group is ``(a[i] - a_off) * b_size + b[i] - b_off`` (a one-value ``b`` of
    zeros and ``b_size`` 1 when there is one column). An absent label array is one
    zero read at index 0. No comparison and no branch per row; the OR of every label
    is returned so the caller can tell whether they really were all 0 or 1 (else it
    counts again with ``_count_labels``).
    """
    counts = np.zeros(n_groups * 4, dtype=np.int64)
    seen = 0
    b_step = np.uint64(1 if b.size > 1 else 0)
    t_step, p_step = np.uint64(t_on), np.uint64(p_on)
    for j in range(stop - start):
        i = np.uint64(start + j)
        t = truth[i * t_step]
        p = pred[i * p_step]
        seen |= t | p
        g = _group_of(a, a_off, b, b_off, b_size, b_step, i)
        counts[np.uint64(4 * g + 2 * (t & 1) + (p & 1))] += 1
    return counts, seen


@njit(nogil=True)
def _count_labels(a, a_off, b, b_off, b_size, truth, t_on, pred, p_on, pos, weight, w_on,
                  start, stop, n_groups):
    """The general count: labels compared with ``pos``, and weighted sums when ``w_on``."""
    counts = np.zeros(n_groups * 4, dtype=np.int64)
    sums = np.zeros(n_groups * 4 if w_on else 1, dtype=np.float64)
    b_step = np.uint64(1 if b.size > 1 else 0)
    t_step, p_step, w_step = np.uint64(t_on), np.uint64(p_on), np.uint64(w_on)
    for j in range(stop - start):
        i = np.uint64(start + j)
        t = (truth[i * t_step] == pos) & (t_on == 1)
        p = (pred[i * p_step] == pos) & (p_on == 1)
        g = _group_of(a, a_off, b, b_off, b_size, b_step, i)
        cell = np.uint64(4 * g + 2 * t + p)
        counts[cell] += 1
        if w_on:
            sums[cell] += weight[i * w_step]
    return counts, sums


@njit(nogil=True)
def _row_groups(a, a_off, b, b_off, b_size, compact):
    """Every row's compact group id (the counting pass's group, renumbered)."""
    out = np.empty(a.size, dtype=np.int64)
    b_step = np.uint64(1 if b.size > 1 else 0)
    for j in range(a.size):
        i = np.uint64(j)
        out[i] = compact[_group_of(a, a_off, b, b_off, b_size, b_step, i)]
    return out


@njit(nogil=True)
def _bucket_rows(group, counts):
    """Row numbers ordered by group (a counting sort): group g's rows are
    ``rows[starts[g]:starts[g + 1]]``."""
    starts = np.zeros(counts.size + 1, dtype=np.int64)
    for g in range(counts.size):
        starts[g + 1] = starts[g] + counts[g]
    cursor = starts[:-1].copy()
    rows = np.empty(group.size, dtype=np.int64)
    for i in range(group.size):
        g = group[i]
        rows[cursor[g]] = i
        cursor[g] += 1
    return rows, starts


@njit(nogil=True)
def _resample_rows(group, truth, pred, pos, weight, draws, n_groups):
    """Weighted cell sums of one row resample (``draws``: row numbers)."""
    out = np.zeros((n_groups, 4), dtype=np.float64)
    for k in range(draws.size):
        i = draws[k]
        t = 1 if truth[i] == pos else 0
        p = 1 if pred[i] == pos else 0
        out[group[i], 2 * t + p] += weight[i]
    return out


@dataclass(frozen=True)
class _Groups:
    """Counts per observed group, groups sorted as fairlearn's ``by_group``."""

    names: list[str]
    labels: list[tuple[Any, ...]]
    cells: np.ndarray  # (groups, 4): tn, fp, fn, tp (weighted sums when weights are given)
    rows: np.ndarray  # (groups,) unweighted row counts


def _as_label_array(values: Any, name: str, n: int) -> np.ndarray:
    """Labels as a NumPy array the counting kernels read (an empty one when absent)."""
    if values is None:
        return np.zeros(0, dtype=np.uint8)
    array = as_numpy(values, name)
    if len(array) != n:
        raise ValueError(f"{name} has {len(array)} values, y_true/y_pred have {n}")
    if array.dtype.kind == "b":
        return array.view(np.uint8)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numeric labels (0/1 or True/False); map the classes first")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(f"{name} contains NaN; drop or impute those rows first")
    if array.dtype == np.uint64:
        array = array.astype(np.int64)
    return np.ascontiguousarray(array)


def _group_table(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    *,
    pos_label: Any = 1,
    sample_weight: Any = None,
    need_rows: bool = False,
) -> tuple[_Groups, np.ndarray | None]:
    """Counts per observed group, sorted; with ``need_rows`` also every row's group
    (its index in that order)."""
    announce_compile(__file__)
    n = _length(y_true, y_pred, sensitive_features)
    truth = _as_label_array(y_true, "y_true", n)
    pred = _as_label_array(y_pred, "y_pred", n)
    coded = [_encode(name, values, n) for name, values in _columns_of(sensitive_features)]
    if not coded:
        raise ValueError("sensitive_features holds no column")
    names = [c.name for c in coded]
    if np.prod([len(c.labels) for c in coded], dtype=np.float64) > _DENSE_GROUPS:
        coded = [_compact_joint(coded, n)]
    a, b = _two_columns(coded, n)
    space = len(a.labels) * len(b.labels)
    counts, cells = _counts(a, b, truth, pred, _pos(pos_label), _weights(sample_weight, n), n, space)
    observed = np.flatnonzero(counts.sum(axis=1))
    labels = [_labels_of(g, coded) for g in observed]
    order = sorted(range(len(labels)), key=lambda k: _sort_key(labels[k]))
    observed = observed[order]
    labels = [labels[k] for k in order]
    row_group = None
    if need_rows:
        compact = np.full(space, -1, dtype=np.int64)
        compact[observed] = np.arange(observed.size)
        row_group = _row_groups(a.codes, a.offset, b.codes, b.offset, len(b.labels), compact)
    rows = counts.sum(axis=1)
    return _Groups(names, labels, cells[observed], rows[observed]), row_group


def _counts(a: _Coded, b: _Coded, truth: np.ndarray, pred: np.ndarray, pos: float, weight: np.ndarray | None,
            n: int, space: int) -> tuple[np.ndarray, np.ndarray]:
    """(row counts, cells) per joint group code, shape (space, 4): one pass over the
    rows in two halves; cells are the weighted sums when weights are given."""
    t_on, p_on = int(truth.size > 0), int(pred.size > 0)
    truth, pred = (x if x.size else np.zeros(1, np.uint8) for x in (truth, pred))
    b_size = len(b.labels)
    if weight is None and pos == 1 and truth.dtype.kind != "f" and pred.dtype.kind != "f":
        halves = _in_halves(lambda rows: _count_binary(a.codes, a.offset, b.codes, b.offset, b_size,
                                                       truth, t_on, pred, p_on, rows.start, rows.stop, space),
                            n, _SPLIT_MIN)
        if all(0 <= seen <= 1 for _, seen in halves):
            counts = _add(h[0] for h in halves).reshape(space, 4)
            return counts, counts
    w_on = int(weight is not None)
    weights = weight if weight is not None else np.zeros(1, dtype=np.float64)
    halves = _in_halves(lambda rows: _count_labels(a.codes, a.offset, b.codes, b.offset, b_size, truth, t_on,
                                                   pred, p_on, pos, weights, w_on, rows.start, rows.stop, space),
                        n, _SPLIT_MIN)
    counts = _add(h[0] for h in halves).reshape(space, 4)
    cells = _add(h[1] for h in halves).reshape(space, 4) if w_on else counts
    return counts, cells


def _add(parts: Any) -> np.ndarray:
    parts = list(parts)
    total = parts[0]
    for part in parts[1:]:
        total = total + part  # halves in a fixed order: the same sums on every machine
    return total


_ABSENT = _Coded("", np.zeros(1, dtype=np.int64), 0, [None])


def _two_columns(coded: list[_Coded], n: int) -> tuple[_Coded, _Coded]:
    """The counting pass reads two code columns: the last sensitive column as ``b``
    and every other one folded into ``a`` (one column: ``b`` is absent), so one or two
    columns need no extra pass."""
    if len(coded) == 1:
        return coded[0], _ABSENT
    if len(coded) == 2:
        return coded[0], coded[1]
    joint = np.zeros(n, dtype=np.int64)
    stride = 1
    for c in reversed(coded[:-1]):
        _in_halves(lambda rows, c=c, s=stride: _fold(joint, c.codes, c.offset, s, rows.start, rows.stop),
                   n, _SPLIT_MIN)
        stride *= len(c.labels)
    return _Coded("", joint, 0, [None] * stride), coded[-1]


def _labels_of(code: int, coded: list[_Coded]) -> tuple[Any, ...]:
    """The sensitive labels of a joint group code (row-major over the columns)."""
    if len(coded) == 1 and isinstance(coded[0].labels[0] if coded[0].labels else None, tuple):
        return coded[0].labels[code]
    sizes = [len(c.labels) for c in coded]
    return tuple(c.labels[k] for c, k in zip(coded, np.unravel_index(code, sizes), strict=True))


def _sort_key(labels: tuple[Any, ...]) -> tuple[Any, ...]:
    # pandas' groupby order (ascending), null last
    return tuple((value is None, value if value is not None else 0) for value in labels)


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weight = np.ascontiguousarray(as_numpy(sample_weight, "sample_weight"), dtype=np.float64)
    if len(weight) != n:
        raise ValueError(f"sample_weight has {len(weight)} values, y has {n}")
    return weight


def _pos(pos_label: Any) -> float:
    return float(int(pos_label)) if isinstance(pos_label, bool) else float(pos_label)


def _length(y_true: Any, y_pred: Any, sensitive_features: Any) -> int:
    for values in (y_true, y_pred):
        if values is not None:
            return len(values)
    columns = _columns_of(sensitive_features)
    return len(columns[0][1]) if columns else 0


def _compact_joint(coded: list[_Coded], n: int) -> _Coded:
    """Too many combinations for a dense table: one column of the observed ones."""
    joint = np.zeros(n, dtype=np.int64)
    stride = 1
    for c in reversed(coded):
        _fold(joint, c.codes, c.offset, stride, 0, n)
        stride *= len(c.labels)
    values, inverse = np.unique(joint, return_inverse=True)
    labels = [_labels_of(int(v), coded) for v in values]
    return _Coded(" & ".join(c.name for c in coded), inverse.astype(np.int64), 0, labels)


# --------------------------------------------------------------------------
# Rates from counts (fairlearn's definitions; empty denominators give 0).
# --------------------------------------------------------------------------


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = numerator / denominator
    return np.where(denominator == 0, 0.0, out)


def _rates(cells: np.ndarray) -> dict[str, np.ndarray]:
    cells = cells.astype(np.float64) if cells.dtype != np.float64 else cells
    tn, fp, fn, tp = cells[:, 0], cells[:, 1], cells[:, 2], cells[:, 3]
    total = tn + fp + fn + tp
    return {
        "selection_rate": _divide(fp + tp, total),
        "tpr": _divide(tp, tp + fn),
        "fpr": _divide(fp, fp + tn),
        "fnr": _divide(fn, tp + fn),
        "precision": _divide(tp, tp + fp),
        "accuracy": _divide(tn + tp, total),
        "base_rate": _divide(fn + tp, total),
    }


def _difference(values: np.ndarray, overall: float, method: Method) -> float:
    """fairlearn's ``MetricFrame.difference`` of one metric (NaN groups skipped)."""
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return float("nan")
    if method == "between_groups":
        return float(np.max(np.abs(kept - np.min(kept))))
    if method == "to_overall":
        return float(np.max(np.abs(kept - overall)))
    raise ValueError(f"method must be 'between_groups' or 'to_overall', got {method!r}")


def _ratio(values: np.ndarray, overall: float, method: Method) -> float:
    """fairlearn's ``MetricFrame.ratio``: min / max between groups (0 / 0 is NaN),
    or each group against the overall value folded below 1."""
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "between_groups":
            return float(np.float64(np.min(kept)) / np.float64(np.max(kept)))
        if method == "to_overall":
            ratios = kept / np.float64(overall)
            ratios = np.where(ratios > 1, 1 / ratios, ratios)
            kept_ratios = ratios[~np.isnan(ratios)]
            return float(np.min(kept_ratios)) if kept_ratios.size else float("nan")
    raise ValueError(f"method must be 'between_groups' or 'to_overall', got {method!r}")


def _check_agg(agg: str) -> None:
    if agg not in ("worst_case", "mean"):
        raise ValueError(f"agg must be one of 'worst_case' or 'mean', got {agg}")


# --------------------------------------------------------------------------
# The group table.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupMetrics:
    """Per-group metrics of one grouping (a column, or the intersection of several).

    ``groups`` holds one tuple of labels per observed group (one label per
    sensitive column, None for null), sorted as fairlearn's ``MetricFrame.by_group``;
    every metric is an array aligned with it. ``overall`` holds the same metrics
    over all rows. ``small`` flags groups with fewer than ``min_group_size`` rows.
    """

    names: list[str]
    groups: list[tuple[Any, ...]]
    n: np.ndarray
    selection_rate: np.ndarray
    tpr: np.ndarray
    fpr: np.ndarray
    fnr: np.ndarray
    precision: np.ndarray
    accuracy: np.ndarray
    roc_auc: np.ndarray
    base_rate: np.ndarray
    overall: dict[str, float]
    small: np.ndarray
    cells: np.ndarray = field(repr=False)

    METRICS = ("selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy", "roc_auc", "base_rate")

    def difference(self, metric: str, method: Method = "between_groups") -> float:
        """fairlearn's ``MetricFrame(...).difference(method)`` of one metric."""
        return _difference(getattr(self, metric), self.overall[metric], method)

    def ratio(self, metric: str, method: Method = "between_groups") -> float:
        """fairlearn's ``MetricFrame(...).ratio(method)`` of one metric."""
        return _ratio(getattr(self, metric), self.overall[metric], method)

    def disparities(self, method: Method = "between_groups") -> dict[str, float]:
        """The six disparity figures (fairlearn's, worst case) of this grouping."""
        return disparities(self.cells, method)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One row per group: the sensitive columns' labels, n, share, small and every metric."""
        total = float(self.n.sum()) or 1.0
        rows = []
        for k, labels in enumerate(self.groups):
            row: dict[str, Any] = dict(zip(self.names, labels, strict=True))
            row.update(n=int(self.n[k]), share=float(self.n[k] / total), small=bool(self.small[k]))
            row.update({m: float(getattr(self, m)[k]) for m in self.METRICS})
            rows.append(row)
        return rows


def group_metrics(
    y_true: Any,
    y_pred: Any,
    groups: Any,
    y_score: Any = None,
    *,
    pos_label: Any = 1,
    sample_weight: Any = None,
    min_group_size: int = 0,
) -> GroupMetrics:
    """Per-group n, selection rate, TPR, FPR, FNR, precision, accuracy, ROC AUC and
    base rate, equal to fairlearn's ``MetricFrame(metrics={...}, ...).by_group``.

    ``groups`` is what fairlearn's ``sensitive_features`` takes (an array, a list
    of arrays, a 2-D array, a pandas/polars DataFrame or dict whose columns are
    intersected). ``y_true`` or ``y_pred`` may be None (the metrics that need
    them are NaN): the shares and base rates of a table with no model. ROC AUC
    (with ``y_score``) is NaN for a group holding one class only.
    """
    grouped, row_group = _group_table(y_true, y_pred, groups, pos_label=pos_label,
                                      sample_weight=sample_weight, need_rows=y_score is not None)
    rates = _rates(grouped.cells)
    overall_rates = _rates(grouped.cells.sum(axis=0, keepdims=True))
    n_groups = len(grouped.labels)
    if y_true is None:
        for name in ("tpr", "fpr", "fnr", "precision", "accuracy", "base_rate"):
            rates[name] = np.full(n_groups, np.nan)
            overall_rates[name] = np.array([np.nan])
    if y_pred is None:
        for name in ("selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy"):
            rates[name] = np.full(n_groups, np.nan)
            overall_rates[name] = np.array([np.nan])
    auc = np.full(n_groups, np.nan)
    overall_auc = float("nan")
    if y_score is not None and y_true is not None:
        auc, overall_auc = _group_auc(y_true, y_score, row_group, grouped.rows, pos_label)
    overall = {k: float(v[0]) for k, v in overall_rates.items()} | {"roc_auc": overall_auc}
    return GroupMetrics(
        names=grouped.names,
        groups=grouped.labels,
        n=grouped.rows,
        roc_auc=auc,
        overall=overall,
        small=grouped.rows < min_group_size,
        cells=grouped.cells,
        **rates,
    )


def _group_auc(y_true: Any, y_score: Any, row_group: np.ndarray, counts: np.ndarray,
               pos_label: Any) -> tuple[np.ndarray, float]:
    """ROC AUC per group (NaN where a group holds one class) and overall."""
    from lockgate.kernels.metrics import roc_auc

    truth = (as_numpy(y_true, "y_true") == pos_label).astype(np.uint8)
    score = as_numpy(y_score, "y_score")
    rows, starts = _bucket_rows(row_group, counts)
    out = np.full(counts.size, np.nan)
    for g in range(counts.size):
        members = rows[starts[g]:starts[g + 1]]
        labels = truth[members]
        if 0 < labels.sum() < labels.size:
            out[g] = roc_auc(labels, score[members])
    overall = roc_auc(truth, score) if 0 < truth.sum() < truth.size else float("nan")
    return out, float(overall)


# --------------------------------------------------------------------------
# fairlearn's disparity functions.
# --------------------------------------------------------------------------


def _table(y_true: Any, y_pred: Any, sensitive_features: Any, sample_weight: Any) -> tuple[dict, dict]:
    grouped, _ = _group_table(y_true, y_pred, sensitive_features, sample_weight=sample_weight)
    return _rates(grouped.cells), {k: float(v[0]) for k, v in _rates(grouped.cells.sum(axis=0, keepdims=True)).items()}


def demographic_parity_difference(y_true: Any, y_pred: Any, *, sensitive_features: Any,
                                  method: Method = "between_groups", sample_weight: Any = None) -> float:
    """Largest minus smallest group selection rate (fairlearn's, 1e-9)."""
    rates, overall = _table(y_true, y_pred, sensitive_features, sample_weight)
    return _difference(rates["selection_rate"], overall["selection_rate"], method)


def demographic_parity_ratio(y_true: Any, y_pred: Any, *, sensitive_features: Any,
                             method: Method = "between_groups", sample_weight: Any = None) -> float:
    """Smallest over largest group selection rate (fairlearn's; 1 is parity)."""
    rates, overall = _table(y_true, y_pred, sensitive_features, sample_weight)
    return _ratio(rates["selection_rate"], overall["selection_rate"], method)


def equalized_odds_difference(y_true: Any, y_pred: Any, *, sensitive_features: Any,
                              method: Method = "between_groups", sample_weight: Any = None,
                              agg: Literal["worst_case", "mean"] = "worst_case") -> float:
    """The larger (``worst_case``) or mean of the TPR and FPR differences (fairlearn's)."""
    _check_agg(agg)
    rates, overall = _table(y_true, y_pred, sensitive_features, sample_weight)
    both = [_difference(rates[m], overall[m], method) for m in ("tpr", "fpr")]
    return _aggregate(both, agg, max)


def equalized_odds_ratio(y_true: Any, y_pred: Any, *, sensitive_features: Any,
                         method: Method = "between_groups", sample_weight: Any = None,
                         agg: Literal["worst_case", "mean"] = "worst_case") -> float:
    """The smaller (``worst_case``) or mean of the TPR and FPR ratios (fairlearn's)."""
    _check_agg(agg)
    rates, overall = _table(y_true, y_pred, sensitive_features, sample_weight)
    both = [_ratio(rates[m], overall[m], method) for m in ("tpr", "fpr")]
    return _aggregate(both, agg, min)


def _aggregate(both: list[float], agg: str, worst: Any) -> float:
    # fairlearn applies Python's max/min to the (tpr, fpr) Series, NaN order rules
    # included, and pandas' mean (NaN skipped) for agg="mean"
    if agg == "worst_case":
        return float(worst(both))
    kept = [v for v in both if not math.isnan(v)]
    return float(sum(kept) / len(kept)) if kept else float("nan")


def equal_opportunity_difference(y_true: Any, y_pred: Any, *, sensitive_features: Any,
                                 method: Method = "between_groups", sample_weight: Any = None) -> float:
    """Largest minus smallest group TPR (fairlearn's)."""
    rates, overall = _table(y_true, y_pred, sensitive_features, sample_weight)
    return _difference(rates["tpr"], overall["tpr"], method)


def equal_opportunity_ratio(y_true: Any, y_pred: Any, *, sensitive_features: Any,
                            method: Method = "between_groups", sample_weight: Any = None) -> float:
    """Smallest over largest group TPR (fairlearn's)."""
    rates, overall = _table(y_true, y_pred, sensitive_features, sample_weight)
    return _ratio(rates["tpr"], overall["tpr"], method)


# --------------------------------------------------------------------------
# Bootstrap intervals of the disparities.
# --------------------------------------------------------------------------

DISPARITIES = (
    "demographic_parity_difference", "demographic_parity_ratio",
    "equalized_odds_difference", "equalized_odds_ratio",
    "equal_opportunity_difference", "equal_opportunity_ratio",
)


def disparities(cells: np.ndarray, method: Method = "between_groups") -> dict[str, float]:
    """The six disparity figures from per-group cell counts (groups with no rows skipped)."""
    present = cells.sum(axis=1) > 0
    rates = _rates(cells[present])
    overall = {k: float(v[0]) for k, v in _rates(cells.sum(axis=0, keepdims=True)).items()}
    diff = {m: _difference(rates[m], overall[m], method) for m in ("selection_rate", "tpr", "fpr")}
    ratio = {m: _ratio(rates[m], overall[m], method) for m in ("selection_rate", "tpr", "fpr")}
    return {
        "demographic_parity_difference": diff["selection_rate"],
        "demographic_parity_ratio": ratio["selection_rate"],
        "equalized_odds_difference": float(max([diff["tpr"], diff["fpr"]])),
        "equalized_odds_ratio": float(min([ratio["tpr"], ratio["fpr"]])),
        "equal_opportunity_difference": diff["tpr"],
        "equal_opportunity_ratio": ratio["tpr"],
    }


@dataclass(frozen=True)
class BootstrapResult:
    """Percentile intervals per disparity, and how many resamples missed a group
    (those resamples are measured over the groups they hold, and counted here)."""

    low: dict[str, float]
    high: dict[str, float]
    n_resamples: int
    missed_group_resamples: int
    missed_groups: list[tuple[Any, ...]]


def bootstrap_disparities(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    sample_weight: Any = None,
    method: Method = "between_groups",
    pos_label: Any = 1,
) -> BootstrapResult:
    """Seeded percentile bootstrap of the six disparity figures over row resamples.

    Without weights a resample's per-group cell counts are drawn directly from
    their multinomial law (the same distribution as counting resampled rows, at
    a cost independent of n); with weights rows are resampled. A resample that
    misses a group (a small group is easily missed) is not an error: it is
    measured over the groups it holds and counted in ``missed_group_resamples``.
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    rng = np.random.default_rng(seed)
    grouped, row_group = _group_table(y_true, y_pred, sensitive_features, sample_weight=sample_weight,
                                      pos_label=pos_label, need_rows=sample_weight is not None)
    n = int(grouped.rows.sum())
    samples: dict[str, list[float]] = {k: [] for k in DISPARITIES}
    missed = np.zeros(len(grouped.labels), dtype=np.int64)
    missed_resamples = 0
    if sample_weight is None:
        flat = grouped.cells.ravel().astype(np.float64)
        draws = rng.multinomial(n, flat / flat.sum(), size=n_resamples).reshape(n_resamples, *grouped.cells.shape)
    else:
        truth = _as_label_array(y_true, "y_true", n)
        pred = _as_label_array(y_pred, "y_pred", n)
        weight = np.ascontiguousarray(as_numpy(sample_weight, "sample_weight"), dtype=np.float64)
        draws = None
    for r in range(n_resamples):
        if draws is not None:
            cells = draws[r]
            rows = cells.sum(axis=1)
        else:
            picked = rng.integers(0, n, n)
            cells = _resample_rows(row_group, truth, pred, _pos(pos_label), weight, picked, len(grouped.labels))
            rows = np.bincount(row_group[picked], minlength=len(grouped.labels))
        absent = rows == 0
        if absent.any():
            missed_resamples += 1
            missed += absent
        for key, value in disparities(cells, method).items():
            samples[key].append(value)
    tail = (1 - confidence) / 2
    low, high = {}, {}
    for key, values in samples.items():
        array = np.asarray(values)
        if np.isnan(array).all():
            low[key] = high[key] = float("nan")
        else:
            low[key], high[key] = (float(q) for q in np.nanquantile(array, [tail, 1 - tail]))
    return BootstrapResult(low, high, n_resamples, missed_resamples,
                           [grouped.labels[g] for g in np.flatnonzero(missed)])
