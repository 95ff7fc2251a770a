"""A compiled pipeline: its Stage values and the DAG over their names (networkx).

Built by ``graph.compile`` from a spec, or rebuilt from the plan cache; either
way it imports no pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from lockgate.graph.stage import Stage


@dataclass(frozen=True)
class Pipeline:
    """A compiled pipeline: plain values plus the DAG over stage names."""

    name: str
    file: str
    params: dict[str, Any]
    inputs: dict[str, str]  # artifact name -> repository-relative path
    stages: dict[str, Stage]  # in spec order (matrix-expanded)
    graph: nx.DiGraph = field(repr=False)
    producers: dict[str, str]  # artifact name -> stage name
    aliases: frozenset[str] = frozenset()
    params_file: str | None = None
    loaded: Any = field(default=None, repr=False, compare=False)  # the LoadedSpec, when compiled

    def order(self) -> list[str]:
        """Stage names in a deterministic topological order (spec order breaks ties)."""
        rank = {name: i for i, name in enumerate(self.stages)}
        return list(nx.lexicographical_topological_sort(self.graph, key=rank.__getitem__))


    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "file": self.file, "params": self.params, "inputs": self.inputs,
            "stages": [s.to_dict() for s in self.stages.values()],
            "edges": [[a, b, d.get("why", ""), d.get("via", "")] for a, b, d in self.graph.edges(data=True)],
            "producers": self.producers, "aliases": sorted(self.aliases),
            "params_file": self.params_file,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pipeline:
        stages = {s.name: s for s in (Stage.from_dict(d) for d in data["stages"])}
        graph = nx.DiGraph()
        for name, stage in stages.items():
            graph.add_node(name, stage=stage)
        for a, b, why, via in data["edges"]:
            graph.add_edge(a, b, why=why, via=via)
        return cls(
            name=data["name"], file=data["file"], params=data["params"], inputs=data["inputs"],
            stages=stages, graph=graph, producers=data["producers"], aliases=frozenset(data["aliases"]),
            params_file=data.get("params_file"),
        )


def resolve_artifact(name: str, stage: Stage, known: dict[str, Any] | set[str]) -> str | None:
    """The artifact ``name`` means inside ``stage``: a matrix stage reading ``model``
    gets ``model@<its own suffix>`` when that exists, else ``model``."""
    suffix = stage.name.partition("@")[2]
    if suffix and f"{name}@{suffix}" in known:
        return f"{name}@{suffix}"
    return name if name in known else None
