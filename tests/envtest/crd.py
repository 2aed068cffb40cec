"""Install and remove the Gateway API's HTTPRoute CRD on a real API server, waiting until the
server serves (or stops serving) the kind."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from tests.envtest.raw import RawClient
from tests.envtest.waiting import wait_until

__all__ = ["GATEWAY_CRD_NAME", "gateway_api_crd", "install_gateway_api_crd", "uninstall_gateway_api_crd"]

GATEWAY_CRD_NAME = "httproutes.gateway.networking.k8s.io"
_CRD_PATH = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{GATEWAY_CRD_NAME}"
_DISCOVERY = "/apis/gateway.networking.k8s.io/v1"
_MANAGER = "starform-test-crds"


def gateway_api_crd() -> dict[str, Any]:
    """The Gateway API v1.6.1 HTTPRoute CRD shipped with the Kubernetes test server."""
    text = (
        resources.files("starform_testkit.kube_testserver")
        .joinpath("data/httproutes.gateway.networking.k8s.io.yaml")
        .read_text()
    )
    crd: dict[str, Any] = yaml.safe_load(text)
    return crd


def _established(raw: RawClient) -> bool:
    reply = raw.request("GET", _CRD_PATH)
    if not reply.ok:
        return False
    conditions = {c["type"]: c["status"] for c in (reply.body.get("status") or {}).get("conditions") or []}
    return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"


def _served(raw: RawClient) -> bool:
    reply = raw.request("GET", _DISCOVERY)
    return reply.ok and any(r.get("name") == "httproutes" for r in reply.body.get("resources") or [])


def install_gateway_api_crd(raw: RawClient, *, timeout: float = 60.0) -> None:
    """Server-side apply the CRD, then wait until it is Established and discovery lists it."""
    raw.request(
        "PATCH",
        _CRD_PATH,
        query=[("fieldManager", _MANAGER), ("force", "true")],
        body=gateway_api_crd(),
        content_type="application/apply-patch+yaml",
    ).expect(200, 201)
    wait_until(
        lambda: _established(raw) and _served(raw), timeout=timeout, message="the HTTPRoute CRD established"
    )


def uninstall_gateway_api_crd(raw: RawClient, *, timeout: float = 60.0) -> None:
    """Delete the CRD (every HTTPRoute goes with it) and wait until the kind is not served."""
    raw.request("DELETE", _CRD_PATH).expect(200, 202, 404)
    wait_until(
        lambda: raw.request("GET", _CRD_PATH).status == 404 and raw.request("GET", _DISCOVERY).status == 404,
        timeout=timeout,
        message="the HTTPRoute CRD removed",
    )
