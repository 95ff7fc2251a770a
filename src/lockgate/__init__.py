"""lockgate: a git-native, declarative pipeline engine for machine learning.

``import lockgate`` is light: it loads neither numba, polars, pyarrow nor
scikit-learn. Statistics kernels live in ``lockgate.kernels`` and load on use.
"""

from lockgate._version import __version__
from lockgate.api import load_pipeline, run
from lockgate.errors import (
    CorruptObject,
    LockgateError,
    ObjectMissing,
    RepoLocked,
    SpecError,
    SpecIssue,
    StepError,
    StoreError,
    UsageError,
)

__all__ = [
    "CorruptObject",
    "LockgateError",
    "ObjectMissing",
    "RepoLocked",
    "SpecError",
    "SpecIssue",
    "StepError",
    "StoreError",
    "UsageError",
    "__version__",
    "load_pipeline",
    "run",
]
