"""What `lockgate status` decides and prints, without click.

`status` is the command people run most (and CI runs on every push); click and
the command table cost about a tenth of its start-up, so the executable
(``lockgate.__main__``) runs its plain forms (``status [--json] [--check]
[PIPELINE...]``) straight through :func:`status`, and the click command
(``lockgate.cli.status_cmd``) calls the same function for every other form
(``-p``, ``-v``, ``--help``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

Write = Callable[[str], None]


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")


def status(project: Any, pipelines: Sequence[str], overrides: Sequence[str] = (), *, check: bool = False,
           as_json: bool = False, write: Write = _print) -> int:
    """Decide every stage (a dry run) and print which are stale and why; the exit code
    (1 with ``check`` when anything is stale, else 0)."""
    from lockgate.executor.base import Outcome
    from lockgate.executor.effects import Effects
    from lockgate.executor.local import LocalExecutor
    from lockgate.executor.runner import Runner, RunOptions

    loaded = project.load_all(list(pipelines), tuple(overrides))
    executor = LocalExecutor(1)
    runner = Runner(project.root, executor, options=RunOptions(dry_run=True), effects=Effects(project.root))
    report = []
    try:
        for pipeline in loaded:
            report.append((pipeline, runner.run(pipeline, project.lock_path(pipeline.name))))
    finally:
        runner.close()
        executor.close()
    stale_kinds = (Outcome.STALE, Outcome.FAILED)
    stale = [o for _, outs in report for o in outs if o.outcome in stale_kinds]
    data = [] if pipelines else tracked_changes(project)
    if as_json:
        write(json.dumps({
            "stale": bool(stale or data),
            "stages": [o.to_dict() for _, outs in report for o in outs],
            "data": [{"path": path, "status": what} for path, what in data],
        }, indent=2))
    else:
        for pipeline, outs in report:
            bad = [o for o in outs if o.outcome in stale_kinds]
            other = [o for o in outs if o.outcome not in (*stale_kinds, Outcome.CACHED)]
            if bad:
                write(f"{pipeline.name}: {len(bad)} of {len(outs)} stages stale")
            else:
                write(f"{pipeline.name}: up to date ({len(outs)} stages)")
            for o in bad:
                write(f"  {o.stage}: {', '.join(o.reasons) or o.message or o.outcome.value}")
            for o in other:
                write(f"  {o.stage}: would be {o.outcome.value}: {o.message}")
        for path, what in data:
            fix = "`lockgate pull` puts it back" if what == "missing" else "`lockgate add` records the new version"
            write(f"data.lock: {path}: {what}; {fix}")
    return 1 if check and (data or stale) else 0


def tracked_changes(project: Any) -> list[tuple[str, str]]:
    """(path, "missing" | "modified") for data.lock entries the workspace differs from."""
    from lockgate.store.statcache import StatCache
    from lockgate.tracked import DataLock

    entries = DataLock.read(project.root).entries
    if not entries:
        return []
    changes = []
    with StatCache(project.layout.statcache) as stats:
        for path, record in sorted(entries.items()):
            target = project.root / path
            if not target.exists():
                changes.append((path, "missing"))
            elif stats.hash_path(target)[0] != record.get("digest"):
                changes.append((path, "modified"))
    return changes
