"""The pipeline spec, version 1, as frozen and closed pydantic models.

These models describe what a user writes in ``pipelines/NAME.yaml`` before
interpolation: ``${...}`` references are still strings here. They are frozen
(a spec is a value) and closed (``extra="forbid"``), so a misspelled key is an
error instead of being ignored. The loader validates each stage against the
model of its kind, so errors name the stage and the key the user wrote.
"""

from __future__ import annotations

from typing import Any

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
    matrix: dict[str, tuple[Any, ...]] | None = Field(
        None, description="Expand into one stage per combination; use ${item.KEY}."
    )
    resources: Resources | None = None

    _lists = field_validator("deps", "gates", mode="before")(_one_or_many)


class CmdStage(_StageBase):
    """A shell command: files in (``deps``), files out (``outs``), DVC-style."""

    cmd: str | tuple[str, ...] = Field(
        description="Shell command (or a list run in order), run from the repository root."
    )
    outs: tuple[str, ...] = Field((), description="Files or folders the command writes.")
    metrics: tuple[str, ...] = Field(
        (), description="JSON files of numbers the command writes; recorded in the lock file."
    )
    params: tuple[str, ...] = Field(
        (), description="Param keys the command reads by itself (e.g. from params.yaml)."
    )

    _paths = field_validator("outs", "metrics", "params", mode="before")(_one_or_many)


class _ArtifactStage(_StageBase):
    in_: dict[str, str] = Field(
        default_factory=dict, alias="in", description="Argument name -> artifact name."
    )
    with_: dict[str, Any] = Field(
        default_factory=dict, alias="with", description="Keyword arguments (params allowed)."
    )
    out: tuple[str, ...] = Field((), description="Names of the artifacts the stage returns.")

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
    params_file: str | None = Field(
        None, description="A YAML file of params (repository-relative) overriding the defaults."
    )
    inputs: dict[str, str] = Field(
        default_factory=dict, description="Named external data: artifact name -> path."
    )
    stages: dict[str, Stage] = Field(default_factory=dict)


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The keys a user may write for ``model`` (aliases, not Python field names)."""
    return [f.alias or name for name, f in model.model_fields.items()]
