"""The ``lockgate`` command group: global options, and errors turned into one line + exit code.

Commands stay thin (parse -> one core call -> render -> exit code). Heavy
libraries are imported inside the commands that need them, so ``--help``,
``validate``, ``dag`` and ``status`` start fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from lockgate._version import __version__
from lockgate.errors import LockgateError


class LockgateGroup(click.Group):
    """Prints a LockgateError as ``error: ...`` (spec issues as FILE:LINE:COL lines)
    and exits with its code, never with a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LockgateError as exc:
            for line in exc.lines():
                click.echo(line, err=True)
            sys.exit(exc.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for names in COMMAND_MODULES.values() for name in names]  # listed order, not alphabetical

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A command's module is imported when the command is asked for: `lockgate status`
        builds two commands, not thirty (each module's click decorators cost start-up)."""
        if cmd_name not in self.commands:
            module = next((m for m, names in COMMAND_MODULES.items() if cmd_name in names), None)
            if module is not None:
                import importlib

                for command in importlib.import_module(module).COMMANDS:
                    self.commands.setdefault(command.name, command)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and self.get_command(ctx, args[0]) is None:  # unknown: load them all, so that
            for name in self.list_commands(ctx):  # click's "Did you mean" sees every name
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


class Obj:
    """What every command gets through ``click.pass_obj``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._project = None

    @property
    def project(self):
        if self._project is None:
            from lockgate.project import Project

            self._project = Project.find(self.directory)
        return self._project


@click.group(cls=LockgateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="lockgate")
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    help="Run as if lockgate was started in PATH (like git -C).",
    metavar="PATH",
)
@click.option("-v", "--verbose", count=True, help="More detail in logs (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, directory: Path, verbose: int) -> None:
    """lockgate: git-native, declarative ML pipelines.

    Pipelines are YAML specs in pipelines/; `lockgate run` runs only what
    changed, caches every artifact by content hash, and deploys only when
    declared gates hold.

    Exit codes: 0 done, 1 a stage failed, 2 usage or spec error (nothing
    run), 3 a gate blocked a stage (or drift was found with --check).
    """
    if not directory.is_dir():
        raise click.BadParameter(f"{directory} is not a directory", param_hint="-C")
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    ctx.obj = Obj(directory.resolve())


OVERRIDES = click.option("-p", "--param", "overrides", multiple=True, metavar="KEY=VALUE",
                         help="Override a param (repeatable).")
"""The -p option of the commands that load specs (status, watch)."""

# Each CLI module defines COMMANDS; its command names are listed here so that a command's
# module is imported only when that command runs (tests/cli pins this table to COMMANDS).
COMMAND_MODULES = {
    "lockgate.cli.spec_cmds": ("init", "validate", "schema", "dag"),
    "lockgate.cli.run_cmds": ("run",),
    "lockgate.cli.status_cmd": ("status",),
    "lockgate.cli.cache_cmds": ("show", "export", "gc", "push", "pull"),
    "lockgate.cli.data_cmds": ("add",),
    "lockgate.cli.verify_cmd": ("verify",),
    "lockgate.cli.exp_cmds": ("exp",),
    "lockgate.cli.drift_cmd": ("drift",),
    "lockgate.cli.registry_cmds": ("registry", "audit"),
    "lockgate.cli.git_cmds": ("metrics", "params", "merge-driver"),
    "lockgate.cli.watch_cmd": ("watch",),
}
