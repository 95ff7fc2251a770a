"""``fairness``: does the model treat groups differently, and is the data itself skewed?

With a model (or a scored table's ``prediction_column``) and a ``target``, each
sensitive column gets fairlearn's disparities (``demographic_parity_*``,
``equalized_odds_*``, ``equal_opportunity_*``, ``between_groups``, worst case)
and seeded bootstrap intervals; the top-level keys are the worst over the
columns (largest difference, smallest ratio), so ``fair.demographic_parity_ratio
>= 0.8`` gates on the four-fifths rule for every column at once and
``fair.region.demographic_parity_ratio`` on one. ``worst_group`` names, per
column, the group with the lowest and the highest selection rate.

Without a model: the representation of each group (``min_share``) and its base
rate (``base_rate_ratio``, ``base_rate_difference``); with a ``reference``
table, how much the shares and base rates moved (``share_shift``,
``base_rate_shift``): a training set that under-represents a group is visible
before anything is trained on it.

Groups smaller than ``min_group_size`` are flagged in the table (``small``) and
counted (``n_small_groups``), never dropped. The statistics are
``lockgate.kernels.fairness``; this module only orchestrates them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lockgate.errors import StageFailed
from lockgate.steps.base import (
    StepContext,
    columns_or_fail,
    load_model_input,
    to_polars,
)
from lockgate.steps.options import FairnessOptions as Options

DISPARITIES = (
    "demographic_parity_difference", "demographic_parity_ratio",
    "equalized_odds_difference", "equalized_odds_ratio",
    "equal_opportunity_difference", "equal_opportunity_ratio",
)


def run(inputs: dict[str, Any], options: Options, ctx: StepContext) -> Any:
    df = to_polars(inputs["table"])
    columns_or_fail(df, options.sensitive, "fairness")
    y_true = _labels(df, options)
    y_pred, y_score = _decisions(inputs, df, options)
    if y_pred is not None and y_true is None:
        raise StageFailed("fairness: group error rates need the labels; set with: {target: COLUMN}")
    reference = to_polars(inputs["reference"]) if inputs.get("reference") is not None else None
    if reference is not None:
        columns_or_fail(reference, options.sensitive, "fairness (reference)")
    result: dict[str, Any] = {"rows": df.height}
    rows: list[dict[str, Any]] = []
    for name, groups in _groupings(df, options):
        section, table = _measure(name, groups, y_true, y_pred, y_score, options)
        if reference is not None:
            section.update(_shift(name, table, _reference_table(reference, name, options)))
        result[name] = section
        rows.extend({"attribute": name, **row} for row in table)
    result.update(_worst(result, [name for name, _ in _groupings(df, options)]))
    result["groups"] = rows
    if len(ctx.stage.outputs) > 1:
        return result, _group_frame(rows)
    return result


def _labels(df: Any, options: Options) -> np.ndarray | None:
    if options.target is None:
        return None
    columns_or_fail(df, [options.target], "fairness")
    y = df[options.target]
    if y.null_count():
        raise StageFailed(f"fairness: target '{options.target}' has {y.null_count()} missing values")
    return y.to_numpy()


def _decisions(inputs: dict[str, Any], df: Any, options: Options) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The model's decisions (score >= threshold) and scores, or a scored table's columns."""
    if options.prediction_column or options.score_column:
        wanted = [c for c in (options.prediction_column, options.score_column) if c]
        columns_or_fail(df, wanted, "fairness")
        score = df[options.score_column].to_numpy().astype(np.float64) if options.score_column else None
        if options.prediction_column:
            return df[options.prediction_column].to_numpy(), score
        return (score >= options.threshold).astype(np.int64), score
    if inputs.get("model") is None:
        return None, None
    from lockgate.steps.builtins.predict import features_of, model_call, scores

    model = load_model_input(inputs["model"], trust_pickle=options.trust_pickle, step="fairness")
    X = features_of(model, df)
    score = scores(model, X, "fairness")
    if score is None:
        return model_call(model.predict, X, "fairness"), None
    return (score >= options.threshold).astype(np.int64), score


def _groupings(df: Any, options: Options) -> list[tuple[str, Any]]:
    """(key, sensitive columns) per measured grouping: each column, then their intersection."""
    out = [(column, df.select(column)) for column in options.sensitive]
    if options.intersections and len(options.sensitive) > 1:
        out.append(("_x_".join(options.sensitive), df.select(options.sensitive)))
    return out


def _measure(name: str, groups: Any, y_true: Any, y_pred: Any, y_score: Any,
             options: Options) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from lockgate.kernels.fairness import bootstrap_disparities, group_metrics

    try:
        metrics = group_metrics(y_true, y_pred, groups, y_score, pos_label=options.pos_label,
                                min_group_size=options.min_group_size)
    except ValueError as exc:
        raise StageFailed(f"fairness: {name}: {exc}") from None
    table = []
    for row in metrics.to_dicts():
        label = _label(row, metrics.names)
        for column in metrics.names:  # the labels become one 'group' text (a sensitive column may be named so)
            row.pop(column)
        table.append({"group": label, **row})
    section: dict[str, Any] = {
        "n_groups": len(table),
        "n_small_groups": int(metrics.small.sum()),
        "small_groups": [row["group"] for row in table if row["small"]],
        "min_share": float(min(row["share"] for row in table)),
    }
    if y_true is not None:
        section["base_rate_difference"] = metrics.difference("base_rate")
        section["base_rate_ratio"] = metrics.ratio("base_rate")
    if y_pred is None:
        return section, table
    section["selection_rate_difference"] = metrics.difference("selection_rate")
    section.update(metrics.disparities())
    section["worst_group"] = _extremes(table, "selection_rate")
    if options.n_resamples:
        boot = bootstrap_disparities(y_true, y_pred, sensitive_features=groups, n_resamples=options.n_resamples,
                                     confidence=options.confidence, seed=options.seed, pos_label=options.pos_label)
        section["ci_low"] = boot.low
        section["ci_high"] = boot.high
        section["missed_group_resamples"] = boot.missed_group_resamples
        if boot.missed_groups:
            section["groups_missed_by_resamples"] = [_label(dict(zip(metrics.names, g, strict=True)), metrics.names)
                                                     for g in boot.missed_groups]
    return section, table


def _label(row: dict[str, Any], names: list[str]) -> str:
    return " & ".join("null" if row[n] is None else str(row[n]) for n in names)


def _extremes(table: list[dict[str, Any]], metric: str) -> str:
    """Which groups a disparity is between: 'lowest: south (0.21); highest: north (0.34)'."""
    rated = [row for row in table if not math.isnan(row[metric])]
    if not rated:
        return ""
    low = min(rated, key=lambda row: row[metric])
    high = max(rated, key=lambda row: row[metric])
    return (f"lowest {metric}: {low['group']} ({low[metric]:.3g}, n={low['n']}); "
            f"highest: {high['group']} ({high[metric]:.3g}, n={high['n']})")


def _reference_table(reference: Any, name: str, options: Options) -> list[dict[str, Any]]:
    from lockgate.kernels.fairness import group_metrics

    columns = name.split("_x_") if name not in reference.columns else [name]
    y = None
    if options.target is not None and options.target in reference.columns:
        y = reference[options.target].to_numpy()
    metrics = group_metrics(y, None, reference.select(columns), pos_label=options.pos_label)
    return [{**row, "group": _label(row, metrics.names)} for row in metrics.to_dicts()]


def _shift(name: str, current: list[dict[str, Any]], reference: list[dict[str, Any]]) -> dict[str, Any]:
    """How far each group's share (and base rate) moved from the reference; a group
    absent on one side has share 0 there."""
    before = {row["group"]: row for row in reference}
    after = {row["group"]: row for row in current}
    share = {g: after.get(g, {}).get("share", 0.0) - before.get(g, {}).get("share", 0.0)
             for g in {*before, *after}}
    out: dict[str, Any] = {"share_shift": float(max(abs(v) for v in share.values()))}
    out["share_shift_group"] = max(share, key=lambda g: abs(share[g]))
    out["new_groups"] = sorted(set(after) - set(before))
    rates = {g: after[g]["base_rate"] - before[g]["base_rate"] for g in after if g in before
             and not math.isnan(after[g]["base_rate"]) and not math.isnan(before[g]["base_rate"])}
    if rates:
        out["base_rate_shift"] = float(max(abs(v) for v in rates.values()))
        out["base_rate_shift_group"] = max(rates, key=lambda g: abs(rates[g]))
    for row in current:
        row["reference_share"] = before.get(row["group"], {}).get("share", 0.0)
        row["reference_base_rate"] = before.get(row["group"], {}).get("base_rate", float("nan"))
    return out


def _worst(result: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Top-level keys: the worst value over the groupings (largest difference or
    shift, smallest ratio or share), NaN ignored unless every one is NaN."""
    out: dict[str, Any] = {}
    keys = [*DISPARITIES, "selection_rate_difference", "base_rate_difference", "base_rate_ratio",
            "min_share", "share_shift", "base_rate_shift"]
    for key in keys:
        values = [result[n][key] for n in names if key in result[n]]
        if not values:
            continue
        finite = [v for v in values if not math.isnan(v)]
        lowest_is_worst = key.endswith("_ratio") or key == "min_share"
        out[key] = (min(finite) if lowest_is_worst else max(finite)) if finite else float("nan")
        if finite and key in DISPARITIES:
            worst_name = next(n for n in names if result[n].get(key) == out[key])
            out.setdefault("worst_attribute", {})[key] = worst_name
    out["n_small_groups"] = sum(result[n]["n_small_groups"] for n in names)
    return out


def _group_frame(rows: list[dict[str, Any]]) -> Any:
    import polars as pl

    return pl.DataFrame(rows, infer_schema_length=None)
