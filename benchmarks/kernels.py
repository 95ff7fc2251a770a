"""Benchmark lockgate's statistics kernels (DESIGN §5) against what users would reach for.

For every kernel and size: the steady-state median time (JIT warmed), the
reference's median (scikit-learn / SciPy / NumPy) in the same run and the
speedup, and a floor (``np.argsort``/``np.sort``/``np.sum`` over the same data)
with our time as a multiple of it. The first call of each kernel (cache load,
or compilation with ``--cold-cache``) is reported separately.

    python benchmarks/kernels.py                    # sizes 1e5,1e6,1e7
    python benchmarks/kernels.py --quick            # 1e5,1e6, fewer repeats
    python benchmarks/kernels.py --sizes 1e6 --json results.json

``--json`` writes a flat dict (``roc_auc_speedup_1e6``, ``roc_auc_vs_floor_1e6``,
``roc_auc_ms_1e6``, ..., and ``<case>_speedup``: the worst speedup over the
sizes run) for gates. Not a test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Data = dict[str, np.ndarray]

MC_CLASSES = 10


@dataclass(frozen=True)
class Case:
    name: str
    ours: Callable[[Data], Any]
    reference: Callable[[Data], Any]
    reference_name: str
    floor: Callable[[Data], Any]
    floor_name: str
    target: str  # the goal, for the table


@dataclass
class Row:
    case: str
    size: int
    ours_ms: float
    ours_min_ms: float
    reference_ms: float
    floor_ms: float
    agrees: bool

    @property
    def speedup(self) -> float:
        return self.reference_ms / self.ours_ms

    @property
    def vs_floor(self) -> float:
        return self.ours_ms / self.floor_ms


# ------------------------------------------------------------------ data


def make_data(n: int, seed: int = 0) -> Data:
    rng = np.random.default_rng(seed)
    y_true = (rng.random(n) < 0.3).astype(np.int64)
    # scores that carry signal, so the ranking metrics are not ~0.5
    score = rng.random(n) * 0.7 + y_true * 0.3 * rng.random(n)
    truth = rng.normal(size=n)
    return {
        "y_true": y_true,
        "y_pred": (score > 0.5).astype(np.int64),
        "score": score,
        "truth": truth,
        "estimate": truth + rng.normal(scale=0.5, size=n),
        "ref": rng.normal(size=n),
        "cur": rng.normal(0.1, 1.0, size=n),
        # issue 21: ten classes (a model right 60% of the time) and row weights
        "mc_true": (mc_true := rng.integers(0, MC_CLASSES, n)),
        "mc_pred": np.where(rng.random(n) < 0.6, mc_true, rng.integers(0, MC_CLASSES, n)),
        "weight": rng.random(n) * 3,
    }


# ------------------------------------------------------------------ references


def _sum2(a: str, b: str) -> Callable[[Data], Any]:
    return lambda d: (np.sum(d[a]), np.sum(d[b]))


def _numpy_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """PSI as DESIGN §5 defines it, in plain NumPy."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    inner = edges[1:-1]
    k = inner.size + 1
    r = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=k) / ref.size
    c = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=k) / cur.size
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


def _numpy_scipy_js(ref: np.ndarray, cur: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    p = np.histogram(ref, edges)[0] / ref.size
    q = np.histogram(cur, edges)[0] / cur.size
    return float(jensenshannon(p, q))


def metric_cases() -> list[Case]:
    from sklearn import metrics as sk

    from lockgate.kernels import metrics as lg

    def labelled(name: str, ours: Callable, ref: Callable, target: str) -> Case:
        return Case(
            name, lambda d: ours(d["y_true"], d["y_pred"]), lambda d: ref(d["y_true"], d["y_pred"]),
            f"sklearn.{ref.__name__ if hasattr(ref, '__name__') else name}", _sum2("y_true", "y_pred"),
            "np.sum(y_true)+np.sum(y_pred)", target,
        )

    def regression(name: str, ours: Callable, ref: Callable, target: str = "<=2x floor") -> Case:
        return Case(
            name, lambda d: ours(d["truth"], d["estimate"]), lambda d: ref(d["truth"], d["estimate"]),
            f"sklearn.{ref.__name__}", _sum2("truth", "estimate"), "np.sum(y_true)+np.sum(y_pred)", target,
        )

    def ranking(name: str, ours: Callable, ref: Callable) -> Case:
        return Case(
            name, lambda d: ours(d["y_true"], d["score"]), lambda d: ref(d["y_true"], d["score"]),
            f"sklearn.{ref.__name__}", lambda d: np.argsort(d["score"]), "np.argsort(score)",
            ">=5x ref, <=1.5x floor",
        )

    def zero(fn: Callable) -> Callable:
        def scored(t, p):
            return fn(t, p, zero_division=0)

        scored.__name__ = fn.__name__
        return scored

    def sk_confusion(t, p):
        return tuple(sk.confusion_matrix(t, p, labels=[0, 1]).ravel())

    sk_confusion.__name__ = "confusion_matrix"
    return [
        ranking("roc_auc", lg.roc_auc, sk.roc_auc_score),
        ranking("average_precision", lg.average_precision, sk.average_precision_score),
        labelled("confusion_matrix", lambda t, p: tuple(lg.confusion_matrix(t, p)), sk_confusion, ">=100x ref, <=2x floor"),
        labelled("precision", lg.precision, zero(sk.precision_score), ">=100x ref, <=2x floor"),
        labelled("recall", lg.recall, zero(sk.recall_score), ">=100x ref, <=2x floor"),
        labelled("f1", lg.f1, zero(sk.f1_score), ">=100x ref, <=2x floor"),
        labelled("accuracy", lg.accuracy, sk.accuracy_score, "<=2x floor"),
        Case(
            "log_loss", lambda d: lg.log_loss(d["y_true"], d["score"]),
            lambda d: sk.log_loss(d["y_true"], d["score"]), "sklearn.log_loss",
            _sum2("y_true", "score"), "np.sum(y_true)+np.sum(p)", ">=30x ref, <=2x floor",
        ),
        regression("mae", lg.mae, sk.mean_absolute_error),
        regression("rmse", lg.rmse, sk.root_mean_squared_error),
        regression("r2", lg.r2, sk.r2_score, "- (three passes: not a one-pass target)"),
        *issue21_cases(),
    ]


def issue21_cases() -> list[Case]:
    """Multiclass F1 against one np.bincount of the pairs; weighted ROC AUC against our unweighted one."""
    from sklearn import metrics as sk

    from lockgate.kernels import metrics as lg

    def pair_bincount(d: Data) -> Any:
        return np.bincount(d["mc_true"] * MC_CLASSES + d["mc_pred"], minlength=MC_CLASSES * MC_CLASSES)

    return [
        Case(
            "f1_macro_10", lambda d: lg.f1(d["mc_true"], d["mc_pred"], average="macro"),
            lambda d: sk.f1_score(d["mc_true"], d["mc_pred"], average="macro"), "sklearn.f1_score(average='macro')",
            pair_bincount, "np.bincount(y_true*k+y_pred)", ">=50x ref, <=3x floor",
        ),
        Case(
            "f1_weighted_10", lambda d: lg.f1(d["mc_true"], d["mc_pred"], average="weighted", sample_weight=d["weight"]),
            lambda d: sk.f1_score(d["mc_true"], d["mc_pred"], average="weighted", sample_weight=d["weight"]),
            "sklearn.f1_score(weighted, sample_weight)", pair_bincount, "np.bincount(y_true*k+y_pred)", "-",
        ),
        Case(
            "roc_auc_weighted", lambda d: lg.roc_auc(d["y_true"], d["score"], sample_weight=d["weight"]),
            lambda d: sk.roc_auc_score(d["y_true"], d["score"], sample_weight=d["weight"]),
            "sklearn.roc_auc_score(sample_weight)", lambda d: lg.roc_auc(d["y_true"], d["score"]),
            "lockgate roc_auc unweighted", "<=2x floor",
        ),
        Case(
            "ap_weighted", lambda d: lg.average_precision(d["y_true"], d["score"], sample_weight=d["weight"]),
            lambda d: sk.average_precision_score(d["y_true"], d["score"], sample_weight=d["weight"]),
            "sklearn.average_precision_score(sample_weight)", lambda d: lg.average_precision(d["y_true"], d["score"]),
            "lockgate average_precision unweighted", "-",
        ),
    ]


def drift_cases() -> tuple[list[Case], str | None]:
    """The drift kernels, or none and the reason when ``lockgate.kernels.drift`` does not import."""
    try:
        from lockgate.kernels import drift
    except Exception as exc:  # being written concurrently; a broken import must not stop the run
        return [], f"drift kernels skipped: lockgate.kernels.drift does not import ({exc!r})"
    from scipy import stats

    def sort2(d: Data) -> Any:
        return np.sort(d["ref"]), np.sort(d["cur"])

    return [
        Case(
            "ks", lambda d: drift.ks_2samp(d["ref"], d["cur"]), lambda d: tuple(stats.ks_2samp(d["ref"], d["cur"])),
            "scipy.stats.ks_2samp", sort2, "np.sort(ref)+np.sort(cur)", ">=10x ref, <=1.5x floor",
        ),
        Case(
            "wasserstein", lambda d: drift.wasserstein(d["ref"], d["cur"]),
            lambda d: stats.wasserstein_distance(d["ref"], d["cur"]), "scipy.stats.wasserstein_distance",
            sort2, "np.sort(ref)+np.sort(cur)", ">=10x ref, <=1.5x floor",
        ),
        Case(
            "ks_less", lambda d: drift.ks_2samp(d["ref"], d["cur"], alternative="less"),
            lambda d: tuple(stats.ks_2samp(d["ref"], d["cur"], alternative="less"))[:2],
            "scipy.stats.ks_2samp(alternative='less')", sort2, "np.sort(ref)+np.sort(cur)", "-",
        ),
        Case(
            "psi", lambda d: drift.psi(d["ref"], d["cur"]), lambda d: _numpy_psi(d["ref"], d["cur"]),
            "numpy quantile+searchsorted+bincount", _sum2("ref", "cur"), "np.sum(ref)+np.sum(cur)",
            ">=5x ref",
        ),
        Case(
            "jensen_shannon", lambda d: drift.jensen_shannon(d["ref"], d["cur"]),
            lambda d: _numpy_scipy_js(d["ref"], d["cur"]), "np.histogram+scipy jensenshannon",
            _sum2("ref", "cur"), "np.sum(ref)+np.sum(cur)", "faster than ref",
        ),
    ], None


# ------------------------------------------------------------------ timing


def _once(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_interleaved(
    fns: list[Callable[[], Any]], budget_s: float, min_rounds: int, max_rounds: int
) -> list[tuple[float, float]]:
    """(median, min) ms of each of ``fns``, timed in alternation.

    Round-robin rather than one after the other: on a shared machine the load
    changes from second to second, and alternating makes it hit ours, the
    reference and the floor alike, so their ratios stay meaningful. A round
    runs each function at least once and fast ones several times (up to a
    tenth of the slowest's time), so that fast timings are not all taken cold.
    """
    samples: list[list[float]] = [[] for _ in fns]
    first = [_once(fn) for fn in fns]  # also sizes the rounds
    slowest = max(first)
    inner = [max(1, min(20, int(slowest / 10 / max(t, 1e-9)))) for t in first]
    spent = 0.0
    rounds = 0
    while rounds < min_rounds or (spent < budget_s and rounds < max_rounds):
        for fn, times, k in zip(fns, samples, inner):
            for _ in range(k):
                elapsed = _once(fn)
                times.append(elapsed)
                spent += elapsed
        rounds += 1
    return [(statistics.median(t) * 1e3, min(t) * 1e3) for t in samples]


def _agree(a: Any, b: Any) -> bool:
    a_values = np.atleast_1d(np.asarray(a, dtype=np.float64))
    b_values = np.atleast_1d(np.asarray(b, dtype=np.float64))
    return a_values.shape == b_values.shape and bool(np.allclose(a_values, b_values, rtol=1e-6, atol=1e-12))


def first_calls(cases: list[Case]) -> dict[str, float]:
    """Each kernel's first call in this process, ms (cache load, or compile when cold)."""
    tiny = make_data(1000, seed=1)
    result = {}
    for case in cases:
        start = time.perf_counter()
        case.ours(tiny)
        result[case.name] = (time.perf_counter() - start) * 1e3
    return result


def run(cases: list[Case], sizes: list[int], quick: bool) -> list[Row]:
    budget = 0.5 if quick else 1.5
    rows = []
    for n in sizes:
        data = make_data(n)
        for case in cases:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                (ours_ms, ours_min), (ref_ms, _), (floor_ms, _) = time_interleaved(
                    [lambda: case.ours(data), lambda: case.reference(data), lambda: case.floor(data)],
                    budget, 2 if n >= 10**7 else 3, 25,
                )
                agrees = _agree(case.ours(data), case.reference(data))
            rows.append(Row(case.name, n, ours_ms, ours_min, ref_ms, floor_ms, agrees))
            print(".", end="", flush=True, file=sys.stderr)
    print(file=sys.stderr)
    return rows


# ------------------------------------------------------------------ output


def size_label(n: int) -> str:
    exponent = round(math.log10(n))
    return f"1e{exponent}" if 10**exponent == n else str(n)


def render(rows: list[Row], cases: list[Case], first: dict[str, float]) -> str:
    by_name = {c.name: c for c in cases}
    head = (
        f"{'kernel':<18}{'n':>5}{'ours ms':>10}{'ref ms':>10}{'speedup':>9}"
        f"{'floor ms':>10}{'x floor':>8}  {'first call ms':>13}  target / reference / floor"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        case = by_name[row.case]
        flag = "" if row.agrees else "  (RESULTS DIFFER)"
        lines.append(
            f"{row.case:<18}{size_label(row.size):>5}{row.ours_ms:>10.3f}{row.reference_ms:>10.2f}"
            f"{row.speedup:>8.1f}x{row.floor_ms:>10.3f}{row.vs_floor:>7.2f}x  {first[row.case]:>13.1f}"
            f"  {case.target} / {case.reference_name} / {case.floor_name}{flag}"
        )
    return "\n".join(lines)


def flat_results(rows: list[Row], first: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in rows:
        label = size_label(row.size)
        out[f"{row.case}_speedup_{label}"] = round(row.speedup, 3)
        out[f"{row.case}_vs_floor_{label}"] = round(row.vs_floor, 3)
        out[f"{row.case}_ms_{label}"] = round(row.ours_ms, 4)
        out[f"{row.case}_min_ms_{label}"] = round(row.ours_min_ms, 4)
        out[f"{row.case}_ref_ms_{label}"] = round(row.reference_ms, 4)
        out[f"{row.case}_floor_ms_{label}"] = round(row.floor_ms, 4)
        worst = out.get(f"{row.case}_speedup", math.inf)
        out[f"{row.case}_speedup"] = min(worst, round(row.speedup, 3))
    for name, ms in first.items():
        out[f"{name}_first_call_ms"] = round(ms, 2)
    return out


def parse_sizes(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 1e5,1e6 and a smaller time budget")
    parser.add_argument("--sizes", type=parse_sizes, help="comma-separated, e.g. 1e5,1e6,1e7")
    parser.add_argument("--json", type=Path, help="write flat results to this file")
    parser.add_argument("--only", help="comma-separated case names to run")
    parser.add_argument(
        "--cold-cache", action="store_true", help="compile into an empty numba cache, so first calls show compile time"
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or ([10**5, 10**6] if args.quick else [10**5, 10**6, 10**7])
    if args.cold_cache:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="lockgate-numba-")

    cases = metric_cases()
    extra, note = drift_cases()
    cases += extra
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.name in wanted]
    first = first_calls(cases)
    rows = run(cases, sizes, args.quick)

    print(f"cores: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}, "
          f"numpy {np.__version__}, median of repeats; speedup = ref / ours, x floor = ours / floor; "
          f"first call = {'compile (cold cache)' if args.cold_cache else 'cache load or compile'}")
    print(render(rows, cases, first))
    if note:
        print(note)
    if args.json:
        args.json.write_text(json.dumps(flat_results(rows, first), indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 0 if all(r.agrees for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
