"""Draw a compiled pipeline's DAG as text: ascii, mermaid, dot, or json.

Pure functions from (name, nodes, edges) to a string, so any caller (CLI,
reports, tests) can use them without a terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

FORMATS = ("ascii", "mermaid", "dot", "json")


@dataclass(frozen=True)
class EdgeLabel:
    """What an edge carries. ``why`` is the compiler's reason for the edge:
    "artifact" or "path" (data flows), "expression" (a ``when:``/``gates:`` of
    the child reads the parent's artifacts) or "alias" (the child reads a registry
    alias the parent promotes: order only). ``via`` lists the artifacts (or paths)
    in the order the child names them; ``reads`` says which expressions read them."""

    why: str
    via: tuple[str, ...]
    reads: tuple[str, ...] = ()  # "when" and/or "gate", for expression edges

    @property
    def data(self) -> bool:
        return self.why in ("artifact", "path")

    @property
    def text(self) -> str:
        names = ", ".join(self.via)
        if self.why == "expression":
            return f"{'/'.join(self.reads) or 'gate'}: {names}"
        if self.why == "alias":
            return f"alias: {names}"
        return names


@dataclass(frozen=True)
class DagView:
    """What a drawing needs: ordered nodes, edges, and a short label per node."""

    name: str
    nodes: tuple[str, ...]  # topological order
    edges: tuple[tuple[str, str], ...]
    labels: dict[str, str]  # node -> kind/what it runs
    edge_labels: dict[tuple[str, str], EdgeLabel] = field(default_factory=dict)


def view_of(pipeline) -> DagView:
    order = pipeline.order()
    rank = {n: i for i, n in enumerate(order)}
    edges = sorted(pipeline.graph.edges, key=lambda e: (rank[e[0]], rank[e[1]]))
    labels = {name: _label(pipeline.stages[name]) for name in order}
    edge_labels = {(a, b): _edge_label(pipeline, a, b, why, via) for a, b, why, via in pipeline.links}
    return DagView(pipeline.name, tuple(order), tuple(edges), labels, edge_labels)


def _edge_label(pipeline, parent: str, child: str, why: str, via: str) -> EdgeLabel:
    """Every artifact of ``parent`` that ``child`` reads the way ``why`` says (the
    compiler keeps one link per pair of stages, naming the first)."""
    from lockgate.graph.pipeline import resolve_artifact

    stage = pipeline.stages[child]
    known = pipeline.known_artifacts

    def mine(name: str) -> str | None:
        artifact = resolve_artifact(name, stage, known)
        return artifact if artifact is not None and pipeline.producers.get(artifact) == parent else None

    if why == "artifact":
        found = [a for a in (mine(n) for n in stage.inputs.values()) if a]
        return EdgeLabel(why, tuple(dict.fromkeys([via, *found])))
    if why == "expression":
        reads, found = [], []
        for word, exprs in (("when", [stage.when] if stage.when else []), ("gate", stage.gates)):
            names = [a for expr in exprs for a in (mine(r.name) for r in expr.refs) if a]
            if names:
                reads.append(word)
                found += names
        return EdgeLabel(why, tuple(dict.fromkeys([via, *found])), tuple(reads))
    return EdgeLabel(why, (via,))


def _label(stage) -> str:
    if stage.kind == "uses":
        return f"uses {stage.run}"
    if stage.kind == "call":
        return f"call {stage.run}"
    cmd = stage.run if isinstance(stage.run, str) else " && ".join(stage.run)
    return f"cmd {cmd[:40]}{'...' if len(cmd) > 40 else ''}"


def render(views: Sequence[DagView], fmt: str, *, edge_labels: bool = True) -> str:
    """Draw ``views`` in ``fmt``; ``edge_labels`` names what each edge carries
    (mermaid and dot; json always has them, ascii never)."""
    if fmt == "json":
        return render_json(views)
    if fmt == "ascii":
        return "\n".join(render_ascii(v) for v in views)
    draw = {"mermaid": render_mermaid, "dot": render_dot}[fmt]
    return "\n".join(draw(v, edge_labels=edge_labels) for v in views)


def render_json(views: Sequence[DagView]) -> str:
    """``{"nodes": [...], "edges": [[from, to], ...], "links": [{from, to, why, via,
    label}, ...]}``; with several pipelines, names are qualified as ``pipeline:stage``."""
    qualify = len(views) > 1
    nodes: list[str] = []
    edges: list[list[str]] = []
    links: list[dict[str, object]] = []
    for v in views:
        q = (lambda n, v=v: f"{v.name}:{n}") if qualify else (lambda n: n)
        nodes.extend(q(n) for n in v.nodes)
        edges.extend([q(a), q(b)] for a, b in v.edges)
        for a, b in v.edges:
            label = v.edge_labels.get((a, b))
            if label is not None:
                links.append({"from": q(a), "to": q(b), "why": label.why, "via": list(label.via),
                              "label": label.text})
    return json.dumps({"nodes": nodes, "edges": edges, "links": links}, indent=2)


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


# mermaid reads these as the end of a label or as markup, even between |...|
_MERMAID_SPECIAL = re.compile(r'[#"|\[\](){}<>]')


def mermaid_escape(text: str) -> str:
    """``text`` with the characters mermaid would read as syntax or markup as
    entity codes (``#quot;``, ``#124;``, ``#91;``, ...), which it shows as themselves."""
    codes = {'"': "#quot;", "<": "#lt;", ">": "#gt;"}
    return _MERMAID_SPECIAL.sub(lambda m: codes.get(m.group(), f"#{ord(m.group())};"), text)


def _mermaid_edge_text(text: str) -> str:
    """An edge label as written between ``|...|``: bare when plain, else escaped and quoted."""
    escaped = mermaid_escape(text)
    return text if escaped == text else f'"{escaped}"'


def render_mermaid(view: DagView, *, edge_labels: bool = True) -> str:
    """Data edges are solid arrows; edges that only order stages (a ``when:``/gate
    reading an artifact, a registry alias) are dotted. Labels say what they carry:
    ``-->|train|``, ``-.->|gate: scores|``, ``-.->|alias: production|``."""
    ids = {n: f"s{i}" for i, n in enumerate(view.nodes)}
    lines = ["flowchart TD", f"  %% {view.name}"]
    lines += [f'  {ids[n]}["{mermaid_escape(n)}"]' for n in view.nodes]
    for a, b in view.edges:
        label = view.edge_labels.get((a, b))
        arrow = "-->" if label is None or label.data else "-.->"
        text = f"|{_mermaid_edge_text(label.text)}|" if edge_labels and label is not None else ""
        lines.append(f"  {ids[a]} {arrow}{text} {ids[b]}")
    return "\n".join(lines)


def render_dot(view: DagView, *, edge_labels: bool = True) -> str:
    """Data edges solid, expression edges dashed, alias edges dotted; with
    ``edge_labels``, ``[label="train"]`` says what each carries."""
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {q(view.name)} {{", "  rankdir=TB;", "  node [shape=box];"]
    lines += [f"  {q(n)} [tooltip={q(view.labels[n])}];" for n in view.nodes]
    for a, b in view.edges:
        label = view.edge_labels.get((a, b))
        attrs = []
        if edge_labels and label is not None:
            attrs.append(f"label={q(label.text)}")
        if label is not None and not label.data:
            attrs.append("style=dashed" if label.why == "expression" else "style=dotted")
        lines.append(f"  {q(a)} -> {q(b)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines)
