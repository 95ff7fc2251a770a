"""The code a ``call`` stage runs: its module and everything that module imports,
found statically, so an edit to any of it makes the stage stale (DESIGN §3).

Owns: reading a repository module's imports with ``ast`` (never executing it),
resolving them the way the worker's ``import`` will (the repository root first
on ``sys.path``), and the code record built from that graph:

* every repository file reached, transitively: ``{"src/nodes.py": digest}``,
  package ``__init__.py`` files of each module's parents included;
* every installed distribution a repository file imports directly:
  ``{"pkg:scikit-learn": "1.5.2"}`` (its internals are the distribution's version);
* the standard library counts for nothing; neither does a module found nowhere.

Imports inside functions and ``try:`` blocks count; those under ``if
TYPE_CHECKING:`` do not (they never run). A module that does not parse still
counts by its bytes, it just adds no edges. Resolution errs towards counting: a
repository file shadowing a standard module counts.

Cheap on purpose (``status`` runs it): file digests come from the caller (the
stat cache), a file is parsed once per process per digest, and the slow
``importlib.metadata`` scan of installed distributions is kept per process and,
given a cache file, across processes until a ``sys.path`` folder changes.

Must not: import lockgate modules (but the standard-library-only ``_fs``) or
anything beyond the standard library, or import user code.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PACKAGE_PREFIX", "CodeGraph", "Module", "forget_bytecode", "installed", "parse_imports"]

PACKAGE_PREFIX = "pkg:"
"""Record keys of installed distributions: ``pkg:NAME`` -> version."""
UNRESOLVED_PREFIX = "module:"
"""The record of a module found neither in the repository nor installed: ``module:NAME``."""

_STDLIB = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)
_Import = tuple[int, str, tuple[str, ...]]  # (level, module, names imported from it)
_PARSED: dict[str, tuple[_Import, ...]] = {}  # file digest -> its imports: a parse per process
_INSTALLED: list[tuple[list[list[object]], dict[str, dict[str, str]]]] = []  # [(key, mapping)]


@dataclass(frozen=True)
class Module:
    """A repository module in the graph."""

    name: str  # dotted, as imported
    path: Path
    imports: tuple[str, ...]  # the graph's modules it imports (parent packages included)


class CodeGraph:
    """The import graph of repository modules under ``root``.

    ``digest(path)`` gives a file's content digest (``StatCache.hash_file``).
    Where modules live is remembered for the graph's lifetime (one run, one
    status): make a new graph to see files added or removed since. Edits are
    always seen: each walk asks ``digest`` again."""

    def __init__(self, root: Path, digest: Callable[[Path], str], packages_cache: Path | None = None) -> None:
        self.root = Path(root)
        self.digest = digest
        self.packages_cache = packages_cache
        self._real_root = Path(os.path.realpath(self.root))
        self._bases: dict[str, Path | str] = {}  # top-level name -> its folder | "stdlib" | "external"
        self._files: dict[str, Path | None] = {}  # module name -> its repository file
        self._rels: dict[Path, str] = {}  # file -> its path in the record
        self._edges: dict[tuple[Path, str, str], tuple[tuple[str, bool], ...]] = {}
        self._packages: dict[str, dict[str, str]] | None = None

    # -- public ------------------------------------------------------------------------

    def record(self, module: str) -> dict[str, str]:
        """What the code of ``module`` is made of: repository path -> digest, and
        ``pkg:DISTRIBUTION`` -> version, sorted."""
        record, _ = self._walk(module, packages=True)
        if not record:
            record[f"{UNRESOLVED_PREFIX}{module}"] = "not in the repository"
        return dict(sorted(record.items()))

    def modules(self, module: str) -> list[Module]:
        """The repository modules of ``module``'s graph, each after those it imports
        (in a cycle, after those not already on the way to it)."""
        return self._walk(module, packages=False)[1]

    # -- the walk ------------------------------------------------------------------------

    def _walk(self, start: str, *, packages: bool) -> tuple[dict[str, str], list[Module]]:
        record: dict[str, str] = {}
        order: list[Module] = []
        seen: set[str] = set()
        # depth-first and iterative (no recursion limit): each module is listed after
        # the modules it imports, which a reload needs
        stack: list[tuple[str, Path | None, list[str], int]] = []

        def enter(name: str) -> None:
            seen.add(name)
            path, deps = self._visit(name, record, packages)
            stack.append((name, path, deps, 0))

        enter(start)
        while stack:
            name, path, deps, i = stack[-1]
            if i < len(deps):
                stack[-1] = (name, path, deps, i + 1)
                if deps[i] not in seen:
                    enter(deps[i])
                continue
            stack.pop()
            if path is not None:
                ours = tuple(dict.fromkeys(d for d in deps if self._file(d) is not None))
                order.append(Module(name, path, ours))
        return record, order

    def _visit(self, name: str, record: dict[str, str], packages: bool) -> tuple[Path | None, list[str]]:
        """Record ``name``; its file (if it is one of ours) and the modules it makes
        Python import: its parent package, then what its source imports."""
        top = name.partition(".")[0]
        base = self._base(top)
        if base == "external":
            if packages:
                for dist, version in self._installed().get(top, {}).items():
                    record[f"{PACKAGE_PREFIX}{dist}"] = version
            return None, []
        if not isinstance(base, Path):  # the standard library
            return None, []
        parent = [name.rpartition(".")[0]] if "." in name else []
        path = self._file(name)
        if path is None:  # a namespace package, or a module that is not there
            return None, parent
        return path, parent + self._deps_of(name, path, record)

    def _deps_of(self, name: str, path: Path, record: dict[str, str]) -> list[str]:
        rel = self._relative(path)
        digest = record.get(rel)
        if digest is None:
            digest = record[rel] = self.digest(path)
        key = (path, digest, name)
        edges = self._edges.get(key)
        if edges is None:
            imports = _PARSED.get(digest)
            if imports is None:
                imports = _PARSED[digest] = parse_imports(path)
            edges = self._edges[key] = tuple(self._resolve(name, path.name == "__init__.py", imports))
        # a name imported from a package is a module only if its file is there
        return [n for n, optional in edges if not optional or self._file(n) is not None]

    def _resolve(self, name: str, is_package: bool, imports: tuple[_Import, ...]) -> list[tuple[str, bool]]:
        """Absolute module names for one module's imports: (name, only if it is a file)."""
        package = name if is_package else name.rpartition(".")[0]
        out: list[tuple[str, bool]] = []
        for level, module, names in imports:
            if level:
                parts = package.split(".") if package else []
                if level > len(parts):
                    continue  # beyond the top-level package: fails at run time too
                base = ".".join(parts[: len(parts) - (level - 1)])
                module = f"{base}.{module}" if module and base else (module or base)
            if not module:
                continue
            out.append((module, False))
            out.extend((f"{module}.{n}", True) for n in names)
        return out

    # -- where modules are ------------------------------------------------------------------

    def _base(self, top: str) -> Path | str:
        """Where the top-level package ``top`` comes from: the folder holding it (the
        repository root, or an editable install's folder inside the repository),
        "stdlib", or "external" (installed, or found nowhere: no version then)."""
        if top in self._bases:
            return self._bases[top]
        root = self.root
        found: Path | str
        if (root / f"{top}.py").is_file() or (root / top / "__init__.py").is_file():
            found = root  # sys.path[0] at run time: it wins
        elif top in _STDLIB:
            found = "stdlib"
        elif (editable := self._editable(top)) is not None:
            found = editable
        elif (root / top).is_dir():  # a namespace package, unless installed (regular packages win)
            found = "external" if top in self._installed() else root
        else:
            found = "external"
        self._bases[top] = found
        return found

    def _editable(self, top: str) -> Path | None:
        """The folder inside the repository that an installed (editable) ``top`` is
        imported from, e.g. ``src/`` of a Kedro project; None when it is not ours."""
        import importlib.util

        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError, AttributeError):
            return None
        origin = getattr(spec, "origin", None)
        if not origin or not origin.endswith(".py"):
            return None
        real = Path(os.path.realpath(origin))
        if not real.is_relative_to(self._real_root) or _in_environment(real):
            return None
        return real.parent.parent if real.name == "__init__.py" else real.parent

    def _file(self, name: str) -> Path | None:
        """The repository file of module ``name`` (None: not one of ours)."""
        if name in self._files:
            return self._files[name]
        base = self._base(name.partition(".")[0])
        path = None
        if isinstance(base, Path):
            parts = name.split(".")
            for candidate in (base.joinpath(*parts[:-1], f"{parts[-1]}.py"), base.joinpath(*parts, "__init__.py")):
                if candidate.is_file():
                    path = candidate
                    break
        self._files[name] = path
        return path

    def _relative(self, path: Path) -> str:
        rel = self._rels.get(path)
        if rel is None:
            try:
                rel = path.relative_to(self.root).as_posix()
            except ValueError:  # an editable package's folder, found by its real path
                rel = Path(os.path.realpath(path)).relative_to(self._real_root).as_posix()
            self._rels[path] = rel
        return rel

    def _installed(self) -> dict[str, dict[str, str]]:
        if self._packages is None:
            self._packages = installed(self.packages_cache, ignore=(self.root,))
        return self._packages


def forget_bytecode(path: Path) -> None:
    """Drop the .pyc of an edited module before it is imported again. Python trusts a
    .pyc whose recorded source mtime (whole seconds) and size match, so a same-size edit
    within the second of the last write would otherwise load the old code."""
    import importlib.util

    with contextlib.suppress(OSError, ValueError, NotImplementedError):
        Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)


def parse_imports(path: Path) -> tuple[_Import, ...]:
    """The imports of a source file, wherever they are in it (functions, ``try:``),
    except under ``if TYPE_CHECKING:``; none when it does not parse."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError, RecursionError):
        return ()
    found: list[_Import] = []

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
            ):
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.extend((0, alias.name, ()) for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            names = tuple(a.name for a in node.names if a.name != "*")
            found.append((node.level or 0, node.module or "", names))

    Visitor().visit(tree)
    return tuple(found)


def _in_environment(path: Path) -> bool:
    """Inside the interpreter's own folders (a ``.venv`` in the repository)."""
    if {"site-packages", "dist-packages"} & set(path.parts):
        return True
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return any(path.is_relative_to(os.path.realpath(p)) for p in prefixes)


# -- installed distributions ---------------------------------------------------------------


def installed(cache: Path | None = None, ignore: tuple[Path, ...] = ()) -> dict[str, dict[str, str]]:
    """Top-level import name -> {distribution: version}, for this interpreter.

    ``importlib.metadata`` reads every distribution's records (~0.3 s), so the
    mapping is kept per process and, in ``cache``, across processes. Either is
    reused while no ``sys.path`` folder changed: installing, upgrading or
    removing a distribution adds or renames an entry in one of them. Folders in
    ``ignore`` (the repository root, whose entries change all the time and which
    holds no distributions) are left out of that check."""
    key = _path_key({str(p) for p in ignore} | {os.path.realpath(p) for p in ignore})
    if _INSTALLED and _INSTALLED[0][0] == key:
        return _INSTALLED[0][1]
    mapping = _read_cache(cache, key) if cache is not None else None
    if mapping is None:
        mapping = _scan()
        if cache is not None:
            _write_cache(cache, key, mapping)
    _INSTALLED[:] = [(key, mapping)]
    return mapping


def _path_key(ignore: set[str]) -> list[list[object]]:
    key: list[list[object]] = []
    for entry in sys.path:
        if (entry or os.getcwd()) in ignore:
            continue
        try:
            key.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            key.append([entry, -1])
    return key


def _scan() -> dict[str, dict[str, str]]:
    """``packages_distributions()`` with versions, done by hand so that one broken or
    half-installed distribution (a dist-info folder without METADATA) is skipped instead
    of failing every `status`."""
    import importlib.metadata as metadata

    versions: dict[str, str] = {}
    tops: dict[str, set[str]] = {}
    for dist in metadata.distributions():  # in sys.path order: the first one is imported
        try:
            name, version = dist.metadata["Name"], dist.version
            declared = (dist.read_text("top_level.txt") or "").split()
            names = declared or {f.parts[0] if len(f.parts) > 1 else f.with_suffix("").name
                                 for f in dist.files or () if f.suffix == ".py"}
        except Exception:  # noqa: BLE001 - whatever a damaged distribution raises
            continue
        if not name or name in versions:
            continue
        versions[name] = version
        for top in names:
            tops.setdefault(top, set()).add(name)
    return {top: {d: versions[d] for d in sorted(dists)} for top, dists in tops.items()}


def _read_cache(cache: Path, key: list[list[object]]) -> dict[str, dict[str, str]] | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("packages"), dict):
        return None
    packages: Mapping[str, dict[str, str]] = data["packages"]
    return dict(packages)


def _write_cache(cache: Path, key: list[list[object]], mapping: dict[str, dict[str, str]]) -> None:
    from lockgate._fs import atomic_write_text

    try:  # no fsync, and no folder made for it: a missing .lockgate/ stays missing
        atomic_write_text(cache, json.dumps({"key": key, "packages": mapping}, sort_keys=True),
                          durable=False, parents=False)
    except OSError:  # a cache: never a reason to fail
        pass
