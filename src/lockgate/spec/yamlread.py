"""Safe, bounded YAML reading that remembers where every key and value was written.

We read the parser's events (libyaml's when present) and build the plain values
ourselves, recording the 1-based (line, column) of each value (and of each
mapping key) under its path, so any later error can point at the user's text.
PyYAML's composer and constructor are not used for lists and mappings: they
recurse (a few hundred ``[`` overflow the stack) and expand aliases without
bound (a "billion laughs" document of 400 bytes takes minutes and gigabytes).
Here building is a loop over events, with the limits of ``spec.limits``:
values counted (those an alias repeats included), nesting depth, integer
digits, and plain values only (no ``!!python/...`` or other tags, no YAML 1.1
dates, base-60 numbers or ``yes:``/``on:`` keys, which all say "quote it").
Duplicate keys are errors here: PyYAML silently keeps the last one, which
hides typos. Merge keys (``<<: *defaults``) follow YAML's rules: keys written
in the mapping win over merged ones.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml

from lockgate.errors import SpecError, SpecIssue
from lockgate.spec import limits
from lockgate.spec.limits import shown

Path = tuple[str | int, ...]

# libyaml when present (10x faster on big specs, same marks); errors are re-read
# with the pure-Python parser, whose messages and positions we word and test.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_REWORD_LIMIT = 128 * 1024  # above this, re-reading in pure Python would be slow: keep libyaml's words
_REWORD_SECONDS = 0.25

_TAG = "tag:yaml.org,2002:"
_MAP, _SEQ, _MERGE, _TIMESTAMP = _TAG + "map", _TAG + "seq", _TAG + "merge", _TAG + "timestamp"
_STR, _INT = _TAG + "str", _TAG + "int"
_PLAIN = {_TAG + "null": "null", _TAG + "bool": "true or false", _TAG + "int": "an integer",
          _TAG + "float": "a number", _TAG + "str": "a string"}
_AS_TEXT = {_TAG + "value", _MERGE}  # '=' and '<<' where they are not merge keys: text
_NO_KEY = ("<refused key>",)  # path part under which the value of a refused key is built (and dropped)
_MERGED = "<<"  # path part under which a merge key's value is built


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


def read_file(path: str | FilePath, display: str) -> str:
    """The text of a spec or params file (a regular file): at most ``MAX_SPEC_BYTES``, UTF-8.
    SpecError (located at the first bad byte) otherwise; FileNotFoundError passes
    through, for the caller to word."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or a device would never end
            raise SpecError(SpecIssue(display, 0, 0, "not a regular file; name a YAML file"))
        with open(path, "rb") as handle:
            data = handle.read(limits.MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SpecError(SpecIssue(display, 0, 0, f"cannot read it: {exc.strerror or exc}")) from None
    if len(data) > limits.MAX_SPEC_BYTES:
        raise SpecError(SpecIssue(
            display, 0, 0,
            f"larger than {limits.MAX_SPEC_BYTES // 2**20} MiB, the most a spec or params file may be; "
            "keep data in files the pipeline reads (deps:, inputs:), not in the spec",
        ))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        col = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
        raise SpecError(SpecIssue(
            display, line, col,
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded; save the file as UTF-8",
        )) from None


def read_yaml(text: str, file: str) -> tuple[Any, Positions]:
    """Parse one YAML document safely, within ``spec.limits``; raise SpecError with the
    position of every problem."""
    try:
        loader = _LOADER(text)
    except yaml.YAMLError as exc:  # e.g. a control character the reader rejects
        raise SpecError(_reworded(exc, text, file)) from None
    builder = _Builder(loader, file)
    try:
        data = builder.document()
    except yaml.YAMLError as exc:
        raise SpecError([*builder.issues, _reworded(exc, text, file)]) from None
    finally:
        loader.dispose()
    if builder.issues:
        raise SpecError(builder.issues)
    return data, builder.positions


def _mark(event: yaml.Event) -> tuple[int, int]:
    return (event.start_mark.line + 1, event.start_mark.column + 1)


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


@dataclass
class _Anchor:
    """An anchored value: its entries are ``log[start:end]``, written under ``base``."""

    value: Any
    line: int
    start: int
    end: int
    base: int  # len() of the anchored value's path
    values: int  # how many values an alias to it repeats
    height: int  # nesting levels it holds (0: a scalar)


@dataclass
class _Open:
    """An anchored list or mapping still being read: an alias to it would be recursive."""

    line: int


class _Frame:
    """A list or mapping being read."""

    __slots__ = ("path", "value", "is_map", "anchor", "line", "log_start", "count_start", "height",
                 "key", "key_pos", "key_lines", "child_start", "merges")

    def __init__(self, path: Path, is_map: bool, anchor: str | None, line: int, log_start: int,
                 count_start: int) -> None:
        self.path = path
        self.value: Any = {} if is_map else []
        self.is_map = is_map
        self.anchor = anchor
        self.line = line
        self.log_start = log_start
        self.count_start = count_start
        self.height = 1
        self.key: Any = _AWAIT
        self.key_pos = (0, 0)
        self.key_lines: dict[Any, int] = {}
        self.child_start = 0
        self.merges: list[tuple[Any, int, int, tuple[int, int]]] = []


_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_AWAIT = object()  # a mapping waiting for its next key
_MERGE_KEY = object()  # the key '<<'


class _Builder:
    """Builds one document's plain values from parser events, in a loop (no recursion
    but for keys that are themselves lists or mappings), within ``spec.limits``."""

    def __init__(self, loader: Any, file: str) -> None:
        self.loader = loader
        self.file = file
        self.positions = Positions()
        self.issues: list[SpecIssue] = []
        self.log: list[tuple[Path, tuple[int, int], bool]] = []  # every position recorded, in order
        self.count = 0  # values recorded (aliases' repeats included)
        self.anchors: dict[str, _Anchor | _Open] = {}
        self.stack: list[_Frame] = []
        self.resolved: dict[str, str] = {}  # plain scalar -> its implicit tag (keys repeat)
        self.resolved_first = {c for c in loader.yaml_implicit_resolvers if c}

    def issue(self, pos: tuple[int, int], message: str) -> None:
        self.issues.append(SpecIssue(self.file, pos[0], pos[1], message))

    def stop(self, pos: tuple[int, int], message: str) -> SpecError:
        return SpecError([*self.issues, SpecIssue(self.file, pos[0], pos[1], message)])

    def record(self, path: Path, pos: tuple[int, int], is_key: bool) -> None:
        self.log.append((path, pos, is_key))
        if is_key:
            self.positions.keys[path] = pos
            return
        self.positions.values[path] = pos
        self.count += 1
        if self.count > limits.MAX_YAML_VALUES:
            raise self.too_many(pos)

    def too_many(self, pos: tuple[int, int]) -> SpecError:
        return self.stop(pos, (
            f"more than {limits.MAX_YAML_VALUES:,} values in one document, the most a spec may hold; "
            "keep data in files the pipeline reads (deps:, inputs:), not in the spec"
        ))

    # -- the document ---------------------------------------------------------
    def document(self) -> Any:
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # document start
        data = self.node(())
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            self.issue(_mark(event), "a second YAML document starts here; a spec is one document: "
                                     "remove the '---' line, or split the file")
        return data

    def node(self, path: Path, event: yaml.Event | None = None) -> Any:
        """Read the value starting at ``event`` (else the next one), and everything inside it."""
        get_event, stack, log, values = self.loader.get_event, self.stack, self.log, self.positions.values
        base = len(stack)
        done, value, _ = self.start(path, event or get_event())
        if done:
            return value
        while True:
            event = get_event()
            frame = stack[-1]
            if isinstance(event, _ENDS):
                value, height = self.end()
                if len(stack) == base:
                    return value
                self.deliver(stack[-1], value, height)
                continue
            if frame.is_map:
                if frame.key is _AWAIT:
                    self.key(frame, event)
                    continue
                part = _MERGED if frame.key is _MERGE_KEY else frame.key
                child = (*frame.path, *part) if part is _NO_KEY else (*frame.path, part)
                frame.child_start = len(log)
            else:
                child = (*frame.path, len(frame.value))
            if type(event) is yaml.ScalarEvent and event.anchor is None and event.tag is None:
                # the common case, inline: a plain or quoted value with no tag or anchor
                mark = event.start_mark
                pos = (mark.line + 1, mark.column + 1)
                log.append((child, pos, False))
                values[child] = pos
                self.count += 1
                if self.count > limits.MAX_YAML_VALUES:
                    raise self.too_many(pos)
                value = self.scalar(event)
                if frame.is_map:
                    key, frame.key = frame.key, _AWAIT
                    if key is _MERGE_KEY:
                        frame.merges.append((value, frame.child_start, len(log), frame.key_pos))
                    elif key is not _NO_KEY:
                        frame.value[key] = value
                else:
                    frame.value.append(value)
                continue
            done, value, height = self.start(child, event)
            if done:
                self.deliver(frame, value, height)

    def start(self, path: Path, event: yaml.Event) -> tuple[bool, Any, int]:
        """Take ``event``: (True, value, height) for a scalar or an alias, or (False, None, 0)
        after opening a list or mapping."""
        if isinstance(event, yaml.AliasEvent):
            value, height = self.alias(event, path)
            return True, value, height
        pos = _mark(event)
        log_start, count_start = len(self.log), self.count
        self.record(path, pos, False)
        anchor = event.anchor
        if anchor is not None:
            self.anchors[anchor] = _Open(pos[0])
        if isinstance(event, yaml.ScalarEvent):
            value = self.scalar(event)
            if anchor is not None:
                self.anchors[anchor] = _Anchor(value, pos[0], log_start, len(self.log), len(path), 1, 0)
            return True, value, 0
        is_map = isinstance(event, yaml.MappingStartEvent)
        if event.tag not in (None, "!", _MAP if is_map else _SEQ):
            self.issue(pos, self.refused_tag(event.tag))
        if len(self.stack) >= limits.MAX_YAML_DEPTH:
            raise self.stop(pos, (
                f"nested more than {limits.MAX_YAML_DEPTH} levels deep, the most a spec may be; flatten it"
            ))
        self.stack.append(_Frame(path, is_map, anchor, pos[0], log_start, count_start))
        return False, None, 0

    def end(self) -> tuple[Any, int]:
        frame = self.stack.pop()
        value = self.merged(frame) if frame.merges else frame.value
        if frame.anchor is not None:
            self.anchors[frame.anchor] = _Anchor(
                value, frame.line, frame.log_start, len(self.log), len(frame.path),
                self.count - frame.count_start, frame.height,
            )
        return value, frame.height

    def deliver(self, frame: _Frame, value: Any, height: int) -> None:
        frame.height = max(frame.height, height + 1)
        if not frame.is_map:
            frame.value.append(value)
            return
        key, frame.key = frame.key, _AWAIT
        if key is _MERGE_KEY:
            frame.merges.append((value, frame.child_start, len(self.log), frame.key_pos))
        elif key is not _NO_KEY:
            frame.value[key] = value

    # -- aliases ----------------------------------------------------------------
    def alias(self, event: yaml.AliasEvent, path: Path) -> tuple[Any, int]:
        name, pos = event.anchor, _mark(event)
        anchor = self.anchors.get(name)
        if not isinstance(anchor, _Anchor):
            self.record(path, pos, False)
            if anchor is None:
                self.issue(pos, f"alias '*{name}' refers to nothing; define '&{name}' on a value above it")
            else:
                self.issue(pos, f"alias '*{name}' is inside the value it refers to ('&{name}', line "
                                f"{anchor.line}); a spec cannot contain itself")
            return None, 0
        if self.count + anchor.values > limits.MAX_YAML_VALUES:
            raise self.stop(pos, (
                f"alias '*{name}' repeats {anchor.values:,} values, which takes this document past "
                f"{limits.MAX_YAML_VALUES:,}, the most a spec may hold (aliases of aliases multiply); "
                "write the values out, or use fewer aliases"
            ))
        if len(self.stack) + anchor.height > limits.MAX_YAML_DEPTH:
            raise self.stop(pos, (
                f"alias '*{name}' nests this document more than {limits.MAX_YAML_DEPTH} levels deep, "
                "the most a spec may be; flatten it"
            ))
        self.record(path, pos, False)  # the alias's own place, not its anchor's
        for sub, sub_pos, is_key in self.log[anchor.start + 1:anchor.end]:
            self.record((*path, *sub[anchor.base:]), sub_pos, is_key)
        return anchor.value, anchor.height

    # -- keys -------------------------------------------------------------------
    def key(self, frame: _Frame, event: yaml.Event) -> None:
        pos = _mark(event)
        frame.key_pos = pos
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self.node((*frame.path, *_NO_KEY), event)  # a list or mapping as a key (`? [a, b]`)
            self.issue(pos, "a mapping key must be a plain name")
            frame.key = _NO_KEY
            return
        if isinstance(event, yaml.AliasEvent):
            found = self.anchors.get(event.anchor)
            if not isinstance(found, _Anchor):
                self.issue(pos, f"alias '*{event.anchor}' refers to nothing usable as a key; "
                                "write the key out")
                frame.key = _NO_KEY
                return
            key = found.value
        else:
            tag, explicit = self.tag_of(event)
            if tag == _MERGE:
                if _MERGE_KEY in frame.key_lines:
                    self.issue(pos, f"a second '<<' (the first is on line {frame.key_lines[_MERGE_KEY]}); "
                                    "merge several mappings with one: <<: [*a, *b]")
                    frame.key = _NO_KEY
                    return
                frame.key_lines[_MERGE_KEY] = pos[0]
                frame.key = _MERGE_KEY
                return
            if not explicit and tag in (_TAG + "bool", _TAG + "null") and event.value:
                meaning = "null" if tag == _TAG + "null" else str(self.construct(event, tag)).lower()
                self.issue(pos, f"'{event.value}' as a key is read by YAML as {meaning}; quote it "
                                f"('{event.value}':) to use it as a name")
                frame.key = _NO_KEY
                return
            key = self.scalar(event, tag, explicit)
            if event.anchor is not None:
                self.anchors[event.anchor] = _Anchor(key, pos[0], len(self.log), len(self.log), 0, 1, 0)
        if not isinstance(key, (str, int, float)) or isinstance(key, bool):
            self.issue(pos, "a mapping key must be a plain name")
            frame.key = _NO_KEY
            return
        if key in frame.key_lines:
            self.issue(pos, f"duplicate key {shown(str(key))} (first written on line "
                            f"{frame.key_lines[key]}); remove one of them")
            frame.key = _NO_KEY
            return
        frame.key_lines[key] = pos[0]
        self.record((*frame.path, key), pos, True)
        frame.key = key

    # -- merge keys ---------------------------------------------------------------
    def merged(self, frame: _Frame) -> dict[Any, Any]:
        """The mapping with its ``<<`` merge (YAML's merge key): keys written here win,
        then the first of several merged mappings; merged keys come first, in order."""
        pairs: list[tuple[Any, Any, Any]] = []
        scans = []
        for value, start, end, pos in frame.merges:
            if isinstance(value, dict):
                pairs += [(k, v, (start, None)) for k, v in value.items()]
                scans.append((start, end, False))
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for i, item in enumerate(value):
                    pairs += [(k, v, (start, i)) for k, v in item.items()]
                scans.append((start, end, True))
            else:
                self.issue(pos, "'<<' merges a mapping, or a list of mappings, into this one "
                                f"(e.g. <<: *defaults); got {shown(value)}")
        result: dict[Any, Any] = {}
        origin: dict[Any, Any] = {}
        for key, value, source in pairs:
            if key not in result:
                result[key] = value
                origin[key] = source
        for key, value in frame.value.items():
            result[key] = value
            origin[key] = None
        base = len(frame.path) + 1
        for start, end, is_list in scans:  # where the merged keys were written
            for sub, sub_pos, is_key in self.log[start:end]:
                rest = sub[base + 1:] if is_list else sub[base:]
                if rest and origin.get(rest[0]) == (start, sub[base] if is_list else None):
                    self.record((*frame.path, *rest), sub_pos, is_key)
        return result

    # -- scalars ----------------------------------------------------------------
    def tag_of(self, event: yaml.ScalarEvent) -> tuple[str, bool]:
        if event.tag in (None, "!"):
            value = event.value
            if not event.implicit[0] or (value and value[0] not in self.resolved_first):
                return _STR, False  # quoted, or no implicit type starts with this character
            tag = self.resolved.get(value)
            if tag is None:
                tag = self.loader.resolve(yaml.ScalarNode, value, event.implicit)
                if len(self.resolved) < 10_000 and len(value) < 64:
                    self.resolved[value] = tag
            return tag, False
        return event.tag, True

    def scalar(self, event: yaml.ScalarEvent, tag: str | None = None, explicit: bool = False) -> Any:
        if tag is None:
            tag, explicit = self.tag_of(event)
        value = event.value
        if not explicit:  # the common cases, without PyYAML's constructor
            if tag == _STR:
                return value
            if tag == _INT and value.isdigit() and (value[0] != "0" or value == "0") and len(value) < 19:
                return int(value)
        pos = _mark(event)
        if tag in _AS_TEXT:
            return value
        if tag not in _PLAIN:
            if tag == _TIMESTAMP and not explicit:
                self.issue(pos, f"YAML reads {value} as a date; quote it ('{value}') to keep it as text")
            else:
                self.issue(pos, self.refused_tag(tag))
            return value
        if tag == _TAG + "int":
            digits = value.lstrip("+-").replace("_", "")
            if digits[:2].lower() in ("0x", "0o", "0b"):
                digits = digits[2:]
            if len(digits) > limits.MAX_INT_DIGITS:
                self.issue(pos, f"an integer of {len(digits):,} digits is longer than "
                                f"{limits.MAX_INT_DIGITS}, the most a spec may hold; quote it to keep it as text")
                return value
        if not explicit and ":" in value and tag in (_TAG + "int", _TAG + "float"):
            number = self.construct(event, tag)
            self.issue(pos, f"YAML 1.1 reads {value} as the base-60 number {number}; quote it "
                            f"('{value}') to keep it as text")
            return value
        try:
            return self.construct(event, tag)
        except (yaml.YAMLError, ValueError, KeyError, TypeError, OverflowError):
            self.issue(pos, f"{shown(value)} is not {_PLAIN[tag]}; fix it, or remove the "
                            f"'{_tag_name(tag)}' tag")
            return value

    def construct(self, event: yaml.ScalarEvent, tag: str) -> Any:
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        return self.loader.yaml_constructors[tag](self.loader, node)

    @staticmethod
    def refused_tag(tag: str) -> str:
        name = _tag_name(tag)
        if name.startswith("!!python/"):
            why = "lockgate never builds Python objects from a spec"
        else:
            why = "a spec holds only strings, numbers, true/false, null, lists and mappings"
        if len(name) > limits.MAX_SHOWN_CHARS:
            name = name[:limits.MAX_SHOWN_CHARS] + "..."
        return f"tag '{name}' is not allowed: {why}; remove it"


def _reworded(exc: yaml.YAMLError, text: str, file: str) -> SpecIssue:
    """libyaml's error as the pure-Python parser words and places it (the wording we
    test), when that is quick: the text is small, and the pure-Python parser (slow,
    and quadratic in flow nesting) gets there within a fraction of a second."""
    if isinstance(exc, yaml.MarkedYAMLError) and "maximum nesting depth" in str(exc.problem):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return SpecIssue(file, line, col, (
            f"nested more than {limits.MAX_YAML_DEPTH} levels deep, the most a spec may be; flatten it"
        ))
    if _LOADER is not yaml.SafeLoader and len(text) <= _REWORD_LIMIT:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        stop_at = (mark.index if mark is not None else len(text)) + 1024
        deadline = time.monotonic() + _REWORD_SECONDS
        loader = None
        try:
            loader = yaml.SafeLoader(text)
            while loader.get_event() is not None:
                if loader.index > stop_at or time.monotonic() > deadline:
                    break  # libyaml's own words then
        except yaml.YAMLError as python_exc:
            exc = python_exc
        finally:
            if loader is not None:
                loader.dispose()
    return _yaml_issue(exc, file, text)


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
