"""The command line (click + rich live only here)."""

from lockgate.cli.main import main

__all__ = ["main"]
