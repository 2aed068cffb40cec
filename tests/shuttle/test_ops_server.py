"""The ops server: /metrics with every shuttle_* family, probes from callables, 404, port 0."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import Metric

from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.server import OpsServer

EXPECTED = {
    "shuttle_reconcile_duration_seconds",
    "shuttle_reconciles",
    "shuttle_actions",
    "shuttle_kube_api_requests",
    "shuttle_kube_api_errors",
    "shuttle_watch_restarts",
    "shuttle_held_objects",
    "shuttle_live_objects_invalid",
    "shuttle_applied_generation",
    "shuttle_applied_epoch",
    "shuttle_desired_generation",
    "shuttle_desired_epoch",
    "shuttle_drift_detected",
    "shuttle_payload_rejected",
    "shuttle_prune_held",
    "shuttle_starbase_reachable",
    "shuttle_last_success_timestamp_seconds",
    "shuttle_outbox_depth",
    "shuttle_outbox_oldest_age_seconds",
    "shuttle_outbox_dropped",
    "shuttle_reports_sent",
    "shuttle_reports_refused",
    "shuttle_pull_wakeups",
    "shuttle_starbase_long_poll",
    "shuttle_reconcile_requests",
    "shuttle_usage_snapshots_queued",
    "shuttle_usage_snapshots_sent",
    "shuttle_usage_snapshots_failed",
    "shuttle_usage_pods_tracked",
    "shuttle_usage_samples_rejected",
    "shuttle_usage_pod_events_ignored",
    "shuttle_usage_claims_held",
    "shuttle_usage_claim_events_ignored",
    "shuttle_usage_window_end_timestamp_seconds",
    "shuttle_usage_unobserved_seconds",
}
"""Every metric family ShuttleMetrics registers (counters get ``_total`` samples)."""


class Flags:
    def __init__(self) -> None:
        self.healthy = True
        self.ready = False


@pytest.fixture
def served() -> Iterator[tuple[OpsServer, ShuttleMetrics, Flags]]:
    metrics = ShuttleMetrics()
    flags = Flags()
    server = OpsServer(
        registry=metrics.registry, healthy=lambda: flags.healthy, ready=lambda: flags.ready, port=0
    )
    server.start()
    yield server, metrics, flags
    server.stop()


def _get(server: OpsServer, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{server.port}{path}", timeout=10)


def _families(metrics: ShuttleMetrics) -> set[str]:
    families: list[Metric] = list(metrics.registry.collect())
    return {family.name for family in families}


def test_port_zero_binds_a_free_port_on_loopback(served: tuple[OpsServer, ShuttleMetrics, Flags]) -> None:
    server, _, _ = served
    assert server.port > 0
    assert _get(server, "/healthz").status_code == 200


def test_metrics_exposes_every_shuttle_metric(served: tuple[OpsServer, ShuttleMetrics, Flags]) -> None:
    server, metrics, _ = served
    metrics.reconciles.labels(outcome="applied").inc()
    metrics.actions.labels(action="create", kind="Deployment", result="ok").inc(3)
    metrics.observe_request("patch", "Deployment", "201")
    metrics.observe_request("list", "Secret", "503")
    metrics.observe_request("patch", "Deployment", "transport-error")
    metrics.watch_restarts.labels(kind="Pod").inc()
    metrics.applied_generation.set(42)
    metrics.observe_outbox(lambda: {"event": 7, "status": 1}, lambda: 12.5)
    with metrics.reconcile_seconds.time():
        pass
    response = _get(server, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    assert _families(metrics) == EXPECTED
    for family in EXPECTED:
        assert re.search(rf"^# TYPE {family}(_total)? ", text, re.MULTILINE), family
    assert "_created" not in text, "no *_created series"
    assert 'shuttle_reconciles_total{outcome="applied"} 1.0' in text
    assert 'shuttle_actions_total{action="create",kind="Deployment",result="ok"} 3.0' in text
    assert 'shuttle_kube_api_requests_total{code="201",kind="Deployment",verb="patch"} 1.0' in text
    assert (
        'shuttle_kube_api_requests_total{code="transport-error",kind="Deployment",verb="patch"} 1.0' in text
    )
    assert 'shuttle_kube_api_errors_total{kind="Secret",verb="list"} 1.0' in text
    assert 'shuttle_kube_api_errors_total{kind="Deployment",verb="patch"} 1.0' in text, "transport errors"
    assert 'shuttle_watch_restarts_total{kind="Pod"} 1.0' in text
    assert "shuttle_applied_generation 42.0" in text
    assert 'shuttle_outbox_depth{kind="event"} 7.0' in text
    assert "shuttle_outbox_oldest_age_seconds 12.5" in text
    assert "shuttle_reconcile_duration_seconds_count 1.0" in text


def test_probes_answer_from_their_callables(served: tuple[OpsServer, ShuttleMetrics, Flags]) -> None:
    server, _, flags = served
    assert (_get(server, "/healthz").status_code, _get(server, "/readyz").status_code) == (200, 503)
    assert _get(server, "/readyz").text == "not ready\n"
    flags.ready = True
    flags.healthy = False
    assert (_get(server, "/healthz").status_code, _get(server, "/readyz").status_code) == (503, 200)
    assert _get(server, "/healthz").text == "unhealthy\n"


@pytest.mark.parametrize("path", ["/", "/metric", "/healthz/", "/readyz?x=1", "/../etc/passwd"])
def test_unknown_paths_are_404(served: tuple[OpsServer, ShuttleMetrics, Flags], path: str) -> None:
    server, _, _ = served
    assert _get(server, path).status_code == 404


def test_stop_closes_the_socket() -> None:
    server = OpsServer(registry=ShuttleMetrics().registry, healthy=lambda: True, ready=lambda: True, port=0)
    server.start()
    port = server.port
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
