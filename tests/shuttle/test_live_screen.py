"""Malformed live objects: left out of planning and health with a warning and a metric, held when
desired, never pruned, never a crash (the composition root on the doubles)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge
from tests.shuttle.agents import fake_agent, gateway_cluster

from starform_adapters.starbase import InMemorySource
from starform_apps.shuttle.live import LiveScreen, readable_key
from starform_core.kube.labels import LABEL_MANAGED_BY, LABEL_SERVICE_ID, MANAGED_BY_VALUE
from starform_core.kube.objects import KubeObject, key_of
from starform_core.payload import example_payload
from starform_core.render import render

EXAMPLE = example_payload()
RENDERED = render(EXAMPLE).objects


def _invalid(agent: Any, source: str) -> float | None:
    value: float | None = agent.metrics.registry.get_sample_value(
        "shuttle_live_objects_invalid", {"source": source}
    )
    return value


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("live object invalid")]


def _desired(kind: str) -> KubeObject:
    return next(o for o in RENDERED if o["kind"] == kind)


def test_an_owned_object_that_cannot_be_read_is_not_pruned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = gateway_cluster()
    namespace = _desired("Deployment")["metadata"]["namespace"]
    orphan = cluster.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "left-behind",
                "namespace": namespace,
                "labels": {LABEL_MANAGED_BY: MANAGED_BY_VALUE},
                "annotations": {"broken": 1.5},
            },
            "data": {"a": "b"},
        }
    )
    agent = fake_agent(tmp_path, cluster=cluster, source=InMemorySource(EXAMPLE))
    with caplog.at_level(logging.WARNING, logger="starform.shuttle"):
        first = agent.loop.run_once()
        second = agent.loop.run_once()
    assert first.converged and second.converged, "an object nobody desires holds nothing"
    assert [c.verb for c in cluster.calls_for(key_of(orphan))] == [], "not pruned, not touched"
    assert cluster.stored(key_of(orphan)) is not None
    (warning,) = _warnings(caplog)  # once per object version, not once per reconcile
    assert (warning.object, warning.pointer, warning.source) == (  # type: ignore[attr-defined]
        f"ConfigMap {namespace}/left-behind",
        "/metadata/annotations",
        "cluster",
    )
    assert "1.5" not in warning.getMessage() + str(warning.__dict__), "values never reach the log"
    assert _invalid(agent, "cluster") == 1


def test_a_desired_object_whose_live_object_is_malformed_is_held_until_it_can_be_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = gateway_cluster()
    source = InMemorySource(EXAMPLE)
    agent = fake_agent(tmp_path, cluster=cluster, source=source)
    assert agent.loop.run_once().converged
    key = key_of(_desired("Deployment"))
    live = cluster.stored(key)
    assert live is not None
    live["status"] = {"replicas": "two"}
    cluster.put(live)
    writes = len(cluster.writes())
    with caplog.at_level(logging.WARNING, logger="starform.shuttle"):
        held = agent.loop.run_once()
    assert held.outcome == "held" and not held.converged
    assert held.report is not None and held.report.reasons == {"live-object-invalid": 1}
    assert held.plan is not None
    assert [(str(a.key), a.reason.value) for a in held.plan.actions if a.kind.value == "held"] == [
        (str(key), "live-object-invalid")
    ]
    assert len(cluster.writes()) == writes, "nothing applied over an object Shuttle cannot read"
    assert source.statuses[-1]["attempt"]["outcome"] == "held"
    assert _warnings(caplog) and _invalid(agent, "cluster") == 1
    service = live["metadata"]["labels"][LABEL_SERVICE_ID]
    assert service in {s["service_id"] for s in source.statuses[-1]["services"]}, "health still reported"
    live["status"] = {"replicas": 2}
    cluster.put(live)  # the object reads again
    healed = agent.loop.run_once()
    assert healed.converged
    assert _invalid(agent, "cluster") == 0


def test_malformed_pods_are_left_out_of_health(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cluster = gateway_cluster()
    source = InMemorySource(EXAMPLE)
    agent = fake_agent(tmp_path, cluster=cluster, source=source)
    agent.loop.run_once()
    deployment = _desired("Deployment")
    cluster.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "garbled",
                "namespace": deployment["metadata"]["namespace"],
                "labels": dict(deployment["metadata"]["labels"]),
            },
            "status": {"containerStatuses": [{"name": "app", "state": "running"}]},
        }
    )
    with caplog.at_level(logging.WARNING, logger="starform.shuttle"):
        result = agent.loop.run_once()
    assert result.report is not None
    assert [w.source for w in _warnings(caplog)] == ["health"]  # type: ignore[attr-defined]
    assert _invalid(agent, "health") == 1
    assert source.statuses[-1]["services"], "health is reported for the rest"


@pytest.mark.parametrize(
    ("obj", "key"),
    [
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}}, True),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, True),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ""}}, False),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": 3}}, False),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": "a"}, False),
        ({"kind": "ConfigMap", "metadata": {"name": "a"}}, False),
        (["not", "an", "object"], False),
    ],
)
def test_an_identity_is_read_only_where_it_is_whole(obj: object, key: bool) -> None:
    assert (readable_key(obj) is not None) == key


def test_objects_without_an_identity_are_left_out_and_counted() -> None:
    registry = CollectorRegistry()
    screen = LiveScreen("cluster", Gauge("invalid", "test", ["source"], registry=registry))
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "1"}}
    screened = screen.screen([good, {"metadata": []}, 7])
    assert screened.objects == (good,)
    assert (screened.rejected, screened.unreadable) == (2, frozenset())
    assert registry.get_sample_value("invalid", {"source": "cluster"}) == 2
    assert screen.screen([good]).rejected == 0
    assert registry.get_sample_value("invalid", {"source": "cluster"}) == 0
