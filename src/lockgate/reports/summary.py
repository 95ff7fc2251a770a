"""The Markdown summary of a CI run (``lockgate run --ci``): for a pull request's checks page.

Sections: the verdict, stages grouped by outcome (with the message of each
failed, blocked or skipped stage), every gate decision with the values it
used, the lock-is-stale check (``--frozen``), and the metric diff against the
base revision. Pure: values in, Markdown out; GitHub renders it from
``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from lockgate.diff import Change, StageDrift
from lockgate.executor.base import Outcome, StageOutcome
from lockgate.lock import LockFile
from lockgate.reports.diff import fmt, to_markdown

_ORDER = [Outcome.FAILED, Outcome.BLOCKED, Outcome.CANCELLED, Outcome.SKIPPED,
          Outcome.RAN, Outcome.RESTORED, Outcome.CACHED, Outcome.STALE]
_ICON = {Outcome.FAILED: "❌", Outcome.BLOCKED: "⛔", Outcome.CANCELLED: "⏹️", Outcome.SKIPPED: "⏭️",
         Outcome.RAN: "✅", Outcome.RESTORED: "♻️", Outcome.CACHED: "💤", Outcome.STALE: "🕒"}


@dataclass
class CiReport:
    """Everything the summary shows; ``drift`` is None when ``--frozen`` was not asked."""

    outcomes: Sequence[StageOutcome]
    locks: Mapping[str, LockFile]
    exit_code: int
    base: str
    metric_changes: Sequence[Change] = ()
    drift: Sequence[StageDrift] | None = None
    notes: list[str] = field(default_factory=list)


def _verdict(report: CiReport) -> str:
    if any(o.outcome is Outcome.FAILED for o in report.outcomes):
        return "❌ a stage failed"
    if report.drift:
        return "❌ lock file out of date"
    if report.exit_code == 3:
        return "⛔ a gate blocked a stage"
    return "✅ passed" if report.exit_code == 0 else f"exit {report.exit_code}"


def _name(o: StageOutcome, several: bool) -> str:
    return f"`{o.pipeline}:{o.stage}`" if several else f"`{o.stage}`"


def _decision_rows(report: CiReport, several: bool) -> list[list[str]]:
    """Gate decisions of this run; for stages that did not ask again (up to date), the ones
    recorded in the lock."""
    rows = []
    for o in report.outcomes:
        records = o.decisions
        source = ""
        if not records:
            entry = report.locks.get(o.pipeline, LockFile(o.pipeline)).stages.get(o.stage)
            records = entry.gates if entry is not None else []
            source = " (recorded)"
        for d in records:
            values = ", ".join(f"`{k}` = {fmt(v)}" for k, v in (d.get("values") or {}).items())
            verdict = "✅ holds" if d.get("holds") else "⛔ fails"
            note = d.get("note") or ""
            rows.append([_name(o, several), f"`{d.get('expr', '')}`", verdict + source,
                         values + (f"; {note}" if note and values else note)])
    return rows


def render(report: CiReport) -> str:
    outcomes = list(report.outcomes)
    several = len({o.pipeline for o in outcomes}) > 1
    lines = [f"## lockgate run: {_verdict(report)}", ""]

    counts = {k: [o for o in outcomes if o.outcome is k] for k in _ORDER}
    if not outcomes:
        lines.append("No stages.")
    else:
        lines.append(", ".join(f"{len(v)} {k.value}" for k, v in counts.items() if v))
        lines.append("")
        for kind, group in counts.items():
            if not group:
                continue
            names = ", ".join(_name(o, several) for o in group)
            lines.append(f"- {_ICON[kind]} **{kind.value}** ({len(group)}): {names}")
            if kind in (Outcome.FAILED, Outcome.BLOCKED, Outcome.SKIPPED, Outcome.CANCELLED):
                for o in group:
                    if o.message:
                        first = o.message.splitlines()[0]
                        lines.append(f"  - {_name(o, several)}: {first}")
    lines.append("")

    rows = _decision_rows(report, several)
    lines.append("### Gate decisions")
    lines.append("")
    if rows:
        lines += ["| stage | gate | decision | values |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    else:
        lines.append("No gates in these pipelines.")
    lines.append("")

    if report.drift is not None:
        lines.append("### Lock files (`--frozen`)")
        lines.append("")
        if not report.drift:
            lines.append("✅ The lock files match the committed ones.")
        else:
            lines.append("❌ The committed lock files are out of date: a spec, code or data change "
                         "was committed without its lock. Run `lockgate run` and commit `pipelines/*.lock`.")
            lines.append("")
            for d in report.drift:
                lines.append(f"- `pipelines/{d.pipeline}.lock`: {d.render()}")
        lines.append("")

    lines.append(f"### Metrics vs `{report.base}`")
    lines.append("")
    lines.append(to_markdown(report.metric_changes, report.base, "this run"))
    for note in report.notes:
        lines += ["", f"> {note}"]
    lines.append("")
    return "\n".join(lines)


def render_drift_text(drift: Sequence[StageDrift]) -> str:
    """The stderr lines for a failed ``--frozen`` check."""
    by_pipeline: dict[str, list[StageDrift]] = {}
    for d in drift:
        by_pipeline.setdefault(d.pipeline, []).append(d)
    lines = []
    for pipeline, items in by_pipeline.items():
        lines.append(f"pipelines/{pipeline}.lock differs from the committed one (HEAD):")
        lines += [f"  {d.render()}" for d in items]
    lines.append("the lock is stale: run `lockgate run` and commit pipelines/*.lock with the change")
    return "\n".join(lines)
