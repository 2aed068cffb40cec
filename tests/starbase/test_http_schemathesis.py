"""Schemathesis against ``/openapi.json`` over a real socket: no 5xx, no answer off the spec."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from tests.starbase.world import World, build_world

from starform_testkit.starbase import RunningStarbase, running_starbase

STREAMS = "/v1/services/{service_id}/events/stream"
"""Server-Sent Events never end on their own: tests/dashboard/test_event_stream.py covers them."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    return build_world(starbase, client)


def _requests(starbase: RunningStarbase) -> float:
    registry = starbase.starbase.metrics.registry
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "starbase_http_requests"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def _real_ids(world: World) -> dict[str, str]:
    """Path parameters that name existing rows, so generated bodies reach the deep checks."""
    return {
        "workspace_id": world.workspace_id,
        "project_id": world.project_id,
        "environment_id": world.staging_id,
        "service_id": world.web_id,
        "var_group_id": world.var_group_id,
        "cluster_id": world.cluster_id,
    }


def _exercise(operation: Any, world: World, base_url: str, mode: GenerationMode) -> None:
    """Run a few generated cases against one operation (raises on the first failed check)."""
    agent = "/clusters/{cluster_id}/" in operation.path
    headers = {"Authorization": f"Bearer {world.agent_token if agent else world.owner}"}
    names = {p.name for p in operation.path_parameters}
    ids = {k: v for k, v in _real_ids(world).items() if k in names}

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=ids or None))
    @settings(
        max_examples=6,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    run()


def test_api_conforms_to_its_schema(world: World, starbase: RunningStarbase) -> None:
    """Every operation, a few generated cases each (derandomised, bounded)."""
    api = schemathesis.openapi.from_url(f"{starbase.base_url}/openapi.json").exclude(path=STREAMS)
    failures: list[str] = []
    operations = 0
    requests_before = _requests(starbase)
    for result in api.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(operation, world, starbase.base_url, mode)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to break: no parameters, no body
            except Exception as exc:
                failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: {exc}")
    assert operations >= 30
    assert _requests(starbase) - requests_before >= 2 * operations, "cases were really sent"
    assert failures == [], "\n\n".join(failures)


def test_openapi_is_3_1_and_lists_the_agent_endpoints(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    paths = spec["paths"]
    for path in (
        "/v1/clusters/{cluster_id}/desired-state",
        "/v1/clusters/{cluster_id}/status",
        "/v1/clusters/{cluster_id}/events",
        "/v1/services/{service_id}/deployments",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths


def test_stateful_sequences_never_answer_5xx(pg_server: str, starbase: RunningStarbase) -> None:
    """Chains of calls linked by schemathesis' dependency analysis (POST a project → GET it →
    PATCH its service ...), with real tokens; bounded and derandomised. No answer is a 5xx.

    Each example runs against a Starbase of its own (a fresh database and tenant), so an example
    behaves the same whatever ran before it (Hypothesis requires that of generated data).
    """
    api = schemathesis.openapi.from_url(f"{starbase.base_url}/openapi.json").exclude(path=STREAMS)
    seen: list[int] = []
    current: dict[str, Any] = {}

    class Sequences(api.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            stack = ExitStack()
            sb = stack.enter_context(running_starbase(server_url=pg_server))
            with httpx.Client(base_url=sb.base_url, timeout=30) as client:
                current.update(stack=stack, sb=sb, world=build_world(sb, client))

        def teardown(self) -> None:
            current.pop("stack").close()

        def before_call(self, case: Any) -> None:
            world: World = current["world"]
            agent = "/clusters/{cluster_id}/" in case.operation.path
            token = world.agent_token if agent else world.operator
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": current["sb"].base_url}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            seen.append(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])

    links = [name for name in dir(Sequences) if "__" in name and name[0].isupper()]
    assert len(links) >= 50, "dependency analysis found the links between operations"
    Sequences.run(
        settings=settings(
            max_examples=10,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )
    assert len(seen) >= 30
    assert any(200 <= status < 300 for status in seen)
