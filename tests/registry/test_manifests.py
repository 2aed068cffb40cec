"""What a registry serves, judged before it is trusted: manifests, indexes, configs, answers,
auth challenges and ``Retry-After``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from starform_adapters.registry.answers import Answer, Target, error_for, parse_retry_after
from starform_adapters.registry.auth import parse_challenges
from starform_core.errors import (
    RegistryManifestNotFoundError,
    RegistryProtocolError,
    RegistryRateLimitedError,
    RegistryRejectedError,
    RegistryRepositoryNotFoundError,
    RegistryTagNotFoundError,
    RegistryUnauthorizedError,
    RegistryUnavailableError,
)
from starform_core.registry import (
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Digest,
    ImageIndex,
    ImageManifest,
    Platform,
    check_digest,
    parse_image_config,
    parse_manifest,
)

D1, D2, D3 = (str(Digest.of(bytes([n]))) for n in range(3))


def _descriptor(digest: str = D1, **extra: Any) -> dict[str, Any]:
    return {"mediaType": OCI_MANIFEST, "digest": digest, "size": 10, **extra}


def _bytes(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_a_manifest_without_media_type_takes_the_content_type_or_its_shape() -> None:
    body = _bytes({"schemaVersion": 2, "config": _descriptor(), "layers": []})
    assert parse_manifest(
        body, reference="r", content_type=DOCKER_MANIFEST + "; charset=utf-8"
    ).media_type == (DOCKER_MANIFEST)
    assert isinstance(parse_manifest(body, reference="r"), ImageManifest)
    index = _bytes({"schemaVersion": 2, "manifests": []})
    assert isinstance(parse_manifest(index, reference="r"), ImageIndex)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_bytes({"schemaVersion": 1, "fsLayers": []}), "schema 2"),
        (
            _bytes({"schemaVersion": 2, "mediaType": "application/vnd.cncf.helm.config"}),
            "not an image manifest",
        ),
        (_bytes({"schemaVersion": 2}), "declares no media type"),
        (_bytes({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": "x"}), "not a JSON object"),
        (
            _bytes(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": _descriptor("sha256:zz"),
                    "layers": [],
                }
            ),
            "malformed digest",
        ),
        (
            _bytes(
                {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": _descriptor(size=-1), "layers": []}
            ),
            "no valid size",
        ),
        (
            _bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [_descriptor()] * 4097}),
            "at most 4096",
        ),
        (
            _bytes(
                {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [_descriptor(platform="linux")]}
            ),
            "malformed platform",
        ),
        (b"{" + b" " * (4 * 1024 * 1024) + b"}", "over"),
    ],
)
def test_malformed_manifests_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(RegistryProtocolError) as caught:
        parse_manifest(body, reference="reg.io/web:v1")
    assert reason in str(caught.value) and caught.value.reference == "reg.io/web:v1"


def test_an_index_selects_the_platform_preferring_no_variant_and_hides_attestations() -> None:
    entries = [
        _descriptor(D1, platform={"os": "linux", "architecture": "arm64", "variant": "v8"}),
        _descriptor(D2, platform={"os": "linux", "architecture": "arm64"}),
        _descriptor(D3, platform={"os": "unknown", "architecture": "unknown"}),
    ]
    index = parse_manifest(
        _bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}), reference="r"
    )
    assert isinstance(index, ImageIndex)
    assert [str(p.platform) for p in index.platforms()] == ["linux/arm64/v8", "linux/arm64"]
    selected = index.select(Platform("linux", "arm64"))
    assert selected is not None and str(selected.digest) == D2
    variant = index.select(Platform("linux", "arm64", variant="v8"))
    assert variant is not None and str(variant.digest) == D1
    assert index.select(Platform("linux", "amd64")) is None


def _config(run: Any = None, **top: Any) -> bytes:
    return _bytes({"os": "linux", "architecture": "amd64", "config": run or {}, **top})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_config({"Cmd": "npm start"}), "Cmd is not a list"),
        (_config({"Entrypoint": [1]}), "other than strings"),
        (_config({"ExposedPorts": {"http/tcp": {}}}), "malformed port"),
        (_config({"ExposedPorts": {"70000/tcp": {}}}), "malformed port"),
        (_config({"ExposedPorts": {"80/quic": {}}}), "malformed port"),
        (_config({"Labels": {f"k{n}": "v" for n in range(513)}}), "at most 512 labels"),
        (_config({"Labels": {"k": 1}}), "bounded string"),
        (_config({"WorkingDir": ["x"]}), "WorkingDir is not a string"),
        (_bytes({"config": {}}), "os and architecture"),
        (_bytes({"os": "linux", "architecture": "amd64", "config": "x"}), "not an object"),
    ],
)
def test_malformed_image_configs_are_refused(body: bytes, reason: str) -> None:
    digest = Digest.of(body)
    with pytest.raises(RegistryProtocolError) as caught:
        parse_image_config(body, reference="r", manifest_digest=digest, digest=digest, media_type=OCI_CONFIG)
    assert reason in str(caught.value)


def test_a_config_of_another_kind_of_artifact_is_not_an_image() -> None:
    body = _config()
    with pytest.raises(RegistryProtocolError, match="not a container image config"):
        parse_image_config(
            body,
            reference="r",
            manifest_digest=Digest.of(body),
            digest=Digest.of(body),
            media_type="application/x",
        )


def test_ports_default_to_tcp_and_are_sorted() -> None:
    body = _config({"ExposedPorts": {"9000": {}, "80/TCP": {}, "53/udp": {}}})
    config = parse_image_config(
        body, reference="r", manifest_digest=Digest.of(body), digest=Digest.of(body), media_type=OCI_CONFIG
    )
    assert [str(p) for p in config.exposed_ports] == ["53/udp", "80/tcp", "9000/tcp"]
    assert config.primary_port == 80


def test_a_digest_header_and_an_expected_digest_are_both_checked() -> None:
    data = b"content"
    digest = Digest.of(data)
    assert check_digest(data, reference="r", header=str(digest), expected=digest) == digest
    sha512 = Digest.of(data, algorithm="sha512")
    assert check_digest(data, reference="r", header=str(sha512)) == digest
    with pytest.raises(RegistryProtocolError, match="hashes otherwise"):
        check_digest(data, reference="r", header=str(Digest.of(b"other")))
    with pytest.raises(RegistryProtocolError, match="asked for"):
        check_digest(data, reference="r", expected=Digest.of(b"other"))
    with pytest.raises(RegistryProtocolError, match="malformed digest header"):
        check_digest(data, reference="r", header="sha256:nothex")


def test_challenges_parse_with_quoted_commas_and_several_schemes() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope", '
        'Basic realm="x \\"y\\""'
    )
    bearer, basic = parse_challenges(header)
    assert bearer.scheme == "bearer"
    assert bearer.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull,push repository:c:pull",
        "error": "insufficient_scope",
    }
    assert (basic.scheme, basic.params) == ("basic", {"realm": 'x "y"'})
    assert parse_challenges("") == []
    assert parse_challenges("Negotiate") == []


def test_retry_after_is_seconds_or_a_date() -> None:
    assert parse_retry_after("30", date=None, now=0) == 30.0
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", date=date, now=0) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:27:00 GMT", date=date, now=0) == 0.0
    assert parse_retry_after("soon", date=None, now=0) is None
    assert parse_retry_after(None, date=None, now=0) is None


def _answer(status: int, code: str = "", headers: dict[str, str] | None = None) -> Answer:
    body = _bytes({"errors": [{"code": code, "message": "m"}]}) if code else b""
    return Answer(status, httpx.Headers(headers or {}), body)


@pytest.mark.parametrize(
    ("status", "code", "target", "expected"),
    [
        (404, "MANIFEST_UNKNOWN", Target.TAG, RegistryTagNotFoundError),
        (404, "NAME_UNKNOWN", Target.TAG, RegistryTagNotFoundError),
        (404, "MANIFEST_UNKNOWN", Target.DIGEST, RegistryManifestNotFoundError),
        (404, "BLOB_UNKNOWN", Target.REPOSITORY, RegistryManifestNotFoundError),
        (404, "NAME_UNKNOWN", Target.REPOSITORY, RegistryRepositoryNotFoundError),
        (401, "UNAUTHORIZED", Target.TAG, RegistryUnauthorizedError),
        (403, "DENIED", Target.TAG, RegistryUnauthorizedError),
        (429, "TOOMANYREQUESTS", Target.TAG, RegistryRateLimitedError),
        (503, "", Target.TAG, RegistryUnavailableError),
        (408, "", Target.TAG, RegistryUnavailableError),
        (400, "MANIFEST_INVALID", Target.TAG, RegistryRejectedError),
        (405, "UNSUPPORTED", Target.DIGEST, RegistryRejectedError),
        (501, "", Target.TAG, RegistryRejectedError),
    ],
)
def test_registry_answers_become_typed_errors(status: int, code: str, target: Target, expected: type) -> None:
    error = error_for(
        _answer(status, code), operation="GET manifest", reference="reg.io/web:v1", target=target, now=0
    )
    assert type(error) is expected
    assert error.status == status and error.reference == "reg.io/web:v1"
    assert "reg.io/web:v1" in str(error) and (code in str(error))


def test_a_rate_limit_carries_its_hint() -> None:
    error = error_for(
        _answer(429, headers={"Retry-After": "12"}), operation="GET", reference="r", target=Target.TAG, now=0
    )
    assert isinstance(error, RegistryRateLimitedError) and error.retry_after == 12.0
