"""Disaster recovery as docs/operations/disaster-recovery.md tells it: restore Starbase's
database from an earlier dump, start a new epoch, and every agent converges to the restored
state with no one touching a cluster. And the trap a payload far ahead sets is undone the same way."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
from tests.e2e.conftest import KEY
from tests.e2e.door import Door
from tests.e2e.pg_tools import dump, restore
from tests.shuttle.cli import Cli, desired_keys, json_lines, owned, wait_until
from tests.shuttle.tenant import Tenant, image, make_tenant

from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.starbase import RunningStarbase

STARBASE = str(Path(sys.executable).parent / "starbase")


def _starbase_cli(starbase: RunningStarbase, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": starbase.starbase.database_url, "ENCRYPTION_KEY": KEY}
    return subprocess.run(
        [STARBASE, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _deployment_image(kube: KubeTestServer, tenant: Tenant, service: str) -> str:
    key = next(k for k in desired_keys(tenant) if k[1] == "Deployment" and k[3].startswith(f"{service}-"))
    live = kube.get("apps/v1", "Deployment", key[3], namespace=key[2])
    assert live is not None
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"])


def _running(cli: Cli) -> object:
    return cli.start("run", "--interval", "0.3", "--metrics-host", "127.0.0.1", "--metrics-port", "0")


def test_a_restored_database_and_a_new_epoch_bring_every_cluster_back_to_the_restored_state(
    starbase: RunningStarbase,
    http: httpx.Client,
    tenant_kube: KubeTestServer,
    door: Door,
    cli_factory: Callable[..., Cli],
    tmp_path: Path,
) -> None:
    tenant = make_tenant(starbase, http, services=3)
    cli = cli_factory(tenant, starbase_url=door.url)
    agent = _running(cli)
    wait_until(lambda: tenant.applied_generation() == tenant.desired_generation(), "the first convergence")
    backup = tmp_path / "starbase.dump"
    dump(starbase.starbase.database_url, backup)
    restored_state = tenant.desired_state()
    restored_keys, restored_generation = desired_keys(tenant), tenant.desired_generation()
    old_image = _deployment_image(tenant_kube, tenant, "svc-000")

    tenant.add_service("late-1", n=91)
    tenant.add_service("late-2", kind="worker", n=92)
    tenant.deploy(tenant.service_ids[0], image(93))
    wait_until(lambda: tenant.applied_generation() == tenant.desired_generation(), "the changes applied")
    assert _deployment_image(tenant_kube, tenant, "svc-000") == image(93)
    lost_generation = tenant.desired_generation()

    door.close()  # the disaster: Starbase is down while its database is restored
    restore(starbase.starbase.database_url, backup)
    door.open()
    assert tenant.desired_state() == restored_state, "Starbase serves the restored desired state"
    wait_until(
        lambda: (
            "stale" in cli.stderr(agent)
            and (tenant.cluster().get("agent") or {}).get("refused_reports", 0) > 0
        ),
        "the agent refusing the restored generation, and Starbase refusing its reports",
    )
    assert tenant.applied_generation() == restored_generation or tenant.applied_generation() is not None
    assert _deployment_image(tenant_kube, tenant, "svc-000") == image(93), "nothing rolled back yet"
    view = tenant.cluster()
    assert view["agent"]["last_refused_reason"].startswith("generation-ahead"), view["agent"]

    bumped = _starbase_cli(starbase, "cluster", "new-epoch", "--all")
    assert bumped.returncode == 0, bumped.stderr
    assert tenant.cluster_id in bumped.stdout
    new_epoch = tenant.cluster()["epoch"]
    wait_until(
        lambda: (
            tenant.cluster()["last_applied_generation"] == restored_generation
            and (tenant.cluster().get("agent") or {}).get("epoch") == new_epoch
        ),
        "the agent applying the restored state in the new epoch",
    )
    assert cli.stop(agent) == 0
    kinds = {(k[0], k[1]) for k in restored_keys | desired_keys(tenant)}
    assert set(owned(tenant_kube, kinds)) == restored_keys, "the late services are gone, nothing else"
    assert _deployment_image(tenant_kube, tenant, "svc-000") == old_image, "the image is the restored one"
    assert tenant.cluster()["applied"] is True
    assert lost_generation > restored_generation
    logged = json_lines(cli.stderr(agent))
    assert any(line["event"] == "new epoch: applying the payload from scratch" for line in logged)
    assert any(e["type"] == "EpochStarted" for e in tenant.cluster_events())


def test_a_payload_far_ahead_then_the_real_one_does_not_leave_the_agent_stuck_after_a_new_epoch(
    starbase: RunningStarbase,
    http: httpx.Client,
    tenant_kube: KubeTestServer,
    cli_factory: Callable[..., Cli],
) -> None:
    tenant = make_tenant(starbase, http, services=2)
    cli = cli_factory(tenant)
    agent = _running(cli)
    wait_until(lambda: tenant.applied_generation() == tenant.desired_generation(), "the first convergence")
    real = tenant.desired_generation()
    with psycopg.connect(starbase.starbase.database_url, autocommit=True) as conn:  # a Starbase bug
        conn.execute("UPDATE clusters SET generation = generation + 1000 WHERE id = %s", (tenant.cluster_id,))
    wait_until(
        lambda: tenant.applied_generation() == real + 1000, "the agent applying the generation far ahead"
    )
    with psycopg.connect(starbase.starbase.database_url, autocommit=True) as conn:  # the bug fixed
        conn.execute(
            "UPDATE clusters SET generation = %s, last_applied_generation = NULL WHERE id = %s",
            (real, tenant.cluster_id),
        )
    tenant.deploy(tenant.service_ids[0], image(77))  # the real next generation
    wait_until(lambda: (tenant.cluster().get("agent") or {}).get("refused_reports", 0) > 0, "reports refused")
    assert _deployment_image(tenant_kube, tenant, "svc-000") != image(77), "stuck: the real one is stale"
    assert "stale" in cli.stderr(agent)

    started = httpx.post(
        f"{starbase.base_url}/v1/clusters/{tenant.cluster_id}/new-epoch",
        headers=starbase.auth(tenant.operator),
        timeout=30,
    )
    assert started.status_code == 200, started.text
    wait_until(lambda: tenant.applied_generation() == tenant.desired_generation(), "the real one applied")
    assert _deployment_image(tenant_kube, tenant, "svc-000") == image(77)
    tenant.deploy(tenant.service_ids[1], image(78))  # and the agent keeps following
    wait_until(lambda: tenant.applied_generation() == tenant.desired_generation(), "the next one applied")
    assert _deployment_image(tenant_kube, tenant, "svc-001") == image(78)
    assert cli.stop(agent) == 0
    assert tenant.cluster()["applied"] is True
