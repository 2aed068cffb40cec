"""The ``scale`` subresource of Deployments and ReplicaSets (``kubectl scale``, autoscalers):
an ``autoscaling/v1`` ``Scale`` read from and written to the object's ``spec.replicas``.

A write is recorded as an Update by the request's manager with subresource ``scale``, as
kube-apiserver records it; it changes ``spec.replicas`` only (and so moves the generation).
"""

from __future__ import annotations

import json
from typing import Any

from ._json import Obj, clone
from .engine import Engine
from .errors import ApiError
from .patches import json_merge_patch, json_patch
from .resources import ResourceKind

__all__ = ["SCALABLE", "read_scale", "write_scale"]

SCALABLE = frozenset({"Deployment", "ReplicaSet"})
_MERGE_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
_JSON_PATCH = "application/json-patch+json"
_NON_NEGATIVE = "must be greater than or equal to 0"
_SCALE_META = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


def _selector_string(selector: Any) -> str:
    """A label selector as ``kubectl`` writes it (``a=b,c in (x,y)``)."""
    if not isinstance(selector, dict):
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or ():
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(sorted(expression.get("values") or ()))
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": str(key)}.get(
                str(operator), f"!{key}"
            )
        )
    return ",".join(parts)


def scale_of(obj: Obj) -> Obj:
    """The ``Scale`` view of a scalable object."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": {
            "replicas": int((obj.get("status") or {}).get("replicas", 0)),
            "selector": _selector_string(spec.get("selector")),
        },
    }


def read_scale(engine: Engine, kind: ResourceKind, namespace: str | None, name: str) -> Obj:
    """``GET .../<name>/scale``."""
    return scale_of(engine.get(kind, namespace, name))


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, f"error decoding the request body: {exc}") from exc


def _wanted(current: Obj, method: str, raw: bytes, content_type: str) -> Obj:
    body = _decode(raw)
    if method == "PUT":
        wanted = body
    elif content_type in _MERGE_TYPES:
        wanted = json_merge_patch(current, body)
    elif content_type == _JSON_PATCH:
        wanted = json_patch(current, body)
    else:
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join((*_MERGE_TYPES, _JSON_PATCH))}",
        )
    if not isinstance(wanted, dict):
        raise ApiError(400, "a Scale must be an object")
    return wanted


def write_scale(
    engine: Engine,
    kind: ResourceKind,
    namespace: str | None,
    name: str,
    *,
    method: str,
    raw: bytes,
    content_type: str,
    manager: str,
    dry_run: bool,
) -> Obj:
    """``PUT`` or ``PATCH .../<name>/scale``: set ``spec.replicas``; returns the new ``Scale``."""
    with engine.store.lock:
        old = engine.get(kind, namespace, name)
        current = scale_of(old)
        wanted = _wanted(current, method, raw, content_type)
        version = (wanted.get("metadata") or {}).get("resourceVersion")
        if version and str(version) != old["metadata"]["resourceVersion"]:
            raise ApiError.conflict(kind.label, name, group=kind.group)
        replicas = (wanted.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError.invalid(
                "Scale",
                "scale",
                name,
                [
                    (
                        "spec.replicas",
                        f"Invalid value: {json.dumps(replicas)}: must be greater than or equal to 0",
                    )
                ],
                group="autoscaling",
            )
        new = clone(old)
        new.setdefault("spec", {})["replicas"] = replicas
        if dry_run:
            return scale_of(new)
        return scale_of(engine.write_as(kind, old, new, manager=manager, subresource="scale"))
