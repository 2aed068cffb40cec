"""What a plan is computed with: Shuttle's field manager, drift policies, the prune valve."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from starform_core.kube.labels import FIELD_MANAGER
from starform_core.model.cluster import PrunePolicy
from starform_core.model.workload import DriftPolicy
from starform_core.plan.ownership import CONTROLLER_MANAGERS

__all__ = ["PlanOptions"]


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class PlanOptions:
    """Inputs of :func:`~starform_core.plan.planner.plan` besides the objects.

    ``drift_policies`` maps a ``starform.io/service-id`` label value to that service's policy
    (objects without the label, or with an unknown one, are enforced). ``allow_prune`` is
    ``False`` when Starbase is unreachable: nothing new is pruned. ``controller_managers`` are
    field managers whose fields are never drift.
    """

    field_manager: str = FIELD_MANAGER
    drift_policies: Mapping[str, DriftPolicy] = attrs.field(
        factory=dict, converter=_frozen_mapping, eq=False, hash=False
    )
    prune_policy: PrunePolicy = attrs.field(factory=PrunePolicy)
    allow_prune: bool = True
    controller_managers: frozenset[str] = attrs.field(default=CONTROLLER_MANAGERS, converter=frozenset)
