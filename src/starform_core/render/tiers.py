"""The tier table: what each plan tier may use in its project namespace (one place only).

Rendered as the namespace's ResourceQuota and LimitRange; docs/kubernetes-objects.md shows the
same table (a test keeps the two in step). Billing does not read these numbers: Starbase bills
from pod requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

from starform_core.model.enums import Tier

__all__ = ["TIER_LIMITS", "TierLimits", "limits_for"]


@attrs.frozen
class TierLimits:
    """One tier's namespace limits (Kubernetes quantities as strings).

    The quota caps the namespace's total requests, pods, claims and storage and forbids
    LoadBalancer and NodePort Services. The LimitRange caps each container (its default limit is
    the cap, so a container without limits may burst up to it) and each claim.
    """

    requests_cpu: str
    requests_memory: str
    pods: int
    persistent_volume_claims: int
    requests_storage: str
    container_max_cpu: str
    container_max_memory: str
    container_default_request_cpu: str
    container_default_request_memory: str
    claim_max_storage: str


TIER_LIMITS: Final[Mapping[Tier, TierLimits]] = MappingProxyType(
    {
        Tier.FREE: TierLimits(
            requests_cpu="1",
            requests_memory="2Gi",
            pods=10,
            persistent_volume_claims=2,
            requests_storage="5Gi",
            container_max_cpu="1",
            container_max_memory="1Gi",
            container_default_request_cpu="100m",
            container_default_request_memory="128Mi",
            claim_max_storage="5Gi",
        ),
        Tier.HOBBY: TierLimits(
            requests_cpu="4",
            requests_memory="8Gi",
            pods=50,
            persistent_volume_claims=10,
            requests_storage="50Gi",
            container_max_cpu="2",
            container_max_memory="4Gi",
            container_default_request_cpu="100m",
            container_default_request_memory="128Mi",
            claim_max_storage="50Gi",
        ),
        Tier.PRO: TierLimits(
            requests_cpu="16",
            requests_memory="64Gi",
            pods=200,
            persistent_volume_claims=50,
            requests_storage="500Gi",
            container_max_cpu="8",
            container_max_memory="32Gi",
            container_default_request_cpu="100m",
            container_default_request_memory="128Mi",
            claim_max_storage="500Gi",
        ),
        Tier.ENTERPRISE: TierLimits(
            requests_cpu="64",
            requests_memory="256Gi",
            pods=1000,
            persistent_volume_claims=200,
            requests_storage="4Ti",
            container_max_cpu="32",
            container_max_memory="128Gi",
            container_default_request_cpu="100m",
            container_default_request_memory="128Mi",
            claim_max_storage="2Ti",
        ),
    }
)
"""Tier -> namespace limits. Every :class:`~starform_core.model.enums.Tier` has a row."""


def limits_for(tier: Tier) -> TierLimits:
    """The namespace limits of ``tier``."""
    return TIER_LIMITS[tier]
