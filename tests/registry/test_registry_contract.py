"""The image registry port's contract, run against the real Distribution registry (through the
HTTP adapter) and the in-memory double alike: tags, digests, indexes, configs, deletes, pages,
bad pushes, and authentication."""

from __future__ import annotations

import pytest
from tests.registry.kit.backends import Backend, credentials
from tests.registry.kit.images import LINUX_ARM64, multi_arch, small_image

from starform_adapters.registry import ImageSpec, build_image, push_image
from starform_core.errors import (
    RegistryManifestNotFoundError,
    RegistryRejectedError,
    RegistryRepositoryNotFoundError,
    RegistryTagNotFoundError,
    RegistryUnauthorizedError,
)
from starform_core.registry import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    LINUX_AMD64,
    OCI_INDEX,
    OCI_MANIFEST,
    Digest,
    ExposedPort,
    Platform,
    parse_image_reference,
)
from starform_core.validation import check_image_reference


def test_a_tag_resolves_to_the_digest_of_the_pushed_manifest(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    image = small_image()
    pushed = push_image(writer, repository.tagged("v1"), image)
    resolved = reader.resolve(repository.tagged("v1"))
    assert pushed == image.digest == resolved.digest == Digest.of(image.manifest.data)
    assert resolved.media_type == OCI_MANIFEST
    assert resolved.size == len(image.manifest.data)
    assert resolved.platforms == ()
    assert not resolved.is_index
    pinned = resolved.pinned()
    check_image_reference("image", pinned)
    assert pinned == f"{repository}:v1@{image.digest}"
    assert parse_image_reference(pinned).digest == image.digest


def test_a_digest_resolves_to_itself_and_a_moved_tag_to_its_new_image(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    first, second = small_image(), small_image()
    push_image(writer, repository.tagged("latest"), first)
    push_image(writer, repository.tagged("latest"), second)
    assert reader.resolve(repository.tagged("latest")).digest == second.digest
    assert reader.resolve(repository.at(first.digest)).digest == first.digest
    assert reader.exists(repository.at(first.digest))


def test_docker_schema_2_images_resolve_and_expose_their_config(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    image = small_image(docker=True)
    push_image(writer, repository.tagged("docker"), image)
    resolved = reader.resolve(repository.tagged("docker"))
    assert (resolved.digest, resolved.media_type) == (image.digest, DOCKER_MANIFEST)
    assert reader.image_config(repository.tagged("docker")).command == ("/app/start",)


@pytest.mark.parametrize(("docker", "media_type"), [(False, OCI_INDEX), (True, DOCKER_MANIFEST_LIST)])
def test_a_multi_arch_index_resolves_to_the_index_digest(
    backend: Backend, docker: bool, media_type: str
) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    index = multi_arch(docker=docker)
    push_image(writer, repository.tagged("multi"), index)
    resolved = reader.resolve(repository.tagged("multi"))
    assert resolved.digest == index.digest
    assert resolved.media_type == media_type and resolved.is_index
    assert {(str(p.platform), p.digest) for p in resolved.platforms} == {
        (str(image.platform), image.digest) for image in index.images
    }
    amd64 = reader.image_config(repository.tagged("multi"))
    arm64 = reader.image_config(repository.tagged("multi"), platform=LINUX_ARM64)
    assert (amd64.command, amd64.platform) == (("/app/start", "amd64"), LINUX_AMD64)
    assert (arm64.command, arm64.platform) == (("/app/start", "arm64"), LINUX_ARM64)
    assert amd64.manifest_digest == index.images[0].digest
    assert arm64.manifest_digest == index.images[1].digest
    assert reader.image_config(repository.tagged("multi"), platform=Platform("linux", "arm64")).command == (
        "/app/start",
        "arm64",
    )


def test_a_platform_the_index_lacks_is_a_missing_manifest_naming_what_it_offers(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    push_image(writer, repository.tagged("multi"), multi_arch())
    with pytest.raises(RegistryManifestNotFoundError) as caught:
        reader.image_config(repository.tagged("multi"), platform=Platform("linux", "s390x"))
    assert "linux/s390x" in str(caught.value)
    assert "linux/amd64" in str(caught.value) and "linux/arm64/v8" in str(caught.value)


def test_a_single_platform_image_is_not_served_for_another_platform(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    push_image(writer, repository.tagged("v1"), small_image())
    with pytest.raises(RegistryManifestNotFoundError, match="linux/amd64, not linux/arm64"):
        reader.image_config(repository.tagged("v1"), platform=LINUX_ARM64)


def test_the_image_config_gives_the_default_command_and_exposed_ports(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    image = small_image(port=3000)
    push_image(writer, repository.tagged("v1"), image)
    config = reader.image_config(repository.tagged("v1"))
    assert config.entrypoint == ("/bin/sh", "-c")
    assert config.command == ("/app/start",)
    assert config.exposed_ports == (ExposedPort(3000), ExposedPort(5353, "udp"), ExposedPort(9090))
    assert config.primary_port == 3000
    assert (config.working_dir, config.user) == ("/app", "1000:1000")
    assert config.labels == {"org.opencontainers.image.revision": "abc123"}
    assert (config.manifest_digest, config.digest) == (image.digest, image.config.digest)
    assert "never-kept" not in repr(config)


def test_an_image_without_command_or_ports_has_none(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    push_image(writer, repository.tagged("bare"), build_image(ImageSpec()))
    config = reader.image_config(repository.tagged("bare"))
    assert (config.entrypoint, config.command, config.exposed_ports, config.primary_port) == (
        None,
        None,
        (),
        None,
    )


def test_a_missing_tag_is_named_in_the_error(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    push_image(writer, repository.tagged("v1"), small_image())
    with pytest.raises(RegistryTagNotFoundError) as caught:
        reader.resolve(repository.tagged("v2"))
    assert caught.value.reference == f"{repository}:v2"
    assert f"{repository}:v2" in str(caught.value)
    with pytest.raises(RegistryTagNotFoundError):
        reader.image_config(repository.tagged("v2"))
    with pytest.raises(RegistryTagNotFoundError):
        reader.resolve(backend.repository("never-pushed").tagged("v1"))


def test_an_unknown_digest_does_not_exist(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    push_image(writer, repository.tagged("v1"), small_image())
    unknown = repository.at(Digest.of(b"never pushed"))
    assert not reader.exists(unknown)
    with pytest.raises(RegistryManifestNotFoundError):
        reader.resolve(unknown)


def test_a_deleted_manifest_is_gone_with_every_tag_pointing_at_it(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    doomed, kept = small_image(), small_image()
    push_image(writer, repository.tagged("a"), doomed)
    push_image(writer, repository.tagged("b"), doomed)
    push_image(writer, repository.tagged("c"), kept)
    writer.delete_manifest(repository.at(doomed.digest))
    assert not reader.exists(repository.at(doomed.digest))
    assert reader.exists(repository.at(kept.digest))
    with pytest.raises(RegistryManifestNotFoundError):
        reader.resolve(repository.at(doomed.digest))
    for tag in ("a", "b"):
        with pytest.raises(RegistryTagNotFoundError):
            reader.resolve(repository.tagged(tag))
    assert set(reader.list_tags(repository).tags) == {"c"}
    assert reader.resolve(repository.tagged("c")).digest == kept.digest
    with pytest.raises(RegistryManifestNotFoundError):
        writer.delete_manifest(repository.at(doomed.digest))


def test_a_repository_whose_manifests_are_all_deleted_lists_no_tags(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    image = small_image()
    push_image(writer, repository.tagged("only"), image)
    writer.delete_manifest(repository.at(image.digest))
    listed = reader.list_tags(repository)
    assert (listed.tags, listed.complete) == ((), True)


def test_every_tag_is_listed_whatever_the_page_size(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    image = small_image()
    push_image(writer, repository.tagged("seed"), image)
    tags = {f"v{n}" for n in range(7)} | {"seed"}
    for tag in tags - {"seed"}:
        writer.put_manifest(repository.tagged(tag), image.manifest.data, media_type=image.manifest.media_type)
    listed = reader.list_tags(repository, page_size=2)
    assert set(listed.tags) == tags and len(listed.tags) == len(tags) and listed.complete
    capped = reader.list_tags(repository, limit=3, page_size=2)
    assert len(capped.tags) == 3 and set(capped.tags) <= tags and not capped.complete
    exact = reader.list_tags(repository, limit=len(tags))
    assert set(exact.tags) == tags and exact.complete


def test_tags_of_an_unknown_repository_are_a_missing_repository(backend: Backend) -> None:
    reader, _ = backend.client()
    with pytest.raises(RegistryRepositoryNotFoundError):
        reader.list_tags(backend.repository("nothing-here"))


def test_the_catalog_lists_every_repository_across_pages(backend: Backend) -> None:
    reader, writer = backend.client()
    repositories = [backend.repository(f"r{n}") for n in range(5)]
    image = small_image()
    for repository in repositories:
        push_image(writer, repository.tagged("v1"), image)
    listed = reader.list_repositories(backend.host, page_size=2, limit=100_000)
    assert {r.path for r in repositories} <= set(listed.repositories)
    assert len(set(listed.repositories)) == len(listed.repositories) and listed.complete
    capped = reader.list_repositories(backend.host, page_size=2, limit=3)
    assert len(capped.repositories) == 3 and not capped.complete


def test_a_manifest_whose_blobs_are_missing_is_refused(backend: Backend) -> None:
    _, writer = backend.client()
    repository = backend.repository()
    image = small_image()
    with pytest.raises(RegistryRejectedError, match="MANIFEST_BLOB_UNKNOWN"):
        writer.put_manifest(
            repository.tagged("v1"), image.manifest.data, media_type=image.manifest.media_type
        )


def test_an_index_whose_manifests_are_missing_is_refused(backend: Backend) -> None:
    reader, writer = backend.client()
    repository = backend.repository()
    index = multi_arch()
    push_image(writer, repository.tagged("amd64-only"), index.images[0])
    with pytest.raises(RegistryRejectedError):
        writer.put_manifest(
            repository.tagged("multi"), index.manifest.data, media_type=index.manifest.media_type
        )
    with pytest.raises(RegistryTagNotFoundError):
        reader.resolve(repository.tagged("multi"))


def test_a_manifest_pushed_under_another_digest_is_refused(backend: Backend) -> None:
    _, writer = backend.client()
    repository = backend.repository()
    image, other = small_image(), small_image()
    push_image(writer, repository.tagged("v1"), image)
    with pytest.raises(RegistryRejectedError):
        writer.put_manifest(
            repository.at(other.digest), image.manifest.data, media_type=image.manifest.media_type
        )


# authentication


def test_the_right_credentials_push_and_pull(secured_backend: Backend) -> None:
    reader, writer = secured_backend.client(credentials())
    repository = secured_backend.repository()
    image = small_image()
    push_image(writer, repository.tagged("v1"), image)
    assert reader.resolve(repository.tagged("v1")).digest == image.digest
    assert reader.image_config(repository.tagged("v1")).command == ("/app/start",)
    assert reader.list_tags(repository).tags == ("v1",)


def test_a_wrong_password_is_unauthorized_and_never_shown(secured_backend: Backend) -> None:
    _, writer = secured_backend.client(credentials())
    repository = secured_backend.repository()
    push_image(writer, repository.tagged("v1"), small_image())
    reader, bad_writer = secured_backend.client(credentials("wrong-password-0002"))
    with pytest.raises(RegistryUnauthorizedError) as caught:
        reader.resolve(repository.tagged("v1"))
    with pytest.raises(RegistryUnauthorizedError):
        push_image(bad_writer, repository.tagged("v2"), small_image())
    for text in (str(caught.value), repr(caught.value), str(caught.value.__cause__ or "")):
        assert "wrong-password-0002" not in text


def test_anonymous_clients_cannot_read_or_write_a_private_repository(secured_backend: Backend) -> None:
    _, writer = secured_backend.client(credentials())
    repository = secured_backend.repository()
    image = small_image()
    push_image(writer, repository.tagged("v1"), image)
    anonymous_reader, anonymous_writer = secured_backend.client(None)
    with pytest.raises(RegistryUnauthorizedError):
        anonymous_reader.resolve(repository.tagged("v1"))
    with pytest.raises(RegistryUnauthorizedError):
        anonymous_reader.exists(repository.at(image.digest))
    with pytest.raises(RegistryUnauthorizedError):
        push_image(anonymous_writer, repository.tagged("v2"), small_image())


def test_anonymous_clients_pull_public_repositories_but_never_push(public_backend: Backend) -> None:
    secured_backend = public_backend
    assert secured_backend.anonymous_public
    _, writer = secured_backend.client(credentials())
    repository = secured_backend.repository(public=True)
    image = small_image()
    push_image(writer, repository.tagged("v1"), image)
    anonymous_reader, anonymous_writer = secured_backend.client(None)
    assert anonymous_reader.resolve(repository.tagged("v1")).digest == image.digest
    assert anonymous_reader.image_config(repository.tagged("v1")).primary_port == 8080
    with pytest.raises(RegistryUnauthorizedError):
        push_image(anonymous_writer, repository.tagged("v2"), small_image())
    with pytest.raises(RegistryUnauthorizedError):
        anonymous_writer.delete_manifest(repository.at(image.digest))
    assert anonymous_reader.exists(repository.at(image.digest))
