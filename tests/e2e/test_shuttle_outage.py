"""A SIGTERM during a Starbase outage loses nothing: the reports wait in the state directory
and the next start delivers them."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

import httpx
from tests.e2e.audit import audit
from tests.e2e.door import Door
from tests.shuttle.cli import Cli, desired_keys, wait_until
from tests.shuttle.tenant import make_tenant

from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.starbase import RunningStarbase

RESTORES = 5


def test_a_sigterm_during_a_starbase_outage_loses_no_report(
    starbase: RunningStarbase,
    http: httpx.Client,
    tenant_kube: KubeTestServer,
    door: Door,
    cli_factory: Callable[..., Cli],
) -> None:
    tenant = make_tenant(starbase, http, services=6)
    cli = cli_factory(tenant, starbase_url=door.url)
    first = cli.start("run", "--interval", "0.3", "--metrics-host", "127.0.0.1", "--metrics-port", "0")
    wait_until(lambda: tenant.applied_generation() == tenant.desired_generation(), "the first convergence")
    door.close()  # Starbase is away
    deployments = sorted(k for k in desired_keys(tenant) if k[1] == "Deployment")[:RESTORES]
    before = len(tenant_kube.requests.writes())
    for _, kind, namespace, name in deployments:
        assert tenant_kube.delete("apps/v1", kind, name, namespace=namespace)
    wait_until(
        lambda: all(tenant_kube.get("apps/v1", k, n, namespace=ns) for _, k, ns, n in deployments),
        "the deployments restored from the last good payload",
    )
    wait_until(lambda: cli.stderr(first).count('"event": "reconciled"') >= 1, "a reconcile")
    started = time.monotonic()
    assert cli.stop(first) == 0, cli.stderr(first)
    assert time.monotonic() - started < 25, "stopped within the grace period, though Starbase is away"
    restores = [r for r in tenant_kube.requests.writes()[before:] if r.audit_id and 200 <= r.status < 300]
    assert len(restores) >= RESTORES
    with sqlite3.connect(cli.state_dir / "state.db") as db:
        waiting = {
            row[0]: json.loads(row[1])
            for row in db.execute("SELECT id, body FROM outbox WHERE kind = 'event'")
        }
    assert {r.audit_id for r in restores} <= set(waiting), "every report of the outage waits on disk"
    assert {waiting[r.audit_id]["type"] for r in restores} == {"DriftReverted"}
    stored = {e["event_id"] for e in tenant.cluster_events()}
    assert not ({r.audit_id for r in restores} & stored), "none was delivered during the outage"

    door.open()  # Starbase is back
    second = cli.start("run", "--interval", "0.3", "--metrics-host", "127.0.0.1", "--metrics-port", "0")
    wait_until(
        lambda: {r.audit_id for r in restores} <= {e["event_id"] for e in tenant.cluster_events()},
        "the reports of the outage delivered",
    )
    assert cli.stop(second) == 0, cli.stderr(second)
    found = audit(tenant_kube, tenant)
    found.assert_exact()
    print(
        "outage:",
        json.dumps({"waiting_at_sigterm": len(waiting), "restores": len(restores), "lost": len(found.lost)}),
    )
