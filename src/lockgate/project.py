"""Where things are in a user's repository, and loading its pipelines.

The repository root is the nearest folder upward holding ``.git`` or
``pipelines/`` (DESIGN §1). Everything lockgate writes for itself lives under
``.lockgate/``; lock files and registries sit beside the specs, for git.
This module reads files but never writes them (``init`` lives in the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lockgate.errors import SpecError, SpecIssue, UsageError, did_you_mean


@dataclass(frozen=True)
class Layout:
    """Every path under ``.lockgate/``: the one place that knows the state folder's
    layout. A plain value (picklable: worker jobs carry it to Dask workers)."""

    state: Path

    @classmethod
    def of(cls, root: str | Path) -> Layout:
        return cls(Path(root) / ".lockgate")

    @property
    def cache(self) -> Path:  # the object store's root (LocalStore owns what is inside)
        return self.state / "cache"

    @property
    def statcache(self) -> Path:
        return self.state / "statcache.db"

    @property
    def runcache(self) -> Path:
        return self.state / "runcache"

    @property
    def plans(self) -> Path:
        return self.state / "plans"

    @property
    def lockcache(self) -> Path:
        return self.state / "lockcache"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def experiments(self) -> Path:
        return self.state / "experiments"

    @property
    def procs(self) -> Path:  # records of running cmd stages (executor.leftovers)
        return self.state / "procs"

    @property
    def packages(self) -> Path:  # codegraph's cache of installed distributions
        return self.state / "packages.json"

    @property
    def run_lock(self) -> Path:
        return self.state / "run.lock"

    @property
    def gitignore(self) -> Path:
        return self.state / ".gitignore"

    def log(self, pipeline: str, stage: str) -> Path:
        return self.logs / pipeline / f"{stage}.log"

    def plan(self, spec_stem: str) -> Path:
        return self.plans / f"{spec_stem}.json"


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def find(cls, start: str | Path = ".") -> Project:
        start = Path(start).resolve()
        for folder in (start, *start.parents):
            if (folder / ".git").exists() or (folder / "pipelines").is_dir():
                return cls(folder)
        raise UsageError(
            f"{start} is not inside a lockgate repository (no .git or pipelines/ above it); "
            "run 'lockgate init' there, or pass -C PATH"
        )

    @property
    def pipelines_dir(self) -> Path:
        return self.root / "pipelines"

    @property
    def state_dir(self) -> Path:
        """``.lockgate/``; a UsageError when it is a link out of the repository (every
        command reads or writes through here: the plan cache, the stat cache, the cache)."""
        state = self.root / ".lockgate"
        if state.is_symlink():
            refuse_links_out(self.root)
        return state

    @property
    def layout(self) -> Layout:
        return Layout(self.state_dir)

    @property
    def cache_dir(self) -> Path:
        return self.layout.cache

    @property
    def registry_dir(self) -> Path:
        return self.root / "registry"

    def spec_paths(self) -> list[Path]:
        if not self.pipelines_dir.is_dir():
            return []
        return sorted(p for p in self.pipelines_dir.glob("*.yaml") if p.is_file())

    def lock_path(self, pipeline: str) -> Path:
        return self.pipelines_dir / f"{pipeline}.lock"

    def relative(self, path: str | Path) -> str:
        path = Path(path).resolve()
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def spec_path(self, name_or_path: str) -> Path:
        """A PIPELINE argument: a spec file path, or a spec's name (``churn``)."""
        candidate = Path(name_or_path)
        for path in (candidate, self.root / candidate):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                return path.resolve()
        named = self.pipelines_dir / f"{name_or_path}.yaml"
        if named.is_file():
            return named
        names = [p.stem for p in self.spec_paths()]
        hint = did_you_mean(name_or_path, names) or (
            f"; pipelines here: {', '.join(names)}" if names else "; run 'lockgate init' to create one"
        )
        raise UsageError(f"no pipeline '{name_or_path}' (looked for {self.relative(named)}){hint}")

    def registry_aliases(self) -> set[str]:
        """Alias names recorded in any registry file (gates may compare against them)."""
        aliases: set[str] = set()
        if not self.registry_dir.is_dir():
            return aliases
        import yaml

        for path in self.registry_dir.glob("*.yaml"):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(data, dict) and isinstance(data.get("aliases"), dict):
                aliases.update(str(a) for a in data["aliases"])
        return aliases

    def load(self, name_or_path: str, overrides: tuple[str, ...] | list[str] = ()):
        """Load and compile one pipeline (raises SpecError / UsageError).

        A compiled pipeline is kept in ``.lockgate/plans/`` keyed by the digest of
        everything compiling reads (the spec, its params file, the -p overrides, the
        registry's aliases, lockgate's own spec code), so `status` and a no-op `run`
        skip YAML validation and never import pydantic."""
        path = self.spec_path(name_or_path)
        aliases = self.registry_aliases()
        key = self._plan_key(path, overrides, aliases)
        cached = self._cached_plan(path, key)
        if cached is not None:
            return cached
        from lockgate.graph.compile import compile_pipeline
        from lockgate.spec.load import load_spec

        loaded = load_spec(path, root=self.root, overrides=overrides)
        pipeline = compile_pipeline(loaded, known_aliases=aliases)
        self._store_plan(path, key, pipeline)
        return pipeline

    # -- the plan cache -----------------------------------------------------------

    def _plan_file(self, spec: Path) -> Path:
        return self.layout.plan(spec.stem)

    def _plan_key(self, spec: Path, overrides, aliases: set[str]) -> str | None:
        import re

        from lockgate._version import __version__
        from lockgate.hashing import hash_value

        from lockgate.spec.limits import MAX_SPEC_BYTES

        text = _small_text(spec, MAX_SPEC_BYTES)
        if text is None:
            return None  # not a regular file, too big, or not UTF-8: the loader says which
        params_text = None
        found = re.search(r"^params_file:\s*['\"]?([^'\"#\s]+)", text, re.MULTILINE)
        if found:  # never read a FIFO or /dev/zero here: the loader reports it, located
            params_text = _small_text(self.root / found.group(1), MAX_SPEC_BYTES) or "<unreadable>"
        return hash_value({
            "lockgate": __version__, "code": _compiler_stamp(), "path": self.relative(spec),
            "spec": text, "params_file": params_text, "overrides": list(overrides),
            "aliases": sorted(aliases),
        })

    def _cached_plan(self, spec: Path, key: str | None):
        import json

        if key is None:
            return None
        try:
            data = json.loads(self._plan_file(spec).read_text(encoding="utf-8"))
            if data.get("key") != key:
                return None
            for file, digest in (data.get("params_files") or {}).items():  # a list, or stages' files
                if self._params_digest(file) != digest:
                    return None
            from lockgate.graph.pipeline import Pipeline

            return Pipeline.from_dict(data["pipeline"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged cache only means compiling again

    def _store_plan(self, spec: Path, key: str | None, pipeline) -> None:
        import json

        from lockgate._fs import atomic_write_text

        if key is None or not self.state_dir.is_dir():
            return
        try:
            files = {f: self._params_digest(f) for f in getattr(pipeline, "params_files", ())}
            text = json.dumps({"key": key, "params_files": files, "pipeline": pipeline.to_dict()})
            atomic_write_text(self._plan_file(spec), text, durable=False)
        except (OSError, TypeError, ValueError):
            pass

    def _params_digest(self, file: str) -> str:
        from lockgate.hashing import hash_value
        from lockgate.spec.limits import MAX_SPEC_BYTES

        return hash_value(_small_text(self.root / file, MAX_SPEC_BYTES) or "<unreadable>")

    def load_all(self, names: list[str] | tuple[str, ...] = (), overrides=()) -> list:
        """Every named pipeline (all under pipelines/ when none), collecting all spec errors."""
        targets = list(names) or [str(p) for p in self.spec_paths()]
        if not targets:
            raise UsageError(
                f"no pipelines in {self.relative(self.pipelines_dir)}/; "
                "run 'lockgate init' or add pipelines/NAME.yaml"
            )
        pipelines, issues = [], []
        for target in targets:
            try:
                pipelines.append(self.load(target, overrides))
            except SpecError as exc:
                issues.extend(exc.issues)
        issues.extend(_shared_outputs(pipelines))
        if issues:
            raise SpecError(issues)
        return pipelines


def _small_text(path: Path, limit: int) -> str | None:
    """The text of a regular file of at most ``limit`` bytes, else None."""
    try:
        if not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


STATE_GITIGNORE = "# lockgate's cache, logs and run state: never committed\n*\n"


# lockgate's own files and folders at the repository root, written by lockgate
OWN_PATHS = (".lockgate", "registry", "pipelines", ".gitignore", "data.lock")


def refuse_links_out(root: Path) -> None:
    """A UsageError when one of lockgate's own paths is a symlink leading outside the
    repository: a cloned repository could otherwise aim the cache, the registry, the
    audit log or a .gitignore rewrite at any folder the user can write."""
    import os

    base = os.path.realpath(root)
    for name in OWN_PATHS:
        path = root / name
        if not path.is_symlink():
            continue
        target = os.path.realpath(path)
        if target != base and not target.startswith(base.rstrip(os.sep) + os.sep):
            raise UsageError(
                f"{name} is a symlink to {os.readlink(path)}, outside the repository; lockgate writes "
                f"its own files inside the repository only: replace the link with a real "
                f"{'folder' if name in ('.lockgate', 'registry', 'pipelines') else 'file'}")


def ensure_state_dir(state: Path) -> Path:
    """``.lockgate/`` with the .gitignore that keeps it out of git: every command that
    creates the folder (or takes the repository lock) goes through here, so none of
    them forgets the ignore file or writes through a link out of the repository."""
    refuse_links_out(state.parent)
    state.mkdir(parents=True, exist_ok=True)
    ignore = Layout(state).gitignore
    if not ignore.exists():
        try:
            ignore.write_text(STATE_GITIGNORE, encoding="utf-8")
        except OSError:
            pass  # a read-only checkout: nothing to commit by mistake anyway
    return state


def _shared_outputs(pipelines: list) -> list:
    """Two pipelines writing the same path would restore over each other forever.

    Each clash is reported once, at the later writer (pipelines, then stages, in order).
    """
    if len(pipelines) < 2:
        return []
    from lockgate.graph.stage import overlapping_paths

    written = [(pipeline, stage, path) for pipeline in pipelines for stage in pipeline.stages.values()
               for path in (*stage.outs, *stage.metrics)]
    first: dict[str, int] = {}  # path -> index in `written` of its first writer
    for index, (_, _, path) in enumerate(written):
        first.setdefault(path, index)
    sorted_paths = sorted(first)
    issues = []
    for index, (pipeline, stage, path) in enumerate(written):
        earlier = (written[first[p]] for p in overlapping_paths(path, first, sorted_paths) if first[p] < index)
        other = next((w for w in earlier if w[0].name != pipeline.name), None)
        if other is None:
            continue
        message = (f"stage '{stage.name}' writes '{path}', which pipeline '{other[0].name}' "
                   f"(stage '{other[1].name}') also writes; each path has one writer")
        issues.append(
            pipeline.loaded.issue(("stages", stage.base, "outs"), message)
            if pipeline.loaded is not None
            else SpecIssue(stage.file, stage.line, 3, message)
        )
    return issues


def _compiler_stamp() -> list[int]:
    """When lockgate's own spec and graph code last changed (a dev install edits them)."""
    here = Path(__file__).parent
    stamps = []
    for folder in ("spec", "graph"):
        for source in sorted((here / folder).glob("*.py")):
            try:
                stamps.append(source.stat().st_mtime_ns)
            except OSError:
                pass
    return stamps
