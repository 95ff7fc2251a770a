"""Draw a compiled pipeline's DAG as text: ascii, mermaid, dot, or json.

Pure functions from (name, nodes, edges) to a string, so any caller (CLI,
reports, tests) can use them without a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

FORMATS = ("ascii", "mermaid", "dot", "json")


@dataclass(frozen=True)
class DagView:
    """What a drawing needs: ordered nodes, edges, and a short label per node."""

    name: str
    nodes: tuple[str, ...]  # topological order
    edges: tuple[tuple[str, str], ...]
    labels: dict[str, str]  # node -> kind/what it runs


def view_of(pipeline) -> DagView:
    order = pipeline.order()
    rank = {n: i for i, n in enumerate(order)}
    edges = sorted(pipeline.graph.edges, key=lambda e: (rank[e[0]], rank[e[1]]))
    labels = {name: _label(pipeline.stages[name]) for name in order}
    return DagView(pipeline.name, tuple(order), tuple(edges), labels)


def _label(stage) -> str:
    if stage.kind == "uses":
        return f"uses {stage.run}"
    if stage.kind == "call":
        return f"call {stage.run}"
    cmd = stage.run if isinstance(stage.run, str) else " && ".join(stage.run)
    return f"cmd {cmd[:40]}{'...' if len(cmd) > 40 else ''}"


def render(views: Sequence[DagView], fmt: str) -> str:
    if fmt == "json":
        return render_json(views)
    draw = {"ascii": render_ascii, "mermaid": render_mermaid, "dot": render_dot}[fmt]
    return "\n".join(draw(v) for v in views)


def render_json(views: Sequence[DagView]) -> str:
    """``{"nodes": [...], "edges": [[from, to], ...]}``; with several pipelines,
    names are qualified as ``pipeline:stage``."""
    qualify = len(views) > 1
    nodes: list[str] = []
    edges: list[list[str]] = []
    for v in views:
        q = (lambda n, v=v: f"{v.name}:{n}") if qualify else (lambda n: n)
        nodes.extend(q(n) for n in v.nodes)
        edges.extend([q(a), q(b)] for a, b in v.edges)
    return json.dumps({"nodes": nodes, "edges": edges}, indent=2)


def render_ascii(view: DagView) -> str:
    """One line per stage, in layers: what it runs and what it waits for."""
    parents: dict[str, list[str]] = {n: [] for n in view.nodes}
    for a, b in view.edges:
        parents[b].append(a)
    depth: dict[str, int] = {}
    for node in view.nodes:  # topological order: parents come first
        depth[node] = 1 + max((depth[p] for p in parents[node]), default=0)
    heads = {n: "  " * (depth[n] - 1) + n for n in view.nodes}
    width = max((len(h) for h in heads.values()), default=0)
    lines = [f"{view.name}"]
    for node in sorted(view.nodes, key=lambda n: (depth[n], view.nodes.index(n))):
        after = f"  <- {', '.join(parents[node])}" if parents[node] else ""
        lines.append(f"  {heads[node]:<{width}}  [{view.labels[node]}]{after}")
    return "\n".join(lines)


def render_mermaid(view: DagView) -> str:
    ids = {n: f"s{i}" for i, n in enumerate(view.nodes)}
    lines = ["flowchart TD", f"  %% {view.name}"]
    lines += [f'  {ids[n]}["{n}"]' for n in view.nodes]
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in view.edges]
    return "\n".join(lines)


def render_dot(view: DagView) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {q(view.name)} {{", "  rankdir=TB;", "  node [shape=box];"]
    lines += [f"  {q(n)} [tooltip={q(view.labels[n])}];" for n in view.nodes]
    lines += [f"  {q(a)} -> {q(b)};" for a, b in view.edges]
    lines.append("}")
    return "\n".join(lines)
