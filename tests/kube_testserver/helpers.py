"""Manifests shared by the Kubernetes test server suite."""

from __future__ import annotations

from typing import Any

APPLY = "application/apply-patch+yaml"


def deployment(
    name: str,
    namespace: str,
    *,
    image: str = "nginx:1.25",
    replicas: int | None = 2,
    env: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A small Deployment manifest, as Shuttle would render it."""
    container: dict[str, Any] = {"name": "app", "image": image, "ports": [{"containerPort": 8080}]}
    if env is not None:
        container["env"] = env
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name, **(labels or {})}},
        "spec": spec,
    }


def raw_request(
    url: str, method: str, path: str, body: Any = None, *, content_type: str = "application/json"
) -> tuple[int, Any]:
    """Send one request with urllib (bypassing the client's own validation); (status, JSON)."""
    import json
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path, data=data, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
