"""Closed vocabularies of the domain."""

from __future__ import annotations

import enum

__all__ = ["AccessMode", "AdoptionPolicy", "DriftMode", "ProbeKind", "RunState", "ServiceType", "Tier"]


class ServiceType(enum.StrEnum):
    """How a service runs: web (HTTP with a route), worker (no ingress) or cron (a CronJob)."""

    WEB = "web"
    WORKER = "worker"
    CRON = "cron"


class RunState(enum.StrEnum):
    """The desired run state: ``paused`` scales to zero / suspends, never deletes."""

    ACTIVE = "active"
    PAUSED = "paused"


class Tier(enum.StrEnum):
    """A project's plan tier; it selects the namespace quota and limit ranges."""

    FREE = "free"
    HOBBY = "hobby"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class ProbeKind(enum.StrEnum):
    """How a health probe checks a container."""

    HTTP = "http"
    TCP = "tcp"
    GRPC = "grpc"


class AccessMode(enum.StrEnum):
    """Volume access modes Starform offers."""

    READ_WRITE_ONCE = "ReadWriteOnce"
    READ_WRITE_MANY = "ReadWriteMany"


class AdoptionPolicy(enum.StrEnum):
    """Who adopts a value reported under the ``adopt`` drift mode: a user (``manual``), or
    Starbase itself when the change is inside the service's template rules (``auto``)."""

    MANUAL = "manual"
    AUTO = "auto"


class DriftMode(enum.StrEnum):
    """What Shuttle does about out-of-band changes to a service's objects (seed 004).

    ``enforce`` reverts them; ``detect`` reports them and leaves the live value alone; ``adopt``
    leaves out-of-band values of the fields Starbase can take into the desired spec
    (:mod:`starform_core.adopt`) alone and reports them for adoption (Starbase adopts or rejects
    them; a rejected value is reverted), and reverts every other drift as ``enforce`` does.
    """

    ENFORCE = "enforce"
    DETECT = "detect"
    ADOPT = "adopt"
