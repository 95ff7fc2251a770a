"""A ``call`` stage's ``in:`` and ``with:`` names against its function's signature, read
from the source, so ``lockgate validate`` says what the run would fail on.

Owns: finding the function's module file the way the worker's import will (the
repository root first, then the folder an installed top-level package lives in),
parsing it with ``ast``, following ``from X import f`` to where ``f`` is defined,
and turning a signature plus the names a stage passes into messages.

Must not import the user's module (nothing of it runs at validate) nor lockgate's
upper layers. What cannot be known from the source is no error here, the run says
it: a module that is not found or does not parse, a function that is decorated,
assigned, a class, or bound in a way ``ast`` cannot follow (``from x import *``,
``globals()``, a module ``__getattr__``).
"""

from __future__ import annotations

import ast
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockgate.errors import did_you_mean

MAX_SOURCE_BYTES = 10 * 1024 * 1024  # a bigger module is not parsed at validate
MAX_HOPS = 8  # re-exports followed (``from .nodes import f`` in a package ``__init__``)


@dataclass(frozen=True)
class Signature:
    """What a function takes by name, as written in its source."""

    name: str
    file: str  # as shown: repository-relative when inside it
    line: int
    by_name: tuple[str, ...]  # parameters an argument may be passed to by name, in order
    required: tuple[str, ...]  # parameters without a default (positional-only ones too)
    positional_only: tuple[str, ...]  # before ``/``: never by name
    var_keyword: bool  # ``**kwargs`` takes any name
    text: str  # ``split_data(data, parameters)``

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Missing:
    """The module was read, and nothing in it binds the function's name."""

    module_file: str
    name: str
    defined: tuple[str, ...]  # the module's top-level functions, for "did you mean"


def find_function(root: Path, target: str) -> Signature | Missing | None:
    """The signature of ``module:function``; Missing when the module plainly lacks it;
    None when the source cannot tell (the run will)."""
    module, _, name = target.partition(":")
    path = module_file(root, module)
    hops = 0
    while path is not None and hops <= MAX_HOPS:
        tree = _parse(path)
        if tree is None:
            return None
        found = _binding(tree, name, module, path.name == "__init__.py")
        if isinstance(found, ast.FunctionDef | ast.AsyncFunctionDef):
            return None if found.decorator_list else _signature(found, _shown(root, path))
        if isinstance(found, tuple):  # re-exported: (module it comes from, its name there)
            module, name = found
            path = module_file(root, module)
            hops += 1
            continue
        if found == "absent":
            defined = tuple(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
            return Missing(_shown(root, path), name, defined)
        return None
    return None


def module_file(root: Path, module: str) -> Path | None:
    """The source file the worker's ``import module`` would load: under the repository
    root (first on ``sys.path`` at run time), else in the folder an installed top-level
    package comes from. Nothing is imported (``find_spec`` of a top-level name only
    locates it)."""
    parts = module.split(".")
    found = _file_under(Path(root), parts)
    if found is not None:
        return found
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            found = _file_under(Path(location).parent, parts)
            if found is not None:
                return found
        return None
    origin = spec.origin or ""
    return Path(origin) if len(parts) == 1 and origin.endswith(".py") else None


def _file_under(base: Path, parts: Sequence[str]) -> Path | None:
    for candidate in (base.joinpath(*parts[:-1], f"{parts[-1]}.py"), base.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _parse(path: Path) -> ast.Module | None:
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return None
        return ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None


def _binding(tree: ast.Module, name: str, module: str, is_package: bool) -> Any:
    """How the module binds ``name`` at its top level: the FunctionDef, a (module, name)
    it is imported from, "absent" when nothing can bind it, or "unknown"."""
    found: list[Any] = []
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            found.append(node)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    found.append((_absolute(node, module, is_package), alias.name))
        elif isinstance(node, ast.Import):
            if any((a.asname or a.name.partition(".")[0]) == name for a in node.names):
                found.append("unknown")
        elif _assigns(node, name):
            found.append("unknown")
    if not found:
        return "unknown" if _dynamic(tree) else "absent"
    if len(found) > 1:  # defined in branches (if/try): which one runs is not known here
        return "unknown"
    only = found[0]
    if isinstance(only, tuple) and only[0] is None:
        return "unknown"
    return only


def _top_level(body: Sequence[ast.AST]) -> list[ast.AST]:
    """Statements that run at import: the module's, and those inside its if/try/with/for
    (an ``except`` handler is not a statement, but its body runs at import too)."""
    out: list[ast.AST] = []
    for node in body:
        out.append(node)
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out += _top_level([n for n in inner if isinstance(n, ast.stmt | ast.ExceptHandler)])
    return out


def _assigns(node: ast.AST, name: str) -> bool:
    targets: list[ast.AST] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
        targets = [node.target]
    elif isinstance(node, ast.With | ast.AsyncWith):
        targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
    elif isinstance(node, ast.ExceptHandler):
        return node.name == name
    return any(isinstance(t, ast.Name) and t.id == name for target in targets for t in ast.walk(target))


def _dynamic(tree: ast.Module) -> bool:
    """Whether names may be bound where ``ast`` cannot see: a star import, a module
    ``__getattr__``, ``global`` in a function, ``globals()``/``exec``/``setattr``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
        if isinstance(node, ast.Global):
            return True
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__" and node in tree.body:
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "globals", "exec", "setattr", "vars", "__import__"):
            return True
    return False


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    if not node.level:
        return node.module
    package = module if is_package else module.rpartition(".")[0]
    parts = package.split(".") if package else []
    if node.level > len(parts):
        return None
    base = ".".join(parts[: len(parts) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module and base else (node.module or base) or None


def _signature(func: ast.FunctionDef | ast.AsyncFunctionDef, file: str) -> Signature:
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    defaults = len(args.defaults)
    optional = {a.arg for a in positional[len(positional) - defaults:]} if defaults else set()
    optional |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
    by_name = [a.arg for a in (*args.args, *args.kwonlyargs)]
    return Signature(
        name=func.name, file=file, line=func.lineno,
        by_name=tuple(by_name),
        required=tuple(a.arg for a in (*positional, *args.kwonlyargs) if a.arg not in optional),
        positional_only=tuple(a.arg for a in args.posonlyargs),
        var_keyword=args.kwarg is not None,
        text=f"{func.name}({_params_text(args)})",
    )


def _params_text(args: ast.arguments) -> str:
    shown: list[str] = []
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    for i, a in enumerate(positional):
        shown.append(a.arg + ("=..." if i >= first_default else ""))
        if args.posonlyargs and i == len(args.posonlyargs) - 1:
            shown.append("/")
    if args.vararg:
        shown.append(f"*{args.vararg.arg}")
    elif args.kwonlyargs:
        shown.append("*")
    shown += [a.arg + ("=..." if d is not None else "") for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        shown.append(f"**{args.kwarg.arg}")
    return ", ".join(shown)


def _shown(root: Path, path: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix() if Path(path).resolve().is_relative_to(
            Path(root).resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)


# -- stages -------------------------------------------------------------------------------


def call_problems(stage: Any, found: Signature | Missing) -> list[tuple[tuple[str | int, ...], str]]:
    """(where in the stage, message) for each name the function cannot take and each
    argument it needs that the stage does not give; ``where`` is relative to the stage."""
    prefix = f"stage '{stage.base}': "
    if isinstance(found, Missing):
        hint = did_you_mean(found.name, found.defined) or (
            f" (it defines {', '.join(found.defined[:8])})" if found.defined else "")
        return [(("call",), f"{prefix}{found.module_file} has no function '{found.name}'{hint}")]
    problems: list[tuple[tuple[str | int, ...], str]] = []
    given = {**{a: "in" for a in stage.inputs}, **{k: "with" for k in stage.with_}}
    for arg, key in given.items():
        if arg in found.positional_only:
            problems.append(((key, arg), (
                f"{prefix}{key}: '{arg}' is positional-only in {found.text} ({found.where}); lockgate "
                "passes arguments by name: remove the '/' from the function")))
        elif arg not in found.by_name and not found.var_keyword:
            hint = did_you_mean(arg, [n for n in found.by_name if n not in given])
            problems.append(((key, arg), f"{prefix}{key}: '{arg}' is not a parameter of {found.text} "
                                         f"({found.where}){hint}"))
    needed = [n for n in found.required if n not in given and n not in found.positional_only]
    stuck = [n for n in found.positional_only if n in found.required and n not in given]
    if stuck:
        names = ", ".join(f"'{n}'" for n in stuck)
        problems.append(((), (
            f"{prefix}{found.text} ({found.where}) takes {names} positional-only (before '/'); "
            "lockgate passes arguments by name: remove the '/' from the function")))
    if needed:
        names = ", ".join(f"'{n}'" for n in needed)
        problems.append(((), (
            f"{prefix}{found.text} ({found.where}) needs {names}, which neither in: (an artifact) "
            f"nor with: (a value) gives")))
    return problems


def pipeline_problems(pipeline: Any, root: Path) -> list[tuple[tuple[str | int, ...], str]]:
    """Every ``call`` stage of a compiled pipeline checked, once per stage as written (a
    matrix's stages share their names); ``where`` is a path in the spec."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    cache: dict[str, Signature | Missing | None] = {}
    for stage in pipeline.stages.values():
        if stage.kind != "call" or stage.base in seen:
            continue
        seen.add(stage.base)
        target = str(stage.run)
        if target not in cache:
            cache[target] = find_function(root, target)
        signature = cache[target]
        if signature is None:
            continue
        for where, message in call_problems(stage, signature):
            found.append((("stages", stage.base, *where), message))
    return found
