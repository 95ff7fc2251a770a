"""Change one value in a YAML file's text, leaving every other byte (comments, layout) as it was.

``lockgate exp apply`` writes an experiment's params into the committed spec
or params file; a load-and-dump round trip would drop the team's comments and
reorder keys. PyYAML's composer knows where each scalar starts and ends, so
only those characters are replaced. Pure: text in, text out.
"""

from __future__ import annotations

from typing import Any

import yaml


class EditError(Exception):
    """The key is not in the file, or its value is not something we can replace in place."""


def set_value(text: str, path: list[str], value: Any) -> str:
    """``text`` with the value at ``path`` (mapping keys from the top) set to ``value``.
    A mapping value is set key by key, so a nested block keeps its layout."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    edits: list[tuple[int, int, str]] = []
    _collect(node, path, value, edits, path)
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _collect(node: Any, path: list[str], value: Any, edits: list[tuple[int, int, str]], full: list[str]) -> None:
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            raise EditError(f"'{'.'.join(full)}': '{key}' is not under a mapping")
        match = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        if match is None:
            raise EditError(f"'{'.'.join(full)}': no key '{key}'")
        node = match
    if isinstance(value, dict) and isinstance(node, yaml.MappingNode):
        for key, item in value.items():
            _collect(node, [str(key)], item, edits, [*full, str(key)])
        return
    if isinstance(node, yaml.ScalarNode) or node.flow_style:
        edits.append((node.start_mark.index, node.end_mark.index, _inline(value)))
        return
    raise EditError(f"'{'.'.join(full)}' is a block {type(node).__name__[:-4].lower()}; "
                    "set it by hand, or write it in flow style ([a, b] / {k: v})")


def _inline(value: Any) -> str:
    """``value`` as one line of YAML that reads back as the same value."""
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True)
    return dumped.removesuffix("\n").removesuffix("\n...").strip()


__all__ = ["EditError", "set_value"]
