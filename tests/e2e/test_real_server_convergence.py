"""Shuttle end to end on the real kube-apiserver: create, a rolling deploy, an out-of-band edit
reverted, a removed service pruned. The cluster is this module's own (Shuttle sees all of it)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from tests.e2e.conftest import payload_without
from tests.envtest.actors import Actor
from tests.envtest.control_plane import ControlPlane
from tests.envtest.raw import RawClient
from tests.envtest.waiting import wait_until
from tests.realkube.controllers import CONTROLLER, REVISION, act_as_controllers, rollout_done
from tests.realkube.payloads import LB_NAME, LB_NAMESPACE, install_load_balancer

from starform_adapters.starbase import InMemorySource
from starform_apps.shuttle import Shuttle, ShuttleConfig, build_shuttle
from starform_apps.shuttle.reconciler import ReconcileResult
from starform_core.kube.objects import KubeObject, key_of
from starform_core.payload import DesiredState, example_payload
from starform_core.render import render

_NEW_IMAGE = "registry.digitalocean.com/starform/shop-storefront@sha256:" + "5" * 64


@pytest.fixture
def raw(own_kube_apiserver: ControlPlane) -> Iterator[RawClient]:
    client = RawClient(own_kube_apiserver.configuration())
    install_load_balancer(client)
    yield client
    client.close()


@pytest.fixture
def shuttle(own_kube_apiserver: ControlPlane, tmp_path: Path) -> Iterator[tuple[Shuttle, InMemorySource]]:
    source = InMemorySource(example_payload())
    config = ShuttleConfig(
        starbase_url="http://starbase.invalid",
        cluster_id=example_payload().cluster.cluster_id,
        token="not-used-by-the-in-memory-source",
        state_dir=tmp_path / "state",
        interval=30.0,
        workers=4,
    )
    agent = build_shuttle(
        config, kube_configuration=own_kube_apiserver.configuration(), source=source, serve_ops=False
    )
    agent.start(sync_timeout=30)
    yield agent, source
    agent.stop()


def _converge(agent: Shuttle, *, ticks: int = 5) -> ReconcileResult:
    for _ in range(ticks):
        result = agent.loop.run_once()
        if result.converged:
            return result
    raise AssertionError(f"did not converge: {result.outcome}")


def _cached(agent: Shuttle, predicate: Callable[[list[KubeObject]], bool], message: str) -> None:
    wait_until(lambda: predicate(list(agent.cluster.live_objects())), timeout=15, message=message)


def _deployment(document: DesiredState, name: str) -> KubeObject:
    return next(
        o for o in render(document).objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name
    )


def _rolled(document: DesiredState, service_name: str, image: str) -> DesiredState:
    projects = []
    for project in document.projects:
        services = []
        for service in project.services:
            if service.name == service_name and service.release is not None:
                release = attrs.evolve(service.release, version=service.release.version + 1, image=image)
                service = attrs.evolve(service, release=release)
            services.append(service)
        projects.append(attrs.evolve(project, services=tuple(services)))
    return attrs.evolve(document, projects=tuple(projects), generation=document.generation + 1)


def _quiet(agent: Shuttle) -> None:
    result = agent.loop.run_once()
    assert result.plan is not None and result.plan.executable == (), (
        result.plan.actions if result.plan else None
    )


def test_create_deploy_revert_and_prune_on_the_real_server(
    shuttle: tuple[Shuttle, InMemorySource], raw: RawClient
) -> None:
    agent, source = shuttle
    kubectl = Actor(raw, "kubectl-edit")
    document = example_payload()
    rendered = render(document).objects

    # create: everything applied, the load balancer annotated, then quiet once the controllers wrote
    _converge(agent)
    assert all(kubectl.get(key_of(o)) is not None for o in rendered)
    lb = kubectl.get(
        key_of(
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": LB_NAME, "namespace": LB_NAMESPACE}}
        )
    )
    assert (
        lb is not None
        and lb["metadata"]["annotations"]["service.beta.kubernetes.io/do-loadbalancer-size-unit"] == "3"
    )
    act_as_controllers(raw, [o for o in (kubectl.get(key_of(r)) for r in rendered) if o is not None])
    _cached(
        agent,
        lambda objs: all(
            "deployment.kubernetes.io/revision" in o["metadata"].get("annotations", {})
            for o in objs
            if o["kind"] == "Deployment"
        ),
        "the controllers' writes in Shuttle's cache",
    )
    _quiet(agent)

    # a rolling deploy: the new release reaches the Deployment's template
    storefront = _deployment(document, "storefront-production")
    rolled = _rolled(document, "storefront", _NEW_IMAGE)
    before = kubectl.get(key_of(storefront))
    assert before is not None
    source.publish(rolled)
    deployed = _converge(agent)
    live = kubectl.get(key_of(storefront))
    assert live is not None and live["spec"]["template"]["spec"]["containers"][0]["image"] == _NEW_IMAGE
    assert live["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert deployed.applied_generation == deployed.generation == rolled.generation
    rollout_done(Actor(raw, CONTROLLER), live)  # the controller rolls out revision 2
    _cached(
        agent,
        lambda objs: any(
            o["metadata"]["name"] == "storefront-production"
            and o["metadata"].get("annotations", {}).get(REVISION) == "2"
            for o in objs
        ),
        "the second rollout in Shuttle's cache",
    )
    _quiet(agent)

    # an out-of-band edit by kubectl is reverted and attributed
    orders = kubectl.get(key_of(_deployment(rolled, "orders-api-production")))
    assert orders is not None
    containers = copy.deepcopy(orders["spec"]["template"]["spec"]["containers"])
    containers[0]["image"] = "docker.io/evil/miner:latest"
    kubectl.edit({**orders, "spec": {"template": {"spec": {"containers": containers}}}})
    _cached(
        agent,
        lambda objs: any(
            "evil" in o["spec"]["template"]["spec"]["containers"][0]["image"]
            for o in objs
            if o["kind"] == "Deployment"
        ),
        "the edit in Shuttle's cache",
    )
    _converge(agent)
    reverted = kubectl.get(key_of(orders))
    assert reverted is not None
    assert (
        reverted["spec"]["template"]["spec"]["containers"][0]["image"]
        == (orders["spec"]["template"]["spec"]["containers"][0]["image"])
        != "docker.io/evil/miner:latest"
        or "evil" not in reverted["spec"]["template"]["spec"]["containers"][0]["image"]
    )
    drift = [
        e
        for e in source.events.values()
        if e["type"] == "DriftReverted" and e["data"]["object"] == str(key_of(orders))
    ]
    assert {f.get("manager") for e in drift for f in e["data"].get("fields", [])} == {"kubectl-edit"}

    # a removed service is pruned from the real server; the rest stays
    pruned = payload_without(rolled, "mailer")
    source.publish(pruned)
    _converge(agent)
    assert kubectl.get(key_of(_deployment(document, "mailer-production"))) is None
    assert any(e["type"] == "Pruned" for e in source.events.values())
    assert all(kubectl.get(key_of(o)) is not None for o in render(pruned).objects)
