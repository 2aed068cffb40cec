"""The HTTP adapter against the real registry, with faults injected in front of it: retries of
transient failures only, rate limits, digests checked against the bytes, size limits, token
caching and expiry, and secrets kept out of logs and errors."""

from __future__ import annotations

import email.utils
import json
import socket
from collections.abc import Iterator

import httpx
import pytest
import structlog
from tests.registry.kit.backends import PASSWORD, Backend, credentials
from tests.registry.kit.faults import Fault, FaultyTransport, error_body, path_contains
from tests.registry.kit.images import small_image

from starform_adapters.registry import (
    DistributionRegistry,
    DistributionWriter,
    RegistryMetrics,
    RegistrySession,
    RetryPolicy,
    push_image,
)
from starform_core.errors import (
    RegistryProtocolError,
    RegistryRateLimitedError,
    RegistryTagNotFoundError,
    RegistryUnauthorizedError,
    RegistryUnavailableError,
)
from starform_core.registry import MANIFEST_LIMIT, Digest, ImageReference, RegistryCredentials, Repository


class Harness:
    """A session on a real registry through a fault-injecting transport, with its sleeps, its
    metrics and a settable monotonic clock."""

    def __init__(
        self, backend: Backend, *, who: RegistryCredentials | None = None, attempts: int = 4
    ) -> None:
        self.backend = backend
        self.transport = FaultyTransport()
        self.sleeps: list[float] = []
        self.metrics = RegistryMetrics()
        self.clock = 1000.0
        self.session = RegistrySession(
            endpoints={backend.host: f"http://{backend.host}"},
            credentials={backend.host: who} if who else {},
            retry=RetryPolicy(attempts=attempts, sleep=self.sleeps.append),
            transport=self.transport,
            metrics=self.metrics,
            monotonic=lambda: self.clock,
        )
        self.reader = DistributionRegistry(self.session)
        self.writer = DistributionWriter(self.session)

    def pushed(self, tag: str = "v1") -> tuple[ImageReference, Digest]:
        repository = self.backend.repository()
        image = small_image()
        push_image(self.writer, repository.tagged(tag), image)
        return repository.tagged(tag), image.digest

    def requests_to(self, fragment: str, method: str = "GET") -> int:
        return sum(1 for m, path in self.transport.seen if fragment in path and m == method)

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


@pytest.fixture
def harness(distribution_open: Backend) -> Iterator[Harness]:
    found = Harness(distribution_open)
    yield found
    found.session.close()


def test_transient_failures_are_retried_with_backoff_logged_and_counted(harness: Harness) -> None:
    reference, digest = harness.pushed()
    harness.transport.add(Fault(path_contains("/manifests/", method="GET"), times=2, status=503))
    with structlog.testing.capture_logs() as logs:
        assert harness.reader.resolve(reference).digest == digest
    assert len(harness.sleeps) == 2 and all(0 <= s <= 5.0 for s in harness.sleeps)
    assert (
        harness.metric(
            "starform_registry_retries_total", operation="resolve", reason="RegistryUnavailableError"
        )
        == 2
    )
    assert harness.metric("starform_registry_calls_total", operation="resolve", outcome="ok") == 1
    retries = [entry for entry in logs if entry["event"] == "registry.retry"]
    assert len(retries) == 2 and all(entry["log_level"] == "warning" for entry in retries)
    assert retries[0]["reference"] == str(reference)


def test_persistent_unavailability_fails_after_the_last_attempt(distribution_open: Backend) -> None:
    harness = Harness(distribution_open, attempts=3)
    reference, _ = harness.pushed()
    harness.transport.add(Fault(path_contains("/manifests/", method="GET"), times=10, status=502))
    with structlog.testing.capture_logs() as logs, pytest.raises(RegistryUnavailableError) as caught:
        harness.reader.resolve(reference)
    assert caught.value.status == 502
    assert harness.requests_to("/manifests/") == 3 and len(harness.sleeps) == 2
    assert any(entry["event"] == "registry.failed" and entry["log_level"] == "warning" for entry in logs)
    assert (
        harness.metric(
            "starform_registry_calls_total", operation="resolve", outcome="RegistryUnavailableError"
        )
        == 1
    )


def test_a_rate_limit_waits_what_retry_after_asks(harness: Harness) -> None:
    reference, digest = harness.pushed()
    body = error_body("TOOMANYREQUESTS", "slow down")
    harness.transport.add(
        Fault(path_contains("/manifests/"), status=429, headers={"Retry-After": "7"}, body=body)
    )
    assert harness.reader.resolve(reference).digest == digest
    assert harness.sleeps == [7.0]


def test_a_rate_limit_given_as_an_http_date_is_measured_from_the_answer_date(harness: Harness) -> None:
    reference, digest = harness.pushed()
    date = email.utils.formatdate(1_900_000_000, usegmt=True)
    later = email.utils.formatdate(1_900_000_012, usegmt=True)
    harness.transport.add(
        Fault(path_contains("/manifests/"), status=429, headers={"Retry-After": later, "Date": date})
    )
    assert harness.reader.resolve(reference).digest == digest
    assert harness.sleeps == [12.0]


def test_a_rate_limit_longer_than_the_policy_allows_is_raised_at_once(harness: Harness) -> None:
    reference, _ = harness.pushed()
    harness.transport.add(
        Fault(path_contains("/manifests/"), times=5, status=429, headers={"Retry-After": "3600"})
    )
    with pytest.raises(RegistryRateLimitedError) as caught:
        harness.reader.resolve(reference)
    assert caught.value.retry_after == 3600.0 and caught.value.status == 429
    assert harness.sleeps == [] and harness.requests_to("/manifests/") == 1


def test_a_missing_tag_is_not_retried(harness: Harness) -> None:
    reference, _ = harness.pushed()
    missing = reference.repository.tagged("nope")
    with pytest.raises(RegistryTagNotFoundError):
        harness.reader.resolve(missing)
    assert harness.requests_to("/manifests/nope") == 1 and harness.sleeps == []


def test_an_unreachable_registry_is_unavailable(distribution_open: Backend) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = f"127.0.0.1:{port}"
    sleeps: list[float] = []
    with (
        RegistrySession(
            endpoints={host: f"http://{host}"}, retry=RetryPolicy(attempts=2, sleep=sleeps.append)
        ) as s,
        pytest.raises(RegistryUnavailableError, match="unreachable"),
    ):
        DistributionRegistry(s).resolve(Repository(host, "a/b").tagged("v1"))
    assert len(sleeps) == 1


def test_plain_http_is_never_used_unless_configured(distribution_open: Backend) -> None:
    with RegistrySession(retry=RetryPolicy(attempts=1)) as session:
        with pytest.raises(RegistryUnavailableError):
            DistributionRegistry(session).resolve(Repository(distribution_open.host, "a/b").tagged("v1"))
        assert session.endpoint(distribution_open.host).scheme == "https"


def _tamper(response: httpx.Response) -> httpx.Response:
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        content=response.content + b" ",
        request=response.request,
    )


def test_a_manifest_that_does_not_hash_to_the_registry_digest_is_refused(harness: Harness) -> None:
    reference, _ = harness.pushed()
    harness.transport.add(Fault(path_contains("/manifests/", method="GET"), rewrite=_tamper))
    with pytest.raises(RegistryProtocolError, match="hashes otherwise"):
        harness.reader.resolve(reference)


def test_a_manifest_asked_by_digest_must_hash_to_that_digest(harness: Harness) -> None:
    reference, digest = harness.pushed()
    other = small_image()
    push_image(harness.writer, reference.repository.tagged("other"), other)

    def swap(response: httpx.Response) -> httpx.Response:
        headers = dict(response.headers) | {"docker-content-digest": str(other.digest)}
        headers.pop("content-length", None)
        return httpx.Response(200, headers=headers, content=other.manifest.data, request=response.request)

    harness.transport.add(Fault(path_contains(f"/manifests/{digest}"), rewrite=swap))
    with pytest.raises(RegistryProtocolError, match=f"asked for {digest}"):
        harness.reader.resolve(reference.repository.at(digest))


def test_a_config_blob_that_does_not_match_its_descriptor_is_refused(harness: Harness) -> None:
    reference, _ = harness.pushed()
    harness.transport.add(Fault(path_contains("/blobs/", method="GET"), rewrite=_tamper))
    with pytest.raises(RegistryProtocolError, match="bytes, the manifest says"):
        harness.reader.image_config(reference)


def test_an_answer_announcing_more_than_the_limit_is_refused_unread(harness: Harness) -> None:
    reference, _ = harness.pushed()
    harness.transport.add(
        Fault(
            path_contains("/manifests/"),
            status=200,
            headers={"Content-Length": str(MANIFEST_LIMIT + 1)},
            body=b"x" * (MANIFEST_LIMIT + 1),
        )
    )
    with pytest.raises(RegistryProtocolError, match="announced"):
        harness.reader.resolve(reference)


def test_a_streamed_answer_over_the_limit_is_cut_off(harness: Harness) -> None:
    reference, _ = harness.pushed()

    def endless(response: httpx.Response) -> httpx.Response:
        chunks = (b"{" + b" " * 65536 for _ in range(MANIFEST_LIMIT // 65536 + 2))
        return httpx.Response(200, content=chunks, request=response.request)

    harness.transport.add(Fault(path_contains("/manifests/", method="GET"), rewrite=endless))
    with pytest.raises(RegistryProtocolError, match="over the"):
        harness.reader.resolve(reference)


def test_a_huge_error_answer_is_read_only_in_part(harness: Harness) -> None:
    reference, _ = harness.pushed()
    harness.transport.add(
        Fault(path_contains("/manifests/"), times=9, status=500, body=b"E" * (8 * 1024 * 1024))
    )
    with pytest.raises(RegistryUnavailableError) as caught:
        harness.reader.resolve(reference)
    assert len(str(caught.value)) < 1000


def test_bearer_tokens_are_cached_per_scope_until_they_expire(distribution_token: Backend) -> None:
    harness = Harness(distribution_token, who=credentials())
    reference, digest = harness.pushed()
    token_server = distribution_token.token_server
    assert token_server is not None
    scope = f"repository:{reference.repository.path}:pull"

    def fetched() -> int:
        return sum(1 for r in token_server.requests if r["scopes"] and r["scopes"][0] == scope)

    before = fetched()
    for _ in range(5):
        assert harness.reader.resolve(reference).digest == digest
    harness.reader.image_config(reference)
    assert fetched() == before + 1
    harness.clock += 400
    harness.reader.resolve(reference)
    assert fetched() == before + 2
    harness.session.close()


def test_a_token_the_registry_refuses_is_renewed_once(distribution_token: Backend) -> None:
    harness = Harness(distribution_token, who=credentials())
    reference, digest = harness.pushed()
    harness.reader.resolve(reference)
    challenge = (
        f'Bearer realm="{distribution_token.token_server.realm}",service="starform-test-registry",'  # type: ignore[union-attr]
        f'scope="repository:{reference.repository.path}:pull",error="invalid_token"'
    )
    harness.transport.add(
        Fault(path_contains("/manifests/"), status=401, headers={"WWW-Authenticate": challenge})
    )
    assert harness.reader.resolve(reference).digest == digest
    harness.session.close()


def test_a_broken_token_service_is_unavailable_then_retried(distribution_token: Backend) -> None:
    harness = Harness(distribution_token, who=credentials())
    reference, digest = harness.pushed()
    harness.clock += 10_000
    harness.transport.add(Fault(path_contains("/token"), status=503))
    assert harness.reader.resolve(reference).digest == digest
    assert len(harness.sleeps) == 1
    harness.transport.add(Fault(path_contains("/token"), status=200, body=b"not json"))
    harness.clock += 10_000
    with pytest.raises(RegistryProtocolError, match="token answer is not JSON"):
        harness.reader.resolve(reference)
    harness.session.close()


def test_basic_credentials_are_sent_once_asked_and_a_refusal_is_final(distribution_basic: Backend) -> None:
    harness = Harness(distribution_basic, who=credentials("not-the-password"))
    repository = distribution_basic.repository()
    with pytest.raises(RegistryUnauthorizedError):
        harness.reader.resolve(repository.tagged("v1"))
    assert harness.requests_to("/manifests/v1") == 2 and harness.sleeps == []
    harness.session.close()


def test_no_credential_or_token_reaches_a_log_line_or_an_error(distribution_token: Backend) -> None:
    token_server = distribution_token.token_server
    assert token_server is not None
    good = Harness(distribution_token, who=credentials())
    wrong = Harness(distribution_token, who=credentials("wrong-but-secret-0003"))
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs:
        reference, _ = good.pushed()
        good.transport.add(Fault(path_contains("/manifests/", method="GET"), times=2, status=503))
        good.reader.resolve(reference)
        for call in (
            lambda: wrong.reader.resolve(reference),
            lambda: wrong.reader.list_tags(reference.repository),
        ):
            with pytest.raises(RegistryUnauthorizedError) as caught:
                call()
            texts += [str(caught.value), repr(caught.value), repr(caught.value.__cause__)]
    texts += [json.dumps(entry, default=str) for entry in logs]
    texts += [repr(credentials()), str(credentials())]
    assert token_server.issued and any(entry["event"] == "registry.retry" for entry in logs)
    joined = "\n".join(texts)
    for secret in (PASSWORD, "wrong-but-secret-0003", *token_server.issued):
        assert secret not in joined
    good.session.close()
    wrong.session.close()


@pytest.mark.parametrize(
    ("link", "times", "reason"),
    [
        ('<http://elsewhere.invalid/v2/_catalog?n=2&last=x>; rel="next"', 1, "another host"),
        ('</v2/_catalog?n=2>; rel="next"', 5, "loop"),
        ('<http://[::1/v2/_catalog?n=2>; rel="next"', 1, "not a URL"),
    ],
)
def test_a_bad_next_page_link_is_refused(harness: Harness, link: str, times: int, reason: str) -> None:
    harness.pushed()

    def relink(response: httpx.Response) -> httpx.Response:
        return httpx.Response(200, headers={"Link": link}, content=response.content, request=response.request)

    harness.transport.add(Fault(path_contains("/_catalog"), times=times, rewrite=relink))
    with pytest.raises(RegistryProtocolError, match=reason):
        harness.reader.list_repositories(harness.backend.host, page_size=2)
