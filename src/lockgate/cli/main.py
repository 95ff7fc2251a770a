"""Placeholder; replaced by the real command group."""

import click


@click.group()
def main() -> None:
    """lockgate."""
