"""Incremental planning: re-plan only the objects whose desired or live input changed.

:class:`IncrementalPlanner` is a value: :meth:`IncrementalPlanner.plan` returns the plan and the
planner to use next time, and never changes the one it was called on. The plan is exactly
:func:`~starform_core.plan.planner.plan`'s for the same inputs (the same actions in the same
order, the same ``unchanged`` count, the same prune and valve decisions); only the work differs:

* a **desired** object that is the same Python object as last time (the incremental render hands
  back the objects of unchanged services as they were) keeps its apply body and desired hash;
  any other object, even an equal one, is planned afresh. Objects are values: an object the
  planner has seen must never be changed in place (hand over a new one);
* a **live** object that is the same object as last time, or carries the same
  ``resourceVersion`` and ``uid`` (the API server changes the version with every write), keeps
  its judgement; a live object without a ``resourceVersion`` is the same only as itself;
* an object is judged again when its desired object, its live object, its drift policy or
  whether an autoscaler targets it changed; the apply body is rebuilt only when the desired
  object, the policy's ignore rules or the autoscaler changed;
* the prune step works from per-live-object facts (owned, being deleted, holding foreign objects
  in its namespace) read once per object version.

Changing ``field_manager`` or ``controller_managers`` starts afresh. The planner keeps a reference
to every object of the last call (one generation of the live view and the rendering).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NoReturn

import attrs

from starform_core.errors import ValidationError
from starform_core.kube.labels import LABEL_SERVICE_ID, MANAGED_BY_VALUE
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.model.workload import DriftPolicy
from starform_core.plan.actions import Action, Plan, PruneReport
from starform_core.plan.apply_body import build_apply_body
from starform_core.plan.fields import FieldRule
from starform_core.plan.options import PlanOptions
from starform_core.plan.ownership import is_owned, managed_by
from starform_core.plan.planner import (
    Identity,
    PlanRun,
    apply_sort_key,
    claims_in_use,
    hpa_target,
    identity_of,
    prune_actions,
)

__all__ = ["IncrementalPlanner", "IncrementalStep"]

_DEFAULT_POLICY: Final = DriftPolicy()


@attrs.frozen
class _Desired:
    """A desired object and what is read from it once."""

    obj: KubeObject
    identity: Identity
    service_id: Any
    scales: Identity | None


def _desired_entry(obj: KubeObject) -> _Desired:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return _Desired(obj, identity_of(obj), labels.get(LABEL_SERVICE_ID), hpa_target(obj))


@attrs.frozen
class _Live:
    """A live object and the facts the prune step reads from it, read once per version."""

    obj: KubeObject
    identity: Identity
    version: tuple[str, str] | None
    owned: bool
    deleting: bool
    foreign_namespace: str | None


def _live_entry(obj: KubeObject) -> _Live:
    identity = identity_of(obj)
    metadata = obj.get("metadata") or {}
    version = metadata.get("resourceVersion")
    owned = is_owned(obj)
    foreign = identity[2] if not owned and identity[2] and managed_by(obj) != MANAGED_BY_VALUE else None
    return _Live(
        obj,
        identity,
        (version, str(metadata.get("uid") or "")) if isinstance(version, str) and version else None,
        owned,
        bool(metadata.get("deletionTimestamp")),
        foreign,
    )


def _same_live(old: _Live | None, new: _Live | None) -> bool:
    if old is None or new is None:
        return old is new
    return old.obj is new.obj or (old.version is not None and old.version == new.version)


@attrs.frozen
class _Judgement:
    """What one desired object was judged to need, and every input the judgement rests on."""

    desired: KubeObject
    autoscaled: bool
    policy: DriftPolicy
    rules: tuple[FieldRule, ...]
    body: dict[str, Any] = attrs.field(repr=False)
    live: _Live | None
    actions: tuple[Action, ...]
    unchanged: int


@attrs.frozen
class IncrementalStep:
    """One incremental planning call: the ``plan``, the ``planner`` to use next time, and how
    much was redone (``judged`` objects judged again, ``bodies`` apply bodies rebuilt)."""

    plan: Plan
    planner: IncrementalPlanner
    judged: int
    bodies: int


@attrs.frozen
class _View:
    """One call's objects: by identity, by object id, the entries read afresh (objects not seen
    last time) and the identities of the last call's view no longer present."""

    index: dict[Identity, Any]
    by_id: Mapping[int, Any]
    fresh: list[Any]
    gone: set[Identity]


_EMPTY_VIEW: Final = _View({}, {}, [], set())


@attrs.frozen
class _DesiredView:
    view: _View
    scalers: Mapping[Identity, Identity]
    """Autoscaler identity → the identity it scales."""
    scaled: frozenset[Identity]


_EMPTY_DESIRED: Final = _DesiredView(_EMPTY_VIEW, {}, frozenset())


@attrs.frozen
class _PruneFacts:
    """What the prune step needs from the live view: owned objects, the owned ones no longer
    desired (and not being deleted), and namespaces holding objects someone else manages."""

    owned: int
    candidates: dict[Identity, _Live]
    foreign: dict[str, int]


_NO_FACTS: Final = _PruneFacts(0, {}, {})


def _duplicate(entries: list[Any], what: str) -> NoReturn:
    """Raise the full planner's error for the first identity that appears twice."""
    seen: set[Identity] = set()
    for entry in entries:
        if entry.identity in seen:
            raise ValidationError(what, f"{key_of(entry.obj)} appears more than once")
        seen.add(entry.identity)
    raise AssertionError("no duplicate identity")  # pragma: no cover - callers saw one


def _view(
    objects: Iterable[KubeObject], previous: _View, read: Callable[[KubeObject], Any], what: str
) -> _View:
    """The view of ``objects``: an object seen last time keeps its entry, any other is ``read``;
    the index is the previous one updated (rebuilt from nothing only on the first call).

    Entries are found by object id: the previous view holds its objects, so no other live
    object can have one of their ids. The loops over all objects are C-level maps.
    """
    objs = list(objects)
    ids = list(map(id, objs))
    entries: list[Any] = list(map(previous.by_id.get, ids))
    missing = list(itertools.compress(range(len(objs)), map(operator.is_, entries, itertools.repeat(None))))
    for at in missing:
        entries[at] = read(objs[at])
    fresh = [entries[at] for at in missing]
    if not fresh and len(entries) == len(previous.by_id) and len(set(ids)) == len(ids):
        return _View(previous.index, previous.by_id, [], set())
    by_id = dict(zip(ids, entries, strict=True))
    if len(by_id) != len(entries):
        _duplicate(entries, what)
    index = dict(previous.index)
    for entry in fresh:
        old = index.get(entry.identity)
        if old is not None and by_id.get(id(old.obj)) is old:
            _duplicate(entries, what)
        index[entry.identity] = entry
    gone: set[Identity] = set()
    if len(index) != len(entries):
        gone = {identity for identity, entry in index.items() if by_id.get(id(entry.obj)) is not entry}
        for identity in gone:
            del index[identity]
    return _View(index, by_id, fresh, gone)


def _index_desired(desired: Iterable[KubeObject], previous: _DesiredView) -> _DesiredView:
    view = _view(desired, previous.view, _desired_entry, "desired")
    if not view.fresh and not view.gone:
        return _DesiredView(view, previous.scalers, previous.scaled)
    scalers = dict(previous.scalers)
    for identity in view.gone:
        scalers.pop(identity, None)
    for entry in view.fresh:
        if entry.scales is not None:
            scalers[entry.identity] = entry.scales
        else:
            scalers.pop(entry.identity, None)
    return _DesiredView(view, scalers, frozenset(scalers.values()))


def _count_in(facts: _PruneFacts, entry: _Live, desired: Mapping[Identity, _Desired], sign: int) -> None:
    if entry.owned:
        facts.candidates.pop(entry.identity, None)
        if sign > 0 and not entry.deleting and entry.identity not in desired:
            facts.candidates[entry.identity] = entry
    elif entry.foreign_namespace is not None:
        count = facts.foreign.get(entry.foreign_namespace, 0) + sign
        if count:
            facts.foreign[entry.foreign_namespace] = count
        else:
            del facts.foreign[entry.foreign_namespace]


def _prune_facts(
    previous: _PruneFacts | None,
    old: Mapping[Identity, _Live],
    live: Mapping[Identity, _Live],
    desired: Mapping[Identity, _Desired],
    touched: set[Identity],
) -> _PruneFacts:
    """The prune facts, updated from ``previous`` for the ``touched`` identities (live objects
    new, changed or gone, desired identities added or removed), or counted afresh."""
    if previous is None:
        previous, old, touched = _NO_FACTS, {}, set(live)
    facts = _PruneFacts(previous.owned, dict(previous.candidates), dict(previous.foreign))
    owned = facts.owned
    for identity in touched:
        before, after = old.get(identity), live.get(identity)
        if before is not None:
            owned -= before.owned
            _count_in(facts, before, desired, -1)
        if after is not None:
            owned += after.owned
            _count_in(facts, after, desired, +1)
    return _PruneFacts(owned, facts.candidates, facts.foreign)


class _Judge:
    """Judges desired objects for one call, reusing what the previous judgements still hold."""

    def __init__(self, options: PlanOptions, previous: Mapping[Identity, _Judgement]) -> None:
        self.run = PlanRun(options)
        self.policies = options.drift_policies
        self.previous = previous
        self.judged = 0
        self.bodies = 0

    def policy_of(self, entry: _Desired) -> DriftPolicy:
        service_id = entry.service_id
        return self.policies.get(service_id, _DEFAULT_POLICY) if service_id else _DEFAULT_POLICY

    def judgement(self, entry: _Desired, live: _Live | None, autoscaled: bool) -> _Judgement:
        """The judgement of ``entry`` against ``live``: the previous one when nothing it rests on
        changed, else a new one (on the previous apply body when that still holds)."""
        policy = self.policy_of(entry)
        old = self.previous.get(entry.identity)
        if old is None or old.desired is not entry.obj or old.autoscaled != autoscaled:
            return self._judge(entry, live, autoscaled, policy, None)
        same_policy = old.policy is policy or old.policy == policy
        if same_policy and _same_live(old.live, live):
            return old
        if same_policy or old.policy.ignore_fields == policy.ignore_fields:
            return self._judge(entry, live, autoscaled, policy, old)
        return self._judge(entry, live, autoscaled, policy, None)

    def _judge(
        self,
        entry: _Desired,
        live: _Live | None,
        autoscaled: bool,
        policy: DriftPolicy,
        body_from: _Judgement | None,
    ) -> _Judgement:
        self.judged += 1
        if body_from is None:
            self.bodies += 1
            _policy, rules = self.run.rules_for(entry.identity, entry.obj, autoscaled=autoscaled)
            body = build_apply_body(entry.obj, rules)
        else:
            rules, body = body_from.rules, body_from.body
        run = self.run
        start, before = len(run.actions), run.unchanged
        run.judge(key_of(entry.obj), body, None if live is None else live.obj, policy, rules)
        actions = tuple(run.actions[start:])
        return _Judgement(entry.obj, autoscaled, policy, rules, body, live, actions, run.unchanged - before)


def _partials(
    options: PlanOptions, partials: Iterable[KubeObject], live: Mapping[Identity, _Live]
) -> tuple[list[Action], int]:
    run = PlanRun(options)
    index: dict[Identity, KubeObject] = {}
    for obj in partials:
        identity = identity_of(obj)
        if identity in index:
            raise ValidationError("partials", f"{key_of(obj)} appears more than once")
        index[identity] = obj
    for identity, obj in index.items():
        target = live.get(identity)
        run.partial(key_of(obj), obj, None if target is None else target.obj)
    return run.actions, run.unchanged


@attrs.frozen(eq=False)
class IncrementalPlanner:
    """A planner that remembers its last call (see the module docstring); start with
    ``IncrementalPlanner()`` and use the ``planner`` of each :class:`IncrementalStep` next."""

    _manager: str | None = attrs.field(default=None, alias="_manager")
    _controllers: frozenset[str] = attrs.field(default=frozenset(), alias="_controllers")
    _policies: Mapping[str, DriftPolicy] = attrs.field(factory=dict, repr=False, alias="_policies")
    _desired: _DesiredView = attrs.field(default=_EMPTY_DESIRED, repr=False, alias="_desired")
    _live: _View = attrs.field(default=_EMPTY_VIEW, repr=False, alias="_live")
    _facts: _PruneFacts | None = attrs.field(default=None, repr=False, alias="_facts")
    _judgements: Mapping[Identity, _Judgement] = attrs.field(factory=dict, repr=False, alias="_judgements")
    _acting: Mapping[Identity, tuple[Action, ...]] = attrs.field(factory=dict, repr=False, alias="_acting")
    _unchanged: int = attrs.field(default=0, alias="_unchanged")

    def plan(
        self,
        desired: Iterable[KubeObject],
        live: Iterable[KubeObject],
        *,
        partials: Iterable[KubeObject] = (),
        options: PlanOptions | None = None,
    ) -> IncrementalStep:
        """Plan like :func:`~starform_core.plan.planner.plan` (same arguments, same result),
        redoing only what changed since this planner's call. Raises
        :class:`~starform_core.errors.ValidationError` on duplicate identities."""
        options = options or PlanOptions()
        same = (self._manager, self._controllers) == (options.field_manager, options.controller_managers)
        base = self if same else IncrementalPlanner()
        desired_view = _index_desired(desired, base._desired)
        live_view = _view(live, self._live, _live_entry, "live")
        judge = _Judge(options, base._judgements)
        judgements, acting, unchanged = base._judge_all(judge, desired_view, live_view)
        applies = [action for actions in acting.values() for action in actions]
        partial_actions, partial_unchanged = _partials(options, partials, live_view.index)
        applies.extend(partial_actions)
        applies.sort(key=apply_sort_key)
        facts = _prune_facts(
            self._facts if same else None,
            self._live.index,
            live_view.index,
            desired_view.view.index,
            self._touched(desired_view, live_view),
        )
        deletions, report = _prune(options, desired_view, facts)
        result = Plan(actions=(*applies, *deletions), unchanged=unchanged + partial_unchanged, prune=report)
        planner = IncrementalPlanner(
            _manager=options.field_manager,
            _controllers=options.controller_managers,
            _policies=options.drift_policies,
            _desired=desired_view,
            _live=live_view,
            _facts=facts,
            _judgements=judgements,
            _acting=acting,
            _unchanged=unchanged,
        )
        return IncrementalStep(result, planner, judge.judged, judge.bodies)

    def _judge_all(
        self, judge: _Judge, desired: _DesiredView, live: _View
    ) -> tuple[dict[Identity, _Judgement], dict[Identity, tuple[Action, ...]], int]:
        """The judgements of every desired object: this planner's, except for those gone or dirty."""
        judgements = dict(self._judgements)
        acting = dict(self._acting)
        unchanged = self._unchanged
        for identity in desired.view.gone:
            unchanged -= judgements.pop(identity).unchanged
            acting.pop(identity, None)
        for identity in self._dirty(judge.policies, desired, live):
            entry, target = desired.view.index[identity], live.index.get(identity)
            judgement = judge.judgement(entry, target, identity in desired.scaled)
            previous = judgements.get(identity)
            unchanged += judgement.unchanged - (previous.unchanged if previous is not None else 0)
            judgements[identity] = judgement
            if judgement.actions:
                acting[identity] = judgement.actions
            else:
                acting.pop(identity, None)
        return judgements, acting, unchanged

    def _dirty(
        self, policies: Mapping[str, DriftPolicy], desired: _DesiredView, live: _View
    ) -> set[Identity]:
        """Desired identities whose judgement may no longer hold: a new desired object, a new or
        changed or vanished live object, an autoscaler that came or went, a changed policy."""
        index = desired.view.index
        dirty = {entry.identity for entry in desired.view.fresh}
        previous_live = self._live.index
        for entry in live.fresh:
            if entry.identity in index and not _same_live(previous_live.get(entry.identity), entry):
                dirty.add(entry.identity)
        dirty.update(identity for identity in live.gone if identity in index)
        if desired.scaled != self._desired.scaled:
            dirty.update(desired.scaled.symmetric_difference(self._desired.scaled) & index.keys())
        if policies != self._policies:
            old = self._policies
            services = {sid for sid in {*old, *policies} if old.get(sid) != policies.get(sid)}
            dirty.update(identity for identity, e in index.items() if e.service_id in services)
        return dirty

    def _touched(self, desired: _DesiredView, live: _View) -> set[Identity]:
        """Identities whose prune facts may have changed since this planner's call: live objects
        new, changed or gone, desired identities added or removed."""
        previous = self._desired.view.index
        touched = {entry.identity for entry in live.fresh} | live.gone | desired.view.gone
        touched.update(entry.identity for entry in desired.view.fresh if entry.identity not in previous)
        return touched


def _prune(
    options: PlanOptions, desired: _DesiredView, facts: _PruneFacts
) -> tuple[list[Action], PruneReport]:
    candidates: dict[ObjectKey, KubeObject] = {
        key_of(entry.obj): entry.obj for entry in facts.candidates.values()
    }
    return prune_actions(
        options,
        candidates,
        owned=facts.owned,
        foreign_namespaces=facts.foreign.keys(),
        claims=lambda: claims_in_use(entry.obj for entry in desired.view.index.values()),
    )
