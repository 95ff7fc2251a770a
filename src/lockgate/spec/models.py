"""The pipeline spec, version 1, as frozen and closed pydantic models.

These models describe what a user writes in ``pipelines/NAME.yaml`` before
interpolation: ``${...}`` references are still strings here. They are frozen
(a spec is a value) and closed (``extra="forbid"``), so a misspelled key is an
error instead of being ignored. The loader validates each stage against the
model of its kind, so errors name the stage and the key the user wrote.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lockgate.spec.names import (  # noqa: E402  (re-exported: the spec's vocabulary)
    BUILTIN_STEPS,
    CALL_RE,
    NAME_RE,
    STAGE_KINDS,
    STAGE_NAME_RE,
)

class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _one_or_many(value: Any) -> Any:
    """Let ``gates: expr`` stand for ``gates: [expr]`` (and likewise for path lists)."""
    return [value] if isinstance(value, str) else value


class Resources(_Model):
    """What a stage needs from a worker (used by the Dask executor)."""

    cpus: float = Field(1, gt=0, description="CPU cores the stage uses.")
    memory: str | None = Field(None, description="Memory, e.g. '2GiB'.")


class OutFlags(_Model):
    """DVC's per-output flags: ``- model.pkl: {cache: false}``."""

    cache: bool = Field(
        True, description="Store the output in the cache (false: hashed and recorded only, never "
                          "stored, restored nor added to .gitignore; the run-cache is then off for the stage).",
    )
    persist: bool = Field(
        False, description="Keep the output in place when the command runs (false: it is deleted first).",
    )
    desc: str = Field("", description="What the output is.")


class PlotFlags(OutFlags):
    """A plots file with its default rendering (DVC's ``plots:`` fields)."""

    x: str | None = Field(None, description="Field or column for the x axis (default: the step).")
    y: str | tuple[str, ...] | None = Field(None, description="Field(s) or column(s) for the y axis.")
    template: str | None = Field(None, description="Plot template: linear, simple, scatter, confusion, ...")
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    header: bool | None = Field(None, description="CSV/TSV: whether the first line is a header.")


class TopPlot(_Model):
    """A pipeline-level plot (DVC's top-level ``plots:``): fields of files written by stages."""

    x: str | dict[str, str] | None = Field(None, description="A field, or file -> field.")
    y: str | tuple[str, ...] | dict[str, str | tuple[str, ...]] | None = Field(
        None, description="Field(s) of the plot file, or file -> field(s).")
    template: str | None = None
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None


class DeclaredArtifact(_Model):
    """A declared model or dataset (DVC's top-level ``artifacts:``), kept as data."""

    path: str = Field(description="The file or folder (repository-relative).")
    type: str | None = Field(None, description="e.g. model, dataset.")
    desc: str = ""
    labels: tuple[str, ...] = ()
    meta: dict[str, Any] = Field(default_factory=dict)


class InputEntry(_Model):
    """An ``inputs:`` entry with how to read it: ``{path: data/c.csv, read: {delimiter: ";"}}``."""

    path: str = Field(description="The file or folder (repository-relative, or shared data outside).")
    read: dict[str, Any] = Field(
        default_factory=dict,
        description="Reader options. CSV: delimiter, quote_char, escape_char, newlines_in_values, "
                    "skip_rows, column_names, autogenerate_column_names, encoding, null_values (added "
                    "to the usual markers), true_values, false_values, column_types ({column: int64}), "
                    "include_columns, strings_can_be_null, decimal_point. Excel: sheet_name, sheet_id, "
                    "has_header, columns. Part of the fingerprint of the stages reading it.",
    )


Executor = Literal["thread", "process"]
"""Where a ``call`` or builtin stage runs: a thread of lockgate, or a worker process."""

OutEntry = str | dict[str, OutFlags | None]
PlotEntry = str | dict[str, PlotFlags | None]
ParamEntry = str | dict[str, tuple[str, ...] | None]


class _StageBase(_Model):
    desc: str = Field("", description="One line saying what the stage does.")
    deps: tuple[str, ...] = Field(
        (), description="Extra files or folders the stage reads (paths from the repository root)."
    )
    when: str | None = Field(
        None, description="A condition; false means the stage is SKIPPED (not an error)."
    )
    gates: tuple[str, ...] = Field(
        (), description="Conditions that must all hold, else the stage is BLOCKED."
    )
    matrix: dict[str, tuple[Any, ...] | str] | None = Field(
        None, description="Expand into one stage per combination; use ${item.KEY} (and ${key}, "
                          "the combination's name). An axis may be a whole-value ${param} list."
    )
    foreach: tuple[Any, ...] | dict[str, Any] | str | None = Field(
        None, description="DVC's foreach/do: one stage per list item (NAME@VALUE, or NAME@INDEX for "
                          "lists of mappings or lists) or mapping entry (NAME@KEY); use ${item}, "
                          "${item.KEY} and, for a mapping, ${key}. Written as foreach: ... do: {stage}."
    )
    frozen: bool = Field(
        False, description="Never run: the lock entry stands (DVC's frozen); unfreeze to run it again."
    )
    always_changed: bool = Field(
        False, description="Run on every run, never restored from the run-cache (DVC's always_changed)."
    )
    resources: Resources | None = None

    _lists = field_validator("deps", "gates", mode="before")(_one_or_many)


class CmdStage(_StageBase):
    """A shell command: files in (``deps``), files out (``outs``), DVC-style."""

    cmd: str | tuple[str, ...] = Field(
        description="Shell command (or a list run in order), run from the repository root (or wdir)."
    )
    wdir: str | None = Field(
        None, description="Folder the command runs in (repository-relative); the stage's deps, outs, "
                          "metrics, plots and params file names are then relative to it (DVC's wdir)."
    )
    outs: tuple[OutEntry, ...] = Field(
        (), description="Files or folders the command writes (deleted before it runs); a path, or "
                        "{path: {cache: false, persist: true}}."
    )
    metrics: tuple[OutEntry, ...] = Field(
        (), description="JSON (or YAML) files of numbers the command writes; recorded in the lock file."
    )
    plots: tuple[PlotEntry, ...] = Field(
        (), description="Plot files the command writes (outputs), with their x/y/template (DVC's plots)."
    )
    params: tuple[ParamEntry, ...] = Field(
        (), description="Param keys the command reads by itself (from the params files), or "
                        "{other.yaml: [keys]} for keys of another params file (which joins the params)."
    )

    _paths = field_validator("outs", "metrics", "plots", "params", mode="before")(_one_or_many)


class _ArtifactStage(_StageBase):
    in_: dict[str, str] = Field(
        default_factory=dict, alias="in", description="Argument name -> artifact name."
    )
    with_: dict[str, Any] = Field(
        default_factory=dict, alias="with",
        description='Keyword arguments; "${name}" (or Kedro\'s "params:name") passes a param whole.',
    )
    out: tuple[str, ...] = Field((), description="Names of the artifacts the stage returns.")
    executor: Executor | None = Field(
        None, description="thread: always in lockgate's own process (shares its memory); process: always "
                          "in a worker process; unset: the pipeline's executor, else worker processes "
                          "when -j > 1 and more than one Python stage is ready, threads otherwise.",
    )

    _out = field_validator("out", mode="before")(_one_or_many)


class CallStage(_ArtifactStage):
    """The team's own Python function, ``module:function``, imported from the repository."""

    call: str = Field(description="module.path:function")


class UsesStage(_ArtifactStage):
    """A builtin step."""

    uses: str = Field(description="A builtin step: " + ", ".join(BUILTIN_STEPS))


Stage = CmdStage | CallStage | UsesStage

STAGE_MODELS: dict[str, type[_StageBase]] = {
    "cmd": CmdStage,
    "call": CallStage,
    "uses": UsesStage,
}


class PipelineSpec(_Model):
    """A whole ``pipelines/NAME.yaml``."""

    version: int = Field(description="Spec format version; 1 is the only one.")
    description: str = ""
    params: dict[str, Any] = Field(
        default_factory=dict, description="Default params; -p KEY=VALUE overrides."
    )
    params_file: str | tuple[str, ...] | None = Field(
        None, description="A YAML file of params (repository-relative) overriding the defaults, or a "
                          "list of them merged in order (later files win)."
    )
    inputs: dict[str, str | InputEntry] = Field(
        default_factory=dict, description="Named external data: artifact name -> path, or "
                                          "{path, read: {reader options}}."
    )
    stages: dict[str, Stage] = Field(default_factory=dict)
    executor: Executor | None = Field(
        None, description="Where its call and builtin stages run unless one says otherwise: thread or process.",
    )
    plots: tuple[str | dict[str, TopPlot | None], ...] = Field(
        (), description="Plots over files the stages write: a path, or {id: {x, y: {file: field}, template}}."
    )
    artifacts: dict[str, DeclaredArtifact] = Field(
        default_factory=dict, description="Declared models and datasets (DVC's artifacts:), kept as data."
    )

    def input_paths(self) -> dict[str, str]:
        """``inputs:`` as artifact name -> path, whichever way each entry is written."""
        return {name: e if isinstance(e, str) else e.path for name, e in self.inputs.items()}

    def input_reads(self) -> dict[str, dict[str, Any]]:
        """The ``read:`` options of the inputs that have some."""
        return {name: dict(e.read) for name, e in self.inputs.items() if not isinstance(e, str) and e.read}


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The keys a user may write for ``model`` (aliases, not Python field names)."""
    return [f.alias or name for name, f in model.model_fields.items()]
