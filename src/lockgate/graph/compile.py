"""Compile a loaded spec into a Pipeline: its stages and their DAG (networkx).

Edges come from three places (DESIGN §2): a stage consumes an artifact another
produces; one of its ``deps`` (or an ``inputs`` path it reads) lies at or
under another stage's ``outs`` path (or the other way round); its ``when``
or ``gates`` reference an artifact another stage produces. Every problem
(unknown artifact, artifact produced twice, overlapping outputs, a stage
reading its own output, a cycle, an ``inputs`` path ``spec.paths`` refuses) is
reported at once, located in the spec, with a fix. ``missing_reads`` is the one
check that needs the filesystem (``lockgate validate`` runs it): paths read
that nothing writes and that are not there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx

from lockgate.errors import SpecError, SpecIssue, did_you_mean
from lockgate.graph.expand import expand_stages
from lockgate.graph.pipeline import Pipeline, known_artifacts, resolve_artifact
from lockgate.graph.stage import Stage, overlapping_paths
from lockgate.spec import limits
from lockgate.spec.load import LoadedSpec
from lockgate.spec.names import NAME_RE
from lockgate.spec.paths import check_path

if TYPE_CHECKING:
    from lockgate.spec.expr import Expr


def compile_pipeline(loaded: LoadedSpec, *, known_aliases: Iterable[str] = ()) -> Pipeline:
    stages = {s.name: s for s in expand_stages(loaded)}
    issues: list[SpecIssue] = []
    inputs = _inputs(loaded, issues)
    producers = _producers(loaded, stages, inputs, issues)
    aliases = frozenset(known_aliases) | _promote_aliases(stages)
    graph = nx.DiGraph()
    graph.add_nodes_from(stages)
    graph.graph["edges"] = 0  # counted by _edge: past MAX_PIPELINE_EDGES, stop adding
    for stage in stages.values():
        graph.nodes[stage.name]["stage"] = stage
        _artifact_edges(loaded, stage, producers, inputs, aliases, graph, issues, stages)
    _path_edges(loaded, stages, inputs, graph, issues)
    _alias_edges(stages, graph)
    if graph.graph["edges"] > limits.MAX_PIPELINE_EDGES:
        issues.append(loaded.issue(("stages",), (
            f"more than {limits.MAX_PIPELINE_EDGES:,} dependencies between stages, the most one pipeline "
            "may have (does every stage read a folder they all write into?); make stages read "
            "the files they need, not a whole shared folder"
        ), key=True))
        raise SpecError(issues)
    for stage in stages.values():
        if stage.kind == "uses":
            issues.extend(check_step(loaded, stage))
    if not issues:
        _check_cycles(loaded, graph, issues)
    if issues:
        raise SpecError(issues)
    return Pipeline(
        name=loaded.name, file=loaded.file, params=loaded.params, inputs=inputs,
        stages=stages, producers=producers, aliases=aliases, loaded=loaded,
        params_file=loaded.params_file, params_files=loaded.params_files, overrides=tuple(loaded.overrides),
        reads=loaded.spec.input_reads(),
        links=tuple((a, b, d["why"], d["via"]) for a, b, d in graph.edges(data=True)),
    )


def _producers(
    loaded: LoadedSpec, stages: dict[str, Stage], inputs: dict[str, str], issues: list[SpecIssue]
) -> dict[str, str]:
    producers: dict[str, str] = {}
    for stage in stages.values():
        for i, artifact in enumerate(stage.outputs):
            if artifact in inputs:
                issues.append(loaded.issue(
                    ("stages", stage.base, "out", i),
                    f"stage '{stage.name}' produces '{artifact}', which is already an input "
                    f"(inputs, line {loaded.positions.of(('inputs', artifact), key=True)[0]}); "
                    "rename one of them",
                ))
            elif artifact in producers:
                first = stages[producers[artifact]]
                issues.append(loaded.issue(
                    ("stages", stage.base, "out", i),
                    f"artifact '{artifact}' is produced twice: by stage '{first.name}' "
                    f"(line {first.line}) and stage '{stage.name}'; rename one of them",
                ))
            else:
                producers[artifact] = stage.name
    for stage in stages.values():
        # a cmd stage's metrics files are one artifact named after the stage, so gates
        # can say `kernels.ks_speedup` (unless that name is already an artifact)
        if stage.kind == "cmd" and stage.metrics and NAME_RE.match(stage.base):
            if stage.name not in producers and stage.name not in inputs:
                producers[stage.name] = stage.name
    for stage in stages.values():
        # a path a cmd stage writes is an artifact too: `in: {model: model.pkl}`
        if stage.kind == "cmd":
            for path in (*stage.outs, *stage.metrics):
                if path not in producers and path not in inputs:
                    producers[path] = stage.name
    return producers


def _promote_aliases(stages: dict[str, Stage]) -> frozenset[str]:
    return frozenset(
        str(s.with_["alias"]) for s in stages.values()
        if s.kind == "uses" and s.run == "promote" and isinstance(s.with_.get("alias"), str)
    )


def _artifact_edges(
    loaded: LoadedSpec,
    stage: Stage,
    producers: dict[str, str],
    inputs: dict[str, str],
    aliases: frozenset[str],
    graph: nx.DiGraph,
    issues: list[SpecIssue],
    stages_by_name: dict[str, Stage],
) -> None:
    known = known_artifacts(producers, inputs)
    for arg, artifact in stage.inputs.items():
        resolved = resolve_artifact(artifact, stage, known)
        writer = stages_by_name.get(producers.get(str(resolved), ""))
        if resolved is None:
            issues.append(loaded.issue(
                ("stages", stage.base, "in", arg),
                f"stage '{stage.name}' reads '{artifact}', which nothing produces"
                + (_inside_output(artifact, stages_by_name)
                   or _unknown_artifact_hint(artifact, producers, inputs, loaded, hint=len(issues) < _MAX_HINTS,
                                             paths=_written_paths(stages_by_name))),
            ))
        elif writer is not None and writer.kind == "cmd" and resolved == writer.name and resolved not in writer.outs:
            issues.append(loaded.issue(
                ("stages", stage.base, "in", arg),
                f"stage '{stage.name}' reads '{artifact}', the metrics of cmd stage '{resolved}'; "
                "use them in when:/gates:, or list the metrics file under deps:",
            ))
        elif resolved in producers:
            _edge(graph, producers[resolved], stage.name, "artifact", resolved)
    exprs: list[tuple[str | tuple[str, int], Expr]] = [("when", stage.when)] if stage.when else []
    exprs += [(("gates", i), g) for i, g in enumerate(stage.gates)]
    for where, expr in exprs:
        for ref in expr.refs:
            resolved = resolve_artifact(ref.name, stage, known)
            if resolved in producers:
                _edge(graph, producers[resolved], stage.name, "expression", resolved)
                problem = _key_problem(ref, stages_by_name[producers[resolved]], resolved)
                if problem:
                    path = ("stages", stage.base, *((where,) if isinstance(where, str) else where))
                    word = "when" if where == "when" else "gate"
                    issues.append(loaded.issue(path, f"stage '{stage.name}': {word} reads '{ref}', but {problem}"))
            elif resolved is None and ref.name not in aliases:
                path = ("stages", stage.base, *((where,) if isinstance(where, str) else where))
                word = "when" if where == "when" else "gate"
                issues.append(loaded.issue(
                    path,
                    f"stage '{stage.name}': {word} refers to '{ref}', but '{ref.name}' is "
                    "neither an artifact nor a registry alias"
                    + _unknown_artifact_hint(ref.name, producers, inputs, loaded, aliases,
                                             hint=len(issues) < _MAX_HINTS),
                ))


def _key_problem(ref: Any, producer: Stage, artifact: str) -> str:
    """Why ``ref`` cannot be a key of what ``producer`` (a builtin step) returns, when its
    keys are known before it runs; "" when it may be."""
    from lockgate.steps.options import output_keys

    if producer.kind != "uses" or artifact != (producer.outputs[:1] or ("",))[0]:
        return ""
    keys = output_keys(str(producer.run), producer.with_)
    first = ref.key.split(".")[0]
    if keys is None or first in keys:
        return ""
    if not keys:
        return f"'{artifact}' ({producer.run} step) is not a metrics artifact; gates read numbers"
    hint = did_you_mean(first, keys, qualify=f"{artifact}.") or f" (it has: {', '.join(sorted(keys))})"
    return f"step '{producer.run}' of stage '{producer.name}' gives no key '{first}'{hint}"


def _written_paths(stages: dict[str, Stage]) -> frozenset[str]:
    return frozenset(p for s in stages.values() if s.kind == "cmd" for p in (*s.outs, *s.metrics))


def _inside_output(artifact: str, stages: dict[str, Stage]) -> str:
    """For a path inside a folder a cmd stage writes: how to read it."""
    for stage in stages.values():
        for out in stage.outs if stage.kind == "cmd" else ():
            if artifact.startswith(out + "/"):
                return (f"; it lies inside '{out}', which cmd stage '{stage.name}' writes: "
                        f"read the folder (in: {{ARG: {out}}}) and open the file in your code")
    return ""


def _unknown_artifact_hint(
    name: str,
    producers: dict[str, str],
    inputs: dict[str, str],
    loaded: LoadedSpec,
    aliases: Iterable[str] = (),
    *,
    hint: bool = True,
    paths: frozenset[str] = frozenset(),
) -> str:
    """The closest artifact, input or alias, saying what it is; else how to make one."""

    def what(match: str) -> str:
        if match in producers:
            stage = producers[match]
            line = loaded.positions.of(("stages", stage.partition("@")[0]), key=True)[0]
            if match in paths:  # a path a cmd stage writes: named by its path
                return f", the path stage '{stage}' writes (line {line})"
            return f" (stage '{stage}', line {line})"
        return " (an input)" if match in inputs else " (a registry alias)"

    candidates = [*producers, *inputs, *aliases] if hint else []
    return did_you_mean(name, candidates, label=what) or "; add it under inputs: or to a stage's out:"


_MAX_HINTS = 20  # "did you mean" searches per pipeline (each scans every artifact)


def _edge(graph: nx.DiGraph, src: str, dst: str, why: str, via: str) -> None:
    if graph.has_edge(src, dst) or graph.graph.get("edges", 0) > limits.MAX_PIPELINE_EDGES:
        return
    graph.add_edge(src, dst, why=why, via=via)
    graph.graph["edges"] = graph.graph.get("edges", 0) + 1


def _path_edges(
    loaded: LoadedSpec,
    stages: dict[str, Stage],
    inputs: dict[str, str],
    graph: nx.DiGraph,
    issues: list[SpecIssue],
) -> None:
    writers: dict[str, str] = {}  # out path -> the first stage writing it
    for stage in stages.values():
        for path in (*stage.outs, *stage.metrics):
            writers.setdefault(path, stage.name)
    sorted_outs = sorted(writers)
    for stage in stages.values():
        own = (*stage.outs, *stage.metrics)
        for i, dep in enumerate(stage.deps):
            # a dep folder holding the stage's outputs is fine (hashed without them); the
            # output itself, or a path inside it, is the stage reading what it writes
            written = next((o for o in own if dep == o or dep.startswith(o + "/")), None)
            if written is not None:
                key = "outs" if written in stage.outs else "metrics"
                issues.append(loaded.issue(
                    ("stages", stage.base, "deps", i),
                    f"stage '{stage.name}' reads '{dep}' (deps:), which it writes itself ({key}: "
                    f"'{written}'); a stage cannot depend on its own output: remove it from deps:",
                ))
        for i, path in enumerate((*stage.outs, *stage.metrics)):
            # the same path, a folder above it, or a path inside it, written by another stage
            clash = next((p for p in overlapping_paths(path, writers, sorted_outs) if writers[p] != stage.name), None)
            if clash is not None and list(stages).index(writers[clash]) < list(stages).index(stage.name):
                issues.append(loaded.issue(
                    ("stages", stage.base, "outs" if i < len(stage.outs) else "metrics"),
                    f"stage '{stage.name}' writes '{path}', which overlaps '{clash}' written by "
                    f"stage '{writers[clash]}'; each path has one writer",
                ))
    for stage in stages.values():
        if graph.graph.get("edges", 0) > limits.MAX_PIPELINE_EDGES:
            return
        reads = list(stage.deps) + [inputs[a] for a in stage.inputs.values() if a in inputs]
        for path in reads:
            for out in overlapping_paths(path, writers, sorted_outs):
                if writers[out] != stage.name:
                    _edge(graph, writers[out], stage.name, "path", out)


def _inputs(loaded: LoadedSpec, issues: list[SpecIssue]) -> dict[str, str]:
    """``inputs:`` paths, checked and normalized; they may lie outside the repository
    (shared data, only read), never in ``.git/`` or ``.lockgate/``."""
    inputs = {}
    for name, text in loaded.spec.input_paths().items():
        path, problem = check_path(text, f"input '{name}' path", writes=False)
        if problem:
            issues.append(loaded.issue(("inputs", name), problem))
        inputs[name] = path or text
    return inputs


def missing_reads(
    pipelines: Sequence[Pipeline], exists: Callable[[str], bool]
) -> list[tuple[Pipeline, tuple[str | int, ...], str]]:
    """Paths a stage reads (its ``deps``, or an ``inputs`` path it reads) that no stage of
    ``pipelines`` writes and that ``exists`` says are not there, as (pipeline, where in
    its spec, message). A path at or under an output, or a folder holding one, is
    written by that stage."""
    writers = {path for p in pipelines for s in p.stages.values() for path in (*s.outs, *s.metrics)}
    sorted_writers = sorted(writers)
    found: list[tuple[Pipeline, tuple[str | int, ...], str]] = []
    missing: dict[str, bool] = {}

    def absent(path: str) -> bool:
        if path not in missing:
            missing[path] = not overlapping_paths(path, writers, sorted_writers) and not exists(path)
        return missing[path]

    fix = "create it, correct the path, or add a stage that writes it"
    for pipeline in pipelines:
        known = pipeline.known_artifacts
        readers: dict[str, list[str]] = {}
        for stage in pipeline.stages.values():
            for artifact in stage.inputs.values():
                resolved = resolve_artifact(artifact, stage, known)
                if resolved in pipeline.inputs:
                    readers.setdefault(resolved, []).append(stage.name)
            for i, dep in enumerate(stage.deps):
                if absent(dep):
                    found.append((pipeline, ("stages", stage.base, "deps", i),
                                  f"stage '{stage.name}' needs '{dep}' (deps:), which does not exist "
                                  f"and which no stage writes; {fix}"))
        for name, path in pipeline.inputs.items():
            if name in readers and absent(path):
                who = ", ".join(f"'{s}'" for s in dict.fromkeys(readers[name]))
                found.append((pipeline, ("inputs", name),
                              f"input '{name}' is '{path}', which does not exist and which no stage writes; "
                              f"stage{'s' if len(readers[name]) > 1 else ''} {who} read{'' if len(readers[name]) > 1 else 's'} it: {fix}"))
    return found


def _alias_edges(stages: dict[str, Stage], graph: nx.DiGraph) -> None:
    """A stage that reads registry alias A runs after every promote stage written
    before it that sets A, so a champion promoted earlier in the same run is the
    one it compares with (spec order decides; it never depends on timing)."""
    order = list(stages)
    setters: dict[str, list[str]] = {}
    for name in order:
        stage = stages[name]
        refs = [r.name for e in ([stage.when] if stage.when else []) + list(stage.gates) for r in e.refs]
        if graph.graph.get("edges", 0) > limits.MAX_PIPELINE_EDGES:
            return
        for alias in refs:
            for setter in setters.get(alias, []):
                _edge(graph, setter, name, "alias", alias)
        if stage.kind == "uses" and stage.run == "promote" and isinstance(stage.with_.get("alias"), str):
            setters.setdefault(stage.with_["alias"], []).append(name)


def check_step(loaded: LoadedSpec, stage: Stage) -> list[SpecIssue]:
    """A builtin step's ``with:``, ``in:`` and ``out:`` against its declared schema."""
    from lockgate.spec.validation import validate
    from lockgate.steps.options import INPUTS, OPTIONS, OUTPUTS

    name = str(stage.run)
    if name not in OPTIONS:
        return []  # an unknown step is reported by the loader
    path = ("stages", stage.base)
    prefix = f"stage '{stage.base}': step '{name}'"  # once per matrix stage, not per expansion
    issues: list[SpecIssue] = []
    _, problems = validate(OPTIONS[name], stage.with_)
    allowed = list(OPTIONS[name].model_fields)  # the step's options, also for a key inside one
    for problem in problems:
        if problem.kind == "unknown":
            fix = did_you_mean(str(problem.loc[-1]), allowed, parens=True) or f"; it takes: {', '.join(allowed)}"
            messages = [f"{prefix} has no option '{problem.loc[-1]}'{fix}"]
        elif problem.kind == "missing":
            messages = [f"{prefix} needs 'with: {{{problem.key}: ...}}'"]
        else:
            where = f"'{problem.key}' " if problem.key else ""
            messages = [f"{prefix}: with: {where}{said[0].lower()}{said[1:]}" for said in problem.said]
        issues.extend(loaded.issue((*path, "with", *problem.loc), msg, key=problem.kind == "unknown")
                      for msg in messages)
    required, optional = INPUTS[name]
    for arg in stage.inputs:
        if arg not in required + optional:
            fix = did_you_mean(arg, required + optional) or f"; it takes: {', '.join(required + optional)}"
            issues.append(loaded.issue((*path, "in", arg), f"{prefix} has no input '{arg}'{fix}", key=True))
    missing = [arg for arg in required if arg not in stage.inputs]
    if missing:
        wanted = ", ".join(f"{a}: ARTIFACT" for a in missing)
        issues.append(loaded.issue((*path, "in") if stage.inputs else path,
                                   f"{prefix} needs in: {{{wanted}}}", key=not stage.inputs))
    low, high = OUTPUTS[name]
    if not low <= len(stage.outputs) <= high:
        count = str(low) if low == high else f"{low} to {high}"
        issues.append(loaded.issue((*path, "out") if stage.outputs else path,
                                   f"{prefix} produces {count} artifact{'s' if high != 1 else ''}; "
                                   f"out: lists {len(stage.outputs)}", key=not stage.outputs))
    return issues


def _check_cycles(loaded: LoadedSpec, graph: nx.DiGraph, issues: list[SpecIssue]) -> None:
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    names = [edge[0] for edge in cycle]
    first = graph.nodes[names[0]]["stage"]
    if len(names) == 1:
        issues.append(loaded.issue(
            ("stages", first.base),
            f"stage '{first.name}' reads its own output '{graph.edges[names[0], names[0]]['via']}'; "
            "a stage cannot depend on itself",
            key=True,
        ))
        return
    chain = " -> ".join([*names, names[0]])
    links = ", ".join(f"'{a}' -> '{b}' via '{graph.edges[a, b]['via']}'" for a, b, *_ in cycle)
    issues.append(loaded.issue(
        ("stages", first.base),
        f"cycle between stages: {chain} ({links}); remove one of these dependencies",
        key=True,
    ))
