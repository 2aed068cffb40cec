"""``starform demo``: the whole loop on embedded defaults."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import click

from starform_apps.demo import LocalStarform, run_demo
from starform_apps.signals import StopSignal, stop_signals
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
@click.option(
    "--dashboard",
    is_flag=True,
    help="After the story, keep everything running (Shuttle on its 30 s loop) and print the "
    "dashboard's address and a sign-in token; Ctrl-C stops.",
)
def demo(*, data_dir: Path | None, dashboard: bool) -> None:
    """Start PostgreSQL, Starbase, a Kubernetes test server and Shuttle; tell the story; stop."""
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    configure_logging("warning", stream=sys.stderr)
    with stop_signals() as stop:
        linger = (lambda world: _serve_dashboard(world, stop)) if dashboard else None
        try:
            run_demo(sys.stdout, data_dir=data_dir, linger=linger)
        except StarformError as exc:
            raise click.ClickException(str(exc)) from exc


def _serve_dashboard(world: LocalStarform, stop: StopSignal) -> None:
    """Run Shuttle's loop and wait for Ctrl-C while a person looks at the dashboard."""
    if world.shuttle is not None:
        world.shuttle.run_in_thread()
    click.echo(
        f"\nDashboard: {world.base_url}/ui/\n"
        "Sign in with the demo operator's API token (it lives as long as the demo):\n"
        f"{world.token}\n"
        "Ctrl-C stops everything."
    )
    while not stop.wait(1.0):
        pass
