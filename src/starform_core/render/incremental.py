"""Incremental rendering: a new payload re-renders only the parts whose scope changed.

``IncrementalRenderer()`` starts empty; ``renderer.render(payload)`` returns the next renderer
(holding the new :class:`~starform_core.render.Rendering`) and the :class:`RenderDelta` from the
previous one. The rendering is exactly what :func:`~starform_core.render.render` gives for the
same payload (same objects, same order, same warnings; a property test holds it to that).

The rule (``render/scopes.py``): each part renders from one scope and reads nothing else, so a
part whose scope equals the previous one keeps its objects. An object that renders equal to the
one it replaces is the previous object itself (the same ``dict``), so whoever caches per object
(the planner's desired hashes) can key on identity. Scopes are compared by value, so a payload
parsed afresh from the wire (nothing shared with the last one) gets the same reuse.

A project's parts read only the project and the cluster settings, so a project equal to the one
last rendered, under equal cluster settings, keeps all its parts before any scope is built.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

from starform_core.gc_pause import collection_paused
from starform_core.kube.objects import ObjectKey, key_of
from starform_core.kube.ordering import ApplyOrderKey
from starform_core.model.cluster import ClusterSettings
from starform_core.model.project import Project
from starform_core.payload.document import DesiredState
from starform_core.render.apply_order import KeyedObject, reordered
from starform_core.render.naming import ServiceNames
from starform_core.render.parts import (
    NameInputs,
    Part,
    PartId,
    PartSpec,
    Scope,
    Sources,
    allocate_names,
    project_parts,
    render_part,
)
from starform_core.render.rendering import Rendering, drift_policies_of, partials_of
from starform_core.render.scopes import (
    AttachedGroup,
    NamespaceScope,
    ProjectIdentity,
    SecretScope,
    ServiceCluster,
    ServiceScope,
    service_cluster,
)
from starform_core.render.vars import VarConflict

__all__ = ["IncrementalRenderer", "RenderDelta"]

_Piece = TypeVar("_Piece", ProjectIdentity, ServiceCluster, AttachedGroup)
_EMPTY = Rendering(objects=(), partials=(), warnings=(), drift_policies=MappingProxyType({}))
_NOTHING: frozenset[Any] = frozenset()


@attrs.frozen
class RenderDelta:
    """What one incremental render did and what it changed.

    ``services``, ``projects`` and ``var_groups`` name what was rendered afresh (a new scope or a
    changed one: a service's objects, a project's namespace-level objects, a var group's Secret);
    ``services_removed`` the services no longer in the payload. ``added``, ``changed`` and
    ``removed`` are the objects whose content differs from the previous rendering; every other
    object is the previous one, unchanged and identical. Warnings and drift policies are not in
    the delta (compare the renderings' fields to see them change).
    """

    services: frozenset[str] = _NOTHING
    services_removed: frozenset[str] = _NOTHING
    projects: frozenset[str] = _NOTHING
    var_groups: frozenset[str] = _NOTHING
    added: frozenset[ObjectKey] = _NOTHING
    changed: frozenset[ObjectKey] = _NOTHING
    removed: frozenset[ObjectKey] = _NOTHING
    partials_changed: bool = False

    @property
    def objects_changed(self) -> bool:
        """Whether any owned object was added, changed or removed."""
        return bool(self.added or self.changed or self.removed)


@attrs.frozen
class _Rendered:
    """A part as rendered, with the scope it was rendered from."""

    scope: Scope
    part: Part


@attrs.frozen
class _Names:
    """A project's allocated object names and what they were allocated from."""

    inputs: NameInputs
    names: dict[str, ServiceNames]


@attrs.frozen
class _ProjectMemo:
    """A project as last rendered: the project itself, its parts' ids in canonical order, the
    scope pieces its parts share and its services' var group warnings in order."""

    project: Project
    part_ids: tuple[PartId, ...]
    pieces: tuple[Hashable, ...]
    warnings: tuple[VarConflict, ...]


@attrs.frozen
class _Walk:
    """The parts of a payload, split into those kept as they were and those rendered afresh, and
    each project's memo in payload order with whether it was reused whole (a project walked
    scope by scope has its warnings filled in once its parts are known)."""

    kept: dict[PartId, _Rendered]
    fresh: dict[PartId, _Rendered]
    projects: list[tuple[_ProjectMemo, bool]]


_SCOPE_FIELDS = {
    cls: attrgetter(*(field.name for field in attrs.fields(cls) if field.eq))
    for cls in (NamespaceScope, SecretScope, ServiceScope)
}
"""Each scope class's compared fields, fetched as one tuple."""


def _same_scope(previous: Scope, scope: Scope) -> bool:
    """``previous == scope``, as attrs compares them, but comparing the two field tuples: a field
    that holds the very same value (the reused names and pieces) costs no comparison at all."""
    if previous.__class__ is not scope.__class__:
        return False
    fields = _SCOPE_FIELDS[scope.__class__]
    return bool(fields(previous) == fields(scope))


class _Recall(Sources):
    """The previous render's names and scope pieces, reused where nothing changed; records this
    render's for the next one."""

    def __init__(self, names: Mapping[str, _Names], pieces: Mapping[Hashable, Hashable]) -> None:
        self._previous_names = names
        self._previous_pieces = pieces
        self.new_names: dict[str, _Names] = {}
        self.new_pieces: dict[Hashable, Hashable] = {}
        self.taken: list[Hashable] = []

    def names(self, project_id: str, inputs: NameInputs) -> dict[str, ServiceNames]:
        cached = self._previous_names.get(project_id)
        if cached is None or cached.inputs != inputs:
            cached = _Names(inputs=inputs, names=allocate_names(inputs))
        self.new_names[project_id] = cached
        return cached.names

    def same(self, piece: _Piece) -> _Piece:
        previous = self._previous_pieces.get(piece, piece)
        self.new_pieces[previous] = previous
        self.taken.append(previous)
        return previous  # type: ignore[return-value]  # equal, so of the same class

    def start(self) -> None:
        """Start recording the pieces of one project (:attr:`taken`)."""
        self.taken = []

    def keep(self, project_id: str, pieces: Iterable[Hashable]) -> None:
        """Carry a project reused whole over: its names and its pieces, as they were."""
        self.new_names[project_id] = self._previous_names[project_id]
        self.new_pieces.update((piece, piece) for piece in pieces)


@attrs.frozen
class _Diff:
    """The object-level outcome of re-rendering some parts."""

    parts: dict[PartId, _Rendered]
    added: frozenset[ObjectKey]
    changed: frozenset[ObjectKey]
    removed: frozenset[ObjectKey]
    dropped: Mapping[ApplyOrderKey, dict[str, Any]]
    """Every previous object of the parts re-rendered or gone, by key."""


def _reusing(previous: Mapping[ApplyOrderKey, dict[str, Any]], part: Part) -> tuple[Part, list[KeyedObject]]:
    """``part`` with every object equal to its previous version replaced by that version, and
    the objects that are new or different."""
    objects: list[KeyedObject] = []
    different: list[KeyedObject] = []
    for key, obj in part.objects:
        old = previous.get(key)
        if old is not None and old == obj:
            objects.append((key, old))
        else:
            objects.append((key, obj))
            different.append((key, obj))
    return Part(objects=tuple(objects), warnings=part.warnings), different


def _diff(
    old_parts: Mapping[PartId, _Rendered],
    fresh: Mapping[PartId, _Rendered],
    gone: Iterable[PartId],
) -> _Diff:
    """Compare the freshly rendered parts (and the parts gone) with what they replace."""
    previous: dict[ApplyOrderKey, dict[str, Any]] = {}
    for part_id in (*fresh, *gone):
        if part_id in old_parts:
            previous.update(old_parts[part_id].part.objects)
    parts: dict[PartId, _Rendered] = {}
    different: list[KeyedObject] = []
    kept: set[ApplyOrderKey] = set()
    for part_id, rendered in fresh.items():
        part, new_objects = _reusing(previous, rendered.part)
        parts[part_id] = _Rendered(scope=rendered.scope, part=part)
        different.extend(new_objects)
        kept.update(key for key, _ in part.objects)
    return _Diff(
        parts=parts,
        added=frozenset(key_of(obj) for key, obj in different if key not in previous),
        changed=frozenset(key_of(obj) for key, obj in different if key in previous),
        removed=frozenset(key_of(obj) for key, obj in previous.items() if key not in kept),
        dropped=previous,
    )


@attrs.frozen(eq=False)
class IncrementalRenderer:
    """The last rendering and the parts it was made of: a pure value, never mutated.

    ``IncrementalRenderer()`` has rendered nothing (its ``rendering`` has no objects);
    :meth:`render` gives the renderer for the next payload and what changed. Renderers compare
    by identity; several may branch off one (each render is independent of the others).
    """

    rendering: Rendering = _EMPTY
    _parts: Mapping[PartId, _Rendered] = attrs.field(factory=dict, repr=False)
    _names: Mapping[str, _Names] = attrs.field(factory=dict, repr=False)
    _pieces: Mapping[Hashable, Hashable] = attrs.field(factory=dict, repr=False)
    _order: tuple[KeyedObject, ...] = attrs.field(default=(), repr=False)
    _cluster: ClusterSettings | None = attrs.field(default=None, repr=False)
    _projects: Mapping[str, _ProjectMemo] = attrs.field(factory=dict, repr=False)

    def render(self, payload: DesiredState) -> tuple[IncrementalRenderer, RenderDelta]:
        """Render ``payload``, reusing every part whose scope did not change.

        A project equal to the previous one (with equal cluster settings) keeps all its parts
        without a scope built; any other project is compared scope by scope. The new renderer's
        ``rendering`` equals ``render(payload)``; the delta is relative to this renderer's
        ``rendering``. The cyclic garbage collector is paused meanwhile, as :func:`render` does.
        """
        with collection_paused():
            return self._render(payload)

    def _render(self, payload: DesiredState) -> tuple[IncrementalRenderer, RenderDelta]:
        recall = _Recall(self._names, self._pieces)
        walk = self._walk(payload, recall)
        parts = walk.kept
        gone = [part_id for part_id in self._parts if part_id not in parts and part_id not in walk.fresh]
        diff = _diff(self._parts, walk.fresh, gone)
        parts.update(diff.parts)
        order = self._reorder(diff)
        memos = _memos(walk.projects, parts)
        rendering, partials_changed = self._assemble(payload, walk, memos, order)
        delta = RenderDelta(
            services=_ids(walk.fresh, "service"),
            services_removed=_ids(gone, "service"),
            projects=_ids(walk.fresh, "namespace"),
            var_groups=frozenset(
                part_id[1].rpartition("/")[2] for part_id in walk.fresh if part_id[0] == "secret"
            ),
            added=diff.added,
            changed=diff.changed,
            removed=diff.removed,
            partials_changed=partials_changed,
        )
        successor = IncrementalRenderer(
            rendering=rendering,
            parts=parts,
            names=recall.new_names,
            pieces=recall.new_pieces,
            order=order,
            cluster=payload.cluster,
            projects={memo.project.project_id: memo for memo in memos},
        )
        return successor, delta

    def _walk(self, payload: DesiredState, recall: _Recall) -> _Walk:
        """Every project of ``payload``: reused whole when it and the cluster settings equal the
        previous ones (its parts read nothing else), else split part by part."""
        walk = _Walk(kept={}, fresh={}, projects=[])
        previous = self._projects if payload.cluster == self._cluster else {}
        cluster = recall.same(service_cluster(payload.cluster))
        for project in payload.projects:
            memo = previous.get(project.project_id)
            if memo is not None and (memo.project is project or memo.project == project):
                walk.kept.update((part_id, self._parts[part_id]) for part_id in memo.part_ids)
                recall.keep(project.project_id, memo.pieces)
                walk.projects.append((memo, True))
                continue
            recall.start()
            part_ids = tuple(self._split(project_parts(payload, project, cluster, recall), walk))
            memo = _ProjectMemo(project=project, part_ids=part_ids, pieces=tuple(recall.taken), warnings=())
            walk.projects.append((memo, False))
        return walk

    def _split(self, specs: Iterable[PartSpec], walk: _Walk) -> Iterator[PartId]:
        """Put each part in ``walk``: kept when its scope equals the previous one, else rendered
        afresh; yields each part's id."""
        for part_id, scope in specs:
            previous = self._parts.get(part_id)
            if previous is not None and _same_scope(previous.scope, scope):
                walk.kept[part_id] = previous
            else:
                walk.fresh[part_id] = _Rendered(scope=scope, part=render_part(scope))
            yield part_id

    def _reorder(self, diff: _Diff) -> tuple[KeyedObject, ...]:
        """The apply order after ``diff``: the previous order without the objects of the parts
        re-rendered or gone, with the objects of the parts rendered afresh."""
        return reordered(
            self._order,
            diff.dropped,
            (item for rendered in diff.parts.values() for item in rendered.part.objects),
        )

    def _assemble(
        self,
        payload: DesiredState,
        walk: _Walk,
        memos: list[_ProjectMemo],
        order: tuple[KeyedObject, ...],
    ) -> tuple[Rendering, bool]:
        load_balancer = payload.cluster.load_balancer
        previous = self.rendering
        same_partials = self._cluster is not None and load_balancer == self._cluster.load_balancer
        unchanged = len(memos) == len(self._projects) and all(reused for _, reused in walk.projects)
        rendering = Rendering(
            objects=previous.objects if order is self._order else tuple(map(itemgetter(1), order)),
            partials=previous.partials if same_partials else partials_of(load_balancer),
            warnings=previous.warnings
            if unchanged
            else tuple(warning for memo in memos for warning in memo.warnings),
            drift_policies=previous.drift_policies if unchanged else drift_policies_of(payload),
        )
        return rendering, rendering.partials != previous.partials


def _memos(
    projects: list[tuple[_ProjectMemo, bool]], parts: Mapping[PartId, _Rendered]
) -> list[_ProjectMemo]:
    """Each project's memo, with the warnings of a project walked part by part filled in."""
    return [
        memo
        if reused
        else attrs.evolve(
            memo,
            warnings=tuple(warning for part_id in memo.part_ids for warning in parts[part_id].part.warnings),
        )
        for memo, reused in projects
    ]


def _ids(part_ids: Iterable[PartId], kind: str) -> frozenset[str]:
    return frozenset(part_id[1] for part_id in part_ids if part_id[0] == kind)
