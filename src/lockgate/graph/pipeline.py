"""A compiled pipeline: its Stage values and the DAG over their names (networkx).

Built by ``graph.compile`` from a spec, or rebuilt from the plan cache; either
way it imports no pydantic.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lockgate.graph.stage import Stage


@dataclass(frozen=True)
class Pipeline:
    """A compiled pipeline: plain values plus the DAG over stage names.

    The edges are kept as plain tuples; ``graph`` (networkx) is built on first use,
    so running and `status` from the plan cache never import networkx."""

    name: str
    file: str
    params: dict[str, Any]
    inputs: dict[str, str]  # artifact name -> repository-relative path
    stages: dict[str, Stage]  # in spec order (matrix-expanded)
    links: tuple[tuple[str, str, str, str], ...]  # (from, to, why, via)
    producers: dict[str, str]  # artifact name -> stage name
    aliases: frozenset[str] = frozenset()
    params_file: str | None = None
    params_files: tuple[str, ...] = ()  # every params file read, in merge order (params_file first)
    reads: dict[str, dict[str, Any]] = field(default_factory=dict)  # input name -> its read: options
    overrides: tuple[str, ...] = ()  # the `-p KEY=VALUE` it was loaded with ("" : the committed params)
    loaded: Any = field(default=None, repr=False, compare=False)  # the LoadedSpec, when compiled
    # the edges, indexed once (set in __post_init__)
    _parents: dict[str, list[str]] = field(init=False, repr=False, compare=False, default_factory=dict)
    _children: dict[str, list[str]] = field(init=False, repr=False, compare=False, default_factory=dict)
    _why: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        parents: dict[str, list[str]] = {n: [] for n in self.stages}
        children: dict[str, list[str]] = {n: [] for n in self.stages}
        why: dict[tuple[str, str], str] = {}
        for a, b, reason, _ in self.links:
            parents[b].append(a)
            children[a].append(b)
            why[a, b] = reason
        object.__setattr__(self, "_parents", parents)
        object.__setattr__(self, "_children", children)
        object.__setattr__(self, "_why", why)

    def parents(self, name: str) -> list[str]:
        return self._parents[name]

    def children(self, name: str) -> list[str]:
        return self._children[name]

    def why(self, parent: str, child: str) -> str:
        """What the edge is made of: "artifact", "path", "expression" or "alias"."""
        return self._why[parent, child]

    @cached_property
    def known_artifacts(self) -> dict[str, str]:
        """Every artifact name a stage may read: produced ones (-> their stage) and the
        pipeline's inputs (-> ""); built once, not once per stage decided."""
        return known_artifacts(self.producers, self.inputs)

    @cached_property
    def graph(self) -> Any:
        """The DAG as a ``networkx.DiGraph`` (nodes carry their Stage)."""
        import networkx as nx

        graph = nx.DiGraph()
        for name, stage in self.stages.items():
            graph.add_node(name, stage=stage)
        for a, b, reason, via in self.links:
            graph.add_edge(a, b, why=reason, via=via)
        return graph

    def order(self) -> list[str]:
        """Stage names in a deterministic topological order (spec order breaks ties),
        as ``networkx.lexicographical_topological_sort`` with the spec rank as key."""
        rank = {name: i for i, name in enumerate(self.stages)}
        waiting = {n: len(self.parents(n)) for n in self.stages}
        ready = [(rank[n], n) for n in self.stages if waiting[n] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(name)
            for child in self.children(name):
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (rank[child], child))
        return order

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "file": self.file, "params": self.params, "inputs": self.inputs,
            "stages": [s.to_dict() for s in self.stages.values()],
            "edges": [list(link) for link in self.links],
            "producers": self.producers, "aliases": sorted(self.aliases),
            "params_file": self.params_file, "params_files": list(self.params_files), "reads": self.reads,
            "overrides": list(self.overrides),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pipeline:
        stages = {s.name: s for s in (Stage.from_dict(d) for d in data["stages"])}
        return cls(
            name=data["name"], file=data["file"], params=data["params"], inputs=data["inputs"],
            stages=stages, links=tuple(tuple(e) for e in data["edges"]), producers=data["producers"],
            aliases=frozenset(data["aliases"]), params_file=data.get("params_file"),
            params_files=tuple(data.get("params_files") or ()), reads=dict(data.get("reads") or {}),
            overrides=tuple(data.get("overrides") or ()),
        )

    def all_params_files(self) -> tuple[str, ...]:
        """Every params file, in merge order (its ``params_file`` list, then the files its
        ``cmd`` stages' ``params:`` name)."""
        return self.params_files or ((self.params_file,) if self.params_file else ())

    def read_paths(self) -> set[str]:
        """Every repository path a run of this pipeline reads: its spec, params files,
        inputs and stage deps (an edit to any of them can make a stage stale)."""
        paths = {self.file, *self.all_params_files(), *self.inputs.values()}
        for stage in self.stages.values():
            paths.update(stage.deps)
        return paths

    def written_paths(self) -> set[str]:
        """Every path a run writes: the stages' ``outs`` and ``metrics``."""
        return {path for stage in self.stages.values() for path in (*stage.outs, *stage.metrics)}

    def override_values(self) -> dict[str, Any]:
        """``-p a.b=3`` as ``{"a.b": 3}``: what differs from the committed params."""
        from lockgate.spec.params import parse_override

        return dict(parse_override(text) for text in self.overrides)


def known_artifacts(producers: Mapping[str, str], inputs: Iterable[str]) -> dict[str, str]:
    """Artifact name -> the stage producing it, or "" for a pipeline input."""
    return {**producers, **dict.fromkeys(inputs, "")}


def resolve_artifact(name: str, stage: Stage, known: dict[str, Any] | set[str]) -> str | None:
    """The artifact ``name`` means inside ``stage``: a matrix stage reading ``model``
    gets ``model@<its own suffix>`` when that exists, else ``model``."""
    suffix = stage.name.partition("@")[2]
    if suffix and f"{name}@{suffix}" in known:
        return f"{name}@{suffix}"
    return name if name in known else None
