"""The objects a status report lists: owned objects of services only, with UID and a small,
bounded snapshot; a Secret by identity only."""

from __future__ import annotations

from typing import Any

from starform_apps.shuttle.observed import CONDITIONS_MAX, TEXT_MAX, observed_objects
from starform_core.kube.labels import LABEL_MANAGED_BY, LABEL_SERVICE_ID, MANAGED_BY_VALUE

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
