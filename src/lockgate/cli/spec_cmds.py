"""Commands about specs: init, validate, schema, dag. None of them runs a stage."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lockgate.cli.main import Obj

EXAMPLE_SPEC = """\
version: 1
description: An example pipeline; edit it, then `lockgate validate` and `lockgate dag`.

params:
  greeting: hello

stages:
  hello:
    cmd: echo "${greeting}" > hello.txt
    outs: [hello.txt]
"""

@click.command(short_help="Create pipelines/, an example spec and .lockgate/ (or convert a dvc.yaml).")
@click.option("--from-dvc", "from_dvc", is_flag=False, flag_value="", default=None, metavar="[PATH]",
              help="Convert a dvc.yaml (default: the repository root's) into pipelines/NAME.yaml.")
@click.option("--name", help="With --from-dvc: the pipeline's name (default: the dvc.yaml's folder).")
@click.option("--force", is_flag=True, help="With --from-dvc: replace an existing spec of that name.")
@click.pass_obj
def init(obj: Obj, from_dvc: str | None, name: str | None, force: bool) -> None:
    """Create pipelines/, an example spec and .lockgate/ in the current folder.

    With --from-dvc, convert a DVC project instead: its dvc.yaml becomes
    pipelines/NAME.yaml (the scripts run unchanged), the data its .dvc files
    track is versioned in data.lock when it is here as DVC recorded it, cached
    outputs go to .gitignore, and everything that could not be carried over is
    listed, one line each. Nothing is written if the spec exists (--force)."""
    if from_dvc is not None:
        _init_from_dvc(obj, from_dvc or None, name, force)
        return
    if name or force:
        from lockgate.errors import UsageError

        raise UsageError("--name and --force go with --from-dvc")
    root = obj.directory
    created = []
    (root / "pipelines").mkdir(exist_ok=True)
    spec = root / "pipelines" / "example.yaml"
    if not any((root / "pipelines").glob("*.yaml")):
        spec.write_text(EXAMPLE_SPEC, encoding="utf-8")
        created.append("pipelines/example.yaml")
    from lockgate.project import STATE_GITIGNORE, Layout

    layout = Layout.of(root)
    layout.state.mkdir(exist_ok=True)
    ignore = layout.gitignore
    if not ignore.exists():
        ignore.write_text(STATE_GITIGNORE, encoding="utf-8")
        created.append(".lockgate/.gitignore")
    if created:
        click.echo("created " + ", ".join(created))
    else:
        click.echo("already initialized; nothing to do")


def _init_from_dvc(obj: Obj, path: str | None, name: str | None, force: bool) -> None:
    import sys

    from lockgate.errors import UsageError
    from lockgate.porting import dvc
    from lockgate.spec.paths import check_name

    try:
        root = obj.project.root
    except UsageError:
        root = obj.directory.resolve()
    dvc_yaml = dvc.find_dvc_yaml(root, obj.directory, path)
    if name is not None and (check_name(name, f"--name {name!r}") or name.startswith(".")):
        raise UsageError(f"--name {name!r}: use letters, digits, '_' and '-' (it names pipelines/NAME.yaml)")
    conversion = dvc.convert(root, dvc_yaml, name)
    written = dvc.write(root, conversion, force=force)
    click.echo(f"created {written.spec} from {conversion.source}")
    for path_ in written.versioned:
        click.echo(f"versioned {path_} in data.lock (it matches its .dvc file)")
    if written.ignored:
        click.echo(f"added to .gitignore: {' '.join(written.ignored)}")
    if conversion.notes:
        click.echo("not carried over:")
        for note in conversion.notes:
            click.echo(f"  {note}")
    commands = conversion.add_commands()
    if commands:
        click.echo("to version the data DVC tracked, once it is here:")
        for command in commands:
            click.echo(f"  {command}")
    if conversion.problems:
        click.echo(f"the converted spec has {len(conversion.problems)} problem(s); fix them, then "
                   "`lockgate validate`:", err=True)
        for problem in conversion.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    click.echo("next: lockgate validate && lockgate run")


@click.command(short_help="Check pipeline specs; exit 2 on any error.")
@click.argument("pipelines", nargs=-1, metavar="[PIPELINE...]")
@click.option("-p", "--param", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a param (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def validate(obj: Obj, pipelines: tuple[str, ...], overrides: tuple[str, ...], as_json: bool) -> None:
    """Check specs (all under pipelines/ when none is named); exit 2 on any error.

    Also checks that every path a stage reads (deps:, inputs:) exists, unless a
    stage writes it (`run` only fails the stage that needs it), and that each call
    stage's in: and with: names fit its function's parameters (read from its
    source; the module is not imported)."""
    loaded = obj.project.load_all(pipelines, overrides)
    _check_reads(obj.project, loaded)
    if as_json:
        click.echo(json.dumps(
            [{"pipeline": p.name, "file": p.file, "stages": len(p.stages), "ok": True} for p in loaded],
            indent=2,
        ))
        return
    for p in loaded:
        click.echo(f"{p.file}: ok ({len(p.stages)} stage{'s' if len(p.stages) != 1 else ''})")


def _check_reads(project, pipelines: list) -> None:
    """SpecError naming each path read that does not exist and that no stage writes, and
    each name a ``call`` stage passes that its function cannot take (or needs and is not
    given: read from the source, never imported), located in its spec (read again when
    the pipeline came from the plan cache)."""
    import os

    from lockgate.errors import SpecError, SpecIssue
    from lockgate.graph.compile import missing_reads
    from lockgate.graph.signature import pipeline_problems
    from lockgate.spec.load import load_spec

    found = missing_reads(pipelines, lambda path: os.path.exists(project.root / path))
    found += [(p, where, message) for p in pipelines for where, message in pipeline_problems(p, project.root)]
    if not found:
        return
    issues, specs = [], {}
    for pipeline, where, message in found:
        if pipeline.name not in specs:
            try:
                specs[pipeline.name] = pipeline.loaded or load_spec(
                    project.root / pipeline.file, root=project.root, overrides=pipeline.overrides)
            except SpecError:
                specs[pipeline.name] = None
        spec = specs[pipeline.name]
        issues.append(spec.issue(where, message) if spec is not None else SpecIssue(pipeline.file, 0, 0, message))
    raise SpecError(issues)


@click.command(short_help="Print the JSON Schema of a pipeline spec.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to a file instead of stdout.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of a pipeline spec (for editor completion), with
    each builtin step's `with:` options."""
    from lockgate.spec.schema import spec_json_schema
    from lockgate.steps.options import OPTIONS

    text = json.dumps(spec_json_schema(OPTIONS), indent=2, sort_keys=False)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)


@click.command(short_help="Draw the stage graph (ascii, mermaid, dot, json).")
@click.argument("pipelines", nargs=-1, metavar="[PIPELINE...]")
@click.option("--format", "fmt", type=click.Choice(["ascii", "mermaid", "dot", "json"]),
              default="ascii", show_default=True, help="Drawing format.")
@click.option("--labels/--no-labels", default=True, show_default=True,
              help="Name what each edge carries (mermaid, dot): -->|train|, -.->|gate: scores|.")
@click.option("-p", "--param", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a param (repeatable).")
@click.pass_obj
def dag(obj: Obj, pipelines: tuple[str, ...], fmt: str, labels: bool, overrides: tuple[str, ...]) -> None:
    """Draw the stage graph of PIPELINE (a spec path or name; all when none).

    Solid edges carry data (an artifact or a path); dotted ones only order
    stages: a when:/gates: expression reading an artifact, or a registry alias
    promoted earlier."""
    from lockgate.reports.dag import render, view_of

    loaded = obj.project.load_all(pipelines, overrides)
    click.echo(render([view_of(p) for p in loaded], fmt, edge_labels=labels))


COMMANDS = [init, validate, schema, dag]
