"""Plan: read what the plan depends on from the cluster, then run the one plan pipeline.

The inputs are read here and nowhere else: the watch cache (no API call), one GET per
load-balancer target (an object Shuttle does not own), and which rendered kinds the cluster
serves. What is read is screened first (:mod:`~starform_apps.shuttle.live`): a malformed object
is left out, and its identity is handed to the pipeline as unreadable.
:func:`~starform_core.pipeline.plan_desired_state` does the rest, the same function ``shuttle
plan`` and ``starform plan`` call. A plan that needed nothing is reused while none of
its inputs changed (same ETag, cache revision, target versions, prune permission), at most
``full_plan_seconds``. Planning is incremental
(:class:`~starform_core.pipeline.IncrementalPipeline`): a new payload re-renders only the
services whose inputs changed, and only the objects whose desired or live version changed are
planned again; the result is the full pipeline's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from starform_apps.shuttle.held import HeldPayload
from starform_apps.shuttle.live import LiveScreens
from starform_core.errors import ClusterApiError
from starform_core.kube.labels import service_id_of
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.pipeline import IncrementalPipeline, Kind, PipelineResult
from starform_core.ports.cluster import ClusterPort
from starform_core.render import Rendering

__all__ = ["PlanStep", "Planned"]

_log = logging.getLogger("starform.shuttle")


@attrs.frozen
class Planned:
    """A plan and what it was made from.

    ``fresh`` is False when an earlier plan was reused; ``services`` names the service of every
    live owned object (deletions report under their service); ``unread_targets`` the partials
    whose target could not be read (their hold is not a missing target: the read failed).
    """

    result: PipelineResult
    fresh: bool
    services: Mapping[ObjectKey, str] = attrs.field(factory=dict)
    unread_targets: tuple[str, ...] = ()


def _services(live: Sequence[KubeObject]) -> dict[ObjectKey, str]:
    found: dict[ObjectKey, str] = {}
    for obj in live:
        service = service_id_of(obj)
        if service:
            found[key_of(obj)] = service
    return found


class PlanStep:
    """Reads the cluster's view and plans a held payload against it."""

    def __init__(
        self,
        cluster: ClusterPort,
        *,
        screens: LiveScreens,
        full_plan_seconds: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cluster = cluster
        self._screens = screens
        self._full_plan_every = full_plan_seconds
        self._monotonic = monotonic
        self._pipeline = IncrementalPipeline()
        self._last: tuple[tuple[object, ...], Planned, float] | None = None

    def forget(self) -> None:
        """Drop the reusable plan and what the pipeline remembers (a new epoch is applied from
        scratch)."""
        self._last = None
        self._pipeline = IncrementalPipeline()

    def rendering(self, held: HeldPayload) -> Rendering:
        """The rendering of ``held`` (rendered once per payload, incrementally from the last)."""
        self._pipeline, delta = self._pipeline.rendered(held.document)
        if delta is not None:
            _log.debug(
                "rendered",
                extra={"services": len(delta.services), "objects_changed": delta.objects_changed},
            )
        return self._pipeline.renderer.rendering

    def served_kinds(self, rendering: Rendering) -> frozenset[Kind]:
        """The rendered kinds the cluster serves (a missing CRD leaves its kind out)."""
        first: dict[Kind, ObjectKey] = {}
        for obj in rendering.objects:
            key = key_of(obj)
            first.setdefault((key.group, key.kind), key)
        return frozenset(kind for kind, key in first.items() if self._cluster.supports(key))

    def _targets(self, rendering: Rendering) -> tuple[list[KubeObject], list[str]]:
        targets: list[KubeObject] = []
        unread: list[str] = []
        for partial in rendering.partials:
            key = key_of(partial)
            try:
                target = self._cluster.get(key)
            except ClusterApiError as exc:
                unread.append(str(key))
                _log.warning(
                    "cannot read the load-balancer target", extra={"object": str(key), "error": str(exc)}
                )
                continue
            if target is None:
                continue
            if self._screens.target.screen([target]).rejected:
                unread.append(str(key))  # warned by the screen: as good as unread
                continue
            targets.append(target)
        return targets, unread

    def _relist(self) -> None:
        try:
            self._cluster.relist()
        except ClusterApiError as exc:
            _log.warning(
                "cannot list the live objects afresh: planning against the watch cache",
                extra={"error": str(exc)},
            )

    def plan(
        self, held: HeldPayload, *, allow_prune: bool, reuse: bool = True, relist: bool = False
    ) -> Planned:
        """Plan ``held`` against the live view (reusing a plan that needed nothing when allowed;
        with ``relist``, against the live objects listed afresh from the API)."""
        if relist:
            self._relist()
        rendering = self.rendering(held)
        revision = self._cluster.revision()  # read before the snapshot: a later change re-plans
        targets, unread = self._targets(rendering)
        served = self.served_kinds(rendering)
        versions = tuple(str((t.get("metadata") or {}).get("resourceVersion", "")) for t in targets)
        inputs = (held.etag, revision, versions, tuple(unread), served, allow_prune)  # what a plan depends on
        now = self._monotonic()
        if reuse and self._last is not None:
            last_inputs, last, planned_at = self._last
            if (
                last_inputs == inputs
                and not last.result.plan.executable
                and now - planned_at < self._full_plan_every
            ):
                return attrs.evolve(last, fresh=False)
        screened = self._screens.cluster.screen(self._cluster.live_objects())
        step = self._pipeline.plan(
            held.document,
            screened.objects,
            targets=targets,
            served_kinds=served,
            allow_prune=allow_prune,
            unreadable=screened.unreadable,
        )
        self._pipeline = step.pipeline
        planned = Planned(
            result=step.result, fresh=True, services=_services(screened.objects), unread_targets=tuple(unread)
        )
        self._last = (inputs, planned, now)
        return planned
