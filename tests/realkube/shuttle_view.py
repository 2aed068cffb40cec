"""What Shuttle sees and does on a shared real cluster, restricted to one test's namespaces: the
live objects the real server returns, the plan Shuttle's planner makes from them, and Shuttle's
executor running it through the Kubernetes adapter."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from starform_adapters.kubernetes import MANAGED_TYPES, KubeApi, KubernetesCluster
from starform_apps.shuttle.executor import Execution, execute
from starform_core.kube.labels import OWNERSHIP_SELECTOR
from starform_core.kube.objects import KubeObject, key_of
from starform_core.payload import DesiredState
from starform_core.plan import Plan, PlanOptions, plan
from starform_core.render import Rendering, render

__all__ = ["ShuttleView"]


@attrs.define
class ShuttleView:
    """One payload on one cluster: ``observe`` lists, ``plan`` plans, ``converge`` executes."""

    api: KubeApi
    cluster: KubernetesCluster
    document: DesiredState
    rendering: Rendering = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.rendering = render(self.document)

    @property
    def namespaces(self) -> frozenset[str]:
        """The namespaces this payload's objects live in."""
        return frozenset(o["metadata"]["name"] for o in self.rendering.objects if o["kind"] == "Namespace")

    def desired(self) -> list[KubeObject]:
        """Rendered objects whose kind the cluster serves."""
        return [o for o in self.rendering.objects if self.cluster.supports(key_of(o))]

    def observe(self) -> list[KubeObject]:
        """What the real server returns: owned objects of every managed kind in the payload's
        namespaces (listed as Shuttle's watch lists them), plus the partials' targets."""
        live: list[KubeObject] = []
        for rtype in MANAGED_TYPES:
            if rtype.optional and not self.cluster.gateway_api_installed():
                continue
            paths = (
                [rtype.collection_path(ns) for ns in sorted(self.namespaces)]
                if rtype.namespaced
                else [rtype.collection_path()]
            )
            for path in paths:
                for item in self.api.list(path, label_selector=OWNERSHIP_SELECTOR).get("items") or []:
                    item.setdefault("apiVersion", rtype.api_version)
                    item.setdefault("kind", rtype.kind)
                    if rtype.namespaced or item["metadata"]["name"] in self.namespaces:
                        live.append(item)
        for partial in self.rendering.partials:
            target = self.cluster.get(key_of(partial))
            if target is not None:
                live.append(target)
        return live

    def plan(self, live: Iterable[KubeObject] | None = None) -> Plan:
        """Shuttle's plan for the live view (observed now when not given)."""
        options = PlanOptions(
            drift_policies=self.rendering.drift_policies, prune_policy=self.document.cluster.prune
        )
        observed = self.observe() if live is None else list(live)
        return plan(self.desired(), observed, partials=self.rendering.partials, options=options)

    def execute(self, the_plan: Plan) -> Execution:
        """Shuttle's executor on the plan's executable actions, through the adapter."""
        execution = execute(self.cluster, the_plan.executable, workers=4)
        failures = [(str(o.action.key), o.error) for o in execution.failed]
        assert not failures, failures
        return execution

    def converge(self) -> Plan:
        """Plan and execute once; returns the plan that was executed."""
        the_plan = self.plan()
        self.execute(the_plan)
        return the_plan

    def live(self, kind: str, name: str) -> KubeObject:
        """One observed object by kind and name (asserting it exists)."""
        found = [o for o in self.observe() if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind} {name}: {len(found)} live"
        return found[0]
