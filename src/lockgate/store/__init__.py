"""The content-addressed store: objects keyed by BLAKE3, typed artifacts over
them, the stat cache and remotes.

Owns: everything under ``.lockgate/cache/`` and ``.lockgate/stat.db`` (the
file names are the caller's choice). Importing this package is light: pyarrow,
polars and skops load only when a table, model or remote is touched.
Must not: plan or run stages, or read lock files.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lockgate.store.artifacts import (
        ArtifactRef,
        load_table,
        restore_file,
        restore_tree,
        save_any,
        save_table,
    )
    from lockgate.store.base import ObjectStore
    from lockgate.store.local import LocalStore
    from lockgate.store.memory import MemoryStore
    from lockgate.store.remote import Remote, TransferReport
    from lockgate.store.statcache import StatCache

# name -> module: loaded on first use, so that `import lockgate.store.local` (every run,
# every `status`) does not also load the artifact codecs and remotes
_HOMES = {
    "ArtifactRef": "artifacts", "load_table": "artifacts", "restore_file": "artifacts",
    "restore_tree": "artifacts", "save_any": "artifacts", "save_table": "artifacts",
    "ObjectStore": "base", "LocalStore": "local", "MemoryStore": "memory",
    "Remote": "remote", "TransferReport": "remote", "StatCache": "statcache",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = [
    "ArtifactRef",
    "LocalStore",
    "MemoryStore",
    "ObjectStore",
    "Remote",
    "StatCache",
    "TransferReport",
    "load_table",
    "restore_file",
    "restore_tree",
    "save_any",
    "save_table",
]
