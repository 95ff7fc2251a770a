"""The one exception tree of lockgate, and the "did you mean" of its messages.

Messages are composed from structured fields, so callers (and tests) can read
the parts, and the CLI can print them as one line without a traceback::

    LockgateError
    ├── SpecError            a spec, params file or -p override is wrong (exit 2);
    │                        holds every SpecIssue found, not just the first
    ├── UsageError           a command-line mistake: unknown pipeline, stage,
    │                        artifact, experiment or remote (exit 2)
    ├── StoreError           the content-addressed store
    │   ├── ObjectMissing    an object is not in the store
    │   ├── CorruptObject    an object's bytes no longer match its hash
    │   ├── UntrustedModel   a stored model holds types nobody trusted
    │   └── WrongRecord      (store.artifacts) a record is not of the kind asked for
    ├── StepError            a stage names a builtin step this version does not have
    ├── StageFailed          a stage failed for a reason said in words (a step
    │   │                    rejected its input, a command exited non-zero, an
    │   │                    output was not written); the worker turns it into the
    │   │                    stage's result, shown without a traceback
    │   ├── Interrupted      (executor.worker) the run was interrupted
    │   └── CorruptInput     (executor.worker) an input's object failed verification
    ├── RepoLocked           another `lockgate run` holds the repository lock
    ├── RegistryError        a registry file is broken, or a model, version or
    │   │                    alias does not exist (exit 2)
    │   └── AmbiguousAlias   (registry) a gate's alias is in several registries
    │                        and no promote stage says which
    └── AuditError           the audit log cannot be appended to (its tail is
                             damaged); ``lockgate audit verify`` says where

This module imports nothing from lockgate and nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


class LockgateError(Exception):
    """Base of every error lockgate raises on purpose."""

    exit_code = 1

    def lines(self) -> list[str]:
        """What the command line prints for it (then it exits with ``exit_code``)."""
        return [f"error: {self}"]


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

    def lines(self) -> list[str]:
        """Every issue as ``FILE:LINE:COL: message``, and how many there were."""
        count = [f"{len(self.issues)} problems; nothing was run"] if len(self.issues) > 1 else []
        return [*(str(i) for i in self.issues), *count]


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
    """A stage names a builtin step this version of lockgate does not have (a stage that
    fails while it runs is a StageFailed)."""

    def __init__(self, stage: str, message: str, log_path: str = "") -> None:
        self.stage = stage
        self.log_path = log_path
        super().__init__(f"stage '{stage}' failed: {message}")


class StageFailed(LockgateError):
    """A stage failed, and the message says why in the user's words: it is shown as
    is, without a traceback (a builtin step that rejected its input also writes it to
    the stage's log)."""


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


def did_you_mean(
    word: str,
    choices: Iterable[object],
    *,
    qualify: str = "",
    label: Callable[[str], str] | None = None,
    parens: bool = False,
    prefixed: bool = False,
    pool: int | None = None,
) -> str:
    """``; did you mean 'x'?`` for the choice closest to ``word`` (difflib's ratio, at
    least 0.6), else ``""``; a message reads ``...{did_you_mean(...) or fallback}``.

    ``qualify`` goes before the match inside the quotes (``'metrics.roc_auc'``) and
    ``label(match)`` after them (``'features' (stage 'featurize', line 9)``);
    ``parens`` gives `` (did you mean 'x'?)``, for a message that goes on after it;
    ``prefixed``: when nothing is close, the first choice that starts with ``word``;
    ``pool``: past this many choices, no search at all (it would be too slow).
    """
    import difflib  # only when a message needs it: not at start-up
    import itertools

    if pool is not None:
        choices = list(itertools.islice(choices, pool + 1))
        if len(choices) > pool:
            return ""
    texts = [str(c) for c in choices]
    close = difflib.get_close_matches(word, texts, n=1)  # the best match, whatever the order
    if not close and prefixed and word:
        close = sorted(c for c in texts if c.startswith(word))[:1]
    if not close:
        return ""
    text = f"did you mean '{qualify}{close[0]}'{label(close[0]) if label else ''}?"
    return f" ({text})" if parens else f"; {text}"
