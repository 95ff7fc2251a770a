"""numba-compiled statistics kernels: drift tests and model metrics.

Every function here equals its SciPy / scikit-learn reference (see DESIGN §5)
and is faster. This package imports nothing from the rest of lockgate, and
``import lockgate`` never imports it: numba loads only when a kernel is used.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule; submodules load on first use so that importing one
# kernel family does not pay for the others (polars is needed by `table` only).
_EXPORTS = {
    # model metrics (metrics.py)
    "roc_auc": "metrics",
    "average_precision": "metrics",
    "confusion_matrix": "metrics",
    "precision": "metrics",
    "recall": "metrics",
    "f1": "metrics",
    "accuracy": "metrics",
    "log_loss": "metrics",
    "mae": "metrics",
    "rmse": "metrics",
    "r2": "metrics",
    # drift statistics (drift.py)
    "ks_2samp": "drift",
    "wasserstein": "drift",
    "psi": "drift",
    "jensen_shannon": "drift",
    "chi2": "drift",
    "chisquare": "drift",
    "z_test": "drift",
    "psi_categorical": "drift",
    "jensen_shannon_categorical": "drift",
    # whole-table drift with Evidently's default test choice (table.py)
    "drift_table": "table",
    "DriftResult": "table",
    "profile": "table",
    "Profile": "table",
    # bounded-memory drift over parquet batches (streaming.py)
    "streaming_drift": "streaming",
    # group fairness, fairlearn's semantics (fairness.py)
    "group_metrics": "fairness",
    "GroupMetrics": "fairness",
    "demographic_parity_difference": "fairness",
    "demographic_parity_ratio": "fairness",
    "equalized_odds_difference": "fairness",
    "equalized_odds_ratio": "fairness",
    "equal_opportunity_difference": "fairness",
    "equal_opportunity_ratio": "fairness",
    "bootstrap_disparities": "fairness",
    # permutation importance, scikit-learn's permutations (importance.py)
    "permutation_importance": "importance",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lockgate.kernels' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
