"""The one exception tree of lockgate.

Messages are composed from structured fields, so callers (and tests) can read
the parts, and the CLI can print them as one line without a traceback::

    LockgateError
    ├── SpecError            a spec, params file or -p override is wrong (exit 2);
    │                        holds every SpecIssue found, not just the first
    ├── UsageError           a command-line mistake: unknown pipeline, stage,
    │                        artifact or remote (exit 2)
    ├── StoreError           the content-addressed store
    │   ├── ObjectMissing    an object is not in the store
    │   ├── CorruptObject    an object's bytes no longer match its hash
    │   └── UntrustedModel   a stored model holds types nobody trusted
    ├── StepError            a stage's own code or command failed (exit 1)
    ├── RepoLocked           another `lockgate run` holds the repository lock
    ├── RegistryError        a registry file is broken, or a model, version or
    │                        alias does not exist (exit 2)
    └── AuditError           the audit log cannot be appended to (its tail is
                             damaged); ``lockgate audit verify`` says where

This module imports nothing from lockgate and nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass


class LockgateError(Exception):
    """Base of every error lockgate raises on purpose."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One problem in a spec, located in the user's file.

    Renders as ``FILE:LINE:COL: message``; line and column are 1-based, and 0
    means "the whole file" (they are then left out).
    """

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class SpecError(LockgateError):
    """One or more problems in a pipeline spec; nothing was run."""

    exit_code = 2

    def __init__(self, issues: list[SpecIssue] | SpecIssue) -> None:
        if isinstance(issues, SpecIssue):
            issues = [issues]
        self.issues: list[SpecIssue] = sorted(set(issues))
        super().__init__("\n".join(str(i) for i in self.issues))


class UsageError(LockgateError):
    """The command line asked for something that does not exist or cannot be."""

    exit_code = 2


class StoreError(LockgateError):
    """A problem with the content-addressed object store."""


class ObjectMissing(StoreError):
    def __init__(self, digest: str, where: str = "cache") -> None:
        self.digest = digest
        self.where = where
        super().__init__(f"object {digest[:12]} is not in the {where}")


class CorruptObject(StoreError):
    def __init__(self, digest: str, actual: str, path: str = "") -> None:
        self.digest = digest
        self.actual = actual
        self.path = path
        where = f" ({path})" if path else ""
        super().__init__(
            f"object {digest[:12]}{where} is corrupt: its content hashes to {actual[:12]}"
        )


class UntrustedModel(StoreError):
    """A model payload names types that are neither trusted by skops, vetted
    by lockgate, nor listed by the caller; it was not loaded."""

    def __init__(self, what: str, types: list[str], model_class: str = "") -> None:
        self.what = what
        self.types = list(types)
        self.model_class = model_class
        cls = f" ({model_class})" if model_class else ""
        super().__init__(
            f"{what}{cls} was not loaded: it holds untrusted types {', '.join(self.types)}; "
            "if you trust them, list them in trusted=[...] when loading"
        )


class StepError(LockgateError):
    """A stage failed while running the user's code, command or a builtin step."""

    def __init__(self, stage: str, message: str, log_path: str = "") -> None:
        self.stage = stage
        self.log_path = log_path
        super().__init__(f"stage '{stage}' failed: {message}")


class RepoLocked(LockgateError):
    """Another run holds the repository lock and we were told not to wait."""

    exit_code = 1

    def __init__(self, lock_path: str, holder: str = "") -> None:
        self.lock_path = lock_path
        self.holder = holder
        by = f" by {holder}" if holder else ""
        super().__init__(
            f"the repository is locked{by} ({lock_path}); wait for that run to end, "
            "or run without --no-wait to queue behind it"
        )


class RegistryError(LockgateError):
    """A registry file (``registry/NAME.yaml``) is broken, or a command named a
    model, version or alias that does not exist; the message names the file or
    offers the closest match."""

    exit_code = 2


class AuditError(LockgateError):
    """The audit log could not be read or appended to (a damaged or truncated
    record); nothing was written."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}; run `lockgate audit verify` for details")
