"""The planner: desired objects + live objects → an ordered :class:`~.actions.Plan`.

See ``docs/planning.md`` for the semantics; the short version:

* desired and not live → ``Create``; live but not owned by Shuttle → ``Conflict``;
* owned, desired hash differs → ``Update(desired-changed)``; hash equal → drift is judged on the
  desired fields only (normalised) and on fields other managers added (``managedFields``);
  enforce → ``Update(drifted)`` / ``RemoveFields(added-out-of-band)``, detect → ``DriftDetected``;
  adopt → ``DriftDetected(awaiting-adoption)`` for adoptable fields, the rest as enforce
  (:mod:`.adoption`);
* owned, live and not desired → ``Delete(orphaned)``, subject to the prune valve;
* partials (field-scoped annotations on objects Shuttle does not own) → ``Update(partial)``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final, TypeAlias

from starform_core.errors import ValidationError
from starform_core.kube.labels import (
    ANNOTATION_DESIRED_HASH,
    ANNOTATION_PRUNE_PROTECTION,
    LABEL_SERVICE_ID,
    MANAGED_BY_VALUE,
)
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.kube.ordering import apply_rank, delete_order
from starform_core.model.enums import DriftMode
from starform_core.model.workload import DriftPolicy
from starform_core.plan.actions import (
    Action,
    Conflict,
    Create,
    Delete,
    DriftDetected,
    FieldChange,
    Held,
    Plan,
    PruneReport,
    Reason,
    RemoveFields,
    Update,
)
from starform_core.plan.adoption import pin_waiting, split_adoptable
from starform_core.plan.apply_body import build_apply_body
from starform_core.plan.changes import addition_changes, field_changes
from starform_core.plan.drift import find_additions, removal_guards, removal_order
from starform_core.plan.fields import FieldRule, Path, parse_rule, to_pointer
from starform_core.plan.hashing import live_hash
from starform_core.plan.managed import (
    Attribution,
    ManagerEntry,
    applied_entry,
    manager_entries,
    names_field,
    shuttle_applied,
)
from starform_core.plan.normalize import MISSING, Mismatch, comparable_view, compare, compare_object
from starform_core.plan.options import PlanOptions
from starform_core.plan.ownership import is_owned, managed_by
from starform_core.plan.valve import judge_prune

__all__ = [
    "ALWAYS_IGNORED",
    "Identity",
    "PlanRun",
    "apply_sort_key",
    "claims_in_use",
    "hpa_target",
    "identity_of",
    "plan",
    "prune_actions",
]

ALWAYS_IGNORED: Final = (
    FieldRule(None, ("spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt")),
    FieldRule(
        None,
        (
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "metadata",
            "annotations",
            "kubectl.kubernetes.io/restartedAt",
        ),
    ),
)
"""Fields never applied nor judged: ``kubectl rollout restart``'s pod-template annotation."""

_DEFAULT_POLICY: Final = DriftPolicy()
_ACTION_ORDER: Final = {Create: 0, RemoveFields: 1, Update: 2, DriftDetected: 3, Conflict: 4, Held: 5}
"""For one object: removals first (their pointers were computed against the observed object)."""


Identity: TypeAlias = tuple[str, str, str, str]
"""(group, kind, namespace, name): a cheap stand-in for ObjectKey while indexing."""


def identity_of(obj: KubeObject) -> Identity:
    """(group, kind, namespace, name) of an object."""
    metadata = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion", "")).rpartition("/")[0],
        str(obj.get("kind", "")),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name", "")),
    )


def _index(objects: Iterable[KubeObject], what: str) -> dict[Identity, KubeObject]:
    index: dict[Identity, KubeObject] = {}
    for obj in objects:
        identity = identity_of(obj)
        if identity in index:
            raise ValidationError(what, f"{key_of(obj)} appears more than once")
        index[identity] = obj
    return index


def hpa_target(obj: KubeObject) -> Identity | None:
    """The identity a desired HorizontalPodAutoscaler scales (``None`` for any other object)."""
    if obj.get("kind") != "HorizontalPodAutoscaler":
        return None
    ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
    group = str(ref.get("apiVersion", "apps/v1")).rpartition("/")[0]
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    return (group, str(ref.get("kind", "")), namespace, str(ref.get("name", "")))


def _hpa_targets(desired: Iterable[KubeObject]) -> set[Identity]:
    return {target for obj in desired if (target := hpa_target(obj)) is not None}


def claims_in_use(desired: Iterable[KubeObject]) -> set[tuple[str, str]]:
    """(namespace, claim name) of every PersistentVolumeClaim the desired pod templates mount."""
    claims = set()
    for obj in desired:
        spec: Any = obj.get("spec") or {}
        for step in ("jobTemplate", "spec", "template", "spec"):
            if step in spec and isinstance(spec[step], Mapping):
                spec = spec[step]
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        for volume in spec.get("volumes") or ():
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                claims.add((namespace, str(claim)))
    return claims


class PlanRun:
    """One planning run: judges objects, collecting ``actions`` and counting ``unchanged``."""

    def __init__(self, options: PlanOptions) -> None:
        self.options = options
        self.actions: list[Action] = []
        self.unchanged = 0
        self._rules: dict[str, tuple[FieldRule, ...]] = {}

    def policy_for(self, obj: KubeObject) -> tuple[DriftPolicy, tuple[FieldRule, ...]]:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        service_id = labels.get(LABEL_SERVICE_ID)
        policy = (
            self.options.drift_policies.get(service_id, _DEFAULT_POLICY) if service_id else _DEFAULT_POLICY
        )
        rules = self._rules.get(service_id or "")
        if rules is None:
            rules = tuple(parse_rule(text) for text in policy.ignore_fields) + ALWAYS_IGNORED
            self._rules[service_id or ""] = rules
        return policy, rules

    def rules_for(
        self, identity: Identity, desired: KubeObject, *, autoscaled: bool
    ) -> tuple[DriftPolicy, tuple[FieldRule, ...]]:
        """The policy and ignore rules of one desired object (``autoscaled``: an HPA targets it)."""
        policy, rules = self.policy_for(desired)
        if autoscaled:
            rules = (*rules, FieldRule(identity[1], ("spec", "replicas")))
        return policy, rules

    def desired_object(
        self, identity: Identity, desired: KubeObject, live: KubeObject | None, hpa: set[Identity]
    ) -> None:
        policy, rules = self.rules_for(identity, desired, autoscaled=identity in hpa)
        self.judge(key_of(desired), build_apply_body(desired, rules), live, policy, rules)

    def judge(
        self,
        key: ObjectKey,
        body: dict[str, Any],
        live: KubeObject | None,
        policy: DriftPolicy,
        rules: tuple[FieldRule, ...],
    ) -> None:
        """Judge one desired object (as its apply ``body``) against its live counterpart."""
        if live is None:
            self.actions.append(Create(key, Reason.MISSING, body))
        elif not (is_owned(live) or self._unlabelled_but_ours(live)):
            # a label value of a Secret is a value of the Secret: never shown
            found = None if key.kind == "Secret" else managed_by(live)
            self.actions.append(Conflict(key, Reason.FOREIGN_OBJECT, found))
        else:
            self.owned_object(body, live, policy, rules)

    def _unlabelled_but_ours(self, live: KubeObject) -> bool:
        """An object whose ownership label was removed out of band, but that carries Shuttle's
        desired hash or was server-side applied whole by Shuttle: it is Shuttle's (label drift)."""
        if managed_by(live) is not None:
            return False
        references = (live.get("metadata") or {}).get("ownerReferences") or ()
        if any(isinstance(r, Mapping) and r.get("controller") for r in references):
            return False
        return live_hash(live) is not None or shuttle_applied(live, self.options.field_manager)

    def _foreign_writer(self, live: KubeObject) -> bool:
        """True when a manager other than Shuttle and the controllers wrote the object itself."""
        options = self.options
        return any(
            (type(entry) is dict or isinstance(entry, Mapping))  # dicts first: abc checks cost
            and entry.get("manager") != options.field_manager
            and entry.get("manager") not in options.controller_managers
            and not entry.get("subresource")
            for entry in (live.get("metadata") or {}).get("managedFields") or ()
        )

    def _removed_empties(self, absent: list[Mismatch], live: KubeObject) -> list[Mismatch]:
        """Desired ``false``/``0``/``""`` fields absent live that Shuttle's apply no longer owns:
        someone removed them (when the server drops an empty value, the apply still owns it)."""
        entry = applied_entry(manager_entries(live), self.options.field_manager)
        if entry is None:
            return []
        return [
            m for m in absent if m.live_path is not None and not names_field(entry.fields, live, m.live_path)
        ]

    def _drift(
        self, kind: str, mismatches: list[Mismatch], attribution: Attribution, rules: tuple[FieldRule, ...]
    ) -> list[Mismatch]:
        """The mismatches that are drift: not ignored, not owned by a cluster controller."""
        controllers = self.options.controller_managers
        return [
            m
            for m in mismatches
            if not any(
                rule.matches(kind, m.desired_path)
                or (m.live_path is not None and rule.matches(kind, m.live_path))
                for rule in rules
            )
            and not attribution.controlled(m.live_path, controllers)
        ]

    def _additions(
        self,
        kind: str,
        body: KubeObject,
        live: KubeObject,
        entries: list[ManagerEntry],
        rules: tuple[FieldRule, ...],
    ) -> list[Path]:
        """Fields other managers added, in a safe removal order (see :mod:`.drift`)."""
        options = self.options
        view = comparable_view(body)
        additions: set[Path] = set()
        for entry in entries:
            if (
                entry.manager == options.field_manager
                or entry.manager in options.controller_managers
                or entry.subresource
            ):
                continue
            for path in find_additions(entry.fields, live, view):
                if not any(rule.matches(kind, path) for rule in rules):
                    additions.add(path)
        return removal_order(additions)

    def owned_object(
        self,
        body: dict[str, Any],
        live: KubeObject,
        policy: DriftPolicy,
        rules: tuple[FieldRule, ...],
    ) -> None:
        kind = str(body.get("kind", ""))
        comparison = compare(body, live)
        mismatches = comparison.mismatches
        if comparison.absent:
            mismatches.extend(self._removed_empties(comparison.absent, live))
        foreign_writer = self._foreign_writer(live)
        wanted = body["metadata"]["annotations"][ANNOTATION_DESIRED_HASH]
        current = live_hash(live)
        if not mismatches and not foreign_writer and current == wanted:
            self.unchanged += 1
            return
        if current is None and shuttle_applied(live, self.options.field_manager):
            # Shuttle stamps every object it applies: a missing hash was deleted out of band
            path = ("metadata", "annotations", ANNOTATION_DESIRED_HASH)
            mismatches.append(Mismatch(path, path, wanted, MISSING))
            current = wanted
        entries = manager_entries(live)
        attribution = Attribution(entries, live, self.options.field_manager)
        drift = self._drift(kind, mismatches, attribution, rules)
        additions = self._additions(kind, body, live, entries, rules) if foreign_writer else []
        changed = bool(drift) if current is None else current != wanted
        self._record(body, live, policy, attribution, (mismatches, drift, additions), changed)

    def _record(
        self,
        body: dict[str, Any],
        live: KubeObject,
        policy: DriftPolicy,
        attribution: Attribution,
        found: tuple[list[Mismatch], list[Mismatch], list[Path]],
        changed: bool,
    ) -> None:
        """Turn what was found on one owned object into actions (or count it unchanged)."""
        mismatches, drift, additions = found
        key = key_of(body)
        kind = key.kind
        if policy.mode is DriftMode.ADOPT:
            self._record_adopt(body, live, policy, attribution, found, changed)
            return
        enforce = policy.mode is DriftMode.ENFORCE
        report: list[FieldChange] = []
        if changed:
            changes = tuple(field_changes(kind, mismatches, attribution))
            self.actions.append(Update(key, Reason.DESIRED_CHANGED, body, changes))
        elif drift:
            changes = tuple(field_changes(kind, drift, attribution))
            if enforce:
                self.actions.append(Update(key, Reason.DRIFTED, body, changes))
            else:
                report.extend(changes)
        if additions:
            removal = _removal(key, live, additions, attribution)
            if enforce:
                self.actions.append(removal)
            else:
                report.extend(removal.changes)
        if report:
            self.actions.append(DriftDetected(key, Reason.DRIFTED, tuple(report)))
        if not changed and not drift and not additions:
            self.unchanged += 1

    def _record_adopt(
        self,
        body: dict[str, Any],
        live: KubeObject,
        policy: DriftPolicy,
        attribution: Attribution,
        found: tuple[list[Mismatch], list[Mismatch], list[Path]],
        changed: bool,
    ) -> None:
        """``adopt``: adoptable out-of-band values wait (reported, kept live); the rest is reverted."""
        mismatches, drift, additions = found
        key = key_of(body)
        kind = key.kind
        waiting, revert = split_adoptable(
            kind, drift, policy, attribution, field_manager=self.options.field_manager
        )
        kept = {id(m) for m in waiting}
        if changed or revert:
            reason = Reason.DESIRED_CHANGED if changed else Reason.DRIFTED
            applied = [m for m in (mismatches if changed else revert) if id(m) not in kept]
            changes = tuple(field_changes(kind, applied, attribution))
            # a changed desire wins (Starbase decided); a revert keeps what still waits
            self.actions.append(Update(key, reason, body if changed else pin_waiting(body, waiting), changes))
        if additions:
            self.actions.append(_removal(key, live, additions, attribution))
        if waiting and not changed:
            offered = tuple(field_changes(kind, waiting, attribution))
            uid = (live.get("metadata") or {}).get("uid")
            self.actions.append(
                DriftDetected(key, Reason.AWAITING_ADOPTION, offered, str(uid) if uid else None)
            )
        if not changed and not drift and not additions:
            self.unchanged += 1

    def partial(self, key: ObjectKey, partial: KubeObject, live: KubeObject | None) -> None:
        if live is None:
            self.actions.append(Held(key, Reason.TARGET_MISSING))
            return
        mismatches = compare_object(partial, live)
        if mismatches:
            changes = tuple(field_changes(key.kind, mismatches))
            body = dict(partial)
            self.actions.append(Update(key, Reason.ANNOTATION_CHANGED, body, changes, partial=True))
        else:
            self.unchanged += 1


def _removal(
    key: ObjectKey, live: KubeObject, additions: list[Path], attribution: Attribution
) -> RemoveFields:
    """The removal of fields other managers added (guarded, in a safe order), with its changes."""
    removed = tuple(addition_changes(key.kind, live, additions, attribution))
    pointers = tuple(to_pointer(path) for path in additions)
    return RemoveFields(key, Reason.ADDED_OUT_OF_BAND, pointers, removed, removal_guards(live, additions))


def _prune(
    planner: PlanRun,
    desired: Mapping[Identity, KubeObject],
    live: Mapping[Identity, KubeObject],
) -> tuple[list[Action], PruneReport]:
    owned = 0
    candidates: dict[ObjectKey, KubeObject] = {}
    foreign_namespaces: set[str] = set()
    for identity, obj in live.items():
        if not is_owned(obj):
            if identity[2] and managed_by(obj) != MANAGED_BY_VALUE:
                foreign_namespaces.add(identity[2])
            continue
        owned += 1
        if identity not in desired and not (obj.get("metadata") or {}).get("deletionTimestamp"):
            candidates[key_of(obj)] = obj
    return prune_actions(
        planner.options,
        candidates,
        owned=owned,
        foreign_namespaces=foreign_namespaces,
        claims=lambda: claims_in_use(desired.values()),
    )


def prune_actions(
    options: PlanOptions,
    candidates: Mapping[ObjectKey, KubeObject],
    *,
    owned: int,
    foreign_namespaces: Collection[str],
    claims: Callable[[], set[tuple[str, str]]],
) -> tuple[list[Action], PruneReport]:
    """The deletions (or holds) for owned live objects no longer desired (``candidates``), in
    deletion order, and the valve's report. ``claims`` gives the claims desired pods mount (asked
    only when a protected claim is a candidate)."""
    held: dict[ObjectKey, Held] = {}
    in_use: set[tuple[str, str]] | None = None
    for key, obj in candidates.items():
        if key.kind == "Namespace" and key.name in foreign_namespaces:
            held[key] = Held(key, Reason.NAMESPACE_NOT_EMPTY)
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if key.kind == "PersistentVolumeClaim" and ANNOTATION_PRUNE_PROTECTION in annotations:
            if in_use is None:
                in_use = claims()
            if (key.namespace, key.name) in in_use:
                held[key] = Held(key, Reason.PVC_IN_USE)
    deletable = [key for key in candidates if key not in held]
    report = judge_prune(
        owned=owned,
        would_delete=len(deletable),
        policy=options.prune_policy,
        allow_prune=options.allow_prune,
    )
    actions: list[Action] = []
    for key in delete_order(candidates):
        if key in held:
            actions.append(held[key])
        elif report.held and report.reason is not None:
            actions.append(Held(key, report.reason))
        else:
            uid = (candidates[key].get("metadata") or {}).get("uid")
            actions.append(Delete(key, Reason.ORPHANED, str(uid) if uid else None))
    return actions, report


def apply_sort_key(action: Action) -> tuple[int, tuple[str, str, str, str], int]:
    """Where an apply-phase action goes: kind rank, identity, then removals before updates."""
    key = action.key
    return (apply_rank(key), (key.group, key.kind, key.namespace, key.name), _ACTION_ORDER[type(action)])


def plan(
    desired: Iterable[KubeObject],
    live: Iterable[KubeObject],
    *,
    partials: Iterable[KubeObject] = (),
    options: PlanOptions | None = None,
) -> Plan:
    """Plan what Shuttle must do to turn ``live`` into ``desired``.

    ``desired`` are the rendered objects Shuttle owns (full desired state); ``live`` what the
    cluster holds (owned objects, and any unowned object in the way); ``partials`` field-scoped
    applies to objects Shuttle does not own. Pure and deterministic: the order of the inputs does
    not matter. Raises :class:`~starform_core.errors.ValidationError` on duplicate identities.
    """
    options = options or PlanOptions()
    desired_index = _index(desired, "desired")
    live_index = _index(live, "live")
    planner = PlanRun(options)
    hpa = _hpa_targets(desired_index.values())
    for identity, obj in desired_index.items():
        planner.desired_object(identity, obj, live_index.get(identity), hpa)
    for identity, obj in _index(partials, "partials").items():
        planner.partial(key_of(obj), obj, live_index.get(identity))
    applies = sorted(planner.actions, key=apply_sort_key)
    deletions, report = _prune(planner, desired_index, live_index)
    return Plan(actions=(*applies, *deletions), unchanged=planner.unchanged, prune=report)
