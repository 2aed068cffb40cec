"""Parse-free core of a reconcile: render (once per payload), drop unserved kinds, plan.

The inputs are everything a plan depends on and nothing else: the payload, the live objects,
the objects the partials target (the load balancer, which Shuttle does not own), the kinds the
cluster serves, whether pruning is allowed, and which live objects could not be read (they
failed :func:`~starform_core.kube.validate_live.validate_live_objects`). No I/O: callers read
the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

import attrs

from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.payload.document import DesiredState
from starform_core.plan import Held, Plan, PlanOptions, Reason, plan
from starform_core.render import Rendering, render

__all__ = ["Kind", "PipelineResult", "plan_desired_state", "rendered_kinds"]

Kind: TypeAlias = tuple[str, str]
"""A kind as (API group, kind), e.g. ``("gateway.networking.k8s.io", "HTTPRoute")``."""


@attrs.frozen
class PipelineResult:
    """What a payload plans to against a live view.

    ``desired`` are the rendered objects that went into the plan (those of served kinds whose
    live object could be read); ``deferred_kinds`` the rendered kinds the cluster does not serve
    (left out of the plan, so neither created nor reported missing: a CRD such as the Gateway
    API is not installed).
    """

    rendering: Rendering
    desired: tuple[KubeObject, ...]
    deferred_kinds: tuple[Kind, ...]
    plan: Plan


def rendered_kinds(rendering: Rendering) -> frozenset[Kind]:
    """Every (group, kind) the rendering holds: what to ask the cluster whether it serves."""
    return frozenset((key.group, key.kind) for key in map(key_of, rendering.objects))


def _identity(obj: KubeObject) -> tuple[str, str, str, str]:
    key = key_of(obj)
    return (key.group, key.kind, key.namespace, key.name)


def plan_desired_state(
    document: DesiredState,
    live: Iterable[KubeObject],
    *,
    targets: Iterable[KubeObject] = (),
    served_kinds: frozenset[Kind] | None = None,
    allow_prune: bool = True,
    rendering: Rendering | None = None,
    unreadable: frozenset[ObjectKey] = frozenset(),
) -> PipelineResult:
    """Render ``document`` (or reuse ``rendering``, its memo) and plan it against ``live``.

    ``targets`` are the live objects the partials apply to, when the caller read them apart
    from ``live`` (one already in ``live`` is not counted twice); ``served_kinds`` the kinds the
    cluster serves (``None``: every kind); ``allow_prune`` is ``False`` while the payload may be
    outdated (Starbase unreachable), so nothing new is pruned. ``unreadable`` are the identities
    of live objects the caller left out of ``live`` because they are malformed: what is there is
    unknown, so a desired object of that identity is held (``live-object-invalid``), never
    applied over it, and one that is not desired is never pruned (it is not in ``live``).
    """
    rendering = rendering if rendering is not None else render(document)
    served = tuple(
        obj
        for obj in rendering.objects
        if served_kinds is None or (key_of(obj).group, key_of(obj).kind) in served_kinds
    )
    desired = tuple(obj for obj in served if key_of(obj) not in unreadable)
    held = tuple(Held(key_of(obj), Reason.LIVE_OBJECT_INVALID) for obj in served if key_of(obj) in unreadable)
    deferred = () if served_kinds is None else tuple(sorted(rendered_kinds(rendering) - served_kinds))
    live_objects = list(live)
    seen = {_identity(obj) for obj in live_objects}
    live_objects.extend(obj for obj in targets if _identity(obj) not in seen)
    options = PlanOptions(
        drift_policies=rendering.drift_policies,
        prune_policy=document.cluster.prune,
        allow_prune=allow_prune,
    )
    result = plan(desired, live_objects, partials=rendering.partials, options=options)
    if held:
        result = attrs.evolve(result, actions=(*result.actions, *held))
    return PipelineResult(rendering=rendering, desired=desired, deferred_kinds=deferred, plan=result)
