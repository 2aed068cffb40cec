"""Live objects as the API server serves them back after Shuttle applied a payload."""

from __future__ import annotations

from typing import Any

from tests.property.ssa_model import Cluster

from starform_core.payload.document import DesiredState
from starform_core.plan import PlanOptions, plan
from starform_core.render import render


def applied_objects(document: DesiredState) -> list[dict[str, Any]]:
    """``document`` rendered, planned and applied to a server-side-apply model: defaults, status
    and managedFields included (the gateway's own partial owner applied first)."""
    rendering = render(document)
    cluster = Cluster()
    for partial in rendering.partials:
        cluster.apply(partial, "envoy-gateway")
    options = PlanOptions(drift_policies=rendering.drift_policies)
    cluster.execute(plan(rendering.objects, [], partials=rendering.partials, options=options))
    return cluster.live()
