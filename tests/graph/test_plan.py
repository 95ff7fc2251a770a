"""Stage selection is pure: tested on literal graphs."""

from __future__ import annotations

import networkx as nx
import pytest

from lockgate.errors import UsageError
from lockgate.graph.plan import resolve_targets, select

G = nx.DiGraph({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": [], "e": [], "t@1": [], "t@2": []})


def test_no_targets_means_everything():
    assert select(G) == set(G.nodes)


def test_target_with_ancestors():
    assert select(G, ["d"]) == {"a", "b", "c", "d"}
    assert select(G, ["b"]) == {"a", "b"}


def test_downstream():
    assert select(G, ["b"], downstream=True) == {"b", "d"}
    assert select(G, ["a"], downstream=True) == {"a", "b", "c", "d"}


def test_matrix_base_name_selects_all_expansions():
    assert resolve_targets(G, ["t"]) == ["t@1", "t@2"]


def test_unknown_target_suggests():
    with pytest.raises(UsageError, match="no stage named 'bb'; did you mean 'b'"):
        resolve_targets(G, ["bb"])
