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
from lockgate.errors import LockgateError, SpecError


class LockgateGroup(click.Group):
    """Prints a LockgateError as ``error: ...`` (spec issues as FILE:LINE:COL lines)
    and exits with its code, never with a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SpecError as exc:
            for issue in exc.issues:
                click.echo(str(issue), err=True)
            n = len(exc.issues)
            if n > 1:
                click.echo(f"{n} problems; nothing was run", err=True)
            sys.exit(exc.exit_code)
        except LockgateError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in the order they were added, not alphabetical


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


# One CLI module per line: each defines COMMANDS (imported here, so keep them light).
COMMAND_MODULES = [
    "lockgate.cli.spec_cmds",
    "lockgate.cli.run_cmds",
    "lockgate.cli.cache_cmds",
    "lockgate.cli.data_cmds",
    "lockgate.cli.verify_cmd",
    "lockgate.cli.exp_cmds",
    "lockgate.cli.drift_cmd",
    "lockgate.cli.registry_cmds",
    "lockgate.cli.git_cmds",
    "lockgate.cli.watch_cmd",
]


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        for command in importlib.import_module(name).COMMANDS:
            main.add_command(command)


_register()
