"""``starform plan`` and ``starform health``: the planner and health assessment from the CLI.

Live objects come from files as ``kubectl get -o yaml`` (or ``-o json``) prints them: single
objects, ``List`` kinds, multi-document YAML streams, or a directory of such files. ``kubectl``
omits ``metadata.managedFields`` unless ``--show-managed-fields`` is given; without them the
planner cannot see fields added out of band nor say who changed what, and both commands say so.

Exit codes of ``starform plan`` (like ``kubectl diff``, with usage errors kept apart):

* 0: nothing to do (also when the plan holds only reports: held, conflict, drift detected; a
  notice on standard error says what needs a human);
* 1: an error (unreadable or invalid input; the message is on standard error);
* 2: a usage error (unknown option, missing argument);
* 3: changes pending (the plan holds actions Shuttle would execute).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

import click

from starform_apps.cli.inputs import load_live_objects as load_objects
from starform_apps.cli.inputs import read_payload
from starform_core.errors import StarformError
from starform_core.health import ServiceHealth, assess_services
from starform_core.payload.document import DesiredState
from starform_core.pipeline import plan_desired_state, plan_document, plan_lines, reports_notice
from starform_core.plan import is_owned
from starform_core.render import Rendering, render

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOTHING_TO_DO",
    "EXIT_PENDING",
    "EXIT_USAGE",
    "health",
    "load_objects",
    "managed_fields_warning",
    "plan_command",
]

EXIT_NOTHING_TO_DO: Final = 0
"""Nothing to execute (the plan may still hold reports for a human)."""
EXIT_ERROR: Final = 1
"""Bad or unreadable input."""
EXIT_USAGE: Final = 2
"""A usage error (click's own code)."""
EXIT_PENDING: Final = 3
"""The plan holds actions Shuttle would execute."""


def managed_fields_warning(live: Sequence[Mapping[str, Any]]) -> str | None:
    """A warning when Shuttle's live objects lack ``metadata.managedFields`` (``None`` if all
    have them: the server writes them on everything Shuttle applies)."""
    owned = [obj for obj in live if is_owned(obj)]
    bare = sum(1 for obj in owned if not (obj.get("metadata") or {}).get("managedFields"))
    if not bare:
        return None
    return (
        f"warning: {bare} of {len(owned)} live objects Shuttle owns have no metadata.managedFields "
        "(kubectl get omits them unless --show-managed-fields is given): fields added out of "
        "band cannot be found, and changes cannot be attributed to who made them"
    )


def _render(document: DesiredState) -> Rendering:
    try:
        return render(document)
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc


_LIVE_HELP = "A file or directory of live objects (kubectl get -o yaml --show-managed-fields)."


@click.command("plan")
@click.option("--payload", "payload_file", required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--live", "live_location", required=True, help=_LIVE_HELP)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plan_command(*, payload_file: str, live_location: str, output: str) -> None:
    """Plan PAYLOAD against live objects.

    Exit 0: nothing to do (or only reports); 1: error; 2: usage error; 3: changes pending.
    """
    document = read_payload(payload_file)
    live = load_objects(live_location)
    try:
        result = plan_desired_state(document, live, rendering=_render(document)).plan
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc
    warning = managed_fields_warning(live)
    if warning:
        click.echo(warning, err=True)
    if output == "json":
        body = plan_document(result)
        body["warnings"] = [warning] if warning else []
        click.echo(json.dumps(body, indent=2, default=str))
    else:
        click.echo("\n".join(plan_lines(result)))
    notice = reports_notice(result)
    if notice:
        click.echo(notice, err=True)
    sys.exit(EXIT_PENDING if result.executable else EXIT_NOTHING_TO_DO)


def _service_json(health: ServiceHealth) -> dict[str, Any]:
    return {
        "name": health.name,
        "status": health.status.value,
        "reason": health.reason,
        "missing": [str(key) for key in health.missing],
        "objects": [
            {"object": str(key), "status": h.status.value, "reason": h.reason} for key, h in health.objects
        ],
    }


def _service_label(service_id: str, health: ServiceHealth) -> str:
    return f"{health.name} ({service_id})" if health.name else service_id


@click.command()
@click.option("--live", "live_location", required=True, help=_LIVE_HELP)
@click.option(
    "--payload",
    "payload_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The desired state to judge against: desired objects not in the cluster are Missing.",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def health(*, live_location: str, payload_file: str | None, output: str) -> None:
    """Print the health of every service (pods included), judged against --payload when given."""
    desired = _render(read_payload(payload_file)).objects if payload_file else None
    live = load_objects(live_location)
    if desired is None:
        click.echo(
            "notice: without --payload, desired objects missing from the cluster go unnoticed", err=True
        )
    services = assess_services(live, desired=desired)
    if output == "json":
        body = {service_id: _service_json(h) for service_id, h in services.items()}
        click.echo(json.dumps(body, indent=2, default=str))
        return
    for service_id, h in services.items():
        click.echo(f"{_service_label(service_id, h)}  {h.status.value:11}  {h.reason}")
        for key in h.missing:
            click.echo(f"    missing: {key}")
    if not services:
        click.echo("no services found")
