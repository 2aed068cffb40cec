"""``starform plan`` and ``starform health`` end to end (render → plan, through files)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from tests.property.ssa_model import Cluster

from starform_apps.cli.main import cli
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


def _rendered(payload_file: Path) -> str:
    result = CliRunner().invoke(cli, ["render", "--show-secrets", str(payload_file)])
    assert result.exit_code == 0, result.output
    return result.stdout


def _plan(payload_file: Path, live: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["plan", "--payload", str(payload_file), "--live", str(live), *extra])


def test_what_render_printed_as_if_applied_needs_nothing(payload_file: Path, tmp_path: Path) -> None:
    live = tmp_path / "live.yaml"
    live.write_text(_rendered(payload_file))
    result = _plan(payload_file, live)
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.stdout


def test_applied_objects_with_managed_fields_as_a_kubectl_list_need_nothing(
    payload_file: Path, tmp_path: Path
) -> None:
    rendering = render(example_payload())
    cluster = Cluster()
    for partial in rendering.partials:
        cluster.apply(partial, "envoy-gateway")
    options = PlanOptions(drift_policies=rendering.drift_policies)
    cluster.execute(plan(rendering.objects, [], partials=rendering.partials, options=options))
    objects = cluster.live()
    assert all(obj["metadata"]["managedFields"] for obj in objects)
    split = tmp_path / "cluster"
    split.mkdir()
    (split / "a.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects[:20]}))
    (split / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects[20:]}))
    result = _plan(payload_file, split)
    assert result.exit_code == 0, result.output

    enforced = {sid for sid, policy in rendering.drift_policies.items() if policy.mode == "enforce"}
    deployment = next(
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["labels"]["starform.io/service-id"] in enforced
    )
    cluster.edit(
        key_of(deployment), "kubectl-edit", ("spec", "template", "spec", "containers", 0, "image"), "evil:1"
    )
    (split / "b.json").write_text(json.dumps({"kind": "List", "items": cluster.live()[20:]}))
    (split / "a.yaml").write_text(yaml.safe_dump_all(cluster.live()[:20]))
    result = _plan(payload_file, split, "-o", "json")
    assert result.exit_code == 2, result.output
    body = json.loads(result.stdout)
    (action,) = body["actions"]
    assert action["kind"] == "update"
    assert action["reason"] == "drifted"
    assert action["changes"][0]["manager"] == "kubectl-edit"


def test_an_empty_cluster_lists_every_object_as_a_create(payload_file: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _plan(payload_file, empty)
    assert result.exit_code == 2, result.output
    creates = [line for line in result.stdout.splitlines() if line.startswith("create")]
    assert len(creates) == len(render(example_payload()).objects)
    assert "held" in result.stdout  # the load balancer the size unit goes on is not there yet


def test_secret_values_never_reach_the_output(payload_file: Path, tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all(_rendered(payload_file)))
    secret = next(d for d in docs if d["kind"] == "Secret" and d.get("data"))
    name = next(iter(secret["data"]))
    secret["data"][name] = base64.b64encode(b"s3cr3t-changed").decode()
    live = tmp_path / "live.yaml"
    live.write_text(yaml.safe_dump_all(docs))
    for output in ("text", "json"):
        result = _plan(payload_file, live, "-o", output)
        assert result.exit_code == 2, result.output
        assert name in result.stdout
        assert "s3cr3t" not in result.stdout
        assert secret["data"][name] not in result.stdout
        original = next(
            d for d in yaml.safe_load_all(_rendered(payload_file)) if d["metadata"] == secret["metadata"]
        )
        assert original["data"][name] not in result.stdout


def test_bad_inputs_are_clear_errors(payload_file: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    result = _plan(payload_file, broken)
    assert result.exit_code == 1
    assert "broken.yaml: not valid YAML or JSON (line " in result.output
    result = _plan(payload_file, tmp_path / "missing.yaml")
    assert result.exit_code == 1
    assert "does not exist" in result.output
    bad_payload = tmp_path / "bad.json"
    bad_payload.write_text("{}")
    result = _plan(bad_payload, broken)
    assert result.exit_code == 1
    assert "invalid: /apiVersion: " in result.output
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    assert _plan(payload_file, scalar).exit_code == 1


def test_health_reports_every_service(payload_file: Path, tmp_path: Path) -> None:
    live = tmp_path / "live.yaml"
    live.write_text(_rendered(payload_file))
    result = CliRunner().invoke(cli, ["health", "--live", str(live), "-o", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == set(render(example_payload()).drift_policies)
    assert {entry["status"] for entry in body.values()} <= {"Healthy", "Progressing", "Paused"}
