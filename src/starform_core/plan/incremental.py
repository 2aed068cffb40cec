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

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

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
class _DesiredView:
    index: dict[Identity, _Desired]
    by_id: Mapping[int, _Desired]
    scaled: frozenset[Identity]
    fresh: list[_Desired]


@attrs.frozen
class _LiveView:
    index: dict[Identity, _Live]
    by_id: Mapping[int, _Live]
    fresh: list[_Live]


@attrs.frozen
class _PruneFacts:
    """What the prune step needs from the live view: owned objects, the owned ones no longer
    desired (and not being deleted), and namespaces holding objects someone else manages."""

    owned: int
    candidates: dict[Identity, _Live]
    foreign: dict[str, int]


_NO_FACTS: Final = _PruneFacts(0, {}, {})


def _entries(
    objects: Iterable[KubeObject], previous: Mapping[int, Any], read: Callable[[KubeObject], Any]
) -> tuple[list[Any], list[Any], Mapping[int, Any]]:
    """(entries in input order, the fresh ones among them, entries by object id): an object seen
    last time keeps its entry, any other is ``read``. One pass of C-level maps where possible."""
    objs = list(objects)
    found = list(map(previous.get, map(id, objs)))
    entries = [e if e is not None and e.obj is o else read(o) for o, e in zip(objs, found, strict=True)]
    fresh = [e for e, f in zip(entries, found, strict=True) if e is not f]
    same = not fresh and len(entries) == len(previous)
    return entries, fresh, previous if same else dict(zip(map(id, objs), entries, strict=True))


def _by_identity(entries: list[Any], what: str) -> dict[Identity, Any]:
    index = {entry.identity: entry for entry in entries}
    if len(index) != len(entries):
        seen: set[Identity] = set()
        for entry in entries:
            if entry.identity in seen:
                raise ValidationError(what, f"{key_of(entry.obj)} appears more than once")
            seen.add(entry.identity)
    return index


def _index_desired(desired: Iterable[KubeObject], previous: Mapping[int, _Desired]) -> _DesiredView:
    entries, fresh, by_id = _entries(desired, previous, _desired_entry)
    index = _by_identity(entries, "desired")
    scaled = frozenset(entry.scales for entry in entries if entry.scales is not None)
    return _DesiredView(index, by_id, scaled, fresh)


def _index_live(live: Iterable[KubeObject], previous: Mapping[int, _Live]) -> _LiveView:
    entries, fresh, by_id = _entries(live, previous, _live_entry)
    return _LiveView(_by_identity(entries, "live"), by_id, fresh)


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


def _gone(previous: Mapping[Identity, Any], index: Mapping[Identity, Any], fresh: list[Any]) -> set[Identity]:
    """Identities of ``previous`` no longer in ``index``: none when every previous identity is
    still there (counted from the fresh entries), else a set difference."""
    new = sum(1 for entry in fresh if entry.identity not in previous)
    if len(index) - new == len(previous):
        return set()
    return set(previous.keys() - index.keys())


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
    _desired: _DesiredView = attrs.field(
        factory=lambda: _DesiredView({}, {}, frozenset(), []), repr=False, alias="_desired"
    )
    _live: _LiveView = attrs.field(factory=lambda: _LiveView({}, {}, []), repr=False, alias="_live")
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
        desired_view = _index_desired(desired, base._desired.by_id)
        live_view = _index_live(live, self._live.by_id)
        gone_live = _gone(self._live.index, live_view.index, live_view.fresh)
        judge = _Judge(options, base._judgements)
        judgements, acting, unchanged = self._judge_all(base, judge, desired_view, live_view, gone_live)
        applies = [action for actions in acting.values() for action in actions]
        partial_actions, partial_unchanged = _partials(options, partials, live_view.index)
        applies.extend(partial_actions)
        applies.sort(key=apply_sort_key)
        facts = _prune_facts(
            self._facts,
            self._live.index,
            live_view.index,
            desired_view.index,
            self._touched(desired_view, live_view, gone_live),
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
        self,
        base: IncrementalPlanner,
        judge: _Judge,
        desired: _DesiredView,
        live: _LiveView,
        gone_live: set[Identity],
    ) -> tuple[dict[Identity, _Judgement], dict[Identity, tuple[Action, ...]], int]:
        """The judgements of every desired object: ``base``'s, except for those gone or dirty."""
        judgements = dict(base._judgements)
        acting = dict(base._acting)
        unchanged = base._unchanged
        for identity in _gone(base._desired.index, desired.index, desired.fresh):
            unchanged -= judgements.pop(identity).unchanged
            acting.pop(identity, None)
        for identity in base._dirty(judge.policies, desired, live, gone_live):
            entry, target = desired.index[identity], live.index.get(identity)
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
        self,
        policies: Mapping[str, DriftPolicy],
        desired: _DesiredView,
        live: _LiveView,
        gone_live: set[Identity],
    ) -> set[Identity]:
        """Desired identities whose judgement may no longer hold: a new desired object, a new or
        changed or vanished live object, an autoscaler that came or went, a changed policy."""
        dirty = {entry.identity for entry in desired.fresh}
        previous_live = self._live.index
        for entry in live.fresh:
            if entry.identity in desired.index and not _same_live(previous_live.get(entry.identity), entry):
                dirty.add(entry.identity)
        dirty.update(identity for identity in gone_live if identity in desired.index)
        if desired.scaled != self._desired.scaled:
            dirty.update(desired.scaled.symmetric_difference(self._desired.scaled) & desired.index.keys())
        if policies != self._policies:
            old = self._policies
            services = {sid for sid in {*old, *policies} if old.get(sid) != policies.get(sid)}
            dirty.update(identity for identity, e in desired.index.items() if e.service_id in services)
        return dirty

    def _touched(self, desired: _DesiredView, live: _LiveView, gone_live: set[Identity]) -> set[Identity]:
        """Identities whose prune facts may have changed since this planner's call."""
        previous = self._desired.index
        touched = {entry.identity for entry in live.fresh} | gone_live
        touched.update(entry.identity for entry in desired.fresh if entry.identity not in previous)
        touched.update(_gone(previous, desired.index, desired.fresh))
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
        claims=lambda: claims_in_use(entry.obj for entry in desired.index.values()),
    )
