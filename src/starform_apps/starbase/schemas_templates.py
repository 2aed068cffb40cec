"""Request and response bodies of the template API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from starform_apps.starbase.schemas import ServiceOut
from starform_apps.starbase.validators import JsonObject

__all__ = [
    "TemplateIn",
    "TemplateLinkOut",
    "TemplateOut",
    "TemplateRefIn",
    "TemplateRefOut",
    "TemplateSummaryOut",
    "TemplateUpgradeIn",
    "TemplatedServiceIn",
    "TemplatedServiceOut",
    "VarGroupLinkIn",
]

_VERSION = Field(ge=1, le=2**31 - 1, strict=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class TemplateIn(_In):
    """Publish a template version (operators): its spec and allowed mutations (JSON Schema)."""

    name: str = Field(min_length=1, max_length=40)
    version: int = _VERSION
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    spec: dict[str, Any]
    allowed_mutations: dict[str, Any] = Field(default_factory=dict)


class TemplateOut(BaseModel):
    """One published template version."""

    name: str
    version: int
    title: str
    description: str
    spec: dict[str, Any]
    allowed_mutations: dict[str, Any]
    digest: str = Field(description="sha256 of the content (all but the version)")
    published_by: str
    created_at: datetime


class TemplateSummaryOut(BaseModel):
    """A template of the catalogue: its latest version's title and description, every version."""

    name: str
    latest_version: int
    title: str
    description: str
    versions: list[int]


class TemplateRefIn(_In):
    """Which template: its name and a version (omitted: the latest)."""

    name: str = Field(min_length=1, max_length=40)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, strict=True)


class TemplateRefOut(BaseModel):
    """A template name and version."""

    name: str
    version: int


class VarGroupLinkIn(_In):
    """A var group to attach at creation, at an order (higher wins on duplicate keys)."""

    var_group_id: UUID
    attach_order: int = Field(ge=0, le=10_000, strict=True)


class TemplatedServiceIn(_In):
    """Create a service from a template with changes inside its allowed mutations."""

    environment_id: UUID
    name: str = Field(min_length=1, max_length=63)
    template: TemplateRefIn
    changes: JsonObject = Field(
        default_factory=dict, description="a JSON merge patch over the template's spec (null removes)"
    )
    var_groups: list[VarGroupLinkIn] = Field(default_factory=list, max_length=100)


class TemplatedServiceOut(BaseModel):
    """A service made from (or upgraded to) a template version, with the spec it runs."""

    service: ServiceOut
    template: TemplateRefOut
    spec: dict[str, Any]


class TemplateUpgradeIn(_In):
    """Move a service to a newer version of its template (omitted: the latest)."""

    version: int | None = Field(default=None, ge=1, le=2**31 - 1, strict=True)


class TemplateLinkOut(BaseModel):
    """The template a service was made from, and whether a newer version is offered."""

    service_id: UUID
    service_name: str
    environment_id: UUID
    template: TemplateRefOut
    latest_version: int
    upgrade_available: bool
