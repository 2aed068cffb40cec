"""Validation gaps: a trailing newline (or a space) in any field is refused by the API (422) and,
for every column, by a database CHECK (migration 0005), so no writer can store it."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors as pg_errors
from tests.starbase.test_http_bad_input import snapshot
from tests.starbase.world import IMAGE, World, build_world, ok

from starform_testkit.starbase import RunningStarbase


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    w = build_world(starbase, client)
    cron = ok(
        client.post(
            f"/v1/projects/{w.project_id}/services",
            headers=w.h(w.owner),
            json={
                "environment_id": w.staging_id,
                "name": "nightly",
                "type": "cron",
                "cron_schedule": "0 3 * * *",
            },
        ),
        201,
    )
    w.extra["cron_id"] = cron["id"]
    volume = {"name": "data", "mount_path": "/data", "size": "1Gi"}
    ok(client.post(f"/v1/services/{w.web_id}/volumes", headers=w.h(w.owner), json=volume), 201)
    return w


def _cluster(**fields: Any) -> dict[str, Any]:
    return {"name": "c-gap", "region": "fra1", "gateway_namespace": "gw", "gateway_name": "gw", **fields}


# name: (method, path template, body, the field the 422 must name)
CASES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "cpu_request": ("patch", "/v1/services/{web}", {"cpu_request": "100m\n"}, "cpu_request"),
    "memory_request": ("patch", "/v1/services/{web}", {"memory_request": "128Mi\n"}, "memory_request"),
    "cpu_limit": ("patch", "/v1/services/{web}", {"cpu_limit": "1\n"}, "cpu_limit"),
    "memory_limit": ("patch", "/v1/services/{web}", {"memory_limit": "1Gi "}, "memory_limit"),
    "probe path": (
        "patch",
        "/v1/services/{web}",
        {"probes": {"liveness": {"kind": "http", "port": 8080, "path": "/healthz\n"}}},
        "probes.liveness.path",
    ),
    "cron_schedule": ("patch", "/v1/services/{cron}", {"cron_schedule": "0 3 * * *\n"}, "cron_schedule"),
    "cron_time_zone": ("patch", "/v1/services/{cron}", {"cron_time_zone": "UTC\n"}, "cron_time_zone"),
    "unknown time zone": (
        "patch",
        "/v1/services/{cron}",
        {"cron_time_zone": "Mars/Olympus"},
        "cron_time_zone",
    ),
    "drift ignore path": (
        "patch",
        "/v1/services/{web}",
        {"drift_ignore_fields": ["Deployment:/spec/replicas\n"]},
        "drift_ignore_fields[0]",
    ),
    "service name": (
        "post",
        "/v1/projects/{project}/services",
        {"environment_id": "{staging}", "name": "api\n", "type": "worker"},
        "name",
    ),
    "environment name": ("post", "/v1/projects/{project}/environments", {"name": "qa\n"}, "name"),
    "volume size": (
        "post",
        "/v1/services/{web}/volumes",
        {"name": "data", "mount_path": "/data", "size": "1Gi\n"},
        "size",
    ),
    "hostname": ("post", "/v1/services/{web}/hostnames", {"hostname": "shop.example.com\n"}, "hostname"),
    "var key": ("put", "/v1/var-groups/{group}/entries", {"entries": {"KEY\n": "v"}}, "entries"),
    "var group name": ("post", "/v1/projects/{project}/var-groups", {"name": "shared\n"}, "name"),
    "workspace name": ("post", "/v1/workspaces", {"name": "acme\n"}, "name"),
    "member email": (
        "put",
        "/v1/workspaces/{workspace}/members",
        {"email": "a@example.com\n", "role": "member"},
        "email",
    ),
    "image": ("post", "/v1/services/{web}/deployments", {"image": IMAGE + "\n"}, "image"),
    "gateway_name": ("post", "/v1/clusters", _cluster(gateway_name="gw\n"), "gateway_name"),
    "storage_class": (
        "patch",
        "/v1/clusters/{cluster}",
        {"storage_class": "do-block-storage\n"},
        "storage_class",
    ),
    "lb_target_namespace": (
        "post",
        "/v1/clusters",
        _cluster(
            lb_target_namespace="X Y",
            lb_target_name="lb",
            lb_target_kind="Service",
            lb_target_api_version="v1",
            lb_size_unit=2,
        ),
        "lb_target_namespace",
    ),
    "lb_target_kind": (
        "post",
        "/v1/clusters",
        _cluster(
            lb_target_namespace="lb",
            lb_target_name="lb",
            lb_target_kind="Service\n",
            lb_target_api_version="v1",
            lb_size_unit=2,
        ),
        "lb_target_kind",
    ),
    "gateway_section_name": (
        "post",
        "/v1/clusters",
        _cluster(gateway_section_name="https\n"),
        "gateway_section_name",
    ),
    "region": ("post", "/v1/clusters", _cluster(region="fra1\n"), "region"),
    "metrics_namespace": (
        "patch",
        "/v1/clusters/{cluster}",
        {"metrics_namespace": "monitoring\n"},
        "metrics_namespace",
    ),
    "egress_allow": (
        "patch",
        "/v1/clusters/{cluster}",
        {"egress_allow": ["10.0.0.0/8\n"]},
        "egress_allow[0]",
    ),
    "replicas as a string": ("patch", "/v1/services/{web}", {"replicas": "3"}, "replicas"),
    "replicas as a boolean": ("patch", "/v1/services/{web}", {"replicas": True}, "replicas"),
    "public as a string": ("patch", "/v1/services/{web}", {"public": "false"}, "public"),
}


def _fill(value: Any, w: World) -> Any:
    ids = {
        "web": w.web_id,
        "cron": w.extra["cron_id"],
        "project": w.project_id,
        "staging": w.staging_id,
        "group": w.var_group_id,
        "workspace": w.workspace_id,
        "cluster": w.cluster_id,
    }
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, w) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, w) for v in value]
    return value


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_api_refuses_it(starbase: RunningStarbase, client: httpx.Client, world: World, name: str) -> None:
    method, template, body, field = CASES[name]
    token = world.operator if "clusters" in template else world.owner
    before = snapshot(starbase.starbase.database_url)
    answer = getattr(client, method)(_fill(template, world), headers=world.h(token), json=_fill(body, world))
    assert answer.status_code == 422, answer.text
    assert field in [d["field"] for d in answer.json()["detail"]], answer.text
    assert snapshot(starbase.starbase.database_url) == before


# table: (column assignment, the row to pick)
DATABASE_CASES: dict[str, tuple[str, str]] = {
    "services.cpu_request": ("services", "cpu_request = E'100m\\n'"),
    "services.memory_request": ("services", "memory_request = '1e9999999999'"),
    "services.cpu_limit": ("services", "cpu_limit = 'lots'"),
    "services.memory_limit": ("services", "memory_limit = E'1Gi\\n'"),
    "services.cron_time_zone": ("services", "cron_time_zone = E'UTC\\n'"),
    "services.cron_schedule": ("services", "cron_schedule = E'0 3 * * *\\n'"),
    "services.drift_ignore_fields": (
        "services",
        "drift_ignore_fields = ARRAY[E'Deployment:/spec/replicas\\n']",
    ),
    "services.probes": (
        "services",
        """probes = '{"liveness": {"kind": "http", "port": 80, "path": "/a b"}}'""",
    ),
    "volumes.size": ("volumes", "size = E'1Gi\\n'"),
    "clusters.gateway_name": ("clusters", "gateway_name = E'gw\\n'"),
    "clusters.storage_class": ("clusters", "storage_class = 'Fast SSD'"),
    "clusters.gateway_section_name": ("clusters", "gateway_section_name = E'https\\n'"),
    "clusters.lb_target_namespace": ("clusters", "lb_target_namespace = 'X Y'"),
    "clusters.lb_target_name": ("clusters", "lb_target_name = E'lb\\n'"),
    "clusters.lb_target_kind": ("clusters", "lb_target_kind = E'Service\\n'"),
    "clusters.lb_target_api_version": ("clusters", "lb_target_api_version = E'v1\\n'"),
    "clusters.lb_annotation": ("clusters", "lb_annotation = E'a/b\\n'"),
    "clusters.egress_allow": ("clusters", "egress_allow = ARRAY[E'10.0.0.0/8\\n']"),
    "workspaces.name": ("workspaces", "name = E'acme\\n'"),
    "projects.name": ("projects", "name = E'shop\\tx'"),
    "var_groups.name": ("var_groups", "name = ' padded '"),
    "users.name": ("users", "name = E'a\\nb'"),
    "api_tokens.scope": ("api_tokens", "role = 'viewer'"),
}


@pytest.mark.parametrize("name", sorted(DATABASE_CASES))
def test_the_database_refuses_it(starbase: RunningStarbase, world: World, name: str) -> None:
    table, assignment = DATABASE_CASES[name]
    with psycopg.connect(starbase.starbase.database_url) as conn, pytest.raises(pg_errors.CheckViolation):
        conn.execute(f"UPDATE {table} SET {assignment} WHERE ctid = (SELECT min(ctid) FROM {table})")
