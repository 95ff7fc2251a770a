"""The run-cache: fingerprint -> the outputs (and metrics) a stage produced.

Returning to an earlier state (a reverted param, a branch switched back)
finds its fingerprint here and restores outputs instead of running.
One small JSON file per fingerprint under ``.lockgate/runcache/ab/``,
written atomically after the outputs are in the object store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lockgate._fs import atomic_write_text


class RunCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, fingerprint: str) -> Path:
        return self.folder / fingerprint[:2] / f"{fingerprint[2:]}.json"

    def get(self, fingerprint: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(fingerprint).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("outputs"), dict) else None

    def put(self, fingerprint: str, outputs: dict[str, Any], metrics: dict[str, Any], duration: float) -> None:
        entry = {"outputs": outputs, "metrics": metrics, "duration": round(duration, 3)}
        # no fsync: a run-cache entry lost in a power cut only means a stage runs again
        atomic_write_text(self._path(fingerprint), json.dumps(entry, sort_keys=True), durable=False)

    def entries(self) -> list[dict[str, Any]]:
        found = []
        for path in self.folder.glob("*/*.json"):
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return found

    def drop_missing(self, has_object: Any) -> int:
        """Remove entries whose outputs are no longer stored (after gc)."""
        removed = 0
        for path in self.folder.glob("*/*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                objects = [o.get("object", o.get("digest")) for o in data["outputs"].values()]
            except (OSError, ValueError, KeyError, AttributeError):
                objects = [None]
            if not all(o and has_object(o) for o in objects):
                path.unlink(missing_ok=True)
                removed += 1
        return removed
