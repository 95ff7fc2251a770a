"""The `lockgate` executable (and `python -m lockgate`): `status` in its plain forms
straight away, everything else through click (``lockgate.cli.main``).

`status` is what people and CI run most; importing click and building the command
group is about a tenth of its start-up. ``status [--json] [--check] [PIPELINE...]``
(after an optional ``-C PATH``) is parsed here and runs the same function as the
click command, with the same output, errors and exit codes (tests/cli/test_entry.py
compares the two). Any other word or option (``-p``, ``-v``, ``--help``, a typo)
goes to click, which owns the help and the usage errors.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

_STATUS_FLAGS = frozenset({"--json", "--check"})


def main() -> None:
    try:
        code = _plain_status(sys.argv[1:])
        if code is None:
            from lockgate.cli import main as click_main

            click_main()
    except KeyboardInterrupt:  # Ctrl-C while modules import: one line, no traceback
        sys.stderr.write("interrupted before the command began; nothing ran\n")
        raise SystemExit(130) from None
    raise SystemExit(code)


def _plain_status(args: Sequence[str]) -> int | None:
    """Run ``[-C PATH] status [--json] [--check] [PIPELINE...]``; None for anything else."""
    directory = "."
    if len(args) >= 2 and args[0] == "-C":
        directory, args = args[1], args[2:]
    if not args or args[0] != "status" or not os.path.isdir(directory):
        return None
    words = args[1:]
    if any(w.startswith("-") and w not in _STATUS_FLAGS for w in words):
        return None
    import logging
    from pathlib import Path

    from lockgate.reports.status import status
    from lockgate.errors import LockgateError
    from lockgate.project import Project

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        project = Project.find(Path(directory).resolve())
        return status(project, [w for w in words if not w.startswith("-")],
                      check="--check" in words, as_json="--json" in words)
    except LockgateError as exc:
        for line in exc.lines():
            sys.stderr.write(line + "\n")
        return exc.exit_code


if __name__ == "__main__":
    main()
