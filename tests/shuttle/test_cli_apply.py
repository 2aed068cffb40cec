"""``shuttle plan``, ``once`` and ``run`` applying for real: a subprocess against a real Starbase
and the Kubernetes test server. The preview and the reconcile agree; held and failed applies
exit with their own codes and Starbase shows them; SIGTERM stops cleanly; SIGKILL loses nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from tests.shuttle.cli import Cli, desired_keys, free_port, json_lines, owned, sample, wait_until
from tests.shuttle.tenant import LB_NAME, LB_NAMESPACE, make_tenant

from starform_adapters.kubernetes import MANAGED_TYPES
from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.starbase import RunningStarbase

STARFORM = str(Path(sys.executable).parent / "starform")


def _plan_json(cli: Cli) -> tuple[int, dict[str, Any]]:
    result = cli.run("plan", "-o", "json")
    assert result.returncode in (0, 3), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_plan_and_once_agree_then_the_cluster_is_clean(
    starbase: RunningStarbase, http: httpx.Client, kube: KubeTestServer, cli_factory: Callable[..., Cli]
) -> None:
    tenant = make_tenant(starbase, http, services=3)
    cli = cli_factory(tenant)
    wanted = desired_keys(tenant)
    code, preview = _plan_json(cli)
    assert code == 3, "changes pending"
    assert kube.requests.writes() == [], "plan is a dry run"
    assert (preview["epoch"], preview["generation"]) == (
        tenant.cluster()["epoch"],
        tenant.desired_generation(),
    )
    lb = [a for a in preview["actions"] if a["object"] == f"Service {LB_NAMESPACE}/{LB_NAME}"]
    assert [(a["kind"], a["reason"]) for a in lb] == [("update", "annotation-changed")], (
        "not held: target read"
    )
    assert preview["summary"]["create"] == len(wanted)
    assert preview["summary"]["held"] == 0

    once = cli.run("once")
    assert once.returncode == 0, once.stderr
    line = json.loads(once.stdout.splitlines()[-1])
    assert (line["outcome"], line["converged"]) == ("applied", True)
    assert line["plan"] == preview["summary"], "the reconcile ran the plan the preview showed"
    assert line["counts"]["applied"] == len(wanted) + 1
    assert set(owned(kube, {(k[0], k[1]) for k in wanted})) == wanted
    cluster = tenant.cluster()
    assert (cluster["applied"], cluster["last_applied_generation"]) == (True, tenant.desired_generation())

    text = cli.run("plan")
    assert text.returncode == 0, text.stderr
    assert not [
        line for line in text.stdout.splitlines() if line.startswith(("create ", "update ", "delete "))
    ]


def test_shuttle_plan_prints_the_field_diffs_starform_plan_prints(
    starbase: RunningStarbase,
    http: httpx.Client,
    kube: KubeTestServer,
    cli_factory: Callable[..., Cli],
    tmp_path: Path,
) -> None:
    tenant = make_tenant(starbase, http, services=2)
    cli = cli_factory(tenant)
    assert cli.run("once").returncode == 0
    deployment = next(k for k in desired_keys(tenant) if k[1] == "Deployment")
    live = kube.get("apps/v1", "Deployment", deployment[3], namespace=deployment[2])
    assert live is not None
    container = live["spec"]["template"]["spec"]["containers"][0]
    kube.patch_as(
        "kubectl-edit",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": deployment[3], "namespace": deployment[2]},
            "spec": {
                "template": {
                    "spec": {"containers": [{**container, "image": "docker.io/evil/x@sha256:" + "0" * 64}]}
                }
            },
        },
    )
    from_shuttle = cli.run("plan")
    assert from_shuttle.returncode == 3, from_shuttle.stderr
    payload = tmp_path / "payload.json"
    payload.write_bytes(tenant.desired_state())
    dump = tmp_path / "live"
    dump.mkdir()
    for rtype in MANAGED_TYPES:
        items = kube.list(rtype.api_version, rtype.kind)
        (dump / f"{rtype.plural}.yaml").write_text(
            yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items})
        )
    from_files = subprocess.run(
        [STARFORM, "plan", "--payload", str(payload), "--live", str(dump)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert from_files.returncode != 0, from_files.stderr

    def drift(output: str) -> list[str]:
        lines = output.splitlines()
        start = next(
            i for i, line in enumerate(lines) if line.startswith("update ") and deployment[3] in line
        )
        block = [lines[start]]
        block += [line for line in lines[start + 1 :] if line.startswith("    ")][: len(lines)]
        return block

    shuttle_block = drift(from_shuttle.stdout)
    assert any("docker.io/evil/x" in line and "kubectl-edit" in line for line in shuttle_block), shuttle_block
    assert shuttle_block == drift(from_files.stdout)


def test_held_deletions_exit_3_are_never_applied_and_starbase_shows_them_held(
    starbase: RunningStarbase, http: httpx.Client, kube: KubeTestServer, cli_factory: Callable[..., Cli]
) -> None:
    tenant = make_tenant(starbase, http, services=20)
    cli = cli_factory(tenant)
    assert cli.run("once").returncode == 0
    applied = tenant.desired_generation()
    for service_id in tenant.service_ids[2:]:
        http.delete(f"/v1/services/{service_id}", headers=tenant.owner_auth).raise_for_status()
    held = cli.run("once")
    assert held.returncode == 3, (held.stdout, held.stderr)
    line = json.loads(held.stdout.splitlines()[-1])
    assert (line["outcome"], line["converged"], line["applied_generation"]) == ("held", False, applied)
    assert line["reasons"] == {"mass-deletion": line["counts"]["held"]} and line["counts"]["held"] > 25
    warnings = [e for e in json_lines(held.stderr) if e["level"] == "warning"]
    assert any(e["event"] == "objects held" for e in warnings)
    assert any(e["event"] == "reconciled" and e["outcome"] == "held" for e in warnings)
    cluster = tenant.cluster()
    assert cluster["applied"] is False
    assert cluster["held"] == line["counts"]["held"]
    assert cluster["last_applied_generation"] == applied, "the held generation is not applied"
    assert cluster["last_attempted_generation"] == tenant.desired_generation() > applied
    assert cluster["agent"]["reasons"] == {"mass-deletion": cluster["held"]}
    plan = cli.run("plan")
    assert plan.returncode == 0, "a plan that only holds is nothing to do"
    held_notice = (
        f"notice: nothing to execute; the plan holds only reports for a human ({cluster['held']} held)"
    )
    assert held_notice in plan.stderr


def test_failed_actions_exit_4_with_a_warning_each(
    starbase: RunningStarbase, http: httpx.Client, kube: KubeTestServer, cli_factory: Callable[..., Cli]
) -> None:
    tenant = make_tenant(starbase, http, services=2)
    cli = cli_factory(tenant)
    kube.inject("error", status=500, methods=["PATCH"], path_pattern="/deployments/")
    result = cli.run("once")
    assert result.returncode == 4, (result.stdout, result.stderr)
    assert json.loads(result.stdout.splitlines()[-1])["outcome"] == "partial"
    failed = [e for e in json_lines(result.stderr) if e["event"] == "action failed"]
    writes = [r for r in kube.requests.writes() if r.status >= 400]
    assert len(failed) == len(writes) == 2
    assert {(e["level"], e["status"], e["kind"], e["verb"]) for e in failed} == {
        ("warning", 500, "Deployment", "create")
    }
    assert {e["request_id"] for e in failed} == {r.audit_id for r in writes}
    assert tenant.cluster()["failed"] >= 2


def test_run_serves_probes_and_metrics_and_exits_0_on_sigterm(
    starbase: RunningStarbase, http: httpx.Client, kube: KubeTestServer, cli_factory: Callable[..., Cli]
) -> None:
    tenant = make_tenant(starbase, http, services=2)
    cli = cli_factory(tenant)
    port = free_port()
    agent = cli.start("run", "--interval", "0.5", "--metrics-host", "127.0.0.1", "--metrics-port", str(port))
    ops = f"http://127.0.0.1:{port}"

    def answers(path: str, status: int = 200) -> bool:
        assert agent.poll() is None, cli.stderr(agent)
        try:
            return httpx.get(ops + path, timeout=5).status_code == status
        except httpx.TransportError:
            return False

    wait_until(lambda: answers("/readyz"), "/readyz")
    assert answers("/healthz")
    wait_until(lambda: tenant.applied_generation() == tenant.desired_generation(), "the applied generation")
    metrics = httpx.get(ops + "/metrics", timeout=5).text
    assert sample(metrics, "shuttle_applied_generation") == tenant.desired_generation()
    assert sample(metrics, "shuttle_applied_epoch") == tenant.cluster()["epoch"]
    assert sample(metrics, "shuttle_desired_epoch") == tenant.cluster()["epoch"]
    assert sample(metrics, "shuttle_starbase_reachable") == 1
    lists = sample(metrics, "shuttle_kube_api_requests_total", code="200", kind="Deployment", verb="list")
    assert lists is not None and lists >= 1, "LISTs are counted"
    assert sample(metrics, "shuttle_outbox_depth", kind="event") is not None
    assert "_created" not in metrics
    assert cli.stop(agent) == 0, cli.stderr(agent)
    stderr = cli.stderr(agent)
    assert "Traceback" not in stderr
    assert all(json_lines(stderr)), "structured JSON logs only"
    assert "{'" not in stderr, "no Python reprs"


def test_killed_mid_apply_and_restarted_converges_without_duplicates(
    starbase: RunningStarbase, http: httpx.Client, kube: KubeTestServer, cli_factory: Callable[..., Cli]
) -> None:
    tenant = make_tenant(starbase, http, services=40)
    cli = cli_factory(tenant)
    wanted = desired_keys(tenant)
    kinds = {(k[0], k[1]) for k in wanted}
    kube.inject("delay", delay_seconds=0.02, verbs=["patch"])  # keep the first apply in flight

    first = cli.start("run", "--interval", "30", "--metrics-host", "127.0.0.1", "--metrics-port", "0")
    wait_until(lambda: len(kube.requests.writes()) >= 15 or first.poll() is not None, "the first writes")
    assert cli.stop(first, sig=signal.SIGKILL) == -signal.SIGKILL
    before = owned(kube, kinds)
    assert 0 < len(before) < len(wanted), f"killed after {len(before)} of {len(wanted)} objects"
    assert tenant.applied_generation() is None, "nothing reported as applied by the killed agent"

    kube.clear_faults()
    second = cli.start("run", "--interval", "30", "--metrics-host", "127.0.0.1", "--metrics-port", "0")
    wait_until(
        lambda: second.poll() is None and tenant.applied_generation() == tenant.desired_generation(),
        "the restarted agent to report the desired generation",
    )
    assert cli.stop(second) == 0, cli.stderr(second)
    after = owned(kube, kinds)
    assert set(after) == wanted, "every desired object exists, nothing extra"
    for key, obj in before.items():
        assert after[key]["metadata"]["uid"] == obj["metadata"]["uid"], f"{key} was recreated"
    assert (cli.state_dir / "state.db").exists()
