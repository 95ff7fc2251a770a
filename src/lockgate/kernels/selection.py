"""Which drift test each column gets, and when it has drifted: Evidently 0.7.23's rule.

Owns the choice that in-memory (``table.py``) and streaming (``streaming.py``)
drift share, so that both flag the same columns as Evidently does on the same
data: the column kind, the default test, the methods a kind allows, the
thresholds and how each test compares with its threshold, and the
``method``/``threshold``/``per_column`` options resolved per column. It reads
no data and computes no statistic: callers pass counts (``drift.py`` owns the
statistics, ``columns.py`` the reading of Arrow columns).

Evidently details, confirmed in the evidently 0.7.23 wheel (paths below are
under ``src/evidently/``) and mirrored here and in the callers:

* Column kind comes from the *current* dataset (``core/report.py``:
  ``Context.data_definition`` is ``_input_data[0]``, the current data;
  ``ValueDriftCalculation`` reads ``current_data.column(column).type``), as
  ``core/datasets.py::infer_column_type`` sees the pandas dtype: float ->
  numerical; int -> categorical if ``nunique() <= 10`` else numerical (an int
  column with nulls arrives in pandas as float64, so numerical); bool and
  pandas ``category`` (Arrow dictionary) -> categorical; strings ->
  categorical (or Text when ``nunique > 0.5 * count``, see "not mirrored").
* NaN and +-inf are dropped from both sides before anything else, and an empty
  side is an error (``legacy/calculations/data_drift.py::get_one_column_drift``:
  ``replace([-np.inf, np.inf], np.nan).dropna()``). The 1000-row boundary and
  every count below are therefore over the cleaned columns.
* The default test (``legacy/calculations/stattests/registry.py::
  _get_default_stattest``): ``n_values`` = unique values of reference and
  current *together*; reference <= 1000 rows: numerical with n_values > 5 ->
  ``ks``, else (and for categorical) ``chisquare`` if n_values > 2 else ``z``;
  reference > 1000 rows: numerical with n_values > 5 -> ``wasserstein``, else
  (and for categorical) ``jensenshannon``.
* Comparisons and defaults (``legacy/calculations/stattests/*.py``):
  ks drifted if ``p <= 0.05`` (``ks_stattest.py``); chisquare ``p < 0.05``
  (``chisquare_stattest.py``); z ``p < 0.05`` (``z_stattest.py``);
  wasserstein ``distance / max(std(ref), 0.001) >= 0.1``
  (``wasserstein_distance_norm.py``, population std); jensenshannon
  ``distance >= 0.1`` with natural log (``jensenshannon.py``); psi
  ``value >= 0.1`` (``psi.py``).
* Binning for jensenshannon and psi (``stattests/utils.py::get_binned_data``):
  numerical columns with more than 20 unique *reference* values use a Sturges
  histogram over the pooled sample; everything else uses the proportions of
  each value over the union of values. psi then replaces zero proportions by
  ``min(nonzero) / 1e6`` if that minimum is <= 1e-4, else by 1e-4
  ("feel_zeroes", ``drift.psi_binned``); jensenshannon does not.
* Methods are restricted to column kinds as registered (``allowed_feature_types``):
  ks and wasserstein numerical only, chisquare and z categorical only, psi and
  jensenshannon both. (The default rule itself bypasses this and runs
  chisquare/z on numerical columns with few values.)
* Dataset drift: ``share >= drift_share`` with ``drift_share = 0.5``
  (``legacy/calculations/data_drift.py::get_dataset_drift``).

Not mirrored (documented deviations): Evidently tests string columns with
more unique values than half their rows as *Text* with a trained domain
classifier; lockgate tests them as categories. Evidently leaves unsigned
integer columns and bool columns holding nulls as type *Unknown* and silently
skips them; lockgate treats them as integers / booleans.

Imports nothing from the rest of lockgate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from lockgate.kernels.columns import storage_of

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

Kind = Literal["num", "cat"]
Method = Literal["ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"]

# Evidently's defaults (see the module docstring for the files).
SMALL_REFERENCE_ROWS = 1000
FEW_VALUES = 5
BINARY_VALUES = 2
INT_CATEGORICAL_LIMIT = 10  # core/datasets.py INTEGER_CARDINALITY_LIMIT
HISTOGRAM_MIN_UNIQUE = 20  # get_binned_data: numeric with n_unique > 20 is histogrammed
# The rule never asks a current column for more distinct values than this.
DISTINCT_CAP = max(FEW_VALUES, INT_CATEGORICAL_LIMIT)
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
}
_ALLOWED_KINDS: dict[str, tuple[Kind, ...]] = {
    "ks": ("num",),
    "wasserstein": ("num",),
    "chisquare": ("cat",),
    "z": ("cat",),
    "psi": ("num", "cat"),
    "jensenshannon": ("num", "cat"),
}
_P_VALUE_TESTS = {"ks", "chisquare", "z"}


def column_kind(arrow_type: pa.DataType, null_count: int, n_unique: int) -> Kind | None:
    """Evidently's ``infer_column_type`` on the current column, as pandas would see it.

    ``n_unique`` counts the column's distinct values (exact up to
    ``INT_CATEGORICAL_LIMIT`` at least); None for a type drift cannot test.
    """
    import pyarrow.types as t

    if t.is_floating(arrow_type):
        return "num"
    if t.is_integer(arrow_type):
        if null_count:  # pandas holds an int column with nulls as float64
            return "num"
        return "cat" if n_unique <= INT_CATEGORICAL_LIMIT else "num"
    if t.is_boolean(arrow_type) or storage_of(arrow_type) == "cat":
        return "cat"
    return None


def pooled_unique(
    ref_unique: int, cur_unique: int, keys: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> int:
    """Unique values of reference and current together (Evidently: ``pd.concat(...).nunique()``).

    ``keys`` returns both sides' distinct values; it is called only when both
    sides have at most ``FEW_VALUES``, as more is all the rule distinguishes.
    """
    if max(ref_unique, cur_unique) > FEW_VALUES:
        return max(ref_unique, cur_unique)  # already more than the rule distinguishes
    ref_keys, cur_keys = keys()
    return len(set(ref_keys.tolist()) | set(cur_keys.tolist()))


def default_method(kind: Kind, ref_n: int, n_values: int) -> Method:
    """Evidently's ``_get_default_stattest`` (registry.py), branch for branch: from the
    current column's kind, the reference's non-missing size and ``pooled_unique``."""
    if ref_n <= SMALL_REFERENCE_ROWS:
        if kind == "num" and n_values > FEW_VALUES:
            return "ks"
        return "chisquare" if n_values > BINARY_VALUES else "z"
    if kind == "num" and n_values > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"


def check_not_empty(name: str, ref_n: int, cur_n: int) -> None:
    """Evidently drops missing values first; a side left with nothing cannot be tested."""
    if ref_n == 0 or cur_n == 0:
        side = "reference" if ref_n == 0 else "current"
        raise ValueError(
            f"column {name!r} is empty in the {side} data after dropping missing "
            f"(null/NaN/inf) values; drop the column or fill it"
        )


def check_method(name: str, method: str, kind: Kind) -> None:
    """An explicit method must suit the column kind, as Evidently's registry demands.

    Only explicit choices are checked: Evidently's default rule itself runs
    chisquare/z on numeric columns with few values.
    """
    if method not in _ALLOWED_KINDS:
        raise ValueError(f"unknown drift method {method!r} for column {name!r}; use one of {sorted(_ALLOWED_KINDS)}")
    if kind not in _ALLOWED_KINDS[method]:
        kinds = " or ".join("numeric" if k == "num" else "categorical" for k in _ALLOWED_KINDS[method])
        actual = "numeric" if kind == "num" else "categorical"
        raise ValueError(f"method {method!r} applies to {kinds} columns, but column {name!r} is {actual}")


def choose_method(
    name: str, choice: Mapping[str, Any], kind: Kind, ref_n: int, cur_n: int, n_values: Callable[[], int]
) -> str:
    """The test for one column: the one ``choice`` names (checked against ``kind``), else
    Evidently's default from ``n_values()`` (``pooled_unique``, asked only then)."""
    check_not_empty(name, ref_n, cur_n)
    method = choice.get("method")
    if method is None:
        return default_method(kind, ref_n, n_values())
    check_method(name, method, kind)
    chosen: str = method
    return chosen


def threshold_for(method: str, choice: Mapping[str, Any]) -> float:
    """The threshold ``choice`` names, else Evidently's default for ``method``."""
    threshold = choice.get("threshold")
    return DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)


def histogrammed(kind: Kind, ref_unique: int) -> bool:
    """Whether psi/jensenshannon bin the column on a Sturges histogram over the pooled
    sample (Evidently's ``get_binned_data``) rather than by value."""
    return kind == "num" and ref_unique > HISTOGRAM_MIN_UNIQUE


def drifted(method: str, statistic: float, p_value: float | None, threshold: float) -> bool:
    """Evidently's verdict: the p-value of ks/chisquare/z, else the distance, against ``threshold``."""
    score = p_value if method in _P_VALUE_TESTS else statistic
    if method == "ks":
        return bool(score <= threshold)  # ks_stattest.py: p_value <= threshold
    if method in ("chisquare", "z"):
        return bool(score < threshold)  # chisquare/z_stattest.py: p_value < threshold
    return bool(score >= threshold)  # distances: value >= threshold


def column_choices(
    names: list[str], method: str | None, threshold: float | None, per_column: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """``{"method", "threshold"}`` per column: ``per_column``'s entry, else the table-wide
    ``method``/``threshold`` (None: Evidently's default)."""
    per_column = dict(per_column or {})
    unknown = sorted(set(per_column) - set(names))
    if unknown:
        raise ValueError(f"per_column names columns that are not compared: {unknown}")
    out = {}
    for name in names:
        own = dict(per_column.get(name, {}))
        bad = sorted(set(own) - {"method", "threshold"})
        if bad:
            raise ValueError(f"per_column[{name!r}] has unknown keys {bad}; use 'method' and 'threshold'")
        out[name] = {"method": own.get("method", method), "threshold": own.get("threshold", threshold)}
    return out
