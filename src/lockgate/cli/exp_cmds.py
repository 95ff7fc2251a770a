"""``lockgate exp``: the runs made with ``-p`` overrides, listed, diffed and applied on request."""

from __future__ import annotations

import json

import click

from lockgate.cli.main import Obj

AS_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group()
def exp() -> None:
    """Experiments: `lockgate run -p KEY=VALUE` runs apart from the committed params.

    An experiment's locks and metrics are kept under .lockgate/experiments/;
    the workspace's lock files, registry and outputs are left as they were.
    """


def _locks(experiment) -> dict:
    from lockgate.lock import LockFile

    return {name: LockFile.read(experiment.lock_path(name), name) for name in experiment.pipelines
            if experiment.lock_path(name).is_file()}


def _headline(experiment, limit: int = 3) -> str:
    """A few metrics, the headline ones first (as `registry list` orders them)."""
    from lockgate.diff import metric_table
    from lockgate.reports.diff import fmt

    order = ("roc_auc", "f1", "precision", "recall", "accuracy", "rmse", "mae", "r2")
    rows = {key: value for stages in metric_table(_locks(experiment)).values()
            for values in stages.values() for key, value in values.items()}
    ranked = sorted(rows, key=lambda k: (next((i for i, m in enumerate(order) if k.endswith("." + m)), 99), k))
    shown = [f"{key}={fmt(rows[key])}" for key in ranked[:limit]]
    return " ".join(shown) + (f" (+{len(rows) - limit} more)" if len(rows) > limit else "")


@exp.command("list")
@AS_JSON
@click.pass_obj
def exp_list(obj: Obj, as_json: bool) -> None:
    """List experiments: name, when, base commit, overrides, outcome, a few metrics."""
    from lockgate.executor.experiment import all_experiments

    experiments = all_experiments(obj.project.state_dir)
    if as_json:
        click.echo(json.dumps([e.meta() for e in experiments], indent=2, sort_keys=True))
        return
    if not experiments:
        click.echo("no experiments yet: `lockgate run -p KEY=VALUE` runs one")
        return
    rows = [["name", "created", "base", "overrides", "exit", "metrics"]]
    for e in experiments:
        code = "running?" if e.exit_code is None else str(e.exit_code)
        rows.append([e.name, e.created, e.base[:8] or "-", " ".join(e.overrides), code, _headline(e)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])


@exp.command("diff")
@click.argument("name")
@click.argument("other", required=False)
@AS_JSON
@click.option("--md", "as_md", is_flag=True, help="A Markdown table (for pull request comments).")
@click.option("--all", "show_all", is_flag=True, help="List unchanged values too.")
@click.pass_obj
def exp_diff(obj: Obj, name: str, other: str | None, as_json: bool, as_md: bool, show_all: bool) -> None:
    """Metrics and params of experiment NAME against the workspace (or experiment OTHER)."""
    from lockgate import diff, gitrev
    from lockgate.errors import UsageError
    from lockgate.executor.experiment import find
    from lockgate.reports import diff as render

    if as_json and as_md:
        raise UsageError("choose one of --json and --md")
    state = obj.project.state_dir
    new = find(state, name)
    if other:
        old_locks, old_label = _locks(find(state, other)), other
    else:
        old_locks = {k: v for k, v in gitrev.read_locks(obj.project.root, None).items() if k in new.pipelines}
        old_label = gitrev.WORKSPACE
    new_locks = _locks(new)
    metrics = diff.metrics_diff(old_locks, new_locks, include_unchanged=show_all)
    params = diff.params_diff(old_locks, new_locks, include_unchanged=show_all)
    if as_json:
        click.echo(json.dumps({**render.to_json(metrics, old_label, name, "metrics"),
                               "params": render.to_json(params, old_label, name, "params")["params"]},
                              indent=2, sort_keys=True))
        return
    draw = render.to_markdown if as_md else render.to_text
    click.echo(draw(metrics, old_label, name, "metric"))
    click.echo("")
    click.echo(draw(params, old_label, name, "param"))


@exp.command("apply")
@click.argument("name")
@click.pass_obj
def exp_apply(obj: Obj, name: str) -> None:
    """Make experiment NAME the workspace: its overrides written into the spec or params
    file (comments kept), its locks into pipelines/, its outputs restored. Commit them to keep it."""
    from lockgate.executor.experiment import apply, find
    from lockgate.executor.repolock import repo_lock

    project = obj.project
    with repo_lock(project.state_dir, wait=True):
        experiment = find(project.state_dir, name)
        changed = apply(project, experiment)
    click.echo(f"applied {name} ({' '.join(experiment.overrides)})")
    for what in ("files", "locks", "outputs"):
        if changed[what]:
            click.echo(f"  {what}: {', '.join(changed[what])}")
    click.echo("`lockgate status` shows it up to date; commit the files and locks to keep it")


@exp.command("remove")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def exp_remove(obj: Obj, names: tuple[str, ...]) -> None:
    """Forget experiments (their cached objects go at the next `lockgate gc`)."""
    import shutil

    from lockgate.executor.experiment import find

    for name in names:
        shutil.rmtree(find(obj.project.state_dir, name).folder)
        click.echo(f"removed {name}")


COMMANDS = [exp]
