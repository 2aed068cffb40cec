"""The ``shuttle`` command: ``run`` (the agent), ``once`` (one reconcile) and ``plan`` (a dry run).

Exit codes (never ``2`` for a result: click uses it for usage errors):

=====  ==============================================================================
``0``  ``run``: stopped by SIGTERM/SIGINT. ``once``: the generation is applied in full.
       ``plan``: nothing to do (a plan that only reports holds or conflicts included).
``1``  An error: bad configuration, an unreachable Kubernetes API or Starbase, a refused
       token, no payload to apply, an unusable state directory.
``2``  A usage error (unknown flag, bad value).
``3``  ``once``: everything it could do succeeded, but something is held or in the way.
       ``plan``: changes are pending.
``4``  ``once``: actions failed (or were skipped because a dependency failed).
=====  ==============================================================================

Every user error is one ``Error: ...`` line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import click

from starform_apps.shuttle.config import LOG_FORMATS, ShuttleConfig

if TYPE_CHECKING:  # the commands import what they need: --help and --version stay fast
    from starform_apps.shuttle.app import Shuttle
    from starform_apps.shuttle.held import HeldPayload
    from starform_apps.shuttle.reconciler import ReconcileResult
    from starform_core.pipeline import PipelineResult

__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_HELD", "EXIT_OK", "EXIT_PENDING", "main", "shuttle"]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_HELD: Final = 3
EXIT_PENDING: Final = 3
EXIT_FAILED: Final = 4

_EXIT_OF_OUTCOME: Final = {
    "applied": EXIT_OK,
    "held": EXIT_HELD,
    "partial": EXIT_FAILED,
    "failed": EXIT_FAILED,
}

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _stack(*decorators: Decorator) -> Decorator:
    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


_starbase_options = _stack(
    click.option("--starbase-url", envvar="STARBASE_URL", required=True, help="Starbase's base URL."),
    click.option("--cluster-id", envvar="SHUTTLE_CLUSTER_ID", required=True, help="This cluster's id."),
    click.option(
        "--token",
        envvar="SHUTTLE_TOKEN",
        required=True,
        help="The cluster's agent token (pass it in the env).",
    ),
    click.option(
        "--kubeconfig", envvar="KUBECONFIG", default=None, help="A kubeconfig file (default: in-cluster)."
    ),
    click.option(
        "--log-level",
        envvar="SHUTTLE_LOG_LEVEL",
        default="info",
        show_default=True,
        type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    ),
    click.option(
        "--log-format",
        envvar="SHUTTLE_LOG_FORMAT",
        default="json",
        show_default=True,
        type=click.Choice(LOG_FORMATS),
    ),
)
_apply_options = _stack(
    click.option(
        "--state-dir",
        envvar="SHUTTLE_STATE_DIR",
        default="/var/lib/shuttle",
        show_default=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="Where the last good payload and the outbox of reports live.",
    ),
    click.option(
        "--workers",
        envvar="SHUTTLE_WORKERS",
        default=8,
        show_default=True,
        type=click.IntRange(1, 64),
        help="Concurrent Kubernetes writes in one apply phase.",
    ),
    click.option(
        "--outbox-capacity",
        envvar="SHUTTLE_OUTBOX_CAPACITY",
        default=50_000,
        show_default=True,
        type=click.IntRange(min=10),
        help="Reports kept while Starbase cannot take them (beyond: the oldest events are dropped).",
    ),
)
_run_options = _stack(
    click.option(
        "--interval",
        envvar="SHUTTLE_INTERVAL",
        default=30.0,
        show_default=True,
        type=click.FloatRange(min=0.1),
        help="Seconds between periodic reconciles (drift); between polls if Starbase does not long-poll.",
    ),
    click.option(
        "--long-poll-wait",
        envvar="SHUTTLE_LONG_POLL_WAIT",
        default=30,
        show_default=True,
        type=click.IntRange(0, 60),
        help="Seconds Starbase may hold a pull for a change (pull.long_poll_wait; 0: plain polling).",
    ),
    click.option("--metrics-host", envvar="SHUTTLE_METRICS_HOST", default="0.0.0.0", show_default=True),  # noqa: S104
    click.option(
        "--metrics-port",
        envvar="SHUTTLE_METRICS_PORT",
        default=9464,
        show_default=True,
        type=click.IntRange(0, 65535),
    ),
    click.option(
        "--usage-interval",
        envvar="SHUTTLE_USAGE_INTERVAL",
        default=60.0,
        show_default=True,
        type=click.FloatRange(min=1.0, max=300.0),
        help="Seconds between usage snapshots for billing (each covers the window since the last).",
    ),
    click.option(
        "--shutdown-timeout",
        envvar="SHUTTLE_SHUTDOWN_TIMEOUT",
        default=25.0,
        show_default=True,
        type=click.FloatRange(min=1.0),
        help="Seconds to stop in after SIGTERM, flushing the outbox (keep it below the pod's grace period).",
    ),
)


def _config(kwargs: dict[str, Any], **defaults: Any) -> ShuttleConfig:
    from starform_apps.shuttle.logs import configure_logging

    configure_logging(kwargs.pop("log_level"), fmt=kwargs.pop("log_format"))
    return ShuttleConfig(**defaults, **kwargs)


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Every error of the project's hierarchy is a user-facing ``Error:`` line and exit 1."""
    from starform_core.errors import StarformError

    try:
        yield
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="starform", prog_name="shuttle", message="%(prog)s %(version)s")
def shuttle() -> None:
    """Shuttle: makes this cluster match what Starbase says."""


def _agent(
    config: ShuttleConfig,
    *,
    serve_ops: bool,
    stop: threading.Event | None = None,
    wake: threading.Event | None = None,
) -> Shuttle:
    from starform_apps.shuttle.app import build_shuttle

    agent = build_shuttle(config, serve_ops=serve_ops, stop=stop, wake=wake)
    try:
        agent.start()
    except BaseException:
        agent.stop(grace_seconds=0)
        raise
    if not agent.cluster.synced:
        agent.stop(grace_seconds=0)
        _fail("the Kubernetes API did not list every managed kind in time (check RBAC and connectivity)")
    return agent


@shuttle.command()
@_starbase_options
@_apply_options
@_run_options
def run(**kwargs: Any) -> None:
    """Run the agent until SIGTERM or SIGINT (exit 0), flushing the outbox on the way out."""
    stop, wake = threading.Event(), threading.Event()
    signalled: list[float] = []

    def on_signal(*_: object) -> None:  # installed first: a signal while starting stops too
        signalled.append(time.monotonic())
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    config = _config(kwargs)
    with _user_errors():
        agent = _agent(config, serve_ops=True, stop=stop, wake=wake)
    try:
        agent.loop.run()
    finally:
        # the grace period runs from the signal: the reconcile that was under way spent some of it
        spent = time.monotonic() - signalled[0] if signalled else 0.0
        agent.stop(grace_seconds=max(1.0, config.shutdown_timeout - spent))


def _once_line(result: ReconcileResult) -> dict[str, Any]:
    assert result.report is not None
    report = result.report
    return {
        "epoch": report.epoch,
        "generation": report.generation,
        "outcome": report.outcome.value,
        "converged": report.applied,
        "applied_generation": result.applied_generation,
        "starbase": "reachable" if result.source_ok else "unreachable",
        "counts": dict(report.counts),
        "reasons": dict(report.reasons),
        "plan": result.plan.summary() if result.plan is not None else {},
    }


@shuttle.command()
@_starbase_options
@_apply_options
def once(**kwargs: Any) -> None:
    """Reconcile once, then exit: 0 applied, 3 held, 4 failed, 1 error (see --help of shuttle)."""
    config = _config(kwargs, usage_interval=None)  # one reconcile observes no usage window
    with _user_errors():
        agent = _agent(config, serve_ops=False)
        try:
            result = agent.loop.run_once()
        finally:
            agent.stop()
    if result.report is None:
        _fail(f"no desired state to apply: {result.pulled.error or 'Starbase sent none'}")
    if not result.source_ok:
        click.echo(
            f"warning: Starbase unreachable ({result.pulled.error}); enforced the last good payload", err=True
        )
    click.echo(json.dumps(_once_line(result)))
    sys.exit(_EXIT_OF_OUTCOME[result.report.outcome.value])


def _plan(config: ShuttleConfig) -> tuple[HeldPayload, PipelineResult]:
    """Fetch the payload unconditionally and plan it against the live cluster (no state written)."""
    import threading

    from starform_apps.shuttle.app import connect
    from starform_apps.shuttle.held import HeldPayload
    from starform_apps.shuttle.live import LiveScreens
    from starform_apps.shuttle.metrics import ShuttleMetrics
    from starform_apps.shuttle.planning import PlanStep
    from starform_core.errors import ContractError
    from starform_core.payload import parse_payload
    from starform_core.ports.source import Fetched

    metrics = ShuttleMetrics()
    cluster, source = connect(config, metrics, wake=threading.Event())
    try:
        fetched = source.fetch(etag=None)
        if not isinstance(fetched, Fetched):
            _fail("Starbase answered 304 to an unconditional request")
        try:
            held = HeldPayload(document=parse_payload(fetched.body), body=fetched.body, etag=fetched.etag)
        except ContractError as exc:
            _fail(f"invalid payload at {exc.pointer or '/'}: {exc.reason}")
        if not cluster.start(sync_timeout=60):
            _fail("the Kubernetes API did not list every managed kind in time (check RBAC and connectivity)")
        screens = LiveScreens.counted_by(metrics.live_objects_invalid)
        planned = PlanStep(cluster, screens=screens).plan(held, allow_prune=True, reuse=False)
    finally:
        cluster.stop()
        source.close()
    return held, planned.result


@shuttle.command(name="plan")
@_starbase_options
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plan_command(output: str, **kwargs: Any) -> None:
    """Dry run: plan the current payload against the live cluster (0 nothing to do, 3 changes pending)."""
    from starform_core.pipeline import plan_document, plan_lines, reports_notice

    config = _config(kwargs, state_dir=Path("/nonexistent"))  # plan writes no state
    with _user_errors():
        held, result = _plan(config)
    the_plan = result.plan
    deferred = [f"{kind}.{group}" for group, kind in result.deferred_kinds]
    if output == "json":
        document = plan_document(the_plan)
        document.update(epoch=held.version[0], generation=held.version[1], deferredKinds=deferred)
        click.echo(json.dumps(document, indent=2))
    else:
        for line in plan_lines(the_plan):
            click.echo(line)
        for kind in deferred:
            click.echo(f"deferred: {kind} is not served by this cluster")
    notice = reports_notice(the_plan)
    if notice:
        click.echo(notice, err=True)
    sys.exit(EXIT_PENDING if the_plan.executable else EXIT_OK)


def main() -> None:
    """Run the ``shuttle`` command line."""
    shuttle()
