"""The ``shuttle`` command: ``run`` (the agent), ``once`` (one reconcile) and ``plan`` (a dry run)."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
import structlog

from starform_apps.shuttle.app import Shuttle, build_shuttle
from starform_apps.shuttle.config import ShuttleConfig
from starform_core.errors import ContractError, DesiredStateSourceError, StarformError
from starform_core.payload import parse_payload
from starform_core.plan import PlanOptions, plan
from starform_core.ports.source import Fetched
from starform_core.render import render

__all__ = ["main", "shuttle"]


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(),
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.processors.TimeStamper(fmt="iso")],
    )
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


def _options(function: Any) -> Any:
    decorators = [
        click.option("--starbase-url", envvar="STARBASE_URL", required=True, help="Starbase base URL."),
        click.option("--cluster-id", envvar="SHUTTLE_CLUSTER_ID", required=True, help="This cluster's id."),
        click.option(
            "--token", envvar="SHUTTLE_TOKEN", required=True, help="The cluster's agent token (env)."
        ),
        click.option(
            "--state-dir",
            envvar="SHUTTLE_STATE_DIR",
            default="/var/lib/shuttle",
            type=click.Path(path_type=Path),
        ),
        click.option(
            "--kubeconfig", envvar="KUBECONFIG", default=None, help="Kubeconfig (default: in-cluster)."
        ),
        click.option("--interval", envvar="SHUTTLE_INTERVAL", default=30.0, show_default=True, type=float),
        click.option("--metrics-host", envvar="SHUTTLE_METRICS_HOST", default="0.0.0.0", show_default=True),  # noqa: S104
        click.option(
            "--metrics-port", envvar="SHUTTLE_METRICS_PORT", default=9464, show_default=True, type=int
        ),
        click.option("--workers", envvar="SHUTTLE_WORKERS", default=8, show_default=True, type=int),
        click.option("--log-level", envvar="SHUTTLE_LOG_LEVEL", default="info", show_default=True),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def _config(kwargs: dict[str, Any]) -> ShuttleConfig:
    _configure_logging(kwargs.pop("log_level"))
    return ShuttleConfig(**kwargs)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def shuttle() -> None:
    """Shuttle: makes this cluster match what Starbase says."""


@shuttle.command()
@_options
def run(**kwargs: Any) -> None:
    """Run the agent until SIGTERM or SIGINT."""
    agent = _start(_config(kwargs), serve_ops=True)
    signal.signal(signal.SIGTERM, lambda *_: agent.loop.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.loop.stop())
    try:
        agent.loop.run()
    finally:
        agent.stop()


@shuttle.command()
@_options
def once(**kwargs: Any) -> None:
    """Reconcile once, then exit (0 converged, 2 pending or failed, 1 no payload to apply)."""
    agent = _start(_config(kwargs), serve_ops=False)
    try:
        result = agent.loop.run_once()
    finally:
        agent.stop()
    if result.plan is None:
        raise click.ClickException(f"no desired state to apply: {agent.reconciler.last_pull_error}")
    summary = result.plan.summary() if result.plan else {}
    click.echo(json.dumps({"generation": result.generation, "converged": result.converged, "plan": summary}))
    sys.exit(0 if result.converged else 2)


@shuttle.command(name="plan")
@_options
def plan_command(**kwargs: Any) -> None:
    """Dry run: plan the current payload against the live cluster (exit 2 when changes are pending)."""
    agent = _start(_config(kwargs), serve_ops=False)
    try:
        fetched = agent.source.fetch(etag=None)
        if not isinstance(fetched, Fetched):
            raise click.ClickException("Starbase answered 304 to an unconditional request")
        document = parse_payload(fetched.body)
        rendering = render(document)
        the_plan = plan(
            rendering.objects,
            agent.cluster.live_objects(),
            partials=rendering.partials,
            options=PlanOptions(drift_policies=rendering.drift_policies, prune_policy=document.cluster.prune),
        )
    except (ContractError, DesiredStateSourceError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        agent.stop()
    for action in the_plan.actions:
        click.echo(f"{action.kind.value:15} {action.key}  ({getattr(action.reason, 'value', action.reason)})")
    click.echo(json.dumps(the_plan.summary()))
    sys.exit(2 if the_plan.executable else 0)


def _start(config: ShuttleConfig, *, serve_ops: bool) -> Shuttle:
    agent = build_shuttle(config, serve_ops=serve_ops)
    try:
        agent.start()
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc
    return agent


def main() -> None:
    """Run the ``shuttle`` command line."""
    shuttle()
