"""status: which stages are stale, and why (the work is in ``lockgate.cli.status``)."""

from __future__ import annotations

import sys

import click

from lockgate.cli.main import OVERRIDES, Obj


@click.command()
@click.argument("pipelines", nargs=-1, metavar="[PIPELINE...]")
@OVERRIDES
@click.option("--check", is_flag=True, help="Exit 1 when anything is stale (for CI).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(obj: Obj, pipelines, overrides, check, as_json) -> None:
    """Show which stages are stale, and why. Never waits for a running `lockgate run`."""
    from lockgate.reports.status import status as report

    code = report(obj.project, pipelines, overrides, check=check, as_json=as_json, write=click.echo)
    if code:
        sys.exit(code)


COMMANDS = [status]
