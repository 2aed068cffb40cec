"""``starform plan`` and ``starform health``: the planner and health assessment from the CLI.

Live objects come from files as ``kubectl get -o yaml`` (or ``-o json``) prints them: single
objects, ``List`` kinds, multi-document YAML streams, or a directory of such files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import yaml

from starform_apps.cli.payload_cmd import read_payload_file
from starform_core.errors import ContractError, StarformError
from starform_core.health import assess_services
from starform_core.payload.contract import parse_payload
from starform_core.pipeline import plan_desired_state
from starform_core.plan import Plan

__all__ = ["health", "load_objects", "plan_command", "plan_to_json"]

_SUFFIXES = (".yaml", ".yml", ".json")


def _flatten(document: Any, source: str) -> Iterator[dict[str, Any]]:
    if document is None:
        return
    if not isinstance(document, Mapping):
        raise click.ClickException(f"{source}: expected Kubernetes objects, got {type(document).__name__}")
    kind = str(document.get("kind", ""))
    if kind.endswith("List") and isinstance(document.get("items"), list):
        for item in document["items"]:
            yield from _flatten(item, source)
        return
    if not kind or "metadata" not in document:
        raise click.ClickException(f"{source}: a document without kind or metadata is not an object")
    yield dict(document)


def _load_file(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise click.ClickException(f"{path}: not valid YAML or JSON{where}") from exc
    return [obj for document in documents for obj in _flatten(document, str(path))]


def load_objects(location: str) -> list[dict[str, Any]]:
    """Every Kubernetes object in a file or a directory (its ``.yaml``/``.yml``/``.json`` files)."""
    path = Path(location)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
        return [obj for file in files for obj in _load_file(file)]
    if not path.exists():
        raise click.ClickException(f"{location} does not exist")
    return _load_file(path)


def plan_to_json(result: Plan) -> dict[str, Any]:
    """A JSON-ready view of a plan (no apply bodies: they may carry secret values)."""
    actions = []
    for action in result.actions:
        entry: dict[str, Any] = {
            "kind": action.kind.value,
            "object": str(action.key),
            "apiVersion": action.key.api_version,
            "reason": action.reason.value,
        }
        changes = getattr(action, "changes", ())
        if changes:
            entry["changes"] = [
                {
                    "path": c.path,
                    "live": c.live,
                    "desired": c.desired,
                    "redacted": c.redacted,
                    "manager": c.manager,
                    "time": c.time,
                }
                for c in changes
            ]
        paths = getattr(action, "paths", None)
        if paths:
            entry["paths"] = list(paths)
        actions.append(entry)
    prune = result.prune
    return {
        "summary": result.summary(),
        "prune": {
            "owned": prune.owned,
            "wouldDelete": prune.would_delete,
            "held": prune.held,
            "reason": prune.reason.value if prune.reason else None,
        },
        "actions": actions,
    }


def _print_text(result: Plan) -> None:
    for action in result.actions:
        click.echo(f"{action.kind.value:15} {action.key}  ({action.reason.value})")
        for change in getattr(action, "changes", ()):
            click.echo(f"    {change}")
    summary = ", ".join(f"{count} {kind}" for kind, count in result.summary().items() if count)
    click.echo(f"plan: {summary or 'nothing'}")
    if result.prune_held and result.prune.reason is not None:
        click.echo(
            f"prune held ({result.prune.reason.value}): {result.prune.would_delete} of "
            f"{result.prune.owned} owned objects would be deleted"
        )


@click.command("plan")
@click.option("--payload", "payload_file", required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--live", "live_location", required=True, help="A file or directory of live objects.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plan_command(*, payload_file: str, live_location: str, output: str) -> None:
    """Plan PAYLOAD against live objects: exit 0 when nothing is to do, 2 when it is not, 1 on error."""
    try:
        document = parse_payload(read_payload_file(payload_file))
    except ContractError as exc:
        raise click.ClickException(f"invalid payload: {exc.pointer or '/'}: {exc.reason}") from exc
    live = load_objects(live_location)
    try:
        result = plan_desired_state(document, live).plan
    except StarformError as exc:
        raise click.ClickException(str(exc)) from exc
    if output == "json":
        click.echo(json.dumps(plan_to_json(result), indent=2))
    else:
        _print_text(result)
    sys.exit(0 if result.is_empty else 2)


@click.command()
@click.option("--live", "live_location", required=True, help="A file or directory of live objects.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def health(*, live_location: str, output: str) -> None:
    """Print the health of every service found among the live objects (pods included)."""
    services = assess_services(load_objects(live_location))
    if output == "json":
        body = {
            service_id: {"status": h.status.value, "reason": h.reason} for service_id, h in services.items()
        }
        click.echo(json.dumps(body, indent=2))
        return
    for service_id, h in services.items():
        click.echo(f"{service_id}  {h.status.value:11}  {h.reason}")
    if not services:
        click.echo("no services found")
