"""``starform demo``: the whole loop on embedded defaults."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import click

from starform_apps.demo import run_demo
from starform_apps.starbase.logs import configure_logging
from starform_core.errors import StarformError

__all__ = ["demo"]


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep Shuttle's state directory here (default: a temporary directory, removed at the end).",
)
def demo(*, data_dir: Path | None) -> None:
    """Start PostgreSQL, Starbase, a Kubernetes test server and Shuttle; tell the story; stop."""
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    configure_logging("warning", stream=sys.stderr)
    try:
        run_demo(sys.stdout, data_dir=data_dir)
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc
