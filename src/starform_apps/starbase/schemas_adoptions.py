"""Request and response bodies of Adopt and the observed objects (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from starform_apps.starbase.validators import AgentTimestamp

__all__ = [
    "AdoptionOut",
    "AdoptionProblemOut",
    "DriftAccepted",
    "DriftFieldIn",
    "DriftObjectIn",
    "DriftReportIn",
    "DriftReportsIn",
    "ServiceObjectOut",
]

_VALUE = Field(min_length=1, max_length=1024, pattern=r"^[^\x00-\x1f\x7f]*$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class _Open(BaseModel):
    """Agent bodies tolerate fields a newer agent adds (additive changes within v1)."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)


class DriftObjectIn(_Open):
    """The object whose fields drifted."""

    kind: str = Field(pattern=r"^[A-Z][A-Za-z0-9]{0,62}$")
    namespace: str = Field(default="", max_length=253, pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")
    name: str = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    uid: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9-]+$")


class DriftFieldIn(_Open):
    """One field: its JSON pointer, the live and desired values (compact JSON), who wrote it."""

    path: str = Field(min_length=2, max_length=1024, pattern=r"^(/([^/~\x00-\x1f\x7f]|~[01])*)+$")
    live: str | None = _VALUE
    desired: str | None = Field(default=None, max_length=1024)
    manager: str | None = Field(default=None, max_length=200)


class DriftReportIn(_Open):
    """One drift report of the agent (``adopt`` policy)."""

    report_id: str = Field(min_length=1, max_length=200)
    service_id: UUID
    object: DriftObjectIn
    fields: list[DriftFieldIn] = Field(max_length=100)
    epoch: int | None = Field(default=None, ge=0, le=2**53 - 1)
    generation: int | None = Field(default=None, ge=0, le=2**53 - 1)
    reported_at: AgentTimestamp | None = None


class DriftReportsIn(_In):
    """A batch of drift reports."""

    reports: list[DriftReportIn] = Field(max_length=200)


class DriftAccepted(BaseModel):
    """How many reports were received and how many new adoptions they made."""

    received: int
    adoptions: int


class AdoptionProblemOut(BaseModel):
    """A template rule the adopted value breaks."""

    pointer: str
    rule: str
    reason: str
    template: str | None = None


class AdoptionOut(BaseModel):
    """One adoption: the object and field, the live and desired values, where it stands."""

    id: UUID
    service_id: UUID
    kind: str
    namespace: str
    name: str
    uid: str | None
    field: str
    spec_field: str
    live: str
    desired: str | None
    manager: str | None
    status: Literal["pending", "adopted", "rejected", "reverted", "superseded"]
    within_rules: bool | None
    problems: list[AdoptionProblemOut]
    decided_by: str | None
    decided_at: datetime | None
    generation: int | None
    first_reported_at: datetime
    last_reported_at: datetime


class ServiceObjectOut(BaseModel):
    """An object of a service by UID, with its small observed snapshot."""

    kind: str
    namespace: str
    name: str
    uid: str
    first_seen_at: datetime
    last_seen_at: datetime
    current: bool
    present: bool
    stale: bool
    observed: dict[str, Any]
