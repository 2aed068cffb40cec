"""Under 20 % injected API faults: a WARNING per failed action, and the request metrics count
every request the API server saw, by verb, kind and code."""

from __future__ import annotations

import logging
from collections import Counter

import attrs
import pytest
from tests.e2e.conftest import ShuttleFactory

from starform_adapters.kubernetes.api import TRANSPORT_ERROR
from starform_adapters.kubernetes.resources import kind_for_path
from starform_adapters.starbase import InMemorySource
from starform_core.model import Service
from starform_core.payload import DesiredState, example_payload
from starform_core.render import render
from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.kube_testserver.requestlog import RequestRecord

FAULTS = (
    ("error", 0.07, {"status": 500}),
    ("throttle", 0.04, {}),
    ("conflict", 0.03, {}),
    ("drop", 0.06, {}),
)
"""About 20 % of requests fail: 500s, 429s, 409s, and connections dropped mid-answer."""


def _redeployed(document: DesiredState, n: int) -> DesiredState:
    """``document`` with a new image for every service that runs one, at a newer generation."""

    def service(s: Service) -> Service:
        if s.release is None:
            return s
        image = f"registry.example.com/fault/app@sha256:{n:02x}{'ef' * 31}"
        return attrs.evolve(s, release=attrs.evolve(s.release, version=s.release.version + n, image=image))

    projects = tuple(
        attrs.evolve(p, services=tuple(service(s) for s in p.services)) for p in document.projects
    )
    return attrs.evolve(document, projects=projects, generation=document.generation + n)


def _server_view(record: RequestRecord) -> tuple[str, str, str]:
    kind, _ = kind_for_path(record.path)
    code = TRANSPORT_ERROR if record.fault == "drop" and record.verb != "watch" else str(record.status)
    return (record.verb, kind, code)


@pytest.mark.parametrize("seed", [7, 11, 2026])
def test_every_failed_action_warns_and_every_request_is_counted(
    seed: int,
    kube: KubeTestServer,
    source: InMemorySource,
    make_shuttle: ShuttleFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = make_shuttle(source)
    kube.faults.reseed(seed)
    for action, probability, options in FAULTS:
        kube.inject(action, probability=probability, **options)
    failed_outcomes = 0
    with caplog.at_level(logging.WARNING, logger="starform.shuttle"):
        for n in range(1, 11):
            source.publish(_redeployed(example_payload(), n))  # work for every tick
            result = agent.loop.run_once()
            failed_outcomes += len(result.execution.failed) if result.execution else 0
        window = kube.requests.records()
        kube.clear_faults()
        for _ in range(6):
            if agent.loop.run_once().converged:
                break
    faulted = [r for r in window if r.fault]
    assert len(faulted) >= 12 and 0.1 < len(faulted) / len(window) < 0.32, (len(faulted), len(window))
    agent.stop()
    warnings = [r for r in caplog.records if r.getMessage() == "action failed"]
    assert failed_outcomes > 0 and len(warnings) == failed_outcomes
    failed_writes = [r for r in kube.requests.writes() if r.status >= 400 or r.fault == "drop"]
    assert sorted(w.request_id for w in warnings) == sorted(r.audit_id for r in failed_writes)  # type: ignore[attr-defined]
    assert all(w.levelname == "WARNING" and w.status and w.reason for w in warnings)  # type: ignore[attr-defined]

    counted: Counter[tuple[str, str, str]] = Counter()
    for family in agent.metrics.registry.collect():
        for found in family.samples:
            if found.name == "shuttle_kube_api_requests_total":
                labels = found.labels
                counted[(labels["verb"], labels["kind"], labels["code"])] += int(found.value)
    seen = Counter(_server_view(r) for r in kube.requests.records())
    assert counted == seen, "every request the server saw is counted, with its code"
    assert any(verb == "list" for verb, _, _ in seen), "LISTs included"
    assert any(code == TRANSPORT_ERROR for _, _, code in counted), "dropped connections are their own code"
    for obj in render(_redeployed(example_payload(), 10)).objects:
        assert kube.get(
            obj["apiVersion"],
            obj["kind"],
            obj["metadata"]["name"],
            namespace=obj["metadata"].get("namespace"),
        )
