"""`lockgate drift REFERENCE CURRENT`: data drift between two table files or folders."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lockgate.errors import UsageError

METHODS = ["ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"]


def _columns(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


@click.command(short_help="Compare two tables for data drift.")
@click.argument("reference", type=click.Path(path_type=Path))
@click.argument("current", type=click.Path(path_type=Path))
@click.option("--columns", help="Comma-separated columns to test (default: all shared).")
@click.option("--exclude", help="Comma-separated columns to leave out (ids, labels).")
@click.option("--method", type=click.Choice(METHODS), help="One test for every column.")
@click.option("--threshold", type=float, help="Threshold for that test.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML report.")
@click.option("--check", is_flag=True, help="Exit 3 when the dataset drifted.")
def drift(reference: Path, current: Path, columns, exclude, method, threshold, as_json, html_path, check) -> None:
    """Test each column of CURRENT against REFERENCE (parquet, csv, arrow files or folders)
    with Evidently's default choice of test."""
    from lockgate.kernels import drift_table
    from lockgate.reports.drift import drift_html, drift_json
    from lockgate.tables import TableFileError, read_table

    try:
        ref, cur = read_table(reference), read_table(current)
    except TableFileError as exc:
        raise UsageError(str(exc)) from None
    shared = [c for c in ref.column_names if c in set(cur.column_names)]
    wanted = _columns(columns) or [c for c in shared if c not in set(_columns(exclude) or [])]
    for column in wanted:
        if column not in shared:
            side = "reference" if column not in ref.column_names else "current"
            raise UsageError(f"column '{column}' is not in the {side} table ({', '.join(shared)})")
    if not wanted:
        raise UsageError("no columns to compare: the two tables share none")
    try:
        result = drift_table(ref, cur, wanted, method=method, threshold=threshold)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if html_path:
        html_path.write_text(drift_html(result, str(reference), str(current)), encoding="utf-8")
    if as_json:
        click.echo(drift_json(result, str(reference), str(current)))
    else:
        _print_table(result)
    if check and result.dataset_drift:
        sys.exit(3)


def _print_table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for name in ("column", "kind", "test", "statistic", "p_value", "threshold", "drifted", "missing"):
        table.add_column(name, justify="right" if name in ("statistic", "p_value", "threshold", "missing") else "left")
    for row in result.table.to_dicts():
        table.add_row(
            str(row["column"]), str(row["kind"]), str(row["test"]), _num(row["statistic"]),
            _num(row["p_value"]), _num(row["threshold"]),
            "[red]yes[/]" if row["drifted"] else "no", _num(row.get("missing_share")),
        )
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    verdict = "[bold red]dataset drift[/]" if result.dataset_drift else "[green]no dataset drift[/]"
    console.print(f"{result.n_drifted} of {result.table.height} columns drifted "
                  f"({result.share_drifted:.0%}): {verdict}")


def _num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


COMMANDS = [drift]
