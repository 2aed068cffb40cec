"""The incremental planner's plan is the full planner's, exactly, after any sequence of changes.

Each example runs a sequence of steps against an SSA model cluster seen through a watch-cache-like
view (an unchanged object is served as the same dict with the same ``resourceVersion``; a changed
one as a new dict with a new version): payload changes (an image, replicas, autoscaling on or off,
a drift policy, its ignore rules, a paused or removed service, a var group value), Shuttle
applying the plan, out-of-band edits and deletions, ``resourceVersion`` bumps without a change,
live objects served as fresh copies or without any version, managedFields-only changes, foreign
objects moving in, objects being deleted, and changes of the prune valve and the field manager.
After every step the incremental plan must equal ``plan(...)`` of the same inputs.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.property.plan_scenarios import disturb
from tests.property.ssa_model import Cluster
from tests.strategies.kube_objects import unowned_object

from starform_core.errors import StarformError
from starform_core.kube.labels import MANAGED_BY_VALUE
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.model.cluster import PrunePolicy
from starform_core.model.enums import DriftMode, RunState
from starform_core.model.workload import Autoscaling, DriftPolicy
from starform_core.payload import example_payload
from starform_core.payload.document import DesiredState
from starform_core.plan import PlanOptions, plan
from starform_core.plan.incremental import IncrementalPlanner
from starform_core.render import render
from starform_core.secrets_values import SecretValue

SEQUENCES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEPS = (
    "payload",
    "payload",
    "payload",
    "rerender",
    "apply",
    "apply",
    "disturb",
    "bump",
    "copies",
    "unversioned",
    "managers",
    "foreign",
    "deleting",
    "options",
    "replicas",
    "drop",
    "drop",
    "policy",
)
"""Payload changes (and a full re-render), Shuttle applying the last plan, live events, option
changes, and changes no render makes but a caller may: a Deployment pinning its replicas, a
desired object dropped alone (an autoscaler without its Deployment changing) and a drift policy
changed without its objects."""


class WatchView:
    """What a watch cache serves: the same dict while an object is unchanged, a new dict with a
    new ``resourceVersion`` once it changes."""

    def __init__(self) -> None:
        self.served: dict[ObjectKey, dict[str, Any]] = {}
        self.version = 0

    def _bump(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        return obj

    def refresh(self, cluster: Cluster) -> list[dict[str, Any]]:
        """The live view after ``cluster`` changed."""
        served: dict[ObjectKey, dict[str, Any]] = {}
        for key in sorted(cluster.values):
            now = cluster.get(key)
            now["metadata"].pop("resourceVersion", None)
            old = self.served.get(key)
            if old is not None and _without_version(old) == now:
                served[key] = old
            else:
                served[key] = self._bump(now)
        self.served = served
        return list(served.values())

    def bump(self, keys: list[ObjectKey]) -> list[dict[str, Any]]:
        """A write that changed nothing the plan reads (a status write, an empty patch)."""
        for key in keys:
            self.served[key] = self._bump(copy.deepcopy(self.served[key]))
        return list(self.served.values())

    def copies(self, keys: list[ObjectKey], *, versioned: bool) -> list[dict[str, Any]]:
        """The same objects as new dicts (a cache that copies), keeping or dropping the version."""
        for key in keys:
            fresh = copy.deepcopy(self.served[key])
            if not versioned:
                fresh["metadata"].pop("resourceVersion", None)
            self.served[key] = fresh
        return list(self.served.values())


def _without_version(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


def _canonical(obj: KubeObject) -> str:
    return json.dumps(obj, sort_keys=True)


def _reuse(previous: list[KubeObject], rendered: tuple[KubeObject, ...]) -> list[KubeObject]:
    """``rendered``, with every object equal to its previous version replaced by that version
    (what an incremental render hands back for the services whose inputs did not change)."""
    before = {key_of(obj): obj for obj in previous}
    result = []
    for obj in rendered:
        old = before.get(key_of(obj))
        result.append(old if old is not None and _canonical(old) == _canonical(obj) else obj)
    return result


def _edit_service(data: st.DataObject, document: DesiredState) -> DesiredState:
    """One change to one service (or its project's var group) of ``document``."""
    projects = list(document.projects)
    at = data.draw(st.integers(0, len(projects) - 1), label="project")
    project = projects[at]
    if not project.services:
        return document
    services = list(project.services)
    index = data.draw(st.integers(0, len(services) - 1), label="service")
    service = services[index]
    edit = data.draw(
        st.sampled_from(["image", "replicas", "autoscaling", "mode", "ignore", "pause", "remove", "secret"]),
        label="payload edit",
    )
    if edit == "remove":
        del services[index]
    elif edit == "secret" and project.var_groups:
        group = project.var_groups[0]
        entries = tuple((name, SecretValue(f"v{data.draw(st.integers(0, 3))}")) for name, _ in group.entries)
        projects[at] = attrs.evolve(
            project, var_groups=(attrs.evolve(group, entries=entries), *project.var_groups[1:])
        )
        return attrs.evolve(document, projects=tuple(projects))
    else:
        services[index] = _changed(data, service, edit)
    projects[at] = attrs.evolve(project, services=tuple(services))
    return attrs.evolve(document, projects=tuple(projects))


def _changed(data: st.DataObject, service: Any, edit: str) -> Any:
    try:
        if edit == "image" and service.release is not None:
            digest = data.draw(st.sampled_from(["ab", "cd", "ef"])) * 32
            image = service.release.image.partition("@")[0] + "@sha256:" + digest
            return attrs.evolve(service, release=attrs.evolve(service.release, image=image))
        if edit == "replicas" and service.autoscaling is None:
            return attrs.evolve(service, replicas=data.draw(st.integers(0, 4)))
        if edit == "autoscaling":
            scaling = None if service.autoscaling else Autoscaling(1, 3, target_cpu_percent=70)
            return attrs.evolve(service, autoscaling=scaling, replicas=None)
        if edit == "mode":
            mode = DriftMode.DETECT if service.drift.mode is DriftMode.ENFORCE else DriftMode.ENFORCE
            return attrs.evolve(service, drift=attrs.evolve(service.drift, mode=mode))
        if edit == "ignore":
            rules = data.draw(
                st.sampled_from(
                    [
                        (),
                        ("Deployment:/spec/template/spec/containers/0/image",),
                        ("Deployment:/metadata/annotations/team",),
                    ]
                )
            )
            return attrs.evolve(service, drift=DriftPolicy(mode=service.drift.mode, ignore_fields=rules))
        if edit == "pause":
            state = RunState.PAUSED if service.state is RunState.ACTIVE else RunState.ACTIVE
            return attrs.evolve(service, state=state)
    except StarformError:
        pass  # not a valid service (e.g. autoscaling on a cron job): the payload stays as it was
    return service


class Scenario:
    """Desired state, cluster, live view, options and both planners, stepped together."""

    def __init__(self) -> None:
        self.document = example_payload()
        self.cluster = Cluster()
        self.view = WatchView()
        for partial in render(self.document).partials:
            self.cluster.apply(partial, "envoy-gateway")
        self.desired: list[KubeObject] = []
        self.partials: list[KubeObject] = []
        self.rerender(reuse=False)
        self.prune = PrunePolicy(release_held=True)
        self.allow_prune = True
        self.manager = "shuttle"
        self.cluster.execute(plan(self.desired, [], partials=self.partials, options=self.options()))
        self.live = self.view.refresh(self.cluster)
        self.planner = IncrementalPlanner()

    def rerender(self, *, reuse: bool) -> None:
        rendering = render(self.document)
        self.desired = _reuse(self.desired, rendering.objects) if reuse else list(rendering.objects)
        self.partials = list(rendering.partials)
        self.policies = rendering.drift_policies

    def options(self) -> PlanOptions:
        return PlanOptions(
            field_manager=self.manager,
            drift_policies=self.policies,
            prune_policy=self.prune,
            allow_prune=self.allow_prune,
        )

    def check(self) -> Any:
        """Plan both ways; they must agree exactly."""
        options = self.options()
        expected = plan(self.desired, self.live, partials=self.partials, options=options)
        step = self.planner.plan(self.desired, self.live, partials=self.partials, options=options)
        assert step.plan == expected
        assert step.plan.summary() == expected.summary()
        self.planner = step.planner
        return expected

    def step(self, data: st.DataObject, what: str, last: Any) -> None:
        keys = sorted(self.view.served)
        some = (
            data.draw(st.lists(st.sampled_from(keys), max_size=6, unique=True), label="objects")
            if keys
            else []
        )
        if what == "payload":
            self.document = _edit_service(data, self.document)
            self.rerender(reuse=True)
        elif what == "rerender":
            self.rerender(reuse=False)
        elif what == "apply":
            self.cluster.execute(last, self.manager)
            self.live = self.view.refresh(self.cluster)
        elif what == "disturb":
            disturb(data, self.cluster)
            self.live = self.view.refresh(self.cluster)
        elif what == "bump":
            self.live = self.view.bump(some)
        elif what in ("copies", "unversioned"):
            self.live = self.view.copies(some, versioned=what == "copies")
        elif what == "managers":
            self._share_fields(some)
        elif what == "foreign":
            self._foreigners(data)
        elif what == "deleting":
            self._deleting(data, some)
        elif what == "replicas":
            self._pin_replicas(data)
        elif what == "drop":
            dropped = {data.draw(st.sampled_from([key_of(o) for o in self.desired]), label="dropped")}
            dropped |= {
                key_of(o)
                for o in self.desired
                if o["kind"] == "HorizontalPodAutoscaler" and data.draw(st.booleans())
            }
            self.desired = [obj for obj in self.desired if key_of(obj) not in dropped]
        elif what == "policy":
            self._policy(data)
        else:
            self._options(data)

    def _share_fields(self, keys: list[ObjectKey]) -> None:
        """Another manager applies labels an object already has: only managedFields change."""
        for key in keys:
            labels = self.cluster.values[key]["metadata"].get("labels")
            if labels:
                body = {"apiVersion": self.view.served[key]["apiVersion"], "kind": key.kind}
                body["metadata"] = {"name": key.name, "namespace": key.namespace, "labels": dict(labels)}
                self.cluster.apply(body, "argo")
        self.live = self.view.refresh(self.cluster)

    def _foreigners(self, data: st.DataObject) -> None:
        namespaces = sorted({key.namespace for key in self.cluster.values if key.namespace})
        if not namespaces:
            return
        namespace = data.draw(st.sampled_from(namespaces), label="namespace")
        kind = data.draw(st.sampled_from(["bystander", "squatter", "child"]), label="foreign")
        if kind == "bystander":
            self.cluster.apply(unowned_object("ConfigMap", "bystander", namespace), "helm")
        elif kind == "child":
            pod = unowned_object("Pod", "child-abc12", namespace, manager_label=MANAGED_BY_VALUE)
            pod["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "child", "controller": True}]
            self.cluster.apply(pod, "kube-controller-manager")
        else:
            wanted = [o for o in self.desired if key_of(o).namespace and key_of(o) not in self.cluster.values]
            if wanted:
                obj = data.draw(st.sampled_from(wanted), label="squatted")
                key = key_of(obj)
                squatter = unowned_object(key.kind, key.name, key.namespace) | {
                    "apiVersion": obj["apiVersion"]
                }
                self.cluster.apply(squatter, "helm")
        self.live = self.view.refresh(self.cluster)

    def _deleting(self, data: st.DataObject, keys: list[ObjectKey]) -> None:
        """Objects someone started deleting (a finalizer holds them), often ones no longer desired
        (which the prune step must then leave alone)."""
        desired = {key_of(obj) for obj in self.desired}
        orphans = sorted(key for key in self.cluster.values if key not in desired)
        if orphans and data.draw(st.booleans(), label="an orphan"):
            keys = [*keys, data.draw(st.sampled_from(orphans), label="orphan")]
        for key in keys:
            self.cluster.values[key]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        self.live = self.view.refresh(self.cluster)

    def _pin_replicas(self, data: st.DataObject) -> None:
        """A desired Deployment that sets ``spec.replicas`` (a new object): what an autoscaler
        targeting it must strip, and must stop stripping once the autoscaler goes."""
        targets = {
            obj["spec"]["scaleTargetRef"]["name"]
            for obj in self.desired
            if obj["kind"] == "HorizontalPodAutoscaler"
        }
        deployments = [i for i, obj in enumerate(self.desired) if obj["kind"] == "Deployment"]
        deployments = [
            i for i in deployments if self.desired[i]["metadata"]["name"] in targets
        ] or deployments
        if deployments:
            index = data.draw(st.sampled_from(deployments), label="pinned")
            pinned = copy.deepcopy(self.desired[index])
            pinned["spec"]["replicas"] = data.draw(st.integers(1, 3), label="replicas")
            self.desired[index] = pinned

    def _policy(self, data: st.DataObject) -> None:
        """A service's drift policy changed (mode or ignore rules), its objects did not."""
        if not self.policies:
            return
        service_id = data.draw(st.sampled_from(sorted(self.policies)), label="policy of")
        mode = data.draw(st.sampled_from(list(DriftMode)), label="mode")
        rules = data.draw(st.sampled_from([(), ("Deployment:/metadata/annotations/team",)]), label="rules")
        self.policies = {**self.policies, service_id: DriftPolicy(mode=mode, ignore_fields=rules)}

    def _options(self, data: st.DataObject) -> None:
        change = data.draw(st.sampled_from(["allow", "valve", "release", "manager"]), label="option")
        if change == "allow":
            self.allow_prune = not self.allow_prune
        elif change == "valve":
            self.prune = PrunePolicy(max_delete_percent=data.draw(st.integers(0, 100)), max_delete_count=0)
        elif change == "release":
            self.prune = PrunePolicy(release_held=not self.prune.release_held)
        else:
            self.manager = "shuttle-next" if self.manager == "shuttle" else "shuttle"


@SEQUENCES
@given(data=st.data(), steps=st.lists(st.sampled_from(STEPS), min_size=3, max_size=12))
def test_incremental_plan_equals_the_full_plan_after_every_step(
    data: st.DataObject, steps: list[str]
) -> None:
    scenario = Scenario()
    last = scenario.check()
    for what in steps:
        scenario.step(data, what, last)
        last = scenario.check()


def test_an_unchanged_step_judges_nothing_again() -> None:
    scenario = Scenario()
    scenario.cluster.execute(scenario.check())
    scenario.live = scenario.view.refresh(scenario.cluster)
    scenario.check()
    step = scenario.planner.plan(
        scenario.desired, scenario.live, partials=scenario.partials, options=scenario.options()
    )
    assert (step.judged, step.bodies) == (0, 0)
    assert step.plan.executable == ()


def test_a_live_change_rejudges_without_rebuilding_the_body() -> None:
    scenario = Scenario()
    scenario.cluster.execute(scenario.check())
    scenario.live = scenario.view.refresh(scenario.cluster)
    scenario.check()
    deployment = next(key for key in scenario.view.served if key.kind == "Deployment")
    scenario.live = scenario.view.bump([deployment])
    step = scenario.planner.plan(
        scenario.desired, scenario.live, partials=scenario.partials, options=scenario.options()
    )
    assert (step.judged, step.bodies) == (1, 0)


def test_a_changed_service_rebuilds_only_its_own_objects() -> None:
    scenario = Scenario()
    scenario.check()
    before = {key_of(obj) for obj in scenario.desired}
    project = scenario.document.projects[0]
    service = project.services[0]
    assert service.release is not None
    image = service.release.image.partition("@")[0] + "@sha256:" + "cd" * 32
    changed = attrs.evolve(service, release=attrs.evolve(service.release, image=image))
    project = attrs.evolve(project, services=(changed, *project.services[1:]))
    scenario.document = attrs.evolve(scenario.document, projects=(project, *scenario.document.projects[1:]))
    previous = list(scenario.desired)
    scenario.rerender(reuse=True)
    fresh = [obj for obj in scenario.desired if not any(obj is old for old in previous)]
    assert fresh and {key_of(obj) for obj in scenario.desired} == before
    options = scenario.options()
    step = scenario.planner.plan(scenario.desired, scenario.live, partials=scenario.partials, options=options)
    assert step.bodies == len(fresh)
    assert step.plan == plan(scenario.desired, scenario.live, partials=scenario.partials, options=options)


def test_duplicates_are_refused_like_the_full_planner() -> None:
    scenario = Scenario()
    twice = [*scenario.desired, scenario.desired[0]]
    with pytest.raises(StarformError) as full:
        plan(twice, scenario.live, options=scenario.options())
    with pytest.raises(StarformError) as incremental:
        IncrementalPlanner().plan(twice, scenario.live, options=scenario.options())
    assert str(incremental.value) == str(full.value)


def _primed() -> Scenario:
    scenario = Scenario()
    scenario.check()
    return scenario


def test_an_autoscaler_that_goes_rejudges_the_deployment_it_scaled() -> None:
    scenario = _primed()
    targets = {
        o["spec"]["scaleTargetRef"]["name"]
        for o in scenario.desired
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    index = next(
        i
        for i, o in enumerate(scenario.desired)
        if o["kind"] == "Deployment" and o["metadata"]["name"] in targets
    )
    pinned = copy.deepcopy(scenario.desired[index])
    pinned["spec"]["replicas"] = 2
    scenario.desired[index] = pinned
    assert not scenario.check().executable  # replicas are the autoscaler's: stripped, nothing to do
    scenario.desired = [o for o in scenario.desired if o["kind"] != "HorizontalPodAutoscaler"]
    assert [a.key.kind for a in scenario.check().executable if a.kind.value == "update"] == ["Deployment"]


def test_an_orphan_being_deleted_is_not_pruned_again() -> None:
    scenario = _primed()
    orphan = next(key_of(o) for o in scenario.desired if o["kind"] == "ConfigMap" or o["kind"] == "Service")
    scenario.desired = [o for o in scenario.desired if key_of(o) != orphan]
    assert [a.key for a in scenario.check().executable] == [orphan]
    scenario.cluster.values[orphan]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    scenario.live = scenario.view.refresh(scenario.cluster)
    assert scenario.check().executable == ()


def test_a_copy_next_to_its_original_is_refused_on_a_later_call_too() -> None:
    scenario = _primed()
    same, copied = scenario.desired[3], copy.deepcopy(scenario.desired[3])
    for twice in ([*scenario.desired, copied], [*scenario.desired, same]):
        with pytest.raises(StarformError) as full:
            plan(twice, scenario.live, options=scenario.options())
        with pytest.raises(StarformError) as incremental:
            scenario.planner.plan(twice, scenario.live, options=scenario.options())
        assert str(incremental.value) == str(full.value)
    live = [*scenario.live, copy.deepcopy(scenario.live[0])]
    with pytest.raises(StarformError, match="appears more than once"):
        scenario.planner.plan(scenario.desired, live, options=scenario.options())
