"""Commands over the model registry and the audit log.

``lockgate registry list|show|promote|rollback|export`` and
``lockgate audit verify|show``. Changes by hand (promote, rollback) hold the
repository lock, write the registry, then append to the audit log with
``manual: true``. Read commands take ``--json`` and then print only JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from lockgate.cli.main import Obj
from lockgate.errors import UsageError


def _audit_log(obj: Obj):
    from lockgate.audit import AuditLog
    from lockgate.cli.spec_cmds import STATE_GITIGNORE

    state = obj.project.state_dir
    state.mkdir(parents=True, exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text(STATE_GITIGNORE, encoding="utf-8")
    return AuditLog(state / "audit.jsonl")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def _metrics_line(metrics: dict[str, Any], limit: int = 4) -> str:
    flat = [(k, v) for k, v in sorted(metrics.items()) if not isinstance(v, dict)]
    shown = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in flat[:limit]]
    return " ".join(shown) + (" ..." if len(flat) > limit else "")


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
    table = Table(box=None, pad_edge=False)
    for column in ("model", "version", "aliases", "created", "stage", "metrics"):
        table.add_column(column, no_wrap=column != "metrics")
    for model in models:
        for number in sorted(model.versions, reverse=True):
            v = model.versions[number]
            table.add_row(model.name, f"v{number}", ", ".join(model.aliases_of(number)),
                          v.created, f"{v.pipeline}:{v.stage}" if v.stage else "",
                          _metrics_line(v.metrics))
    Console(width=max(100, Console().width)).print(table)


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
        for number in sorted(model.versions, reverse=True):
            v = model.versions[number]
            click.echo(f"  v{number}  {v.created}  {v.digest[:12]}  {_metrics_line(v.metrics)}")
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
        model = Registry.open_existing(project.root, name)
        target = model.resolve(version)
        previous = model.set_alias(alias, target.version)
        if previous == target.version:
            click.echo(f"{name}: {alias} already points to v{target.version}; nothing changed")
            return
        model.save()
        _audit_log(obj).append(
            "promote", model=name, alias=alias, version=target.version, previous=previous,
            artifact=target.digest, metrics=target.metrics, manual=True,
        )
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
        model = Registry.open_existing(project.root, name)
        current, target = model.rollback(alias)
        model.save()
        _audit_log(obj).append(
            "rollback", model=name, alias=alias, version=target, previous=current,
            artifact=model.versions[target].digest, manual=True,
        )
    click.echo(f"{name}: {alias} v{current} -> v{target} (rolled back)")


@registry.command()
@click.argument("name")
@click.argument("alias_or_version")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def export(obj: Obj, name: str, alias_or_version: str, path: Path) -> None:
    """Write the model of a version to PATH (load it with lockgate.store.artifacts.load_model_file)."""
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
    """The hash-chained audit log (.lockgate/audit.jsonl)."""


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def verify(obj: Obj, as_json: bool) -> None:
    """Check the chain; exit 1 naming the first record edited, removed or reordered."""
    from lockgate.audit import AuditLog

    log = AuditLog(obj.project.state_dir / "audit.jsonl")
    result = log.verify()
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
    from lockgate.audit import AuditLog

    records = AuditLog(obj.project.state_dir / "audit.jsonl").records()
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
