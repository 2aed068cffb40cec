"""Where credentials may travel: never in clear text to a token realm of an HTTPS registry."""

from __future__ import annotations

import json

import httpx
import pytest
from tests.registry.kit.backends import credentials

from starform_adapters.registry import DistributionRegistry, RegistrySession, RetryPolicy
from starform_core.errors import RegistryProtocolError, RegistryTagNotFoundError
from starform_core.registry import parse_image_reference


def _registry(realm: str, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/token":
            return httpx.Response(200, json={"token": "t0k3n", "expires_in": 300})
        if request.headers.get("Authorization") != "Bearer t0k3n":
            challenge = f'Bearer realm="{realm}",service="reg",scope="repository:acme/web:pull"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
        return httpx.Response(404, content=body)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    ("realm", "sends_credentials"),
    [("https://auth.example/token", True), ("http://auth.example/token", False)],
)
def test_credentials_reach_a_token_realm_only_over_https(realm: str, sends_credentials: bool) -> None:
    seen: list[httpx.Request] = []
    session = RegistrySession(
        credentials={"reg.example": credentials()},
        transport=_registry(realm, seen),
        retry=RetryPolicy(attempts=1),
    )
    with session, pytest.raises(RegistryTagNotFoundError):
        DistributionRegistry(session).resolve(parse_image_reference("reg.example/acme/web:v1"))
    token_requests = [r for r in seen if r.url.path == "/token"]
    assert len(token_requests) == 1
    assert ("Authorization" in token_requests[0].headers) is sends_credentials
    assert token_requests[0].url.params.get_list("scope") == ["repository:acme/web:pull"]


def test_a_realm_that_is_not_http_is_refused() -> None:
    seen: list[httpx.Request] = []
    session = RegistrySession(transport=_registry("file:///etc/passwd", seen), retry=RetryPolicy(attempts=1))
    with session, pytest.raises(RegistryProtocolError, match="not an HTTP URL"):
        DistributionRegistry(session).resolve(parse_image_reference("reg.example/acme/web:v1"))
    assert all(r.url.host == "reg.example" for r in seen)
