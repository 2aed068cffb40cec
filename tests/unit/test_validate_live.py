"""Live objects are shape-checked before the planner and health read them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from tests.strategies.applied import applied_objects

from starform_core.errors import LiveObjectError
from starform_core.kube.validate_live import LIVE_MAX_DEPTH, validate_live_object, validate_live_objects
from starform_core.payload import example_payload


def _applied() -> list[dict[str, Any]]:
    return applied_objects(example_payload())


def _first(kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(obj for obj in _applied() if obj["kind"] == kind))


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
        },
    }


def test_what_the_api_server_serves_passes_unchanged() -> None:
    live = _applied()
    assert any(obj["metadata"].get("managedFields") for obj in live)
    assert validate_live_objects(live) == live
    assert validate_live_object(_pod()) == _pod()


Edit = Callable[[dict[str, Any]], None]
MALFORMED: list[tuple[str, Callable[[], dict[str, Any]], Edit, str, str]] = [
    (
        "labels a number",
        lambda: _first("Deployment"),
        lambda o: o["metadata"].__setitem__("labels", 1.5),
        "/metadata/labels",
        "object of strings",
    ),
    (
        "a label value a number",
        lambda: _first("Deployment"),
        lambda o: o["metadata"]["labels"].__setitem__("x", 1),
        "/metadata/labels",
        "object of strings",
    ),
    (
        "annotations a list",
        lambda: _first("Service"),
        lambda o: o["metadata"].__setitem__("annotations", ["a"]),
        "/metadata/annotations",
        "object of strings",
    ),
    (
        "metadata a list",
        lambda: _first("Service"),
        lambda o: o.__setitem__("metadata", []),
        "/metadata",
        "object",
    ),
    ("no metadata", lambda: _first("Service"), lambda o: o.pop("metadata"), "/metadata", "required"),
    ("no name", lambda: _first("Service"), lambda o: o["metadata"].pop("name"), "/metadata/name", "required"),
    ("an empty kind", lambda: _first("Service"), lambda o: o.__setitem__("kind", ""), "/kind", "non-empty"),
    (
        "apiVersion a number",
        lambda: _first("Service"),
        lambda o: o.__setitem__("apiVersion", 1),
        "/apiVersion",
        "string",
    ),
    (
        "namespace a list",
        lambda: _first("Service"),
        lambda o: o["metadata"].__setitem__("namespace", ["x"]),
        "/metadata/namespace",
        "string",
    ),
    (
        "generation a string",
        lambda: _first("Deployment"),
        lambda o: o["metadata"].__setitem__("generation", "2"),
        "/metadata/generation",
        "integer",
    ),
    (
        "observedGeneration a bool",
        lambda: _first("Deployment"),
        lambda o: o.setdefault("status", {}).__setitem__("observedGeneration", True),
        "/status/observedGeneration",
        "integer",
    ),
    (
        "replicas a word",
        lambda: _first("Deployment"),
        lambda o: o["spec"].__setitem__("replicas", "two"),
        "/spec/replicas",
        "integer",
    ),
    (
        "status replicas null",
        lambda: _first("Deployment"),
        lambda o: o.setdefault("status", {}).__setitem__("readyReplicas", None),
        "/status/readyReplicas",
        "integer",
    ),
    (
        "status a string",
        lambda: _first("Deployment"),
        lambda o: o.__setitem__("status", "ok"),
        "/status",
        "object",
    ),
    ("spec a list", lambda: _first("Deployment"), lambda o: o.__setitem__("spec", []), "/spec", "object"),
    (
        "conditions an object",
        lambda: _first("Deployment"),
        lambda o: o.setdefault("status", {}).__setitem__("conditions", {"type": "Available"}),
        "/status/conditions",
        "list of objects",
    ),
    (
        "a condition type a number",
        lambda: _first("Deployment"),
        lambda o: o.setdefault("status", {}).__setitem__("conditions", [{"type": 1}]),
        "/status/conditions/0/type",
        "string",
    ),
    (
        "ownerReferences an object",
        lambda: _first("Service"),
        lambda o: o["metadata"].__setitem__("ownerReferences", {"kind": "X"}),
        "/metadata/ownerReferences",
        "list of objects",
    ),
    (
        "controller a string",
        lambda: _first("Service"),
        lambda o: o["metadata"].__setitem__("ownerReferences", [{"controller": "yes"}]),
        "/metadata/ownerReferences/0/controller",
        "true or false",
    ),
    (
        "managedFields a string",
        lambda: _first("Service"),
        lambda o: o["metadata"].__setitem__("managedFields", "x"),
        "/metadata/managedFields",
        "list of objects",
    ),
    (
        "a manager a number",
        lambda: _first("Service"),
        lambda o: o["metadata"]["managedFields"][0].__setitem__("manager", 7),
        "/metadata/managedFields/0/manager",
        "string",
    ),
    (
        "fieldsV1 a list",
        lambda: _first("Service"),
        lambda o: o["metadata"]["managedFields"][0].__setitem__("fieldsV1", []),
        "/metadata/managedFields/0/fieldsV1",
        "FieldsV1",
    ),
    (
        "a k: key without JSON",
        lambda: _first("Service"),
        lambda o: o["metadata"]["managedFields"][0]["fieldsV1"].__setitem__("k:{bad", {}),
        "/metadata/managedFields/0/fieldsV1",
        "JSON",
    ),
    (
        "a k: key with a list",
        lambda: _first("Service"),
        lambda o: o["metadata"]["managedFields"][0]["fieldsV1"].__setitem__("k:[1]", {}),
        "/metadata/managedFields/0/fieldsV1",
        "JSON object",
    ),
    (
        "an i: key without an index",
        lambda: _first("Service"),
        lambda o: o["metadata"]["managedFields"][0]["fieldsV1"].__setitem__("i:x", {}),
        "/metadata/managedFields/0/fieldsV1",
        "index",
    ),
    (
        "an unknown FieldsV1 key",
        lambda: _first("Service"),
        lambda o: o["metadata"]["managedFields"][0]["fieldsV1"].__setitem__("spec", {}),
        "/metadata/managedFields/0/fieldsV1",
        "f:, k:",
    ),
    (
        "a FieldsV1 leaf a number",
        lambda: _first("Service"),
        lambda o: o["metadata"]["managedFields"][0]["fieldsV1"].__setitem__("f:x", 1),
        "/metadata/managedFields/0/fieldsV1",
        "FieldsV1",
    ),
    (
        "secret data a number",
        lambda: _first("Secret"),
        lambda o: o.__setitem__("data", {"K": 1}),
        "/data",
        "object of strings",
    ),
    (
        "suspend a string",
        lambda: _first("CronJob"),
        lambda o: o["spec"].__setitem__("suspend", "true"),
        "/spec/suspend",
        "true or false",
    ),
    (
        "a waiting reason a number",
        _pod,
        lambda o: o["status"]["containerStatuses"][0]["state"]["waiting"].__setitem__("reason", 5),
        "/status/containerStatuses/0/state/waiting/reason",
        "string",
    ),
    (
        "containerStatuses of strings",
        _pod,
        lambda o: o["status"].__setitem__("containerStatuses", ["app"]),
        "/status/containerStatuses",
        "list of objects",
    ),
    (
        "a pod phase a list",
        _pod,
        lambda o: o["status"].__setitem__("phase", ["Running"]),
        "/status/phase",
        "string",
    ),
    (
        "ingress an object",
        lambda: _first("Service"),
        lambda o: o.setdefault("status", {}).__setitem__("loadBalancer", {"ingress": {}}),
        "/status/loadBalancer/ingress",
        "list",
    ),
    (
        "route parents an object",
        lambda: _first("HTTPRoute"),
        lambda o: o.setdefault("status", {}).__setitem__("parents", {}),
        "/status/parents",
        "list of objects",
    ),
    (
        "a parent condition a string",
        lambda: _first("HTTPRoute"),
        lambda o: o.setdefault("status", {}).__setitem__("parents", [{"conditions": ["Accepted"]}]),
        "/status/parents/0/conditions",
        "list of objects",
    ),
    (
        "a NaN anywhere",
        lambda: _first("Deployment"),
        lambda o: o["spec"].__setitem__("x", float("nan")),
        "/spec/x",
        "NaN",
    ),
    (
        "a non-string key",
        lambda: _first("Deployment"),
        lambda o: o["spec"].__setitem__(1, "x"),
        "/spec",
        "keys must be strings",
    ),
    (
        "a date value",
        lambda: _first("Deployment"),
        lambda o: o["spec"].__setitem__("when", __import__("datetime").date(2024, 1, 1)),
        "/spec/when",
        "not a JSON value",
    ),
    (
        "a surrogate",
        lambda: _first("Deployment"),
        lambda o: o["metadata"]["labels"].__setitem__("x", "\ud800"),
        "/metadata/labels/x",
        "surrogate",
    ),
]


@pytest.mark.parametrize(
    ("make", "edit", "pointer", "reason"),
    [(m, e, p, r) for _, m, e, p, r in MALFORMED],
    ids=[n for n, *_ in MALFORMED],
)
def test_malformed_live_objects_are_refused_naming_object_and_pointer(
    make: Callable[[], dict[str, Any]], edit: Edit, pointer: str, reason: str
) -> None:
    obj = make()
    edit(obj)
    with pytest.raises(LiveObjectError) as caught:
        validate_live_objects([_pod(), obj])
    assert caught.value.pointer == pointer
    assert reason in caught.value.reason
    name = (
        obj["metadata"]["name"]
        if isinstance(obj.get("metadata"), dict) and obj["metadata"].get("name")
        else None
    )
    if name and obj.get("kind"):
        assert name in caught.value.obj
    else:
        assert caught.value.obj == "object 1"


@pytest.mark.parametrize("value", [None, 42, "Deployment", ["a"]])
def test_a_live_object_must_be_an_object(value: Any) -> None:
    with pytest.raises(LiveObjectError) as caught:
        validate_live_object(value, index=3)
    assert caught.value.obj == "object 3"


def test_nesting_is_bounded() -> None:
    obj = _first("ConfigMap") if any(o["kind"] == "ConfigMap" for o in _applied()) else _first("Service")
    deep: Any = "leaf"
    for _ in range(LIVE_MAX_DEPTH + 1):
        deep = [deep]
    obj["spec"] = {"deep": deep}
    with pytest.raises(LiveObjectError) as caught:
        validate_live_object(obj)
    assert "levels deep" in caught.value.reason
