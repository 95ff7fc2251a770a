"""The builtin step protocol.

A step module defines ``Options`` (a frozen pydantic model for its ``with:``)
and ``run(inputs, options, ctx) -> value`` (one value, or a tuple for several
``out`` names, in order). ``options(with_)`` validates ``with:``. Steps never
write the registry or the lock file themselves: side effects they request
(a promotion) go into ``ctx.effects`` for the runner to carry out. A step that
rejects its input raises ``lockgate.errors.StageFailed`` with a message for the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockgate.errors import StageFailed, did_you_mean

if TYPE_CHECKING:  # steps sit below graph in the layering: the type only
    from lockgate.graph.stage import Stage


@dataclass
class StepContext:
    stage: Stage
    root: Path
    input_digests: dict[str, str] = field(default_factory=dict)
    input_records: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    effects: list[dict[str, Any]] = field(default_factory=list)
    object_files: dict[str, Path] = field(default_factory=dict)  # argument -> cache file (lazy steps)


@dataclass(frozen=True)
class ModelArtifact:
    """A fitted model with what its metadata should record (feature names, the
    digest of the data it was trained on); stored as skops inside Arrow IPC."""

    model: Any
    feature_names: list[str] | None = None
    training_data_hash: str | None = None


def columns_or_fail(table: Any, wanted: list[str], what: str) -> None:
    """Raise StageFailed naming each missing column, with the closest existing one."""
    names = list(table.column_names if hasattr(table, "column_names") else table.columns)
    for column in wanted:
        if column not in names:
            hint = did_you_mean(column, names) or f"; it has: {', '.join(names)}"
            raise StageFailed(f"{what}: column '{column}' is not in the table{hint}")


def to_polars(table: Any) -> Any:
    """A polars DataFrame from polars, pyarrow or pandas (a Series is a one-column table);
    the index columns pandas leaves in a table it wrote (``__index_level_0__``) are not
    data, so they are dropped; a named index is a column, as in pandas' parquet files."""
    import polars as pl

    if type(table).__module__.startswith("pandas"):  # only when handed one: pandas is optional
        import pyarrow as pa

        frame = table.to_frame() if type(table).__name__ == "Series" else table
        table = pa.Table.from_pandas(frame)
    if not isinstance(table, pl.DataFrame):
        table = pl.from_arrow(table)
    index = [c for c in table.columns if c.startswith("__index_level_")]
    return table.drop(index) if index else table


LABEL_KEYS = frozenset({"worst_group", "worst_attribute"})
"""Text kept beside the numbers: which group a figure is worst for (the fairness step),
so a gate that fails can say it, in the run's output and the audit log."""


def numeric_values(value: dict[str, Any], *, labels: bool = False) -> dict[str, Any]:
    """The numbers (and booleans) of a dict, nested dicts at any depth included
    (dvclive writes ``{"roc_auc": {"test": 0.93}}``): what gates, the lock and the
    registry keep. Lists and text are left out; with ``labels`` (what a run records for
    gates) the text under ``LABEL_KEYS`` stays too. NaN stays (a gate never holds on it)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, (bool, int, float)):
            out[str(key)] = item
        elif labels and key in LABEL_KEYS and isinstance(item, (str, dict)):
            out[str(key)] = item if isinstance(item, str) else {
                str(k): v for k, v in item.items() if isinstance(v, str)}
        elif isinstance(item, dict):
            inner = numeric_values(item, labels=labels)
            if inner:
                out[str(key)] = inner
    return out


MODEL_FORMATS = ("skops", "pickle", "joblib", "onnx", "other")


def model_file_format(path: Path) -> str:
    """What a model file a ``cmd`` stage wrote holds: by its first bytes when they say
    (a zip is skops, ``\\x80`` a pickle), else by its suffix. A name never makes a pickle
    pass for skops."""
    suffix = path.suffix.lower()
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        head = b""
    if suffix == ".onnx":
        return "onnx"
    if head.startswith(b"PK"):
        return "skops"
    if head[:1] == b"\x80" or suffix in (".pkl", ".pickle", ".joblib"):
        return "joblib" if suffix == ".joblib" else "pickle"
    return "skops" if suffix == ".skops" else "other"


def load_model_input(value: Any, *, trust_pickle: bool, step: str) -> Any:
    """A step's ``model`` input: a model from lockgate's cache as is, or a model file a
    ``cmd`` stage wrote. A skops file loads with skops' trusted types only; a pickle or
    joblib file runs code when loaded, so only with ``trust_pickle: true``; never silently."""
    if not isinstance(value, Path):
        return value
    fmt = model_file_format(value)
    if fmt == "skops":
        import skops.io

        try:
            unknown = skops.io.get_untrusted_types(file=value)
            if unknown:
                raise StageFailed(f"{step}: {value.name} holds types skops does not trust: "
                                  f"{', '.join(sorted(unknown))}; save it with trusted types")
            return skops.io.load(value, trusted=[])
        except StageFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: zipfile, json, skops errors
            raise StageFailed(f"{step}: {value.name} is not a readable skops file "
                              f"({type(exc).__name__}: {exc}); write it with skops.io.dump") from None
    if fmt in ("pickle", "joblib"):
        if not trust_pickle:
            raise StageFailed(
                f"{step}: {value.name} is a {fmt} file: loading it runs any code it holds. "
                "If you trust whoever wrote it, set with: {trust_pickle: true}; or save the model "
                "with skops (.skops), which loads without running code")
        import joblib

        return joblib.load(value)  # joblib reads plain pickles too
    raise StageFailed(f"{step}: {value.name} is a {fmt} model file; lockgate's steps score "
                      "scikit-learn models saved with skops (or pickle/joblib with trust_pickle)")
