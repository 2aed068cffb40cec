"""The ``adopt`` drift policy on the real kube-apiserver: an adoptable out-of-band value
(``kubectl scale``) waits and stays live while another drifted field of the same object is
reverted; a value Starbase rejected (``drift.revert``) is reverted, another value waits again."""

from __future__ import annotations

import copy

import attrs
import pytest
from tests.envtest.actors import Actor
from tests.envtest.raw import RawClient
from tests.realkube.conftest import ViewFactory
from tests.realkube.shuttle_view import ShuttleView

from starform_core.kube.objects import key_of
from starform_core.model import DriftMode, DriftPolicy, RevertField
from starform_core.payload import DesiredState, example_payload
from starform_core.plan import DriftDetected, Reason, Update

ADOPTING = "mailer-production"
SERVICE_ID = "00000000-0000-4000-8000-000000000103"


def _adopting(*reverts: RevertField) -> DesiredState:
    """The example payload with the mailer under ``adopt`` (and the given rejected values)."""
    document = example_payload()
    policy = DriftPolicy(mode=DriftMode.ADOPT, revert=reverts)
    projects = [
        attrs.evolve(
            project,
            services=[
                attrs.evolve(service, drift=policy) if service.service_id == SERVICE_ID else service
                for service in project.services
            ],
        )
        for project in document.projects
    ]
    return attrs.evolve(document, projects=projects)


def _scaled(view: ShuttleView, raw: RawClient, replicas: int) -> None:
    Actor(raw, "kubectl").scale(key_of(view.live("Deployment", ADOPTING)), replicas)


@pytest.fixture
def adopting(view_of: ViewFactory) -> ShuttleView:
    view = view_of(_adopting())
    view.converge()
    return view


def test_a_scaled_deployment_waits_while_another_edit_is_reverted(
    adopting: ShuttleView, raw: RawClient
) -> None:
    _scaled(adopting, raw, 3)
    live = adopting.live("Deployment", ADOPTING)
    original_image = live["spec"]["template"]["spec"]["containers"][0]["image"]
    containers = copy.deepcopy(live["spec"]["template"]["spec"]["containers"])
    containers[0]["image"] = "registry.example/mailer:hotfix"
    Actor(raw, "kubectl-edit").edit({**live, "spec": {"template": {"spec": {"containers": containers}}}})

    drifted = adopting.plan()
    [update] = [a for a in drifted.actions if isinstance(a, Update)]
    [waiting] = [a for a in drifted.actions if isinstance(a, DriftDetected)]
    assert [c.path for c in update.changes] == ["/spec/template/spec/containers/0/image"]
    assert waiting.reason is Reason.AWAITING_ADOPTION
    assert [(c.path, c.live) for c in waiting.changes] == [("/spec/replicas", "3")]
    assert waiting.uid == live["metadata"]["uid"]
    adopting.execute(drifted)

    after = adopting.live("Deployment", ADOPTING)
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == original_image
    assert after["spec"]["replicas"] == 3, "the waiting value survived the revert"
    (still,) = adopting.plan().actions
    assert isinstance(still, DriftDetected) and not adopting.plan().executable


def test_a_rejected_value_is_reverted_and_another_waits_again(view_of: ViewFactory, raw: RawClient) -> None:
    view = view_of(_adopting(RevertField(field="Deployment:/spec/replicas", live="3")))
    view.converge()
    desired = view.live("Deployment", ADOPTING)["spec"]["replicas"]
    _scaled(view, raw, 3)
    (revert,) = view.plan().actions
    assert isinstance(revert, Update) and revert.reason is Reason.DRIFTED
    view.execute(view.plan())
    assert view.live("Deployment", ADOPTING)["spec"]["replicas"] == desired
    assert view.plan().is_empty
    _scaled(view, raw, 4)
    (waiting,) = view.plan().actions
    assert isinstance(waiting, DriftDetected) and [c.live for c in waiting.changes] == ["4"]
