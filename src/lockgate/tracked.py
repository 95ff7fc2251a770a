"""``data.lock``: data files and folders versioned by lockgate that no pipeline has to read.

``lockgate add data/raw.csv`` stores the bytes in the cache and records the path
here, as DVC's ``dvc add`` writes ``data/raw.csv.dvc``; one file at the
repository root (committed) keeps the list, so ``push``, ``pull``, ``gc`` and a
fresh clone treat it like any lock file's records. Deterministic YAML, written
atomically; reading works on text, so any git revision's copy can be read.

Also owns the one writer of ``.gitignore`` lines for versioned paths (``lockgate
add`` and ``init --from-dvc`` both call ``gitignore_paths``), as DVC adds them.

Must not hash or store files (``executor.state.Workspace.store_data`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockgate._fs import atomic_write_text

DATA_LOCK = "data.lock"
DATA_SCHEMA = 1


@dataclass
class DataLock:
    """Tracked paths (repository-relative, POSIX) -> artifact record (kind, digest, meta)."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str) -> DataLock:
        import yaml

        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict) or not isinstance(data.get("data") or {}, dict):
            raise ValueError(f"{DATA_LOCK} holds a mapping with 'data: {{PATH: record}}'")
        return cls({str(k): dict(v) for k, v in (data.get("data") or {}).items() if isinstance(v, dict)})

    @classmethod
    def read(cls, root: Path) -> DataLock:
        """The repository's ``data.lock``; empty when there is none (or it is unreadable:
        like a damaged lock, that only means nothing is tracked)."""
        try:
            text = (Path(root) / DATA_LOCK).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):  # none (most repositories): no YAML to import
            return cls()
        import yaml

        try:
            return cls.from_text(text)
        except (ValueError, yaml.YAMLError):
            return cls()

    def to_text(self) -> str:
        import yaml

        body = {"schema": DATA_SCHEMA, "data": dict(sorted(self.entries.items()))}
        return ("# data versioned by lockgate (`lockgate add PATH`); commit this file\n"
                + yaml.safe_dump(body, sort_keys=True, default_flow_style=False, width=100))

    def write(self, root: Path) -> None:
        atomic_write_text(Path(root) / DATA_LOCK, self.to_text())


def gitignore_paths(root: Path, paths: list[str]) -> list[str]:
    """Add ``/PATH`` lines to the repository's .gitignore for the paths git does not
    ignore yet (by that line, or by DVC's ``/NAME`` in the .gitignore beside it); a path
    inside another listed folder is covered by it. Idempotent; the lines added."""
    ignore = root / ".gitignore"
    text = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    present = {line.strip() for line in text.splitlines()}
    added = []
    for path in outermost(paths):
        line = "/" + path
        parent, _, leaf = path.rpartition("/")
        beside = root / parent / ".gitignore" if parent else None
        if line in present or line + "/" in present:
            continue
        if beside is not None and beside.is_file() and f"/{leaf}" in {
                entry.strip().rstrip("/") for entry in beside.read_text(encoding="utf-8", errors="replace").splitlines()}:
            continue
        added.append(line)
        present.add(line)
    if added:
        if text and not text.endswith("\n"):
            text += "\n"
        atomic_write_text(ignore, text + "".join(f"{line}\n" for line in added))
    return added


def outermost(paths: list[str]) -> list[str]:
    """Each path once, leaving out paths inside another listed folder."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(p.startswith(o + "/") for o in unique if o != p)]


__all__ = ["DATA_LOCK", "DataLock", "gitignore_paths", "outermost"]
