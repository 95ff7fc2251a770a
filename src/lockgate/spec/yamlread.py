"""Safe YAML reading that remembers where every key and value was written.

PyYAML's safe loader gives plain values; the composer gives nodes with marks.
We compose, then build the plain values ourselves, recording the 1-based
(line, column) of each value (and of each mapping key) under its path, so any
later error can point at the user's text. Duplicate keys are errors here:
PyYAML silently keeps the last one, which hides typos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from lockgate.errors import SpecError, SpecIssue

Path = tuple[str | int, ...]

# libyaml when present (10x faster on big specs, same marks); errors are re-read
# with the pure-Python parser, whose messages and positions we word and test.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Positions:
    """Where each path of a YAML document was written (1-based line, column)."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of ``path`` (its key when ``key``), else of its nearest ancestor."""
        path = tuple(path)
        while True:
            if key and path in self.keys:
                return self.keys[path]
            if path in self.values:
                return self.values[path]
            if path in self.keys:
                return self.keys[path]
            if not path:
                return (1, 1)
            path = path[:-1]


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.positions = Positions()
        self.issues: list[SpecIssue] = []

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.positions.values[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            line, col = _mark(key_node)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                self.issues.append(
                    SpecIssue(self.file, line, col, "a mapping key must be a plain name")
                )
                continue
            if key in result:
                first = self.positions.keys[(*path, key)]
                self.issues.append(
                    SpecIssue(
                        self.file, line, col,
                        f"duplicate key '{key}' (first written on line {first[0]}); "
                        "remove one of them",
                    )
                )
                continue
            self.positions.keys[(*path, key)] = (line, col)
            result[key] = self.build(value_node, (*path, key))
        return result


def read_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse one YAML document safely; raise SpecError with the position of any error."""
    try:
        loader = _LOADER(text)
    except yaml.YAMLError as exc:  # e.g. a control character the reader rejects
        if _LOADER is not yaml.SafeLoader:
            _python_parse_error(text, file)
        raise SpecError(_yaml_issue(exc, file, text)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, Positions()
        builder = _Builder(loader, file)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        if _LOADER is not yaml.SafeLoader:  # word the error as the pure-Python parser does
            _python_parse_error(text, file)
        raise SpecError(_yaml_issue(exc, file, text)) from None
    except yaml.YAMLError as exc:  # unmarked errors are rare (e.g. bad encoding)
        if _LOADER is not yaml.SafeLoader:
            _python_parse_error(text, file)
        raise SpecError(SpecIssue(file, 0, 0, f"not valid YAML: {exc}")) from None
    finally:
        loader.dispose()
    if builder.issues:
        raise SpecError(builder.issues)
    return data, builder.positions


def _yaml_issue(exc: yaml.YAMLError, file: str, text: str) -> SpecIssue:
    if isinstance(exc, yaml.reader.ReaderError):
        line, col = _line_col(text, exc.position)
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        return SpecIssue(file, line, col, f"YAML syntax error: control character {char!r} is not allowed")
    if not isinstance(exc, yaml.MarkedYAMLError):
        return SpecIssue(file, 0, 0, f"not valid YAML: {exc}")
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "not valid YAML"
    if "<stream end>" in problem and exc.context_mark is not None and exc.context:
        # the file ended inside a bracket or quote: point at where it was opened
        mark = exc.context_mark
        line, col = mark.line + 1, mark.column + 1
        return SpecIssue(file, line, col, f"YAML syntax error: {exc.context} opened here is never closed")
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    context = f" {exc.context}" if exc.context and exc.problem else ""
    hint = ""
    if "\t" in problem or "tab" in problem:
        hint = "; indent with spaces, not tabs"
    elif "mapping values are not allowed" in problem:
        hint = "; a value containing ': ' must be quoted"
    return SpecIssue(file, line, col, f"YAML syntax error: {problem}{context}{hint}")


def _line_col(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def _python_parse_error(text: str, file: str) -> None:
    try:
        loader = yaml.SafeLoader(text)
        loader.get_single_node()
        loader.dispose()
    except yaml.YAMLError as exc:
        raise SpecError(_yaml_issue(exc, file, text)) from None
