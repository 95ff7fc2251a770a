"""Commands over the model registry and the audit log.

``lockgate registry list|show|promote|rollback|export`` and
``lockgate audit verify|show``. Changes by hand (promote, rollback) hold the
repository lock, write the registry, then append to the audit log with
``manual: true``. Read commands take ``--json`` and then print only JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from lockgate.cli.main import Obj
from lockgate.errors import UsageError


def _audit_log(obj: Obj):
    from lockgate.audit import AuditLog, audit_path

    return AuditLog(audit_path(obj.project.root))


def _anchors(obj: Obj) -> dict[str, str]:
    """Where -> audit record hash, from every lock file and registry in the workspace."""
    from lockgate.errors import LockgateError
    from lockgate.lock import LockFile
    from lockgate.registry import Registry, registry_names

    project = obj.project
    anchors = {}
    for path in sorted(project.pipelines_dir.glob("*.lock")):
        anchors[project.relative(path)] = LockFile.read(path, path.stem).audit
    for name in registry_names(project.root):
        try:
            anchors[f"registry/{name}.yaml"] = Registry.open(project.root, name).audit
        except LockgateError:
            continue  # a broken registry file is reported by the commands that read it
    return {k: v for k, v in anchors.items() if v}


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


#: what fills a metrics cell after the metrics the gates read, in this order
HEADLINE_METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy", "average_precision",
                    "log_loss", "mae", "rmse", "r2")


def _metrics_line(metrics: dict[str, Any], gated: Sequence[str] = (), width: int = 60,
                  lines: int = 1) -> str:
    """``key=value`` items that fit in ``lines`` lines of ``width``: first every metric
    the gates read (always), then the headline metrics in HEADLINE_METRICS order
    while they fit, then how many more there are. Items are never cut."""
    from lockgate.diff import flatten

    flat = flatten(metrics)
    first = [k for k in dict.fromkeys(gated) if k in flat]
    fill = [k for k in HEADLINE_METRICS if k in flat and k not in first]

    def item(key: str) -> str:
        value = flat[key]
        if isinstance(value, bool):
            return f"{key}={str(value).lower()}"
        return f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"

    def packed(items: list[str]) -> list[str]:
        rows: list[str] = []
        for text in items:
            if rows and len(rows[-1]) + 1 + len(text) <= width:
                rows[-1] += " " + text
            else:
                rows.append(text)
        return rows

    def more(shown: int) -> list[str]:
        return [f"(+{len(flat) - shown} more)"] if len(flat) > shown else []

    items = [item(k) for k in first]
    for key in fill:
        candidate = [*items, item(key)]
        if len(packed(candidate + more(len(candidate)))) > max(lines, len(packed(items))):
            break
        items = candidate
    return "\n".join(packed(items + more(len(items))))


def _gated_metrics(project) -> dict[str, list[str]]:
    """model name -> the metric keys (dotted, in spec order) that the pipelines'
    gates and ``when:`` read from that model's registry: through an alias
    (``production.roc_auc``) or through the metrics artifact a promote stage
    records (``live_scores.roc_auc`` when ``in: {metrics: live_scores}``)."""
    import logging

    from lockgate.graph.pipeline import resolve_artifact
    from lockgate.registry import AmbiguousAlias, alias_holders, model_name_for

    holders = alias_holders(project.root)  # alias -> the registries that have it
    found: dict[str, list[str]] = {}
    for path in project.spec_paths():
        try:
            pipeline = project.load(str(path))
        except Exception as exc:  # a broken spec only costs its hints; `validate` reports it
            logging.getLogger(__name__).debug("registry list: %s not loaded: %s", path, exc)
            continue
        known = pipeline.known_artifacts
        recorded: dict[str, str] = {}  # metrics artifact a promote stage records -> model
        for stage in pipeline.stages.values():
            if stage.kind == "uses" and stage.run == "promote" and "metrics" in stage.inputs:
                artifact = resolve_artifact(stage.inputs["metrics"], stage, known)
                if artifact:
                    recorded[artifact] = str(stage.with_.get("model_name", pipeline.name))
        for stage in pipeline.stages.values():
            for expr in ([stage.when] if stage.when else []) + list(stage.gates):
                for ref in expr.refs:
                    artifact = resolve_artifact(ref.name, stage, known)
                    if artifact is not None:
                        model = recorded.get(artifact)
                    else:
                        try:
                            model = model_name_for(pipeline, ref.name, stage.name, holders.get(ref.name))
                        except AmbiguousAlias:
                            model = None
                    if model is not None and ref.key not in found.setdefault(model, []):
                        found[model].append(ref.key)
    return found


def _short(value: Any) -> str:
    """A field for one line of text: digests cut to 12 characters, the rest as JSON."""
    from lockgate.hashing import is_digest

    return value[:12] if is_digest(value) else json.dumps(value, sort_keys=True)


# -- registry --------------------------------------------------------------------------------


@click.group()
def registry() -> None:
    """The model registry (registry/NAME.yaml): versions and aliases."""


@registry.command("list")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(obj: Obj, name: str | None, as_json: bool) -> None:
    """List registered models, their versions and aliases."""
    from rich.console import Console
    from rich.table import Table

    from lockgate.registry import Registry, registry_names

    root = obj.project.root
    models = [Registry.open_existing(root, name)] if name else [
        Registry.open(root, n) for n in registry_names(root)
    ]
    if as_json:
        _echo_json({m.name: m.to_dict() for m in models})
        return
    if not models:
        click.echo("no registered models yet (registry/ is empty); a promote stage adds them")
        return
    gated = _gated_metrics(obj.project)
    header = ("model", "version", "aliases", "created", "stage")
    rows = [(model, number, (model.name, f"v{number}", ", ".join(model.aliases_of(number)),
                             model.versions[number].created,
                             f"{model.versions[number].pipeline}:{model.versions[number].stage}"
                             if model.versions[number].stage else ""))
            for model in models for number in sorted(model.versions, reverse=True)]
    console = Console(width=max(100, Console().width))
    widths = [max(len(cells[i]) for cells in [header, *(r[2] for r in rows)]) for i in range(len(header))]
    room = max(console.width - sum(widths) - 2 * len(widths), 24)  # two spaces between columns
    table = Table(box=None, pad_edge=False)
    for column in header:
        table.add_column(column, no_wrap=True)
    table.add_column("metrics", no_wrap=True)
    for model, number, cells in rows:
        line = _metrics_line(model.versions[number].metrics, gated.get(model.name, []), room, lines=2)
        table.add_row(*cells, line)
    console.print(table)


@registry.command()
@click.argument("name")
@click.argument("alias_or_version", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def show(obj: Obj, name: str, alias_or_version: str | None, as_json: bool) -> None:
    """Show one version's record (by alias, 3 or v3), or the whole model."""
    from lockgate.registry import Registry

    model = Registry.open_existing(obj.project.root, name)
    if alias_or_version is None:
        if as_json:
            _echo_json(model.to_dict())
            return
        click.echo(f"model {model.name}: {len(model.versions)} version(s)")
        for alias, number in sorted(model.aliases.items()):
            earlier = model.history.get(alias) or []
            before = f" (before: {', '.join(f'v{n}' for n in earlier)})" if earlier else ""
            click.echo(f"  {alias} -> v{number}{before}")
        from rich.console import Console

        gated = _gated_metrics(obj.project).get(model.name, [])
        width = max(100, Console().width)
        for number in sorted(model.versions, reverse=True):
            v = model.versions[number]
            start = f"  v{number}  {v.created}  {v.digest[:12]}  "
            line = _metrics_line(v.metrics, gated, max(width - len(start), 24))
            click.echo((start + line.replace("\n", " ")).rstrip())
        return
    version = model.resolve(alias_or_version)
    record = {"name": model.name, **version.to_dict(), "aliases": model.aliases_of(version.version)}
    if as_json:
        _echo_json(record)
        return
    import yaml

    aliases = ", ".join(record["aliases"])
    click.echo(f"{model.name} v{version.version}" + (f" ({aliases})" if aliases else ""))
    body = {k: v for k, v in record.items() if k not in ("name", "version", "aliases")}
    click.echo(yaml.safe_dump(body, sort_keys=True, default_flow_style=False).rstrip())


@registry.command()
@click.argument("name")
@click.argument("version")
@click.option("--alias", "-a", required=True, help="The alias to point at VERSION (e.g. production).")
@click.pass_obj
def promote(obj: Obj, name: str, version: str, alias: str) -> None:
    """Point ALIAS of model NAME at VERSION (3, v3, or another alias), by hand; audited."""
    from lockgate.executor.repolock import repo_lock
    from lockgate.registry import Registry, check_alias_name

    project = obj.project
    check_alias_name(alias)
    with repo_lock(project.state_dir, wait=True):
        from lockgate.registry import move_alias, recover

        audit = _audit_log(obj)
        recover(project.root, audit)
        model = Registry.open_existing(project.root, name)
        target = model.resolve(version)
        previous = model.aliases.get(alias)
        if previous == target.version:
            click.echo(f"{name}: {alias} already points to v{target.version}; nothing changed")
            return
        move_alias(model, "promote", alias, target.version, previous, audit)
    was = f"v{previous}" if previous is not None else "(new alias)"
    click.echo(f"{name}: {alias} {was} -> v{target.version}")


@registry.command()
@click.argument("name")
@click.argument("alias")
@click.pass_obj
def rollback(obj: Obj, name: str, alias: str) -> None:
    """Point ALIAS of model NAME back at the version it pointed to before; audited."""
    from lockgate.executor.repolock import repo_lock
    from lockgate.registry import Registry

    project = obj.project
    with repo_lock(project.state_dir, wait=True):
        from lockgate.registry import move_alias, recover

        audit = _audit_log(obj)
        recover(project.root, audit)
        model = Registry.open_existing(project.root, name)
        current, target = model.rollback_target(alias)
        move_alias(model, "rollback", alias, target, current, audit)
    click.echo(f"{name}: {alias} v{current} -> v{target} (rolled back)")


@registry.command()
@click.argument("name")
@click.argument("alias_or_version")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def export(obj: Obj, name: str, alias_or_version: str, path: Path) -> None:
    """Write the model of a version to PATH (load it with lockgate.store.models.load_model_file)."""
    from lockgate.registry import Registry
    from lockgate.store.artifacts import restore_file
    from lockgate.store.local import LocalStore

    project = obj.project
    version = Registry.open_existing(project.root, name).resolve(alias_or_version)
    ref = version.ref
    store = LocalStore(project.cache_dir)
    if not store.has(ref.object):
        raise UsageError(
            f"the model of {name} v{version.version} ({ref.digest[:12]}) is not in the local "
            "cache; run `lockgate pull` to fetch it from the remote"
        )
    target = path if path.is_absolute() else Path.cwd() / path
    restore_file(store, ref, target)
    click.echo(f"wrote {name} v{version.version} ({ref.kind} {ref.digest[:12]}) to {path}")


# -- audit --------------------------------------------------------------------------------------


@click.group()
def audit() -> None:
    """The hash-chained audit log (registry/audit.jsonl, committed)."""


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def verify(obj: Obj, as_json: bool) -> None:
    """Check the chain; exit 1 naming the first record edited, removed, reordered or
    inserted, or a record a lock file or registry names that the log lost (a cut tail)."""
    log = _audit_log(obj)
    result = log.verify(_anchors(obj))
    where = obj.project.relative(log.path)
    if as_json:
        _echo_json({"path": where, **result.to_dict()})
    elif result.ok:
        head = f" (head {result.head[:12]})" if result.head else ""
        noun = "record" if result.count == 1 else "records"
        click.echo(f"{where}: {result.count} {noun}, chain intact{head}")
    else:
        click.echo(f"{where}: chain broken at {result.reason}")
    sys.exit(0 if result.ok else 1)


@audit.command("show")
@click.option("-n", "count", default=20, show_default=True, help="Show the last N records (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def audit_show(obj: Obj, count: int, as_json: bool) -> None:
    """Show the last records of the audit log."""
    records = _audit_log(obj).records()
    if count > 0:
        records = records[-count:]
    if as_json:
        _echo_json(records)
        return
    if not records:
        click.echo("the audit log is empty")
        return
    skip = {"seq", "time", "who", "commit", "event", "prev", "hash"}
    for r in records:
        rest = " ".join(
            f"{k}={_short(v)}" for k, v in sorted(r.items()) if k not in skip
        )
        commit = str(r.get("commit") or "")[:8] or "-"
        click.echo(f"{r.get('seq')}  {r.get('time')}  {r.get('event')}  {r.get('who')}  "
                   f"{commit}  {rest}")


COMMANDS = [registry, audit]
