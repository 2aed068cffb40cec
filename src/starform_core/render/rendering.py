"""Render a desired-state payload into the Kubernetes objects Shuttle applies."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from starform_core.gc_pause import collection_paused
from starform_core.kube.objects import KubeObject
from starform_core.model.cluster import LoadBalancerSettings
from starform_core.model.workload import DriftPolicy
from starform_core.payload.document import DesiredState
from starform_core.render.apply_order import KeyedObject, sorted_objects
from starform_core.render.loadbalancer import size_unit_partial
from starform_core.render.parts import Sources, payload_parts, render_part
from starform_core.render.vars import VarConflict

__all__ = ["Rendering", "drift_policies_of", "partials_of", "render"]


@attrs.frozen
class Rendering:
    """What one payload renders to.

    ``objects`` are the owned objects (full desired state) in apply order; ``partials`` are
    field-scoped applies on objects Shuttle does not own (the load balancer's size unit);
    ``warnings`` the var group key conflicts; ``drift_policies`` maps service id to its policy.
    Objects are plain JSON-like trees; treat them as read-only (the incremental renderer hands
    the same unchanged object to successive renderings). The ``repr`` counts the objects instead
    of showing them: Secrets carry var group values.
    """

    objects: tuple[KubeObject, ...] = attrs.field(repr=lambda objects: f"<{len(objects)} objects>")
    partials: tuple[KubeObject, ...]
    warnings: tuple[VarConflict, ...]
    drift_policies: Mapping[str, DriftPolicy]


def partials_of(load_balancer: LoadBalancerSettings | None) -> tuple[KubeObject, ...]:
    """The field-scoped applies of a cluster: the load balancer's size unit, when it has one."""
    return () if load_balancer is None else (size_unit_partial(load_balancer),)


def drift_policies_of(payload: DesiredState) -> dict[str, DriftPolicy]:
    """Service id -> drift policy, sorted by service id."""
    return dict(sorted((service.service_id, service.drift) for _, service in payload.services()))


def render(payload: DesiredState) -> Rendering:
    """Render ``payload``: deterministic, pure, the same objects for the same payload.

    Every object is a fresh tree of plain ``dict``/``list`` values shared with no other object.
    This is the reference the incremental renderer (:class:`IncrementalRenderer`) is held to.
    The cyclic garbage collector is paused meanwhile (:func:`~starform_core.gc_pause.collection_paused`):
    the objects are acyclic trees that all stay alive, so a collection would free nothing.
    """
    keyed: list[KeyedObject] = []
    warnings: list[VarConflict] = []
    with collection_paused():
        for _, scope in payload_parts(payload, Sources()):
            part = render_part(scope)
            keyed.extend(part.objects)
            warnings.extend(part.warnings)
        return Rendering(
            objects=tuple(obj for _, obj in sorted_objects(keyed)),
            partials=partials_of(payload.cluster.load_balancer),
            warnings=tuple(warnings),
            drift_policies=drift_policies_of(payload),
        )
