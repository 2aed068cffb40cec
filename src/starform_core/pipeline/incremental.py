"""The plan pipeline, incremental: what :func:`~starform_core.pipeline.plan_desired_state` gives,
redoing only what changed since the last call.

:class:`IncrementalPipeline` is a value holding an
:class:`~starform_core.render.IncrementalRenderer` and an
:class:`~starform_core.plan.IncrementalPlanner`; :meth:`IncrementalPipeline.plan` returns the
result and the pipeline to use next time. A payload with one service changed re-renders that
service's part and re-plans its objects (the other objects are handed back as the very same
dicts, so the planner keeps their apply bodies and judgements); the same payload object again is
not rendered at all; an unchanged live view (the same objects, or the same ``uid`` and
``resourceVersion``) is not judged again. The result equals ``plan_desired_state``'s for the
same inputs (a differential property test holds it to that).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from starform_core.kube.objects import KubeObject, ObjectKey
from starform_core.payload.document import DesiredState
from starform_core.pipeline.run import Kind, PipelineResult, plan_inputs
from starform_core.plan import IncrementalPlanner
from starform_core.render import IncrementalRenderer, RenderDelta

__all__ = ["IncrementalPipeline", "PipelineStep"]


@attrs.frozen
class PipelineStep:
    """One incremental call: the ``result``, the ``pipeline`` to use next, what the render
    changed (``None`` when the payload was the same object and was not rendered) and how many
    objects the planner judged again."""

    result: PipelineResult
    pipeline: IncrementalPipeline
    render_delta: RenderDelta | None
    judged: int


@attrs.frozen(eq=False)
class IncrementalPipeline:
    """A plan pipeline that remembers its last call; start with ``IncrementalPipeline()``."""

    _document: DesiredState | None = attrs.field(default=None, alias="_document")
    _renderer: IncrementalRenderer = attrs.field(factory=IncrementalRenderer, alias="_renderer")
    _planner: IncrementalPlanner = attrs.field(factory=IncrementalPlanner, alias="_planner")

    @property
    def renderer(self) -> IncrementalRenderer:
        """The renderer of the last payload (its ``rendering``)."""
        return self._renderer

    def rendered(self, document: DesiredState) -> tuple[IncrementalPipeline, RenderDelta | None]:
        """The pipeline with ``document`` rendered (itself, and no delta, when ``document`` is the
        payload it last rendered: the same object)."""
        if document is self._document:
            return self, None
        renderer, delta = self._renderer.render(document)
        return IncrementalPipeline(_document=document, _renderer=renderer, _planner=self._planner), delta

    def plan(
        self,
        document: DesiredState,
        live: Iterable[KubeObject],
        *,
        targets: Iterable[KubeObject] = (),
        served_kinds: frozenset[Kind] | None = None,
        allow_prune: bool = True,
        unreadable: frozenset[ObjectKey] = frozenset(),
    ) -> PipelineStep:
        """Plan like :func:`~starform_core.pipeline.plan_desired_state` (same arguments, same
        result), rendering and planning only what changed since this pipeline's call."""
        rendered, delta = self.rendered(document)
        renderer = rendered.renderer
        inputs = plan_inputs(
            document,
            renderer.rendering,
            live,
            targets=targets,
            served_kinds=served_kinds,
            allow_prune=allow_prune,
            unreadable=unreadable,
        )
        step = self._planner.plan(
            inputs.desired, inputs.live, partials=renderer.rendering.partials, options=inputs.options
        )
        following = IncrementalPipeline(_document=document, _renderer=renderer, _planner=step.planner)
        return PipelineStep(inputs.result(step.plan), following, delta, step.judged)
