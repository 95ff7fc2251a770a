"""Experiments: a run with ``-p`` overrides, kept apart from the committed picture.

DVC keeps experiments apart from the workspace (``dvc exp run/show/diff/apply``);
so does lockgate. A ``run -p KEY=VALUE`` is an experiment:

* its lock files go to ``.lockgate/experiments/NAME/PIPELINE.lock`` (starting
  from the workspace's), never to ``pipelines/``, so ``status`` and ``metrics
  show`` afterwards still describe the committed params;
* a ``cmd`` stage whose program reads a params file itself (``params:`` keys)
  must see the override: the params file is rewritten with it for the run
  (as ``dvc exp run -S`` does) and put back afterwards, byte for byte. The
  original is kept in the experiment's folder and named in a journal first,
  so a run killed meanwhile is undone by the next lockgate command. A key
  such a program reads that no params file holds cannot reach it: refused
  (exit 2) before anything runs;
* ``cmd`` outputs it wrote into the workspace are put back to what the
  workspace lock records, from the cache;
* its gate decisions are not audited, and it promotes only with
  ``--allow-promote`` (then the registry and audit record carry the overrides).

``lockgate exp apply NAME`` writes the overrides into the committed files (the
params file that holds a key, else the spec), copies the experiment's locks
to ``pipelines/`` and restores its outputs.

Side effects only; the runner knows nothing of experiments beyond
``RunOptions.experiment``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockgate.errors import UsageError, did_you_mean

JOURNAL = ".restore.json"  # params files rewritten for a running experiment: path -> backup


@dataclass
class Experiment:
    name: str
    folder: Path
    overrides: tuple[str, ...]
    base: str = ""  # git HEAD when it ran
    created: str = ""
    pipelines: list[str] = field(default_factory=list)
    exit_code: int | None = None
    rewritten: list[str] = field(default_factory=list)  # params files rewritten for the run

    def lock_path(self, pipeline: str) -> Path:
        return self.folder / f"{pipeline}.lock"

    def meta(self) -> dict[str, Any]:
        return {"name": self.name, "overrides": list(self.overrides), "base": self.base,
                "created": self.created, "pipelines": self.pipelines, "exit_code": self.exit_code,
                "rewritten": self.rewritten}

    def save(self) -> None:
        from lockgate._fs import atomic_write_text

        atomic_write_text(self.folder / "meta.json", json.dumps(self.meta(), indent=2, sort_keys=True))

    @classmethod
    def read(cls, folder: Path) -> Experiment:
        data = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        return cls(name=data["name"], folder=folder, overrides=tuple(data.get("overrides") or ()),
                   base=data.get("base", ""), created=data.get("created", ""),
                   pipelines=list(data.get("pipelines") or []), exit_code=data.get("exit_code"),
                   rewritten=list(data.get("rewritten") or []))


def folder_of(state_dir: Path) -> Path:
    from lockgate.project import Layout

    return Layout(state_dir).experiments


def auto_name(overrides: tuple[str, ...], base: str) -> str:
    """The same overrides on the same commit name the same experiment (a rerun replaces it)."""
    from lockgate.hashing import hash_value

    return "exp-" + hash_value({"overrides": sorted(overrides), "base": base})[:7]


def check_name(name: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name) or name.endswith((".lock", ".json")):
        raise UsageError(f"--name {name!r}: use letters, digits, '_', '.' and '-' (it names a folder)")
    return name


def all_experiments(state_dir: Path) -> list[Experiment]:
    root = folder_of(state_dir)
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            found.append(Experiment.read(folder))
        except (OSError, ValueError, KeyError):
            continue
    return sorted(found, key=lambda e: (e.created, e.name))


def find(state_dir: Path, name: str) -> Experiment:
    experiments = all_experiments(state_dir)
    for experiment in experiments:
        if experiment.name == name:
            return experiment
    names = [e.name for e in experiments]
    hint = did_you_mean(name, names) or (f" (experiments: {', '.join(names)})" if names else
                                    "; there are none yet: `lockgate run -p KEY=VALUE` makes one")
    raise UsageError(f"no experiment '{name}'{hint}")


# -- running one ------------------------------------------------------------------------------


def start(project: Any, pipelines: list[Any], overrides: tuple[str, ...], name: str | None) -> Experiment:
    """Prepare an experiment run (the caller holds the repository lock): check that every
    override reaches the programs that read it, set up its folder and locks, and rewrite
    the params files that hold an overridden key."""
    from lockgate import gitrev
    from lockgate.registry import utc_now

    undo_interrupted(project.state_dir)
    rewrites = _params_rewrites(project.root, pipelines)
    base = gitrev.current_commit(project.root)  # git HEAD ("" before the first commit)
    experiment = Experiment(name=check_name(name) if name else auto_name(overrides, base),
                            folder=Path(), overrides=overrides, base=base, created=utc_now(),
                            pipelines=[p.name for p in pipelines])
    experiment.folder = folder_of(project.state_dir) / experiment.name
    if experiment.folder.exists():
        shutil.rmtree(experiment.folder)
    experiment.folder.mkdir(parents=True)
    for pipeline in pipelines:
        workspace_lock = project.lock_path(pipeline.name)
        if workspace_lock.is_file():
            shutil.copyfile(workspace_lock, experiment.lock_path(pipeline.name))
    experiment.rewritten = sorted(rewrites)
    experiment.save()
    _rewrite(project, experiment, rewrites)
    return experiment


def finish(project: Any, experiment: Experiment, exit_code: int | None) -> list[str]:
    """Undo the run's marks on the workspace: params files back, ``cmd`` outputs back to
    what the workspace locks record. Returns the outputs put back."""
    undo_interrupted(project.state_dir)
    experiment.exit_code = exit_code
    experiment.save()
    return restore_outputs(project, experiment.pipelines, lambda name: project.lock_path(name))


def _params_rewrites(root: Path, pipelines: list[Any]) -> dict[str, str]:
    """params file -> its text with the overrides in; UsageError (before anything runs) for
    an override a ``cmd`` program reads by itself that no params file holds."""
    from lockgate.spec.params import parse_override

    texts: dict[str, str] = {}
    for pipeline in pipelines:
        values = dict(parse_override(o) for o in pipeline.overrides)
        files = pipeline.all_params_files()
        held = {file: _held_keys(root, file) for file in files}
        for key, value in values.items():
            holders = [file for file in files if key in held[file]]
            for file in holders:  # every file holding it: each program reading one sees the value
                texts[file] = _with_value(root, file, texts, key, value)
            if holders:
                continue
            for stage in pipeline.stages.values():
                for read in stage.param_reads:
                    if read == key or read.startswith(key + ".") or key.startswith(read + "."):
                        where = f"params files {', '.join(files)}" if files else "no params_file"
                        raise UsageError(
                            f"-p {key}: stage '{stage.name}' reads '{read}' by itself ({stage.file}: "
                            f"params:), but {key} is not in a params file lockgate can rewrite for the "
                            f"run ({where}); pass it on the command line as ${{{key}}}, or move it "
                            "to the params file"
                        )
    return texts


def _held_keys(root: Path, params_file: str | None) -> set[str]:
    if not params_file:
        return set()
    import yaml

    from lockgate.spec.params import flat_keys

    try:
        data = yaml.safe_load((root / params_file).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return set()
    return set(flat_keys(data)) if isinstance(data, dict) else set()


def _with_value(root: Path, params_file: str, texts: dict[str, str], key: str, value: Any) -> str:
    from lockgate.spec.edit import EditError, set_value

    text = texts.get(params_file) or (root / params_file).read_text(encoding="utf-8")
    try:
        return set_value(text, key.split("."), value)
    except EditError:  # a block value replaced by another shape: the run only needs the values right
        import yaml

        from lockgate.spec.params import apply_overrides

        data = apply_overrides(yaml.safe_load(text) or {}, [f"{key}={json.dumps(value)}"])
        if params_file.endswith(".json"):  # a program reading JSON must still read it
            return json.dumps(data, indent=2) + "\n"
        return str(yaml.safe_dump(data, sort_keys=False))


def _rewrite(project: Any, experiment: Experiment, rewrites: dict[str, str]) -> None:
    """Journal first (path -> backup), then the new text: a crash at any point is undone."""
    from lockgate._fs import atomic_write_text

    if not rewrites:
        return
    backups = experiment.folder / "params-backup"
    journal: dict[str, str] = {}
    for index, path in enumerate(sorted(rewrites)):
        backup = backups / f"{index}.orig"
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project.root / path, backup)
        journal[str(project.root / path)] = str(backup)
    atomic_write_text(folder_of(project.state_dir) / JOURNAL, json.dumps(journal, indent=2))
    for path, text in rewrites.items():
        atomic_write_text(project.root / path, text)


def undo_interrupted(state_dir: Path) -> list[str]:
    """Put back every params file an experiment rewrote (one running now is finished or was
    killed: callers hold the repository lock). Returns the paths put back."""
    journal = folder_of(state_dir) / JOURNAL
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    restored = []
    for target, backup in entries.items():
        try:
            shutil.copy2(backup, target)  # the bytes and the mtime of the original
            restored.append(target)
        except OSError:
            continue
    journal.unlink(missing_ok=True)
    return restored


def restore_outputs(project: Any, pipelines: list[str], lock_of: Any) -> list[str]:
    """Put each ``cmd`` output of ``pipelines`` back to what the lock ``lock_of(name)``
    records, where the workspace differs and the cache holds it."""
    from lockgate.executor.state import Workspace
    from lockgate.lock import LockFile
    from lockgate.store.local import LocalStore
    from lockgate.store.statcache import StatCache

    put_back: list[str] = []
    store = LocalStore(project.cache_dir)
    with StatCache(project.layout.statcache) as stats:
        workspace = Workspace(project.root, stats, store)
        for name in pipelines:
            lock = LockFile.read(lock_of(name), name)
            for entry in lock.stages.values():
                if entry.kind != "cmd":
                    continue
                for path, record in entry.outputs.items():
                    target = project.root / path
                    if target.exists() and stats.hash_path(target, links=True)[0] == record.get("digest"):
                        continue
                    if not workspace._stored(_ref(record)):
                        continue
                    workspace.restore({path: record}, [path])
                    put_back.append(path)
    return put_back


def _ref(record: dict[str, Any]) -> Any:
    from lockgate.store.artifacts import ArtifactRef

    return ArtifactRef.from_record(record)


# -- apply ---------------------------------------------------------------------------------


def apply(project: Any, experiment: Experiment) -> dict[str, list[str]]:
    """Make the experiment the workspace: its overrides written into the committed files,
    its locks copied to ``pipelines/``, its outputs restored. Returns what changed."""
    from lockgate._fs import atomic_write_text
    from lockgate.spec.params import parse_override

    from lockgate.spec.edit import EditError, set_value

    edits: dict[Path, str] = {}
    for text in experiment.overrides:
        key, value = parse_override(text)
        for target in _files_holding(project, experiment, key):
            where = (["params"] if _is_spec(project, target) else []) + key.split(".")
            try:
                edits[target] = set_value(edits.get(target) or target.read_text(encoding="utf-8"), where, value)
            except EditError as exc:
                raise UsageError(f"cannot write {key} into {project.relative(target)}: {exc}") from None
    for target, text in edits.items():
        atomic_write_text(target, text)
    locks = []
    for name in experiment.pipelines:
        source = experiment.lock_path(name)
        if source.is_file():
            shutil.copyfile(source, project.lock_path(name))
            locks.append(project.relative(project.lock_path(name)))
    restored = restore_outputs(project, experiment.pipelines, lambda name: project.lock_path(name))
    return {"files": sorted(project.relative(t) for t in edits), "locks": locks, "outputs": restored}


def _is_spec(project: Any, path: Path) -> bool:
    return path.parent == project.pipelines_dir and path.suffix in (".yaml", ".yml")


def _files_holding(project: Any, experiment: Experiment, key: str) -> list[Path]:
    """Where the committed value of ``key`` lives: every params file that holds it (as the
    run rewrote them), else the spec's ``params:``."""
    import yaml

    from lockgate.spec.params import flat_keys

    for name in experiment.pipelines:
        spec = project.spec_path(name)
        data = yaml.safe_load(spec.read_text(encoding="utf-8")) or {}
        holders = [project.root / file for file in project.load(name).all_params_files()
                   if key in _held_keys(project.root, file)]
        if holders:
            return holders
        if isinstance(data, dict) and key in flat_keys(data.get("params") or {}):
            return [spec]
    raise UsageError(f"cannot find where '{key}' is set (in a spec's params: or its params files)")
