"""Chaos: ``shuttle run`` SIGKILLed at random points across many applies, then restarted.

Seeded and bounded. Every write the API server saw has exactly one event in Starbase (0 lost,
0 counted twice, 0 claimed that did not happen), and the cluster converges to the last
desired state. The figures print with ``-s``.
"""

from __future__ import annotations

import json
import random
import signal
from collections.abc import Callable

import httpx
from tests.e2e.audit import audit
from tests.shuttle.cli import Cli, desired_keys, owned, sample, wait_until
from tests.shuttle.tenant import Tenant, image, make_tenant

from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.starbase import RunningStarbase

SEED = 20260301
TRIALS = 12


def _change(tenant: Tenant, rng: random.Random, trial: int) -> str:
    """One change of the desired state: new images, a new service, or a service removed."""
    choice = rng.choice(
        ["deploy", "deploy", "add", "remove"] if len(tenant.service_ids) > 4 else ["deploy", "add"]
    )
    if choice == "deploy":
        for service_id in rng.sample(tenant.service_ids, k=min(3, len(tenant.service_ids))):
            tenant.deploy(service_id, image(1000 + trial * 10 + rng.randrange(10)))
    elif choice == "add":
        tenant.add_service(f"chaos-{trial:02d}", kind=rng.choice(["web", "worker"]), n=trial)
    else:
        service_id = tenant.service_ids.pop(rng.randrange(len(tenant.service_ids)))
        tenant.http.delete(f"/v1/services/{service_id}", headers=tenant.owner_auth).raise_for_status()
    return choice


def _duplicates(starbase: RunningStarbase) -> float:
    text = httpx.get(
        f"{starbase.base_url}/metrics", headers=starbase.auth(starbase.metrics_token), timeout=10
    ).text
    return sample(text, "starbase_agent_events_total", result="duplicate") or 0.0


def test_sigkill_at_random_points_loses_no_event_and_counts_none_twice(
    starbase: RunningStarbase,
    http: httpx.Client,
    tenant_kube: KubeTestServer,
    cli_factory: Callable[..., Cli],
) -> None:
    rng = random.Random(SEED)
    tenant = make_tenant(starbase, http, services=6)
    cli = cli_factory(tenant)
    tenant_kube.inject("delay", delay_seconds=0.015, methods=["PATCH", "DELETE"])  # applies stay in flight
    kills = 0
    changes = []
    for trial in range(TRIALS):
        changes.append(_change(tenant, rng, trial))
        before = len(tenant_kube.requests.writes())
        kill_after = rng.randint(1, 8)
        agent = cli.start("run", "--interval", "0.2", "--metrics-host", "127.0.0.1", "--metrics-port", "0")
        wait_until(
            lambda agent=agent, before=before, kill_after=kill_after: (
                agent.poll() is not None
                or len(tenant_kube.requests.writes()) >= before + kill_after
                or tenant.applied_generation() == tenant.desired_generation()
            ),
            f"trial {trial}: a kill point",
        )
        assert agent.poll() is None, cli.stderr(agent)
        assert cli.stop(agent, sig=signal.SIGKILL) == -signal.SIGKILL
        kills += 1
    tenant_kube.clear_faults()
    final = cli.start("run", "--interval", "0.2", "--metrics-host", "127.0.0.1", "--metrics-port", "0")
    wait_until(
        lambda: cli.reconciles(final) >= 1 and tenant.applied_generation() == tenant.desired_generation(),
        "the final convergence",
    )
    assert cli.stop(final) == 0, cli.stderr(final)

    wanted = desired_keys(tenant)
    assert set(owned(tenant_kube, {(k[0], k[1]) for k in wanted})) == wanted, "converged, nothing extra"
    found = audit(tenant_kube, tenant)
    found.assert_exact()
    summary = {
        "seed": SEED,
        "trials": TRIALS,
        "sigkills": kills,
        "changes": changes,
        "writes_seen_by_the_api_server": found.writes,
        "actions": found.actions,
        "events_in_starbase": found.events,
        "settled_after_a_restart": {
            "took_effect": found.confirmed_after_restart,
            "interrupted": found.interrupted,
        },
        "re_sent_and_deduplicated_by_starbase": _duplicates(starbase),
        "lost": len(found.lost),
    }
    print("chaos:", json.dumps(summary))
    assert found.actions >= TRIALS, "the trials did real work"
