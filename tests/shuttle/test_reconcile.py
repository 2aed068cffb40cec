"""One reconcile on the doubles (FakeCluster, InMemorySource; the real state database): honest
outcomes, epochs, intents settled after a crash, secrets kept out of events and logs."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from tests.shuttle.agents import fake_agent, gateway_cluster

from starform_adapters.starbase import InMemorySource
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import EventType, event_report
from starform_apps.shuttle.statedb import StateDB
from starform_core.errors import ClusterApiError
from starform_core.kube.labels import service_id_of
from starform_core.kube.objects import key_of
from starform_core.payload import DesiredState, example_payload
from starform_core.render import render

EXAMPLE = example_payload()
SECRET = "sk_test_example_only"


def _fewer(document: DesiredState, keep: int, *, generation: int) -> DesiredState:
    """The document with only the first ``keep`` projects (so most of what it owns goes)."""
    return attrs.evolve(document, projects=document.projects[:keep], generation=generation)


def _events(source: InMemorySource, type_: str) -> list[dict[str, object]]:
    return [e for e in source.events.values() if e["type"] == type_]


def test_a_held_prune_is_never_reported_applied(tmp_path: Path) -> None:
    source = InMemorySource(EXAMPLE)
    agent = fake_agent(tmp_path, source=source)
    assert agent.loop.run_once().converged
    assert source.applied_generation == EXAMPLE.generation
    source.publish(_fewer(attrs.evolve(EXAMPLE, projects=()), 0, generation=EXAMPLE.generation + 1))
    held = agent.loop.run_once()
    assert held.outcome == "held" and not held.converged
    assert held.report is not None and held.report.counts["held"] > 25
    assert held.report.reasons == {"mass-deletion": held.report.counts["held"]}
    assert agent.applied == (EXAMPLE.epoch, EXAMPLE.generation), "the held generation is not applied"
    status = source.statuses[-1]
    assert status["applied_generation"] == EXAMPLE.generation
    assert (status["attempt"]["generation"], status["attempt"]["outcome"]) == (EXAMPLE.generation + 1, "held")
    assert [e["data"]["generation"] for e in _events(source, "GenerationApplied")] == [EXAMPLE.generation]
    assert len(_events(source, "PruneHeld")) == 1
    assert agent.metrics.registry.get_sample_value("shuttle_prune_held") == 1
    again = agent.loop.run_once()
    assert again.outcome == "held" and len(_events(source, "PruneHeld")) == 1, "a lasting hold: one event"


def test_failed_actions_are_partial_and_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cluster = gateway_cluster()
    deployment = next(key_of(o) for o in render(EXAMPLE).objects if o["kind"] == "Deployment")
    cluster.fail(deployment, ClusterApiError("deployments.apps is forbidden", status=403))
    source = InMemorySource(EXAMPLE)
    agent = fake_agent(tmp_path, cluster=cluster, source=source)
    with caplog.at_level(logging.WARNING, logger="starform.shuttle"):
        result = agent.loop.run_once()
    assert result.outcome == "partial" and not result.converged
    assert agent.applied is None
    failed = [r for r in caplog.records if r.getMessage() == "action failed"]
    assert [(r.object, r.verb, r.status) for r in failed] == [(str(deployment), "create", 403)]  # type: ignore[attr-defined]
    (event,) = [e for e in _events(source, "ReconcileFailed") if e["data"]["object"] == str(deployment)]
    assert event["data"]["error"] == "http-403"
    call = next(c for c in cluster.writes() if c.key == deployment)
    assert call.request_id == event["event_id"], "the event's id is the request's Audit-ID"


def test_a_payload_far_ahead_then_the_real_one_does_not_stick_once_a_new_epoch_comes(tmp_path: Path) -> None:
    source = InMemorySource(EXAMPLE)
    agent = fake_agent(tmp_path, source=source)
    agent.loop.run_once()
    ahead = attrs.evolve(EXAMPLE, generation=EXAMPLE.generation + 1000)
    source.publish(ahead)
    assert agent.loop.run_once().converged
    real = _fewer(EXAMPLE, 1, generation=EXAMPLE.generation + 1)
    source.publish(real)
    stuck = agent.loop.run_once()
    assert stuck.pulled.outcome.value == "rejected"
    assert agent.held is not None and agent.held.version == (ahead.epoch, ahead.generation)
    assert [e["reason"] for e in _events(source, "PayloadRejected")] == ["stale"]
    rejected = source.refused[-1]["rejected_payload"]
    assert (rejected["reason"], rejected["generation"]) == ("stale", real.generation), "reported at once"
    new_epoch = attrs.evolve(real, epoch=EXAMPLE.epoch + 1)
    source.publish(new_epoch)
    moved = agent.loop.run_once()
    assert moved.pulled.new_epoch and moved.converged
    assert agent.applied == (new_epoch.epoch, real.generation)
    assert [e["reason"] for e in _events(source, "EpochStarted")] == ["new-epoch"]
    assert source.statuses[-1]["epoch"] == new_epoch.epoch
    replayed = attrs.evolve(ahead)  # the old history's payload, replayed
    source.publish(replayed)
    agent.loop.run_once()
    assert agent.held is not None and agent.held.version == (new_epoch.epoch, real.generation)
    assert [e["reason"] for e in _events(source, "PayloadRejected")] == ["stale", "stale-epoch"]


def test_a_restart_keeps_refusing_to_go_back_within_the_epoch(tmp_path: Path) -> None:
    source = InMemorySource(attrs.evolve(EXAMPLE, generation=50))
    fake_agent(tmp_path, source=source).loop.run_once()
    source.publish(EXAMPLE)  # generation 42: older
    restarted = fake_agent(tmp_path, source=source)
    restarted.loop.run_once()
    assert restarted.held is not None and restarted.held.document.generation == 50


def test_intents_a_crash_left_are_settled_from_the_next_plan(tmp_path: Path) -> None:
    cluster = gateway_cluster()
    source = InMemorySource(EXAMPLE)
    assert fake_agent(tmp_path, cluster=cluster, source=source).loop.run_once().converged
    objects = [
        key_of(o) for o in render(EXAMPLE).objects if o["kind"] == "ConfigMap" or o["kind"] == "Secret"
    ]
    took_effect, never_sent = objects[0], objects[1]
    cluster.delete(never_sent)  # deleted out of band while Shuttle was down: its re-create is needed
    outbox = Outbox(StateDB(tmp_path))
    intents = {}
    for key in (took_effect, never_sent):  # as if killed between the API call and the event's settling
        intent = event_report(
            EventType.APPLIED,
            now=datetime.now(UTC),
            reason="desired-changed",
            data={
                "object": str(key),
                "kind": key.kind,
                "action": "create",
                "epoch": EXAMPLE.epoch,
                "generation": EXAMPLE.generation,
            },
        )
        outbox.open_intent(intent)
        intents[key] = intent.report_id
    restarted = fake_agent(tmp_path, cluster=cluster, source=source)
    assert restarted.loop.run_once().converged
    confirmed = source.events[intents[took_effect]]
    assert (confirmed["type"], confirmed["data"]["confirmed_after_restart"]) == ("Applied", True)
    interrupted = source.events[intents[never_sent]]
    assert (interrupted["type"], interrupted["data"]["error"]) == ("ReconcileFailed", "interrupted")
    redone = [
        e
        for e in source.events.values()
        if e["data"].get("object") == str(never_sent) and e["type"] != "ReconcileFailed"
    ]
    assert [e["type"] for e in redone] == ["Applied", "DriftReverted"], "first create, then the restore"
    assert restarted.outbox.intents() == []


def _scaled(document: DesiredState, replicas: int, *, generation: int) -> tuple[DesiredState, str]:
    """The document with its first service of fixed replicas scaled to ``replicas``, and its id."""
    for p_index, project in enumerate(document.projects):
        for s_index, service in enumerate(project.services):
            if service.replicas is not None and service.replicas != replicas:
                services = list(project.services)
                services[s_index] = attrs.evolve(service, replicas=replicas)
                projects = list(document.projects)
                projects[p_index] = attrs.evolve(project, services=tuple(services))
                scaled = attrs.evolve(document, projects=tuple(projects), generation=generation)
                return scaled, service.service_id
    raise AssertionError("the document has no service of fixed replicas")


def test_an_intent_is_settled_from_its_own_payload_though_a_newer_one_came_before_the_crash(
    tmp_path: Path,
) -> None:
    cluster = gateway_cluster()
    source = InMemorySource(EXAMPLE)
    assert fake_agent(tmp_path, cluster=cluster, source=source).loop.run_once().converged
    scaled, service_id = _scaled(EXAMPLE, 3, generation=EXAMPLE.generation + 1)
    rescaled, _ = _scaled(EXAMPLE, 5, generation=EXAMPLE.generation + 2)
    deployment = next(
        o for o in render(scaled).objects if o["kind"] == "Deployment" and service_id_of(o) == service_id
    )
    source.publish(scaled)
    crashed = fake_agent(tmp_path, cluster=cluster, source=source)
    crashed.reconciler.parts.puller.pull()  # the apply of `scaled` began:
    intent = event_report(
        EventType.APPLIED,
        now=datetime.now(UTC),
        reason="desired-changed",
        data={
            "object": str(key_of(deployment)),
            "kind": "Deployment",
            "action": "update",
            "epoch": scaled.epoch,
            "generation": scaled.generation,
        },
    )
    crashed.outbox.open_intent(intent)
    cluster.apply(deployment, force=True)  # its update took effect,
    source.publish(rescaled)
    crashed.reconciler.parts.puller.pull()  # a pull brought a newer payload, then Shuttle was killed
    restarted = fake_agent(tmp_path, cluster=cluster, source=source)
    assert restarted.loop.run_once().converged
    event = source.events[intent.report_id]
    assert (event["type"], event["data"].get("confirmed_after_restart")) == ("Applied", True)
    assert restarted.outbox.intents() == []
    live = cluster.get(key_of(deployment))
    assert live is not None and live["spec"]["replicas"] == 5, "then the newer payload was applied"


def test_secret_values_never_reach_events_or_logs_in_any_encoding(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = gateway_cluster()
    encoded = base64.b64encode(SECRET.encode()).decode()
    secret = next(
        key_of(o) for o in render(EXAMPLE).objects if o["kind"] == "Secret" and encoded in json.dumps(o)
    )
    echoed = f'Secret "{secret.name}" is invalid: data[STRIPE_API_KEY]: Invalid value: "{SECRET}"'
    echoed += f" (stored as {encoded})"
    cluster.fail(secret, ClusterApiError(echoed, status=422))
    source = InMemorySource(EXAMPLE)
    with caplog.at_level(logging.DEBUG):
        fake_agent(tmp_path, cluster=cluster, source=source).loop.run_once()
    everything = json.dumps(list(source.events.values())) + json.dumps(source.statuses)
    everything += "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "Invalid value" in everything, "the API's message is reported..."
    for form in (SECRET, encoded):
        assert form not in everything, "...with the value redacted"
