"""``starform plan`` on objects built as a real API server returns them.

The example payload is applied to the in-memory API server, whose objects carry server defaults,
status and the controllers' managedFields (the deployment controller's revision annotation and
status, the PV binder's annotations and ``spec.volumeName``, the HPA's conditions). They are
printed as ``kubectl get -o json --show-managed-fields`` would, and planned from the CLI:

* an unchanged cluster exits 0;
* ``kubectl scale`` on an autoscaled Deployment (and the autoscaler itself) gives no action;
* deleting any field Shuttle sets, on one object of every rendered kind, gives an action naming
  the field (exit 3), and executing the plan puts the field back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.plan.kube_helpers import load_balancer
from tests.property.truth_scenarios import ABSENT, leaf_value

from starform_apps.cli.main import cli
from starform_apps.cli.plan_cmd import EXIT_NOTHING_TO_DO, EXIT_PENDING
from starform_core.kube.labels import FIELD_MANAGER, LABEL_SERVICE_ID
from starform_core.kube.objects import KubeObject, key_of
from starform_core.model.enums import DriftMode
from starform_core.payload.codec import to_json
from starform_core.payload.example import example_payload
from starform_core.plan import Create, Delete, Plan, PlanOptions, RemoveFields, Update, plan
from starform_core.plan.fields import to_pointer
from starform_core.render import Rendering, render
from starform_testkit.kube_testserver import ApiError, KubeTestServer

_CHILDREN = (("apps/v1", "ReplicaSet"), ("v1", "Pod"), ("batch/v1", "Job"))
_IDENTITY = (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"))

Path_ = tuple[str | int, ...]


def _execute(kube: KubeTestServer, result: Plan) -> None:
    """Carry out a plan as Shuttle does (reports are skipped)."""
    for action in result.executable:
        key = action.key
        if isinstance(action, Create | Update):
            kube.apply_as(FIELD_MANAGER, dict(action.body), force=True)
        elif isinstance(action, RemoveFields):
            kube.json_patch_as(
                FIELD_MANAGER,
                key.api_version,
                key.kind,
                key.name,
                action.json_patch(),
                namespace=key.namespace or None,
            )
        elif isinstance(action, Delete):
            kube.delete(key.api_version, key.kind, key.name, namespace=key.namespace or None)


def _live(kube: KubeTestServer, rendering: Rendering) -> list[dict[str, Any]]:
    kinds = {(o["apiVersion"], o["kind"]) for o in [*rendering.objects, *rendering.partials]} | set(_CHILDREN)
    return [obj for api_version, kind in sorted(kinds) for obj in kube.list(api_version, kind)]


class Cluster:
    """The example payload applied to a test server, and ``starform plan`` run against it."""

    def __init__(self, kube: KubeTestServer, tmp_path: Path) -> None:
        self.kube = kube
        self.tmp_path = tmp_path
        self.rendering = render(example_payload())
        self.options = PlanOptions(drift_policies=self.rendering.drift_policies)
        self.payload = tmp_path / "payload.json"
        self.payload.write_bytes(to_json(example_payload()))
        load_balancer(kube, self.rendering)
        first = self.core_plan()
        self.bodies = {a.key: dict(a.body) for a in first.actions if isinstance(a, Create)}
        _execute(kube, first)

    def core_plan(self) -> Plan:
        rendering = self.rendering
        return plan(
            rendering.objects, _live(self.kube, rendering), partials=rendering.partials, options=self.options
        )

    def cli_plan(self) -> tuple[int, dict[str, Any]]:
        live = self.tmp_path / "live.json"
        live.write_text(
            json.dumps({"apiVersion": "v1", "kind": "List", "items": _live(self.kube, self.rendering)})
        )
        result = CliRunner().invoke(
            cli, ["plan", "--payload", str(self.payload), "--live", str(live), "-o", "json"]
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with KubeTestServer(gateway_api=True) as kube:
        yield Cluster(kube, tmp_path)


def test_an_unchanged_cluster_exits_0(cluster: Cluster) -> None:
    live = _live(cluster.kube, cluster.rendering)
    assert any(obj["kind"] == "Pod" for obj in live)
    assert all(obj["metadata"].get("managedFields") for obj in live if obj["kind"] != "Namespace")
    code, body = cluster.cli_plan()
    assert code == EXIT_NOTHING_TO_DO, body
    assert body["actions"] == []
    assert body["warnings"] == []


def test_kubectl_scale_on_an_autoscaled_deployment_gives_no_action(cluster: Cluster) -> None:
    hpa = next(o for o in cluster.rendering.objects if o["kind"] == "HorizontalPodAutoscaler")
    namespace = hpa["metadata"]["namespace"]
    target = hpa["spec"]["scaleTargetRef"]["name"]
    scale = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": target, "namespace": namespace},
        "spec": {"replicas": 7},
    }
    scaled = cluster.kube.patch_as("kubectl", scale, subresource="scale")
    entries = {(m["manager"], m.get("subresource")) for m in scaled["metadata"]["managedFields"]}
    assert ("kubectl", "scale") in entries
    code, body = cluster.cli_plan()
    assert code == EXIT_NOTHING_TO_DO, body["actions"]
    cluster.kube.autoscale(namespace, hpa["metadata"]["name"], 3)
    code, body = cluster.cli_plan()
    assert code == EXIT_NOTHING_TO_DO, body["actions"]


def _leaves(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    elif path not in _IDENTITY:
        yield path, value


def _representatives(cluster: Cluster) -> list[KubeObject]:
    """One enforced object of every rendered kind (detect-mode objects are only reported)."""
    policies = cluster.rendering.drift_policies
    chosen: dict[str, KubeObject] = {}
    for obj in cluster.rendering.objects:
        service_id = obj["metadata"].get("labels", {}).get(LABEL_SERVICE_ID)
        if service_id and policies[service_id].mode is not DriftMode.ENFORCE:
            continue
        chosen.setdefault(obj["kind"], obj)
    assert set(chosen) == {o["kind"] for o in cluster.rendering.objects}
    return list(chosen.values())


def _names_field(action: dict[str, Any], pointer: str) -> bool:
    paths = [c["path"] for c in action.get("changes", ())] + list(action.get("paths", ()))
    return any(pointer == path or pointer.startswith(path + "/") for path in paths)


def _clash(one: Path_, other: Path_) -> bool:
    """Whether removing ``one`` (a list element) shifts the indices ``other`` goes through."""
    return bool(one) and isinstance(one[-1], int) and other[: len(one) - 1] == one[:-1]


def _batch(queue: list[tuple[Path_, Any]], size: int) -> list[tuple[Path_, Any]]:
    """Up to ``size`` leaves of one object that can be removed together (no shifted indices)."""
    chosen: list[tuple[Path_, Any]] = []
    for leaf in list(queue):
        if len(chosen) == size:
            break
        if not any(_clash(leaf[0], c[0]) or _clash(c[0], leaf[0]) for c in chosen):
            chosen.append(leaf)
            queue.remove(leaf)
    return chosen


def _delete(kube: KubeTestServer, key: Any, path: Path_, value: Any) -> bool:
    """Delete one field as ``kubectl edit`` would; ``False`` when it is not really gone."""
    try:
        stored = kube.json_patch_as(
            "kubectl-edit",
            key.api_version,
            key.kind,
            key.name,
            [{"op": "remove", "path": to_pointer(path)}],
            namespace=key.namespace or None,
        )
    except ApiError:
        return False  # the server refuses the deletion (a required or immutable field)
    now = leaf_value(stored, path)
    # the server put it back, or an empty map or list that the API omits anyway
    return not (now == value or (now is ABSENT and value in ({}, [])))


def test_deleting_any_field_shuttle_sets_on_any_rendered_kind_gives_an_action_with_it(
    cluster: Cluster,
) -> None:
    kube = cluster.kube
    queues = {key_of(obj): list(_leaves(cluster.bodies[key_of(obj)])) for obj in _representatives(cluster)}
    tried = deleted = 0
    while any(queues.values()):
        expected: dict[str, list[str]] = {}
        for key, queue in queues.items():
            for path, value in _batch(queue, 6):
                tried += 1
                if _delete(kube, key, path, value):
                    expected.setdefault(str(key), []).append(to_pointer(path))
        code, body = cluster.cli_plan()
        deleted += sum(len(pointers) for pointers in expected.values())
        assert code == (EXIT_PENDING if expected else EXIT_NOTHING_TO_DO), (expected, body)
        for obj, pointers in expected.items():
            actions = [a for a in body["actions"] if a["object"] == obj]
            for pointer in pointers:
                assert any(_names_field(a, pointer) for a in actions), (obj, pointer, actions)
            assert all(a["kind"] == "update" and a["reason"] == "drifted" for a in actions), actions
        _execute(kube, cluster.core_plan())
        assert cluster.core_plan().is_empty
    assert tried > 250
    assert deleted > 0.75 * tried, (deleted, tried)
