"""The content-addressed store: objects keyed by BLAKE3, typed artifacts over
them, the stat cache and remotes.

Owns: everything under ``.lockgate/cache/`` and ``.lockgate/stat.db`` (the
file names are the caller's choice). Importing this package is light: pyarrow,
polars and skops load only when a table, model or remote is touched.
Must not: plan or run stages, or read lock files.
"""

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
