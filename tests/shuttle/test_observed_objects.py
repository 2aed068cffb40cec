"""The objects a status report lists: owned objects of services only, with UID and a small,
bounded snapshot (counts, conditions, a workload's container images, a CronJob's schedule); a
Secret by identity only."""

from __future__ import annotations

from typing import Any

from starform_apps.shuttle.observed import CONDITIONS_MAX, TEXT_MAX, observed_objects
from starform_core.kube.labels import LABEL_MANAGED_BY, LABEL_SERVICE_ID, MANAGED_BY_VALUE
from starform_core.kube.pod_images import IMAGE_MAX, IMAGES_MAX

SID = "00000000-0000-4000-8000-000000000001"


def _obj(kind: str, name: str, *, uid: str = "u-1", owned: bool = True, **body: Any) -> dict[str, Any]:
    labels = {LABEL_SERVICE_ID: SID}
    if owned:
        labels[LABEL_MANAGED_BY] = MANAGED_BY_VALUE
    return {
        "kind": kind,
        "metadata": {"name": name, "namespace": "sf-x", "uid": uid, "labels": labels},
        **body,
    }


def test_a_deployment_is_listed_with_its_uid_counts_and_conditions() -> None:
    conditions = [{"type": f"C{i}", "status": "True", "reason": "r" * 500, "message": "m"} for i in range(15)]
    deployment = _obj(
        "Deployment",
        "web",
        spec={"replicas": 3},
        status={"replicas": 3, "readyReplicas": 2, "observedGeneration": 4, "conditions": conditions},
    )
    [listed] = observed_objects([deployment])
    assert (listed["service_id"], listed["kind"], listed["name"], listed["uid"]) == (
        SID,
        "Deployment",
        "web",
        "u-1",
    )
    shot = listed["observed"]
    assert (shot["spec_replicas"], shot["replicas"], shot["readyReplicas"], shot["observedGeneration"]) == (
        3,
        3,
        2,
        4,
    )
    assert len(shot["conditions"]) == CONDITIONS_MAX
    assert all(len(c["reason"]) == TEXT_MAX and "message" not in c for c in shot["conditions"])


def test_a_secret_is_listed_by_identity_only_and_unowned_objects_not_at_all() -> None:
    secret = _obj("Secret", "vg-1", uid="u-2", data={"KEY": "c2VjcmV0"}, status={"phase": "x"})
    foreign = _obj("Deployment", "theirs", uid="u-3", owned=False)
    no_uid = _obj("Service", "web", uid="")
    [listed] = observed_objects([secret, foreign, no_uid])
    assert listed["kind"] == "Secret" and listed["observed"] == {}
    assert "c2VjcmV0" not in str(listed)


def _pod_spec(*containers: tuple[str, str]) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": n, "image": i} for n, i in containers]}}


IMAGE = "registry.example/acme/web@sha256:" + "a" * 64


def test_a_workload_lists_the_image_of_each_container_of_its_live_pod_template() -> None:
    deployment = _obj(
        "Deployment",
        "web",
        spec={"replicas": 1, "template": _pod_spec(("app", IMAGE), ("proxy", "envoy:1.30"))},
    )
    stateful = _obj("StatefulSet", "db", uid="u-2", spec={"template": _pod_spec(("app", IMAGE))})
    cron = _obj(
        "CronJob",
        "report",
        uid="u-3",
        spec={
            "schedule": "30 2 * * *",
            "timeZone": "Europe/Berlin",
            "suspend": True,
            "jobTemplate": {"spec": {"template": _pod_spec(("app", IMAGE))}},
        },
        status={"active": [{"name": "report-1"}]},
    )
    shots = {o["kind"]: o["observed"] for o in observed_objects([deployment, stateful, cron])}
    assert shots["Deployment"]["images"] == {"app": IMAGE, "proxy": "envoy:1.30"}
    assert shots["StatefulSet"]["images"] == {"app": IMAGE}
    assert shots["CronJob"]["images"] == {"app": IMAGE}
    assert (shots["CronJob"]["spec_schedule"], shots["CronJob"]["spec_timeZone"]) == (
        "30 2 * * *",
        "Europe/Berlin",
    )
    assert (shots["CronJob"]["spec_suspend"], shots["CronJob"]["active"]) == (True, 1)


def test_images_are_bounded_and_malformed_containers_left_out() -> None:
    many = [(f"c{i}", f"img:{i}") for i in range(IMAGES_MAX + 5)]
    deployment = _obj("Deployment", "web", spec={"template": _pod_spec(*many)})
    [listed] = observed_objects([deployment])
    assert list(listed["observed"]["images"]) == [f"c{i}" for i in range(IMAGES_MAX)]
    odd = _obj(
        "Deployment",
        "odd",
        uid="u-2",
        spec={
            "template": {
                "spec": {
                    "containers": [
                        {"name": "long", "image": "r/" + "x" * (IMAGE_MAX + 100)},
                        {"name": "Not_A_Label", "image": "img:1"},
                        {"name": "spaced", "image": "img 1"},
                        {"name": "noimage"},
                        "not a container",
                    ]
                }
            }
        },
    )
    [listed] = observed_objects([odd])
    assert listed["observed"]["images"] == {"long": ("r/" + "x" * IMAGE_MAX)[:IMAGE_MAX]}


def test_objects_without_a_pod_template_have_no_images() -> None:
    service = _obj("Service", "web", spec={"template": _pod_spec(("app", IMAGE))})
    broken = _obj("Deployment", "broken", uid="u-2", spec={"template": {"spec": {"containers": "app"}}})
    shots = [o["observed"] for o in observed_objects([service, broken])]
    assert all("images" not in shot for shot in shots)
