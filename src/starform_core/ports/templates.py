"""Templates: the catalogue of versioned service blueprints, and services made from them.

A published version is immutable. Publishing the same content again is a no-op; other content
under a published version, or a version not above the latest, is a
:class:`~starform_core.errors.StoreConflictError`. Creating a service from a template and
upgrading one are single transactions like every other service write (the cluster's generation
bumps once, one audit entry); a change outside the template's rules is a
:class:`~starform_core.errors.TemplateRuleError` and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import attrs

from starform_core.access import Actor
from starform_core.payload.rows import DeploymentRow, ServiceRow, ServiceVarGroupRow
from starform_core.templates import ServiceSpec, SpecRows, Template, TemplateRef

__all__ = [
    "PublishOutcome",
    "TemplateLink",
    "TemplateRecord",
    "TemplateStore",
    "TemplateSummary",
    "TemplatedService",
    "UpgradeResult",
]


@attrs.frozen
class TemplateRecord:
    """A published template version: the template, when and by whom it was published."""

    template: Template
    created_at: datetime
    published_by: str


@attrs.frozen
class PublishOutcome:
    """The stored version; ``created`` is false when the same content was already published."""

    record: TemplateRecord
    created: bool


@attrs.frozen
class TemplateSummary:
    """One template of the catalogue: its latest version's title and description, all versions."""

    name: str
    latest_version: int
    title: str
    description: str
    versions: tuple[int, ...]


@attrs.frozen
class TemplatedService:
    """A service to create from a template: its rows, its var group attachments, the template.

    ``required_var_keys`` must all be held by the attached var groups.
    """

    rows: SpecRows
    template: TemplateRef
    attachments: tuple[ServiceVarGroupRow, ...] = ()
    required_var_keys: tuple[str, ...] = ()


@attrs.frozen
class TemplateLink:
    """The template a service was made from, and the template's latest version."""

    service_id: str
    service_name: str
    environment_id: str
    template: TemplateRef
    latest_version: int

    @property
    def upgrade_available(self) -> bool:
        """True when a newer version is published (offered, never applied on its own)."""
        return self.latest_version > self.template.version


@attrs.frozen
class UpgradeResult:
    """A service moved to another version: its new row and spec and, if the image changed, the new release."""

    service: ServiceRow
    template: TemplateRef
    spec: ServiceSpec
    deployment: DeploymentRow | None


class TemplateStore(Protocol):
    """The template catalogue and the services made from it."""

    def publish_template(self, template: Template, *, actor: Actor) -> PublishOutcome:
        """Publish a version (idempotent for identical content)."""
        ...

    def get_template(self, name: str, version: int | None = None) -> TemplateRecord:
        """One version (``None``: the latest); ``StoreNotFoundError`` if there is none."""
        ...

    def list_templates(self) -> list[TemplateSummary]:
        """Every template, by name."""
        ...

    def list_template_versions(self, name: str) -> list[TemplateRecord]:
        """Every version of one template, newest first (``StoreNotFoundError`` for an unknown name)."""
        ...

    def create_templated_service(self, service: TemplatedService, *, actor: Actor) -> ServiceRow:
        """Create the service with its volumes, hostnames, attachments and release, linked to its template.

        The attached var groups must hold every required var key of the template.
        """
        ...

    def template_link(self, service_id: str) -> TemplateLink | None:
        """The template a service was made from (``None``: made without one)."""
        ...

    def upgrade_offers(self, project_id: str) -> list[TemplateLink]:
        """The project's services whose template has a newer version."""
        ...

    def upgrade_templated_service(self, service_id: str, version: int, *, actor: Actor) -> UpgradeResult:
        """Move a service to another (newer) version of its template, keeping its customisations.

        Judged by that version's rules (``TemplateRuleError`` naming the rule, nothing written).
        """
        ...
