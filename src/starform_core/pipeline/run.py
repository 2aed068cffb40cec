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

__all__ = ["Kind", "PipelineResult", "PlanInputs", "plan_desired_state", "plan_inputs", "rendered_kinds"]

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
    return frozenset(map(_kind_of, rendering.objects))


def _kind_of(obj: KubeObject) -> Kind:
    return (str(obj.get("apiVersion", "")).rpartition("/")[0], str(obj.get("kind", "")))


def _of_kinds(objects: tuple[KubeObject, ...], kinds: frozenset[Kind]) -> tuple[KubeObject, ...]:
    """``objects`` of ``kinds`` (all of them, the same tuple, when every kind is there)."""
    kept = tuple(obj for obj in objects if _kind_of(obj) in kinds)
    return objects if len(kept) == len(objects) else kept


def _identity(obj: KubeObject) -> tuple[str, str, str, str]:
    key = key_of(obj)
    return (key.group, key.kind, key.namespace, key.name)


@attrs.frozen
class PlanInputs:
    """What a plan is made of once the rendering is known: the desired objects (of served kinds,
    readable live), those held because their live object is unreadable, the deferred kinds, the
    live objects (targets included once) and the plan options."""

    rendering: Rendering
    desired: tuple[KubeObject, ...]
    held: tuple[Held, ...]
    deferred_kinds: tuple[Kind, ...]
    live: list[KubeObject]
    options: PlanOptions

    def result(self, planned: Plan) -> PipelineResult:
        """The pipeline's result from the plan of these inputs (the held objects added)."""
        if self.held:
            planned = attrs.evolve(planned, actions=(*planned.actions, *self.held))
        return PipelineResult(
            rendering=self.rendering, desired=self.desired, deferred_kinds=self.deferred_kinds, plan=planned
        )


def plan_inputs(
    document: DesiredState,
    rendering: Rendering,
    live: Iterable[KubeObject],
    *,
    targets: Iterable[KubeObject] = (),
    served_kinds: frozenset[Kind] | None = None,
    allow_prune: bool = True,
    unreadable: frozenset[ObjectKey] = frozenset(),
) -> PlanInputs:
    """The inputs of the plan of ``rendering`` (of ``document``) against ``live`` (arguments as
    :func:`plan_desired_state`'s)."""
    served = rendering.objects if served_kinds is None else _of_kinds(rendering.objects, served_kinds)
    desired: tuple[KubeObject, ...] = served
    held: tuple[Held, ...] = ()
    if unreadable:
        desired = tuple(obj for obj in served if key_of(obj) not in unreadable)
        held = tuple(
            Held(key_of(obj), Reason.LIVE_OBJECT_INVALID) for obj in served if key_of(obj) in unreadable
        )
    deferred = () if served_kinds is None else tuple(sorted(rendered_kinds(rendering) - served_kinds))
    live_objects = list(live)
    extra = list(targets)
    if extra:
        seen = {_identity(obj) for obj in live_objects}
        live_objects.extend(obj for obj in extra if _identity(obj) not in seen)
    options = PlanOptions(
        drift_policies=rendering.drift_policies,
        prune_policy=document.cluster.prune,
        allow_prune=allow_prune,
    )
    return PlanInputs(rendering, desired, held, deferred, live_objects, options)


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
    inputs = plan_inputs(
        document,
        rendering,
        live,
        targets=targets,
        served_kinds=served_kinds,
        allow_prune=allow_prune,
        unreadable=unreadable,
    )
    planned = plan(inputs.desired, inputs.live, partials=rendering.partials, options=inputs.options)
    return inputs.result(planned)
