"""Domain values: the entity hierarchy workspace → project → environment → service."""

from starform_core.model.cluster import (
    ClusterSettings,
    GatewayRef,
    LoadBalancerSettings,
    ObjectRef,
    PrunePolicy,
)
from starform_core.model.enums import AccessMode, DriftMode, ProbeKind, RunState, ServiceType, Tier
from starform_core.model.project import Environment, Project
from starform_core.model.service import Service
from starform_core.model.tenant import TenantKey
from starform_core.model.vargroup import VarGroup, VarGroupAttachment
from starform_core.model.workload import (
    Autoscaling,
    CronSchedule,
    DriftPolicy,
    Probe,
    Probes,
    Release,
    Resources,
    RevertField,
    Volume,
)

__all__ = [
    "AccessMode",
    "Autoscaling",
    "ClusterSettings",
    "CronSchedule",
    "DriftMode",
    "DriftPolicy",
    "Environment",
    "GatewayRef",
    "LoadBalancerSettings",
    "ObjectRef",
    "Probe",
    "ProbeKind",
    "Probes",
    "Project",
    "PrunePolicy",
    "Release",
    "Resources",
    "RevertField",
    "RunState",
    "Service",
    "ServiceType",
    "TenantKey",
    "Tier",
    "VarGroup",
    "VarGroupAttachment",
    "Volume",
]
