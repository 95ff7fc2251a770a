"""Benchmark the fairness and importance kernels (issue 16) against fairlearn and scikit-learn.

Group metrics: 1e6 rows x 2 sensitive columns (region: 4 strings, senior: bool;
8 groups). fairlearn's ``MetricFrame`` with the same metrics (n, selection
rate, TPR, FPR, FNR, precision, accuracy, base rate) and its
``demographic_parity_ratio`` against ``lockgate.kernels.group_metrics`` and
the four disparity functions, with the sensitive columns as a polars frame of
categoricals, of plain strings, and as integer codes; the floor is one
``np.bincount`` over 1e6 integer codes, and each of ours is printed as a
multiple of it. Every pair is checked to agree (1e-9) before it is timed.

Permutation importance: 100k x 20 with a random forest, scikit-learn's
``permutation_importance`` against ours (same random_state, same numbers);
the floor is the model's own ``predict_proba`` as many times as either calls it.

    python benchmarks/fairness.py            # the sizes above
    python benchmarks/fairness.py --quick    # 1e5 rows, 20k x 10, one repeat of the references

Not a test: the numbers depend on the machine and its load (printed first).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def timed(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def once(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def group_benchmark(n: int, reference_repeats: int) -> None:
    import fairlearn.metrics as fm
    import pandas as pd
    import polars as pl
    import sklearn.metrics as skm

    from lockgate import kernels

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    p = rng.integers(0, 2, n)
    region = np.array(["north", "south", "east", "west"])[rng.integers(0, 4, n)]
    senior = rng.random(n) < 0.3
    strings = pl.DataFrame({"region": region, "senior": senior})
    categorical = strings.with_columns(pl.col("region").cast(pl.Categorical))
    codes = [rng.integers(0, 4, n), senior]
    pandas_sf = pd.DataFrame({"region": region, "senior": senior})
    floor_codes = rng.integers(0, 8, n)

    def base_rate(t, q):
        return float(np.mean(t))

    def precision(t, q):
        return skm.precision_score(t, q, zero_division=0)

    metrics = {"n": fm.count, "selection_rate": fm.selection_rate, "tpr": fm.true_positive_rate,
               "fpr": fm.false_positive_rate, "fnr": fm.false_negative_rate, "precision": precision,
               "accuracy": skm.accuracy_score, "base_rate": base_rate}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame_s, frame = once(lambda: fm.MetricFrame(metrics=metrics, y_true=y, y_pred=p,
                                                     sensitive_features=pandas_sf))
        dpr_s, dpr = once(lambda: fm.demographic_parity_ratio(y, p, sensitive_features=pandas_sf))
        for _ in range(reference_repeats - 1):
            frame_s = min(frame_s, once(lambda: fm.MetricFrame(metrics=metrics, y_true=y, y_pred=p,
                                                               sensitive_features=pandas_sf))[0])
    ours = kernels.group_metrics(y, p, categorical)
    by_group = frame.by_group
    assert np.allclose(ours.selection_rate, by_group["selection_rate"].to_numpy(), rtol=1e-9)
    assert np.allclose(ours.tpr, by_group["tpr"].to_numpy(), rtol=1e-9)
    assert abs(kernels.demographic_parity_ratio(y, p, sensitive_features=strings) - dpr) < 1e-12
    floor = timed(lambda: np.bincount(floor_codes), 30)
    print(f"\ngroup metrics, {n:.0e} rows x 2 sensitive columns (8 groups)")
    print(f"  fairlearn MetricFrame (8 metrics)      {frame_s * 1e3:10.1f} ms")
    print(f"  fairlearn demographic_parity_ratio     {dpr_s * 1e3:10.1f} ms")
    print(f"  floor: np.bincount over {n:.0e} codes   {floor * 1e3:10.2f} ms")
    print(f"  {'lockgate':40s} {'ms':>8s} {'vs MetricFrame':>15s} {'x bincount':>11s}")
    cases: list[tuple[str, Callable[[], Any], float]] = []
    for label, sf in (("categorical", categorical), ("strings", strings), ("int codes", codes)):
        cases.append((f"group_metrics ({label})", lambda sf=sf: kernels.group_metrics(y, p, sf), frame_s))
    for name in ("demographic_parity_ratio", "demographic_parity_difference", "equalized_odds_ratio",
                 "equalized_odds_difference"):
        fn = getattr(kernels, name)
        cases.append((f"{name} (categorical)", lambda fn=fn: fn(y, p, sensitive_features=categorical), frame_s))
    cases.append(("demographic_parity_ratio (strings)",
                  lambda: kernels.demographic_parity_ratio(y, p, sensitive_features=strings), dpr_s))
    for label, fn, reference in cases:
        ours_s = timed(fn, 15)
        print(f"  {label:40s} {ours_s * 1e3:8.2f} {reference / ours_s:14.0f}x {ours_s / floor:10.1f}x")


def importance_benchmark(rows: int, columns: int, repeats: int) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.inspection import permutation_importance as sklearn_importance

    from lockgate.kernels import permutation_importance

    rng = np.random.default_rng(1)
    X = rng.normal(size=(rows, columns))
    y = (X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2] + rng.normal(size=rows) > 0).astype(np.int64)
    model = RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0).fit(X, y)
    calls = columns * repeats + 1
    predict = timed(lambda: model.predict_proba(X), 3)
    sk_s, theirs = once(lambda: sklearn_importance(model, X, y, scoring="roc_auc", n_repeats=repeats,
                                                   random_state=0))
    ours_s = timed(lambda: permutation_importance(model, X, y, scoring="roc_auc", n_repeats=repeats,
                                                  random_state=0), 2)
    ours = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=repeats, random_state=0)
    assert np.allclose(ours.importances, theirs.importances, rtol=1e-9, atol=1e-12)
    serial_floor = predict * calls
    print(f"\npermutation importance, {rows} x {columns}, random forest (20 trees, depth 8), "
          f"n_repeats={repeats}, roc_auc: {calls} predict_proba calls")
    print(f"  predict_proba once                     {predict * 1e3:10.1f} ms")
    print(f"  floor: {calls} predict_proba calls, serial {serial_floor:9.2f} s")
    print(f"  scikit-learn permutation_importance    {sk_s:10.2f} s   ({sk_s / serial_floor:.2f}x the floor)")
    print(f"  lockgate permutation_importance        {ours_s:10.2f} s   ({ours_s / serial_floor:.2f}x the floor, "
          f"{sk_s / ours_s:.2f}x faster than scikit-learn)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} cores, load average {load:.2f}")
    if args.quick:
        group_benchmark(100_000, 1)
        importance_benchmark(20_000, 10, 3)
    else:
        group_benchmark(1_000_000, 1)
        importance_benchmark(100_000, 20, 5)


if __name__ == "__main__":
    main()
