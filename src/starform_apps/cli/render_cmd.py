"""``starform render FILE``: the Kubernetes objects a payload renders to, as a YAML stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
import yaml

from starform_apps.cli.inputs import read_payload
from starform_core.render import render as render_payload
from starform_core.secrets_values import REDACTED

__all__ = ["redact_secret", "render"]


def redact_secret(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` with every Secret ``data``/``stringData`` value replaced by the marker."""
    result = dict(obj)
    if obj.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(obj.get(field), Mapping):
                result[field] = dict.fromkeys(obj[field], REDACTED)
    return result


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--show-secrets", is_flag=True, help="Print var group values (base64) instead of redacting.")
def render(file: str, *, show_secrets: bool) -> None:
    """Render payload FILE (- for stdin): owned objects in apply order, then partials, as YAML.

    Secret values are redacted unless --show-secrets. Var group key conflicts go to stderr.
    """
    document = read_payload(file)
    rendering = render_payload(document)
    objects = [dict(obj) if show_secrets else redact_secret(obj) for obj in rendering.objects]
    stream = yaml.safe_dump_all([*objects, *(dict(p) for p in rendering.partials)], sort_keys=False)
    click.echo(stream, nl=False)
    names = {service.service_id: service.name for _, service in document.services()}
    groups = {group.var_group_id: group.name for project in document.projects for group in project.var_groups}

    def group(var_group_id: str) -> str:
        return f"{groups.get(var_group_id, '?')} ({var_group_id})"

    for conflict in rendering.warnings:
        service = f"{names.get(conflict.service_id, '?')} ({conflict.service_id})"
        setters = ", ".join(group(g) for g in conflict.var_group_ids)
        click.echo(
            f"warning: service {service}: {conflict.key} is set by var groups {setters}; "
            f"{group(conflict.winner)} wins",
            err=True,
        )
