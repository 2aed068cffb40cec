"""Image references and digests: Docker's parsing rules, limits, and a round trip property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starform_core.errors import ValidationError
from starform_core.registry import Digest, ImageReference, Repository, parse_image_reference, parse_repository
from starform_core.validation import check_image_reference

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "path", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "latest", None),
        ("nginx:1.25", "docker.io", "library/nginx", "1.25", None),
        ("acme/web", "docker.io", "acme/web", "latest", None),
        ("index.docker.io/acme/web:v1", "docker.io", "acme/web", "v1", None),
        ("ghcr.io/acme/web:v1", "ghcr.io", "acme/web", "v1", None),
        ("localhost/web", "localhost", "web", "latest", None),
        ("localhost:5000/a/b/c:x_Y.z-1", "localhost:5000", "a/b/c", "x_Y.z-1", None),
        ("127.0.0.1:5000/web@sha256:" + HEX, "127.0.0.1:5000", "web", None, "sha256:" + HEX),
        ("Registry.Example.COM/web:v1@sha256:" + HEX, "registry.example.com", "web", "v1", "sha256:" + HEX),
        ("reg.io/a__b/c--d/e.f:v", "reg.io", "a__b/c--d/e.f", "v", None),
    ],
)
def test_references_parse_as_docker_does(
    text: str, registry: str, path: str, tag: str | None, digest: str | None
) -> None:
    reference = parse_image_reference(text)
    assert (reference.repository.registry, reference.repository.path, reference.tag) == (registry, path, tag)
    assert (str(reference.digest) if reference.digest else None) == digest
    assert parse_image_reference(str(reference)) == reference


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "1 to 512"),
        ("x" * 513, "1 to 512"),
        ("web:", "is not a tag"),
        ("web:-bad", "is not a tag"),
        ("web:" + "t" * 129, "is not a tag"),
        ("Web/App", "path component"),
        ("reg.io//web", "path component"),
        ("reg.io/web-", "path component"),
        ("web@sha256:abc", "64 lower-case hex"),
        ("web@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("web@" + HEX, "algorithm:hex"),
        ("reg.io:99999/web", "port outside"),
        ("reg.io/" + "/".join(["a" * 60] * 5), "1 to 255"),
    ],
)
def test_bad_references_name_the_field_and_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_image_reference(text, field="spec.image")
    assert caught.value.field == "spec.image"
    assert reason in caught.value.reason


def test_a_reference_without_tag_or_digest_needs_a_default() -> None:
    with pytest.raises(ValidationError, match="names a tag or a digest"):
        parse_image_reference("reg.io/web", default_tag=None)
    assert parse_image_reference("reg.io/web", default_tag="main").tag == "main"


def test_only_a_pinned_reference_gives_a_deployable_string() -> None:
    reference = parse_image_reference("reg.io/web:v1")
    with pytest.raises(ValidationError, match="not pinned"):
        reference.pinned()
    pinned = reference.with_digest(Digest("sha256", HEX)).pinned()
    assert pinned == f"reg.io/web:v1@sha256:{HEX}"
    check_image_reference("image", pinned)
    assert reference.repository.at(Digest("sha256", HEX)).reference == f"sha256:{HEX}"


def test_digests_hash_and_match_content() -> None:
    digest = Digest.of(b"hello")
    assert str(digest) == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert digest.matches(b"hello") and not digest.matches(b"hello!")
    assert Digest.parse(str(digest)) == digest
    assert Digest.of(b"x", algorithm="sha512").matches(b"x")
    assert len(Digest.of(b"x", algorithm="sha512").hex) == 128
    with pytest.raises(ValidationError):
        Digest.of(b"x", algorithm="md5")


def test_repositories_parse_without_tags() -> None:
    assert parse_repository("reg.io:443/a/b") == Repository("reg.io:443", "a/b")
    assert str(parse_repository("busybox")) == "docker.io/library/busybox"


_component = st.from_regex(r"[a-z0-9]{1,6}([._-][a-z0-9]{1,4}){0,2}", fullmatch=True)
_hosts = st.sampled_from(["docker.io", "ghcr.io", "127.0.0.1:5000", "registry.example.com", "localhost:1"])
_tags = st.none() | st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_digests = st.none() | st.builds(
    lambda h: Digest("sha256", h), st.from_regex(r"[a-f0-9]{64}", fullmatch=True)
)


@settings(max_examples=150, deadline=None)
@given(host=_hosts, parts=st.lists(_component, min_size=1, max_size=4), tag=_tags, digest=_digests)
def test_any_valid_reference_round_trips_through_its_text(
    host: str, parts: list[str], tag: str | None, digest: Digest | None
) -> None:
    if tag is None and digest is None:
        tag = "latest"
    reference = ImageReference(Repository(host, "/".join(parts)), tag=tag, digest=digest)
    assert parse_image_reference(str(reference)) == reference
    if digest is not None:
        check_image_reference("image", reference.pinned())
