"""Pure planning over a stage DAG: which stages a command targets.

Functions take a ``networkx.DiGraph`` of stage names and return names; they
read no files and run nothing, so they are tested on small literal graphs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

from lockgate.errors import UsageError, did_you_mean


def resolve_targets(graph: nx.DiGraph, names: Iterable[str]) -> list[str]:
    """Stage names as the user typed them; ``train`` also means every ``train@...``."""
    nodes = list(graph.nodes)
    chosen: list[str] = []
    for name in names:
        matches = [n for n in nodes if n == name or n.partition("@")[0] == name]
        if not matches:
            raise UsageError(f"no stage named '{name}'{did_you_mean(name, nodes)}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def with_ancestors(graph: nx.DiGraph, targets: Iterable[str]) -> set[str]:
    """The targets and everything they need."""
    import networkx as nx

    selected: set[str] = set()
    for target in targets:
        selected.add(target)
        selected |= nx.ancestors(graph, target)
    return selected


def with_descendants(graph: nx.DiGraph, targets: Iterable[str]) -> set[str]:
    """The targets and everything downstream of them (``--downstream``)."""
    import networkx as nx

    selected: set[str] = set()
    for target in targets:
        selected.add(target)
        selected |= nx.descendants(graph, target)
    return selected


def select(graph: nx.DiGraph, targets: Iterable[str] = (), *, downstream: bool = False) -> set[str]:
    """What ``run``/``status`` consider: all stages, or the targets with ancestors
    (or, with ``downstream``, with descendants)."""
    targets = list(targets)
    if not targets:
        return set(graph.nodes)
    return with_descendants(graph, targets) if downstream else with_ancestors(graph, targets)
