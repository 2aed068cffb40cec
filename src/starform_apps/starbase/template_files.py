"""Template files (YAML or JSON) and the templates Starbase ships, and publishing them.

A file holds one template's JSON form (see :mod:`starform_core.templates.template`) as YAML or
JSON; it is read strictly (no duplicate keys, aliases, dates or non-JSON values) and at most
:data:`TEMPLATE_FILE_MAX_BYTES`. The shipped templates (a web app, a worker, a cron job, a
Minecraft server) are package data of ``starform_apps.starbase.shipped_templates``;
:func:`publish_shipped` publishes each one that is not yet published, and is a no-op when all
are (``starbase migrate`` and ``starbase serve`` call it).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any, Final

import attrs
import structlog
import yaml

from starform_apps.cli.strict_yaml import YAML_MAX_DEPTH, StrictLoader
from starform_core.access import Actor
from starform_core.errors import ContractError, StoreConflictError, TemplateError
from starform_core.ports.templates import PublishOutcome, TemplateStore
from starform_core.strict_json import check_tree
from starform_core.templates import Template, template_from_json

__all__ = [
    "SHIPPED_PACKAGE",
    "TEMPLATE_FILE_MAX_BYTES",
    "ShippedResult",
    "publish_shipped",
    "read_template",
    "shipped_templates",
]

TEMPLATE_FILE_MAX_BYTES: Final = 256 * 1024
"""The largest template file read."""
SHIPPED_PACKAGE: Final = "starform_apps.starbase.shipped_templates"
"""The package whose ``*.yaml`` files are the shipped templates."""

_log = structlog.get_logger("starbase.templates")


def _document(text: str | bytes) -> Any:
    if len(text) > TEMPLATE_FILE_MAX_BYTES:
        raise TemplateError("", f"a template file must be at most {TEMPLATE_FILE_MAX_BYTES // 1024} KiB")
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise TemplateError("", f"is not valid YAML or JSON ({exc.problem}{where})") from exc
    except yaml.YAMLError as exc:
        raise TemplateError("", "is not valid YAML or JSON") from exc
    try:
        check_tree(data, max_depth=YAML_MAX_DEPTH)
    except ContractError as exc:
        raise TemplateError(exc.pointer, exc.reason) from exc
    return data


def read_template(text: str | bytes) -> Template:
    """The template a file's text holds (:class:`TemplateError` naming the pointer otherwise)."""
    return template_from_json(_document(text))


def shipped_templates() -> list[Template]:
    """The templates Starbase ships, by name."""
    files = sorted(
        (entry for entry in resources.files(SHIPPED_PACKAGE).iterdir() if entry.name.endswith(".yaml")),
        key=lambda entry: entry.name,
    )
    return [read_template(entry.read_bytes()) for entry in files]


@attrs.frozen
class ShippedResult:
    """What publishing one shipped template did: ``published``, ``unchanged`` or ``conflict``."""

    name: str
    version: int
    result: str


def _publish_one(store: TemplateStore, template: Template, actor: Actor) -> ShippedResult:
    try:
        outcome: PublishOutcome = store.publish_template(template, actor=actor)
    except StoreConflictError as exc:
        _log.warning(
            "shipped template not published",
            template=template.name,
            version=template.version,
            reason=str(exc),
        )
        return ShippedResult(template.name, template.version, "conflict")
    return ShippedResult(template.name, template.version, "published" if outcome.created else "unchanged")


def publish_shipped(
    store: TemplateStore, *, actor: Actor, templates: Iterable[Template] | None = None
) -> list[ShippedResult]:
    """Publish every shipped template not yet published (idempotent).

    A name whose version is already published with other content, or whose latest published
    version is newer, is left alone with a WARNING line (``conflict``): an operator's own
    version always wins over the shipped one.
    """
    return [_publish_one(store, t, actor) for t in (shipped_templates() if templates is None else templates)]
