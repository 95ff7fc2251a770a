"""Params: defaults, a params file, ``-p KEY=VALUE`` overrides, and ``${...}`` interpolation.

Precedence, lowest first: the spec's ``params:``, then its ``params_file``,
then ``-p`` overrides. Interpolation records every key it resolves, so a
stage's fingerprint includes only the params it actually references.
A whole-value ``"${model}"`` keeps the referenced value's type; inside a
longer string, only scalars may be interpolated. ``\\${`` is a literal ``${``.
A ``-p`` value is read as YAML with the spec's limits (``spec.yamlread``); one
that is not valid YAML (``-p seed=[1``) is an error saying how to quote it,
never silently taken as text. Interpolating a whole pipeline spends one
``Budget`` (``spec.limits``), so a large param used by every stage of a matrix,
or ``${a}${a}${a}...``, cannot multiply into gigabytes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from lockgate.errors import SpecError, did_you_mean
from lockgate.spec import limits
from lockgate.spec.limits import shown
from lockgate.spec.yamlread import read_yaml

REF_RE = re.compile(r"(?<!\\)\$\{([^}]*)\}")


class ParamError(Exception):
    """A param reference or override that cannot be resolved (located by the caller)."""


_SUGGEST_POOL = 1_000  # past this many candidates, a "did you mean" search is too slow to do


def flat_keys(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every dotted key, inner mappings included: ``model``, ``model.max_depth``, ..."""
    return list(iter_keys(params, prefix))


def iter_keys(params: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """``flat_keys``, one at a time (a search can stop early)."""
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        yield dotted
        if isinstance(value, Mapping):
            yield from iter_keys(value, f"{dotted}.")


class Budget:
    """What interpolating one pipeline may still produce (``spec.limits``): values,
    characters of text built from params, and "did you mean" searches (each
    scans the params). Spending past a limit raises BudgetExceeded."""

    def __init__(self) -> None:
        self.values = limits.MAX_EXPANDED_VALUES
        self.chars = limits.MAX_EXPANDED_CHARS
        self.hints = _MAX_HINTS
        self._sizes: dict[int, tuple[Any, int]] = {}  # id -> (the value, kept alive; its size)

    def spend(self, values: int, chars: int = 0) -> None:
        self.values -= values
        self.chars -= chars
        if self.values < 0:
            raise BudgetExceeded(
                f"interpolating params makes the stages hold more than {limits.MAX_EXPANDED_VALUES:,} "
                "values in all (matrix expansion included), the most a pipeline may; use fewer "
                "matrix values, or smaller params (keep data in files the stages read)"
            )
        if self.chars < 0:
            raise BudgetExceeded(
                f"interpolating params makes the stages hold more than {limits.MAX_EXPANDED_CHARS:,} "
                "characters of text in all (matrix expansion included), the most a pipeline may; "
                "use shorter params, or fewer references to long ones"
            )

    def size(self, value: Any) -> int:
        """How many values ``value`` holds (itself included), remembered per object."""
        known = self._sizes.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        count, todo = 0, [value]
        while todo:
            node = todo.pop()
            count += 1
            if isinstance(node, Mapping):
                todo.extend(node.values())
            elif isinstance(node, (list, tuple)):
                todo.extend(node)
        self._sizes[id(value)] = (value, count)
        return count

    def hint(self) -> bool:
        """Whether a "did you mean" search may still be done."""
        self.hints -= 1
        return self.hints >= 0


_MAX_HINTS = 20


class BudgetExceeded(ParamError):
    """Interpolation would produce more than ``spec.limits`` allows; stop expanding."""


def lookup(params: Mapping[str, Any], dotted: str, budget: Budget | None = None) -> Any:
    """The value at ``a.b.c``; ParamError naming the closest existing key if absent."""
    node: Any = params
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            close = did_you_mean(dotted, iter_keys(params), pool=_SUGGEST_POOL) if (
                budget is None or budget.hint()) else ""
            hint = close or ("; define it under params:" if "." not in dotted else "")
            raise ParamError(f"unknown param {shown(dotted)}{hint}")
    return node


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def first_clash(base: Any, over: Any, prefix: str = "") -> tuple[str, Any, Any] | None:
    """The first leaf ``over`` sets to another value than ``base`` holds: (key, old, new)."""
    if not isinstance(base, Mapping) or not isinstance(over, Mapping):
        return None
    for key, value in over.items():
        if key not in base:
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(base[key], Mapping):
            found = first_clash(base[key], value, dotted + ".")
            if found:
                return found
        elif value != base[key]:
            return dotted, base[key], value
    return None


def parse_override(text: str) -> tuple[str, Any]:
    """``model.max_depth=12`` -> ("model.max_depth", 12); the value is read as YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ParamError(f"-p {text!r}: expected KEY=VALUE, e.g. -p model.max_depth=12")
    if not raw.strip():
        return key, ""
    try:
        value, _ = read_yaml(raw, f"-p {key}")
    except SpecError as exc:
        problem = exc.issues[0].message
        if problem.startswith("YAML syntax error"):
            quoted = raw.replace("'", "'\\''")
            problem += f"; write a complete value, or quote it to pass text: -p '{key}=\"{quoted}\"'"
        raise ParamError(f"-p {key}={shown(raw)}: {problem}") from None
    return key, value


def apply_overrides(params: Mapping[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each ``KEY=VALUE``; a key that does not exist is an error (typos must not pass)."""
    if not overrides:
        return dict(params)
    result = copy.deepcopy(dict(params))
    for text in overrides:
        key, value = parse_override(text)
        parts = key.split(".")
        node = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if not isinstance(node, dict) or part not in node:
                hint = did_you_mean(key, iter_keys(result), pool=_SUGGEST_POOL)
                raise ParamError(f"-p {key}: no such param{hint}")
            if last:
                node[part] = value
            else:
                node = node[part]
    return result


def _render(value: Any, ref: str) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float, str)):
        return str(value)
    kind = "a mapping" if isinstance(value, Mapping) else "a list"
    raise ParamError(
        f"'${{{ref}}}' is {kind} and cannot be placed inside a string; "
        f"use it as the whole value, or reference one of its keys"
    )


def interpolate(
    value: Any, params: Mapping[str, Any], used: dict[str, Any], budget: Budget | None = None
) -> Any:
    """Replace ``${key}`` in ``value`` (recursively); record each resolved key in ``used``;
    spend what it builds from ``budget`` when one is given."""
    if isinstance(value, str):
        return _interpolate_str(value, params, used, budget)
    if budget is not None:
        budget.spend(1)
    if isinstance(value, Mapping):
        return {k: interpolate(v, params, used, budget) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [interpolate(v, params, used, budget) for v in value]
    return value


def _resolve(ref: str, params: Mapping[str, Any], used: dict[str, Any], budget: Budget | None) -> Any:
    ref = ref.strip()
    if not ref:
        raise ParamError("empty reference '${}'; write ${name} or ${name.key}")
    value = lookup(params, ref, budget)
    if ref not in used:
        if budget is not None:
            budget.spend(budget.size(value))
        used[ref] = copy.deepcopy(value)
    return value


def _interpolate_str(text: str, params: Mapping[str, Any], used: dict[str, Any], budget: Budget | None) -> Any:
    if budget is not None:
        budget.spend(1)
    if "${" not in text:
        return text
    whole = REF_RE.fullmatch(text)
    if whole:
        value = _resolve(whole.group(1), params, used, budget)
        if budget is not None:
            budget.spend(budget.size(value) - 1)
        return copy.deepcopy(value)
    pieces, size, last = [], 0, 0
    for match in REF_RE.finditer(text):
        piece = _render(_resolve(match.group(1), params, used, budget), match.group(1))
        pieces += [text[last:match.start()], piece]
        size += match.start() - last + len(piece)
        last = match.end()
        if budget is not None and size > budget.chars:
            budget.spend(0, size)  # raises: past the limit, stop building
    pieces.append(text[last:])
    out = "".join(pieces)
    if budget is not None and out != text:
        budget.spend(0, len(out))
    if "${" in out and not REF_RE.search(out):
        unclosed = out.find("${")
        if unclosed >= 0 and (unclosed == 0 or out[unclosed - 1] != "\\"):
            raise ParamError(f"unclosed '${{' in {shown(text)}; write ${{name}}")
    return out.replace("\\${", "${")


def references(value: Any) -> list[str]:
    """The param keys referenced anywhere in ``value`` (without resolving them)."""
    if isinstance(value, str):
        return [m.group(1).strip() for m in REF_RE.finditer(value)]
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in references(v)]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in references(v)]
    return []
