"""Fixtures shared by the store tests: one store of each kind, and a way to
corrupt an object behind the store's back."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from lockgate.store.base import ObjectStore
from lockgate.store.local import LocalStore
from lockgate.store.memory import MemoryStore


def corrupt_object(store: ObjectStore, digest: str, data: bytes = b"tampered") -> None:
    """Change an object's bytes as a disk error or a careless user would."""
    if isinstance(store, LocalStore):
        path = store.path_of(digest)
        os.chmod(path, 0o644)
        path.write_bytes(data)
    elif isinstance(store, MemoryStore):
        store._objects[digest] = data
    else:  # pragma: no cover
        raise TypeError(store)


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "cache")
    return MemoryStore()


@pytest.fixture
def corrupt() -> Callable[[ObjectStore, str], None]:
    return corrupt_object
