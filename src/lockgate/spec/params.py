"""Params: defaults, a params file, ``-p KEY=VALUE`` overrides, and ``${...}`` interpolation.

Precedence, lowest first: the spec's ``params:``, then its ``params_file``,
then ``-p`` overrides. Interpolation records every key it resolves, so a
stage's fingerprint includes only the params it actually references.
A whole-value ``"${model}"`` keeps the referenced value's type; inside a
longer string, only scalars may be interpolated. ``\\${`` is a literal ``${``.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

REF_RE = re.compile(r"(?<!\\)\$\{([^}]*)\}")


class ParamError(Exception):
    """A param reference or override that cannot be resolved (located by the caller)."""


def suggest(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """``; did you mean 'x'?`` when something close exists, else ``""``."""
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def flat_keys(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every dotted key, inner mappings included: ``model``, ``model.max_depth``, ..."""
    keys = []
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        keys.append(dotted)
        if isinstance(value, Mapping):
            keys.extend(flat_keys(value, f"{dotted}."))
    return keys


def lookup(params: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``a.b.c``; ParamError naming the closest existing key if absent."""
    node: Any = params
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            hint = suggest(dotted, flat_keys(params)) or (
                "; define it under params:" if "." not in dotted else ""
            )
            raise ParamError(f"unknown param '{dotted}'{hint}")
    return node


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_override(text: str) -> tuple[str, Any]:
    """``model.max_depth=12`` -> ("model.max_depth", 12); the value is read as YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ParamError(f"-p {text!r}: expected KEY=VALUE, e.g. -p model.max_depth=12")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(params: Mapping[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each ``KEY=VALUE``; a key that does not exist is an error (typos must not pass)."""
    result = copy.deepcopy(dict(params))
    for text in overrides:
        key, value = parse_override(text)
        parts = key.split(".")
        node = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if not isinstance(node, dict) or part not in node:
                hint = suggest(key, flat_keys(result))
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


def interpolate(value: Any, params: Mapping[str, Any], used: dict[str, Any]) -> Any:
    """Replace ``${key}`` in ``value`` (recursively); record each resolved key in ``used``."""
    if isinstance(value, str):
        return _interpolate_str(value, params, used)
    if isinstance(value, Mapping):
        return {k: interpolate(v, params, used) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [interpolate(v, params, used) for v in value]
    return value


def _resolve(ref: str, params: Mapping[str, Any], used: dict[str, Any]) -> Any:
    ref = ref.strip()
    if not ref:
        raise ParamError("empty reference '${}'; write ${name} or ${name.key}")
    value = lookup(params, ref)
    used[ref] = copy.deepcopy(value)
    return value


def _interpolate_str(text: str, params: Mapping[str, Any], used: dict[str, Any]) -> Any:
    whole = REF_RE.fullmatch(text)
    if whole:
        return copy.deepcopy(_resolve(whole.group(1), params, used))
    out = REF_RE.sub(lambda m: _render(_resolve(m.group(1), params, used), m.group(1)), text)
    if "${" in out and not REF_RE.search(out):
        unclosed = out.find("${")
        if unclosed >= 0 and (unclosed == 0 or out[unclosed - 1] != "\\"):
            raise ParamError(f"unclosed '${{' in {text!r}; write ${{name}}")
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
