"""``starform plan``, ``starform health`` and ``starform render`` end to end (through files).

Exit codes of ``starform plan``: 0 nothing to do (or only reports), 1 error, 2 usage error,
3 changes pending.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from tests.property.ssa_model import Cluster

from starform_apps.cli.main import cli
from starform_apps.cli.plan_cmd import EXIT_ERROR, EXIT_NOTHING_TO_DO, EXIT_PENDING, EXIT_USAGE
from starform_core.kube.labels import LABEL_MANAGED_BY, LABEL_SERVICE_ID
from starform_core.kube.objects import key_of
from starform_core.payload.codec import to_json
from starform_core.payload.example import example_payload
from starform_core.plan import PlanOptions, plan
from starform_core.render import render


@pytest.fixture
def payload_file(tmp_path: Path) -> Path:
    path = tmp_path / "payload.json"
    path.write_bytes(to_json(example_payload()))
    return path


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    # a user error is a message and an exit code, never a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _rendered(payload_file: Path) -> str:
    result = _invoke("render", "--show-secrets", str(payload_file))
    assert result.exit_code == 0, result.output
    return result.stdout


def _plan(payload_file: Path, live: Path, *extra: str) -> Result:
    return _invoke("plan", "--payload", str(payload_file), "--live", str(live), *extra)


def _applied_cluster() -> Cluster:
    """The example payload applied by Shuttle, with the load balancer the partial annotates."""
    rendering = render(example_payload())
    cluster = Cluster()
    for partial in rendering.partials:
        cluster.apply(partial, "envoy-gateway")
    options = PlanOptions(drift_policies=rendering.drift_policies)
    cluster.execute(plan(rendering.objects, [], partials=rendering.partials, options=options))
    return cluster


def _enforced_deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    policies = render(example_payload()).drift_policies
    enforced = {sid for sid, policy in policies.items() if policy.mode == "enforce"}
    return next(
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["labels"][LABEL_SERVICE_ID] in enforced
    )


def test_the_exit_codes_are_documented_constants() -> None:
    assert (EXIT_NOTHING_TO_DO, EXIT_ERROR, EXIT_USAGE, EXIT_PENDING) == (0, 1, 2, 3)


def test_what_render_printed_as_if_applied_needs_nothing_but_warns_about_managed_fields(
    payload_file: Path, tmp_path: Path
) -> None:
    live = tmp_path / "live.yaml"
    live.write_text(_rendered(payload_file))
    result = _plan(payload_file, live)
    assert result.exit_code == EXIT_NOTHING_TO_DO, result.output
    assert "unchanged" in result.stdout
    assert "--show-managed-fields" in result.stderr
    assert "Shuttle owns have no metadata.managedFields" in result.stderr
    body = json.loads(_plan(payload_file, live, "-o", "json").stdout)
    assert "--show-managed-fields" in body["warnings"][0]


def test_applied_objects_with_managed_fields_as_a_kubectl_list(payload_file: Path, tmp_path: Path) -> None:
    cluster = _applied_cluster()
    objects = cluster.live()
    assert all(obj["metadata"]["managedFields"] for obj in objects)
    split = tmp_path / "cluster"
    split.mkdir()
    (split / "a.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects[:20]}))
    (split / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects[20:]}))
    result = _plan(payload_file, split)
    assert result.exit_code == EXIT_NOTHING_TO_DO, result.output
    assert result.stderr == ""

    deployment = _enforced_deployment(objects)
    cluster.edit(
        key_of(deployment), "kubectl-edit", ("spec", "template", "spec", "containers", 0, "image"), "evil:1"
    )
    (split / "b.json").write_text(json.dumps({"kind": "List", "items": cluster.live()[20:]}))
    (split / "a.yaml").write_text(yaml.safe_dump_all(cluster.live()[:20]))
    result = _plan(payload_file, split, "-o", "json")
    assert result.exit_code == EXIT_PENDING, result.output
    body = json.loads(result.stdout)
    (action,) = body["actions"]
    assert (action["kind"], action["reason"]) == ("update", "drifted")
    assert action["changes"][0]["manager"] == "kubectl-edit"
    assert body["warnings"] == []


def test_kubectl_yaml_with_unquoted_times_plans_as_json(payload_file: Path, tmp_path: Path) -> None:
    cluster = _applied_cluster()
    deployment = _enforced_deployment(cluster.live())
    cluster.edit(key_of(deployment), "kubectl-edit", ("metadata", "annotations", "team"), "payments")
    text = yaml.safe_dump_all(cluster.live())
    unquoted = re.sub(r"(time|creationTimestamp): '([0-9TZ:-]+)'", r"\1: \2", text)
    assert unquoted != text
    live = tmp_path / "old-kubectl.yaml"
    live.write_text(unquoted)
    result = _plan(payload_file, live, "-o", "json")
    assert result.exit_code == EXIT_PENDING, result.output
    (action,) = json.loads(result.stdout)["actions"]
    (change,) = action["changes"]
    assert change["path"] == "/metadata/annotations/team"
    assert change["time"] == cluster.time_of(key_of(deployment), "kubectl-edit")


def test_an_empty_cluster_lists_every_object_as_a_create(payload_file: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _plan(payload_file, empty)
    assert result.exit_code == EXIT_PENDING, result.output
    creates = [line for line in result.stdout.splitlines() if line.startswith("create")]
    assert len(creates) == len(render(example_payload()).objects)
    assert "held" in result.stdout  # the load balancer the size unit goes on is not there yet


def test_a_plan_of_reports_only_is_nothing_to_do_with_a_notice(payload_file: Path, tmp_path: Path) -> None:
    cluster = _applied_cluster()
    deployment = _enforced_deployment(cluster.live())
    cluster.delete(key_of(deployment))
    stranger = json.loads(json.dumps(deployment))
    stranger["metadata"]["labels"][LABEL_MANAGED_BY] = "helm"
    cluster.apply(stranger, "helm")
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"kind": "List", "items": cluster.live()}))
    result = _plan(payload_file, live)
    assert result.exit_code == EXIT_NOTHING_TO_DO, result.output
    assert "conflict" in result.stdout
    assert "managed by helm" in result.stdout
    assert "notice: nothing to execute; the plan holds only reports for a human (1 conflict)" in result.stderr


def test_secret_values_never_reach_the_output(payload_file: Path, tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all(_rendered(payload_file)))
    secret = next(d for d in docs if d["kind"] == "Secret" and d.get("data"))
    original = dict(secret["data"])
    name = next(iter(secret["data"]))
    secret["data"][name] = base64.b64encode(b"s3cr3t-changed").decode()
    secret["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = (
        json.dumps({"data": original})
    )
    live = tmp_path / "live.yaml"
    live.write_text(yaml.safe_dump_all(docs))
    for output in ("text", "json"):
        result = _plan(payload_file, live, "-o", output)
        assert result.exit_code == EXIT_PENDING, result.output
        assert name in result.stdout
        assert "s3cr3t" not in result.stdout
        assert secret["data"][name] not in result.stdout
        assert all(value not in result.stdout for value in original.values())


def test_bad_inputs_are_clear_errors(payload_file: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    result = _plan(payload_file, broken)
    assert result.exit_code == EXIT_ERROR
    assert "broken.yaml: not valid YAML or JSON (line " in result.output
    result = _plan(payload_file, tmp_path / "missing.yaml")
    assert result.exit_code == EXIT_ERROR
    assert "does not exist" in result.output
    bad_payload = tmp_path / "bad.json"
    bad_payload.write_text("{}")
    result = _plan(bad_payload, broken)
    assert result.exit_code == EXIT_ERROR
    assert "invalid: /apiVersion: " in result.output
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    assert _plan(payload_file, scalar).exit_code == EXIT_ERROR
    twice = tmp_path / "twice.yaml"
    twice.write_text(
        yaml.safe_dump_all(
            [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}}] * 2
        )
    )
    result = _plan(payload_file, twice)
    assert result.exit_code == EXIT_ERROR
    assert "appears more than once" in result.output


def test_usage_errors_are_exit_code_2(payload_file: Path) -> None:
    assert _invoke("plan", "--live", ".").exit_code == EXIT_USAGE
    assert _invoke("plan", "--payload", str(payload_file), "--live", ".", "--bogus").exit_code == EXIT_USAGE
    assert _invoke("plan", "--payload", str(payload_file), "--live", ".", "-o", "xml").exit_code == EXIT_USAGE
    assert _invoke("health", "--payload", str(payload_file)).exit_code == EXIT_USAGE


def _health(payload_file: Path | None, live: Path, *extra: str) -> Result:
    payload = ("--payload", str(payload_file)) if payload_file else ()
    return _invoke("health", "--live", str(live), *payload, *extra)


def test_health_reports_every_service_by_name(payload_file: Path, tmp_path: Path) -> None:
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"kind": "List", "items": _applied_cluster().live()}))
    result = _health(payload_file, live, "-o", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    rendering = render(example_payload())
    assert set(body) == set(rendering.drift_policies)
    names = {s.service_id: s.name for _, s in example_payload().services()}
    assert {sid: entry["name"] for sid, entry in body.items()} == names
    assert {entry["status"] for entry in body.values()} <= {"Healthy", "Paused"}
    text = _health(payload_file, live).stdout
    for service_id, name in names.items():
        assert f"{name} ({service_id})" in text


def test_health_names_a_deleted_workload(payload_file: Path, tmp_path: Path) -> None:
    cluster = _applied_cluster()
    deployment = _enforced_deployment(cluster.live())
    service_id = deployment["metadata"]["labels"][LABEL_SERVICE_ID]
    cluster.delete(key_of(deployment))
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"kind": "List", "items": cluster.live()}))
    body = json.loads(_health(payload_file, live, "-o", "json").stdout)
    entry = body[service_id]
    assert entry["status"] == "Missing"
    assert entry["missing"] == [str(key_of(deployment))]
    assert str(key_of(deployment)) in entry["reason"]
    text = _health(payload_file, live)
    assert f"missing: {key_of(deployment)}" in text.stdout
    live_only = _health(None, live)
    assert "without --payload" in live_only.stderr


def test_render_warnings_name_the_service_and_the_var_groups(payload_file: Path) -> None:
    result = _invoke("render", str(payload_file))
    assert result.exit_code == 0
    document = example_payload()
    names = {s.service_id: s.name for _, s in document.services()}
    groups = {g.var_group_id: g.name for p in document.projects for g in p.var_groups}
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings
    for line in warnings:
        service_id = re.search(r"service \S+ \(([0-9a-f-]{36})\)", line)
        assert service_id is not None, line
        assert f"service {names[service_id.group(1)]} ({service_id.group(1)})" in line
        for group_id in re.findall(r"\(([0-9a-f-]{36})\)", line)[1:]:
            assert f"{groups[group_id]} ({group_id})" in line
