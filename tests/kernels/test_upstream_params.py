"""scikit-learn's own metric tests, replayed against lockgate (issue 21).

The test functions of ``sklearn/metrics/tests/test_classification.py`` and
``test_ranking.py`` that need no fixture run here with every parametrization
they declare; each call they make to a metric we implement goes to both
scikit-learn and our kernel, and the two must agree (values to 1e-9, or both
raise ValueError). Inputs outside what our kernels take (multilabel 2-D
``y_true``, sparse matrices, ``average="samples"``, ``beta``, a binary ranking
``y_true`` other than 0/1, and the deviations documented in
``lockgate.kernels.metrics``) are left to scikit-learn alone and counted as
skipped. The upstream tests' own assertions are not ours to judge: they run,
and only our agreement is asserted.
"""

from __future__ import annotations

import inspect
import itertools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from lockgate.kernels import metrics as lg

RTOL = 1e-9


class Skip(Exception):
    """The call uses something our kernels do not take."""


def _arrays(*values: Any) -> list[np.ndarray]:
    out = []
    for value in values:
        if hasattr(value, "toarray") or hasattr(value, "tocsr"):
            raise Skip("sparse")
        array = np.asarray(value)
        if array.dtype == object and any(isinstance(v, (list, np.ndarray)) for v in array.ravel()[:1]):
            raise Skip("ragged")
        out.append(array)
    return out


def _labels_1d(y: np.ndarray) -> None:
    if y.ndim != 1:
        raise Skip("multilabel y_true")


def _zero_division(value: Any) -> Any:
    return 0 if isinstance(value, str) and value == "warn" else value


def _set_wise(name: str) -> Callable[..., Any]:
    def ours(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None,
             zero_division="warn", **extra):
        if extra or average == "samples":
            raise Skip("beta/samples")
        t, p = _arrays(y_true, y_pred)
        _labels_1d(t)
        defaults = labels is None and pos_label == 1 and average == "binary" and sample_weight is None
        if defaults and _zero_division(zero_division) == 0 and not set(np.r_[t, p].tolist()) <= {0, 1}:
            raise Skip("labels outside {0, 1} with the defaults (documented: an error)")
        return getattr(lg, name)(t, p, labels=labels, pos_label=pos_label, average=average,
                                 sample_weight=sample_weight, zero_division=_zero_division(zero_division))

    return ours


def _accuracy(y_true, y_pred, *, normalize=True, sample_weight=None):
    t, p = _arrays(y_true, y_pred)
    _labels_1d(t)
    if t.dtype.kind not in "biuOUS" or p.dtype.kind not in "biuOUS":
        raise Skip("float labels")
    return lg.accuracy(t, p, normalize=normalize, sample_weight=sample_weight,
                       labels=np.unique(np.concatenate([t.astype(object), p.astype(object)]).astype(t.dtype)))


def _confusion(y_true, y_pred, *, labels=None, sample_weight=None, normalize=None):
    t, p = _arrays(y_true, y_pred)
    _labels_1d(t)
    if labels is None:
        labels = np.unique(np.concatenate([t, p]))
    return lg.confusion_matrix(t, p, labels=labels, sample_weight=sample_weight, normalize=normalize)


def _binary_ranking_truth(t: np.ndarray, s: np.ndarray) -> None:
    if s.ndim == 1 and not set(np.unique(t).tolist()) <= {0, 1}:
        raise Skip("binary y_true other than 0/1 (documented)")
    if s.ndim == 1 and np.unique(t).size < 2:
        raise Skip("one class (documented: we raise)")
    if not np.isfinite(s).all():
        raise Skip("infinite scores (documented: we rank them)")


def _roc_auc(y_true, y_score, *, average="macro", sample_weight=None, max_fpr=None, multi_class="raise",
             labels=None):
    t, s = _arrays(y_true, y_score)
    _labels_1d(t)
    _binary_ranking_truth(t, s)
    return lg.roc_auc(t, s, average=average, sample_weight=sample_weight, max_fpr=max_fpr,
                      multi_class=multi_class, labels=labels)


def _average_precision(y_true, y_score, *, average="macro", pos_label=1, sample_weight=None):
    t, s = _arrays(y_true, y_score)
    _labels_1d(t)
    if pos_label == 1:
        _binary_ranking_truth(t, s)
    return lg.average_precision(t, s, average=average, pos_label=pos_label, sample_weight=sample_weight)


def _log_loss(y_true, y_proba=None, *, normalize=True, sample_weight=None, labels=None, **extra):
    if extra or not normalize:
        raise Skip("normalize=False / deprecated y_pred")
    t, p = _arrays(y_true, y_proba)
    _labels_1d(t)
    if p.ndim == 1 and not set(np.unique(t).tolist()) <= {0, 1}:
        raise Skip("1-D p with labels other than 0/1 (documented)")
    return lg.log_loss(t, p, labels=labels, sample_weight=sample_weight)


OURS = {
    "precision_score": _set_wise("precision"),
    "recall_score": _set_wise("recall"),
    "f1_score": _set_wise("f1"),
    "accuracy_score": _accuracy,
    "confusion_matrix": _confusion,
    "roc_auc_score": _roc_auc,
    "average_precision_score": _average_precision,
    "log_loss": _log_loss,
}


class Tally:
    def __init__(self) -> None:
        self.compared = 0
        self.skipped = 0
        self.mismatches: list[str] = []


def _checked(name: str, reference: Callable[..., Any], ours: Callable[..., Any], tally: Tally) -> Callable[..., Any]:
    def call(*args, **kwargs):
        try:
            expected = reference(*args, **kwargs)
        except Exception as exc:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ours(*args, **kwargs)
            except Skip:
                tally.skipped += 1
            except (ValueError, NotImplementedError, ZeroDivisionError):
                tally.compared += 1
            else:
                if isinstance(exc, (ValueError, NotImplementedError)):
                    tally.mismatches.append(f"{name}{_show(args, kwargs)}: scikit-learn raised {exc!r}, we did not")
            raise
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = ours(*args, **kwargs)
        except Skip:
            tally.skipped += 1
            return expected
        except Exception as exc:  # noqa: BLE001
            tally.mismatches.append(f"{name}{_show(args, kwargs)}: we raised {exc!r}, scikit-learn gave {expected!r}")
            return expected
        tally.compared += 1
        a = np.asarray(got, dtype=np.float64).ravel()
        b = np.asarray(expected, dtype=np.float64).ravel()
        # float32 inputs: our fused kernels accumulate in float64 (documented, ~1e-6)
        rtol = 2e-6 if any(getattr(v, "dtype", None) == np.float32 for v in (*args, *kwargs.values())) else RTOL
        if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=1e-15, equal_nan=True):
            tally.mismatches.append(f"{name}{_show(args, kwargs)}: ours {got!r} != scikit-learn {expected!r}")
        return expected

    return call


def _show(args: tuple, kwargs: dict) -> str:
    text = ", ".join([*(repr(a)[:60] for a in args), *(f"{k}={v!r}"[:40] for k, v in kwargs.items())])
    return f"({text})"


def _cases(module: Any) -> list[tuple[Callable[..., Any], dict[str, Any]]]:
    """(test function, keyword arguments) for every parametrization of every fixture-free test."""
    cases = []
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if not name.startswith("test_") or fn.__module__ != module.__name__:
            continue
        marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
        grids = []
        for mark in marks:
            names = mark.args[0]
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
            rows = [getattr(v, "values", v) for v in mark.args[1]]
            grids.append([dict(zip(names, row if len(names) > 1 else (row,))) for row in rows])
        params = set(inspect.signature(fn).parameters)
        for combo in itertools.product(*grids) if grids else [()]:
            kwargs = {k: v for part in combo for k, v in part.items()}
            if set(kwargs) == params:
                cases.append((fn, kwargs))
    return cases


def _uses_our_metrics(fn: Callable[..., Any]) -> bool:
    names = set(fn.__code__.co_names)
    return bool(names & set(OURS))


def _upstream(name: str, config: Any) -> Any:
    """Import one of scikit-learn's test modules (it uses markers our strict config does not know)."""
    for marker in ("thread_unsafe", "xfail_np_lt_2", "skipif_32bit"):
        config.addinivalue_line("markers", f"{marker}: scikit-learn's own marker")
    return pytest.importorskip(f"sklearn.metrics.tests.{name}")


@pytest.mark.parametrize("module_name", ["test_classification", "test_ranking"])
def test_sklearns_own_parametrizations_agree(module_name, monkeypatch, request) -> None:
    module = _upstream(module_name, request.config)
    tally = Tally()
    for name, ours in OURS.items():
        if hasattr(module, name):
            monkeypatch.setattr(module, name, _checked(name, getattr(module, name), ours, tally))
    cases = [(fn, kwargs) for fn, kwargs in _cases(module) if _uses_our_metrics(fn)]
    assert len(cases) > 20
    for fn, kwargs in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fn(**kwargs)
            except Exception:  # noqa: BLE001 - the upstream test's own verdict is not ours
                pass
    print(f"{module.__name__}: {len(cases)} upstream cases, {tally.compared} calls compared, "
          f"{tally.skipped} skipped")
    assert tally.compared > 100
    assert not tally.mismatches, "\n".join(tally.mismatches[:20])
