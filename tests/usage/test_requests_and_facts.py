"""Effective pod requests (as the scheduler reserves them) and the facts billing reads from a pod."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tests.usage.pods import T0, TENANT, pod, stamp, tenant_labels

from starform_core.kube.labels import LABEL_MANAGED_BY
from starform_core.usage import PodRequests, effective_requests, pod_facts


def _spec(**spec: Any) -> dict[str, Any]:
    return {"spec": spec}


def _c(
    cpu: str | None = None, memory: str | None = None, *, limits: bool = False, **extra: Any
) -> dict[str, Any]:
    values = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "resources": {"limits" if limits else "requests": values}, **extra}


def test_app_containers_add_up_and_round_up_to_whole_millicores_and_bytes() -> None:
    requests = effective_requests(_spec(containers=[_c("250m", "512Mi"), _c("0.1001", "1k")]))
    assert requests == PodRequests(cpu_millis=351, memory_bytes=512 * 2**20 + 1000)
    assert (requests.cpu, requests.memory) == ("351m", str(512 * 2**20 + 1000))


def test_the_largest_init_container_counts_when_it_needs_more_than_the_app() -> None:
    spec = _spec(initContainers=[_c("2", "64Mi"), _c("500m", "4Gi")], containers=[_c("1", "1Gi")])
    assert effective_requests(spec) == PodRequests(cpu_millis=2000, memory_bytes=4 * 2**30)


def test_sidecars_run_beside_the_app_and_beside_later_init_containers() -> None:
    sidecar = _c("100m", "100Mi", restartPolicy="Always")
    spec = _spec(initContainers=[sidecar, _c("1", "10Mi")], containers=[_c("200m", "200Mi")])
    # init peak: sidecar + second init = 1100m; app: 200m + sidecar = 300m; memory: 300Mi vs 110Mi
    assert effective_requests(spec) == PodRequests(cpu_millis=1100, memory_bytes=300 * 2**20)


def test_overhead_is_added_and_a_missing_request_counts_its_limit() -> None:
    spec = _spec(
        containers=[_c("500m", "1Gi", limits=True), _c()], overhead={"cpu": "250m", "memory": "120Mi"}
    )
    assert effective_requests(spec) == PodRequests(cpu_millis=750, memory_bytes=2**30 + 120 * 2**20)


@pytest.mark.parametrize(
    "spec", [{}, {"spec": None}, {"spec": {"containers": "nope"}}, _spec(containers=[_c("x")])]
)
def test_a_pod_without_usable_requests_requests_nothing(spec: dict[str, Any]) -> None:
    assert effective_requests(spec) == PodRequests(0, 0)


def test_facts_carry_the_tenant_the_requests_and_the_container_times() -> None:
    facts = pod_facts(pod("a", started=T0, cpu="1", memory="1Gi"))
    assert facts is not None
    assert (facts.tenant, facts.phase, facts.started, facts.finished) == (TENANT, "Running", T0, None)
    assert facts.requests == PodRequests(1000, 2**30)
    done = pod_facts(pod("b", phase="Succeeded", started=T0, finished=T0 + dt.timedelta(seconds=90)))
    assert done is not None and (done.started, done.finished) == (T0, T0 + dt.timedelta(seconds=90))


def test_the_earliest_start_wins_across_containers_and_restarts() -> None:
    obj = pod("a", started=T0 + dt.timedelta(minutes=5))
    obj["status"]["containerStatuses"][0]["lastState"] = {
        "terminated": {"startedAt": stamp(T0), "finishedAt": stamp(T0 + dt.timedelta(minutes=4))}
    }
    facts = pod_facts(obj)
    assert facts is not None and facts.started == T0 and facts.finished is None


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {k: v for k, v in tenant_labels().items() if k != LABEL_MANAGED_BY},
        {**tenant_labels(), LABEL_MANAGED_BY: "helm"},
        {**tenant_labels(), "starform.io/project-id": "not-a-uuid"},
        {k: v for k, v in tenant_labels().items() if k != "starform.io/service-id"},
    ],
)
def test_a_pod_that_is_not_a_starform_services_pod_has_no_facts(labels: dict[str, str]) -> None:
    assert pod_facts(pod("a", started=T0, labels=labels)) is None


def test_a_pod_whose_uid_is_not_a_lower_case_uuid_has_no_facts() -> None:
    # Starbase refuses a whole snapshot over one bad uid: such a pod is left out, not sent
    assert pod_facts(pod("a", uid="ABC", started=T0)) is None
