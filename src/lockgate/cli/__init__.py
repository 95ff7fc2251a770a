"""The command line (click + rich live only here)."""

import sys

try:
    from lockgate.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while the command line's modules import: one line, no traceback
    sys.stderr.write("interrupted before the command began; nothing ran\n")
    raise SystemExit(130) from None

__all__ = ["main"]
