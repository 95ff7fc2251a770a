"""The ``with:`` schema of every builtin step: frozen, closed pydantic models.

Kept apart from the step implementations (which import scikit-learn and
polars) so that ``validate``, ``dag`` and ``schema`` can check and document a
step's options without loading them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SplitOptions(_Options):
    """Split a table into train and test: at random (seeded, optionally stratified),
    or by a time column at a cutoff (rows before it train, the rest test)."""

    target: str | None = Field(None, description="Label column (needed for stratify).")
    test_size: float = Field(0.25, gt=0, lt=1, description="Share of rows in test.")
    seed: int = Field(0, description="Random seed; the same seed gives the same split.")
    stratify: bool = Field(False, description="Keep the target's class shares in both parts.")
    time_column: str | None = Field(None, description="Split by this column instead of at random.")
    cutoff: str | float | int | None = Field(None, description="Rows with time < cutoff go to train.")

    @model_validator(mode="after")
    def _consistent(self) -> SplitOptions:
        if self.stratify and not self.target:
            raise ValueError("stratify: true needs target: COLUMN")
        if (self.time_column is None) != (self.cutoff is None):
            raise ValueError("a time split needs both time_column and cutoff")
        return self


class TrainOptions(_Options):
    """Fit any scikit-learn-compatible estimator, named by import path."""

    target: str = Field(description="Label column.")
    estimator: str = Field(
        "sklearn.ensemble.RandomForestClassifier",
        pattern=r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$",
        description="Import path of the estimator class.",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Estimator keyword arguments.")
    features: list[str] | None = Field(None, description="Feature columns (default: all but target).")
    exclude: list[str] = Field(default_factory=list, description="Columns never used as features.")


TRUST_PICKLE = ("Load a pickle/joblib model file a cmd stage wrote (loading runs code it holds: "
                "only for files you trust). skops files need no flag.")


class PredictOptions(_Options):
    """Add prediction (and, for classifiers, score) columns to a table."""

    prediction_column: str = Field("prediction", description="Name of the predicted label (or value) column.")
    score_column: str = Field("score", description="Name of the probability column (classifiers).")
    threshold: float = Field(0.5, ge=0, le=1, description="Score at or above which the label is 1.")
    trust_pickle: bool = Field(False, description=TRUST_PICKLE)


CLASSIFICATION_METRICS = (
    "roc_auc", "average_precision", "f1", "precision", "recall", "accuracy", "log_loss",
)
REGRESSION_METRICS = ("mae", "rmse", "r2")
# what each classification metric adds for a multiclass target (evaluate.py); per-class ones are mappings
MULTICLASS_KEYS = {
    "f1": ("f1", "f1_macro", "f1_micro", "f1_weighted"),
    "precision": ("precision", "precision_macro", "precision_micro", "precision_weighted"),
    "recall": ("recall", "recall_macro", "recall_micro", "recall_weighted"),
    "roc_auc": ("roc_auc_ovr", "roc_auc_ovr_weighted", "roc_auc_ovo"),
    "average_precision": ("average_precision_macro", "average_precision_micro", "average_precision_weighted"),
    "accuracy": ("accuracy",),
    "log_loss": ("log_loss",),
}


class Cost(_Options):
    """Money lost per error: a missed positive (fn) and a false alarm (fp)."""

    fn: float = Field(0, ge=0)
    fp: float = Field(0, ge=0)


class EvaluateOptions(_Options):
    """Score a model on a labelled table with lockgate's kernels."""

    target: str
    task: Literal["classification", "regression"] | None = Field(
        None,
        description="Default: classification when the target holds only 0 and 1, is not numeric, or holds "
        "only the classes of a classifier model (multiclass with more than two); else regression.",
    )
    weight_column: str | None = Field(None, description="Column of row weights (exposure, ...) for every metric.")
    metrics: list[
        Literal["roc_auc", "average_precision", "f1", "precision", "recall", "accuracy",
                "log_loss", "mae", "rmse", "r2"]
    ] | None = Field(None, description="Default: every metric of the task.")
    threshold: float = Field(0.5, ge=0, le=1)
    cost: Cost | None = Field(None, description="Adds expected_cost (total and per row).")
    trust_pickle: bool = Field(False, description=TRUST_PICKLE)


class ColumnDrift(_Options):
    method: Literal["ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"] | None = None
    threshold: float | None = None


class DriftOptions(_Options):
    """Compare current data with a reference, column by column (Evidently's default tests)."""

    columns: list[str] | None = Field(None, description="Columns to test (default: all shared).")
    exclude: list[str] = Field(default_factory=list, description="Columns never tested (ids, labels).")
    method: Literal["ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"] | None = None
    threshold: float | None = None
    per_column: dict[str, ColumnDrift] = Field(default_factory=dict)
    drift_share: float = Field(0.5, gt=0, le=1, description="Share of drifted columns that is dataset drift.")
    streaming: bool = Field(
        False, description="Read the inputs in batches with bounded memory (KS/Wasserstein from sketches)."
    )
    batch_rows: int = Field(250_000, ge=1, description="Rows per batch when streaming.")


class Range(_Options):
    min: float | None = None
    max: float | None = None


class ValidateOptions(_Options):
    """Declarative data checks; any violation fails the stage, listing each with its count."""

    columns: dict[str, Literal["int", "float", "number", "string", "bool", "date", "datetime", "any"]] = Field(
        default_factory=dict, description="Required columns and their types."
    )
    not_null: list[str] = Field(default_factory=list, description="Columns with no missing values.")
    nan_is_null: bool = Field(
        True, description="NaN in a float column counts as missing for not_null (false: only nulls do)."
    )
    ranges: dict[str, Range] = Field(default_factory=dict)
    allowed: dict[str, list[Any]] = Field(default_factory=dict)
    unique: list[str] = Field(default_factory=list)
    min_rows: int = Field(0, ge=0)


class PromoteOptions(_Options):
    """Register the model as a new version and point an alias at it."""

    model_name: str = Field(pattern=r"^[A-Za-z_][\w-]*$", description="registry/NAME.yaml")
    alias: str = Field("production", pattern=r"^[A-Za-z_]\w*$")


class FairnessOptions(_Options):
    """Group fairness of a model's decisions (fairlearn's metrics), or bias in the data itself:
    group shares and base rates, and their change against a reference table."""

    sensitive: list[str] = Field(min_length=1, description="Sensitive columns (each one measured apart).")
    target: str | None = Field(None, description="Label column (absent: shares and selection rates only).")
    intersections: bool = Field(False, description="Also measure the combinations of the sensitive columns.")
    threshold: float = Field(0.5, ge=0, le=1, description="Score at or above which the decision is positive.")
    min_group_size: int = Field(30, ge=0, description="Smaller groups are flagged (kept, never dropped).")
    pos_label: int | bool = Field(1, description="The favourable (positive) label and decision.")
    prediction_column: str | None = Field(None, description="A scored table's decision column (no model needed).")
    score_column: str | None = Field(None, description="A scored table's score column (ROC AUC per group).")
    n_resamples: int = Field(1000, ge=0, description="Bootstrap resamples for the disparities' intervals (0: none).")
    confidence: float = Field(0.95, gt=0, lt=1, description="Width of the bootstrap intervals.")
    seed: int = Field(0, description="Seed of the bootstrap.")
    trust_pickle: bool = Field(False, description=TRUST_PICKLE)


FAIRNESS_KEYS = frozenset({
    "demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
    "equalized_odds_ratio", "equal_opportunity_difference", "equal_opportunity_ratio",
    "selection_rate_difference", "base_rate_difference", "base_rate_ratio", "min_share", "share_shift",
    "base_rate_shift", "n_small_groups", "rows", "worst_attribute", "groups",
})
"""The top-level keys of a ``fairness`` artifact besides one per sensitive column (and
their intersection): the worst value over the columns."""


class ExplainOptions(_Options):
    """What drives a model's decisions: permutation importance (scikit-learn's, exactly) or
    mean |SHAP| for tree models; with a `current` table, attribution drift."""

    target: str = Field(description="Label column.")
    method: Literal["permutation", "shap"] = Field("permutation", description="shap needs lockgate[explain].")
    scoring: str | None = Field(None, description="Scorer name (default: roc_auc, or r2 for a regressor).")
    n_repeats: int = Field(5, ge=1, description="Permutations per feature.")
    seed: int = Field(0, description="random_state of the permutations.")
    max_rows: int | None = Field(None, ge=1, description="shap: explain at most this many rows (the first ones).")
    trust_pickle: bool = Field(False, description=TRUST_PICKLE)


OPTIONS: dict[str, type[_Options]] = {
    "split": SplitOptions,
    "train": TrainOptions,
    "predict": PredictOptions,
    "evaluate": EvaluateOptions,
    "drift": DriftOptions,
    "validate": ValidateOptions,
    "promote": PromoteOptions,
    "fairness": FairnessOptions,
    "explain": ExplainOptions,
}

INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # step -> (required `in` names, optional `in` names)
    "split": (("table",), ()),
    "train": (("table",), ()),
    "predict": (("model", "table"), ()),
    "evaluate": (("model", "table"), ()),
    "drift": (("reference", "current"), ()),
    "validate": (("table",), ()),
    "promote": (("model",), ("metrics",)),
    "fairness": (("table",), ("model", "reference")),
    "explain": (("model", "table"), ("current",)),
}

OUTPUTS: dict[str, tuple[int, int]] = {
    # step -> (min, max) number of `out` names
    "split": (2, 2),
    "train": (1, 1),
    "predict": (1, 1),
    "evaluate": (1, 1),
    "drift": (1, 1),
    "validate": (0, 1),
    "promote": (0, 1),
    "fairness": (1, 2),  # metrics, then (optionally) the group table
    "explain": (1, 2),  # metrics, then (optionally) the importance table
}


def output_keys(step: str, with_: dict[str, Any]) -> frozenset[str] | None:
    """The keys a gate may read from the artifact a builtin step returns (its first
    ``out``), known before it runs; empty for a table or model (no keys at all), None
    when they depend on the data. Lets ``validate`` catch ``scores.roc_auk`` (exit 2)."""
    if step in ("split", "train", "predict"):
        return frozenset()
    if step == "drift":
        return frozenset({"share_drifted", "dataset_drift", "n_drifted", "n_columns"})
    if step == "validate":
        return frozenset({"rows", "columns", "violations"})
    if step == "fairness":
        sensitive = with_.get("sensitive")
        if not isinstance(sensitive, list) or not all(isinstance(c, str) for c in sensitive):
            return None
        groupings = set(sensitive)
        if with_.get("intersections") is True and len(sensitive) > 1:
            groupings.add("_x_".join(sensitive))
        return frozenset(groupings) | FAIRNESS_KEYS
    if step == "evaluate":
        metrics = with_.get("metrics")
        chosen = set(metrics) if isinstance(metrics, list) else {*CLASSIFICATION_METRICS, *REGRESSION_METRICS}
        chosen |= {key for metric in list(chosen) for key in MULTICLASS_KEYS.get(metric, ())}
        chosen |= {"tn", "fp", "fn", "tp", "rows", "confusion", "support"}
        if with_.get("cost") is not None:
            chosen |= {"expected_cost", "expected_cost_per_row"}
        return frozenset(chosen)
    return None
