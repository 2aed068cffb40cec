"""What a registry knows about an image: media types, platforms, descriptors, the run config."""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from starform_core.errors import ValidationError
from starform_core.registry.reference import Digest, ImageReference, Repository
from starform_core.secrets_values import SecretValue

__all__ = [
    "ACCEPTED_MANIFEST_TYPES",
    "CONFIG_TYPES",
    "DOCKER_CONFIG",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "INDEX_TYPES",
    "LINUX_AMD64",
    "MANIFEST_TYPES",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_MANIFEST",
    "Descriptor",
    "ExposedPort",
    "ImageConfig",
    "Platform",
    "PlatformManifest",
    "RegistryCredentials",
    "RepositoryList",
    "ResolvedImage",
    "TagList",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
"""Media types of a single-platform image manifest."""
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
"""Media types of a multi-platform index (an OCI index or a Docker manifest list)."""
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
"""Media types of a container image's config blob."""
ACCEPTED_MANIFEST_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
"""What a client accepts when it reads a manifest, best first."""

_PLATFORM_WORD = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")


def _check_word(field: str, value: object) -> None:
    if not isinstance(value, str) or not _PLATFORM_WORD.match(value):
        raise ValidationError(field, f"{str(value)[:40]!r} is not a platform word")


def _check_platform_word(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    _check_word(attribute.name, value)


def _check_variant(_instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        _check_word(attribute.name, value)


@attrs.frozen(order=True)
class Platform:
    """An OS and CPU architecture (with an optional variant, such as ``v8`` for arm64)."""

    os: str = attrs.field(validator=_check_platform_word)
    architecture: str = attrs.field(validator=_check_platform_word)
    variant: str | None = attrs.field(default=None, kw_only=True, validator=_check_variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/architecture[/variant]`` (``linux/arm64/v8``)."""
        parts = text.split("/") if isinstance(text, str) else []
        if len(parts) not in (2, 3):
            raise ValidationError("platform", "a platform is os/architecture[/variant]")
        return cls(parts[0], parts[1], variant=parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


LINUX_AMD64 = Platform("linux", "amd64")
"""The platform Starform's clusters run."""


@attrs.frozen
class Descriptor:
    """A pointer to content: its media type, digest and size (and platform, inside an index)."""

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class PlatformManifest:
    """One entry of a multi-platform index: the manifest for one platform."""

    platform: Platform
    digest: Digest
    media_type: str


@attrs.frozen
class ResolvedImage:
    """A reference resolved to the digest of what the registry serves for it.

    For a multi-platform image ``digest`` is the index's digest (what a cluster pulls, each node
    picking its platform) and ``platforms`` lists the index's entries; for a single manifest
    ``platforms`` is empty.
    """

    reference: ImageReference
    digest: Digest
    media_type: str
    size: int
    platforms: tuple[PlatformManifest, ...] = ()

    @property
    def is_index(self) -> bool:
        """True for a multi-platform index."""
        return self.media_type in INDEX_TYPES

    def pinned(self) -> str:
        """The digest-pinned reference a deployment stores."""
        return self.reference.with_digest(self.digest).pinned()


@attrs.frozen(order=True)
class ExposedPort:
    """A port the image declares (``EXPOSE 8080/tcp``)."""

    port: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


@attrs.frozen
class ImageConfig:
    """What an image runs by default, read from its config blob for one platform.

    ``entrypoint`` and ``command`` are ``None`` when the image does not set them. ``labels`` are
    the image's labels (bounded in number and size when parsed). Environment values are not
    kept: an image's ``ENV`` may carry credentials.
    """

    manifest_digest: Digest
    digest: Digest
    platform: Platform
    entrypoint: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    exposed_ports: tuple[ExposedPort, ...] = ()
    working_dir: str | None = None
    user: str | None = None
    labels: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def primary_port(self) -> int | None:
        """The port a web service should route to: the lowest TCP port exposed, if any."""
        ports = sorted(p.port for p in self.exposed_ports if p.protocol == "tcp")
        return ports[0] if ports else None


@attrs.frozen
class TagList:
    """A repository's tags in the registry's order; ``complete`` is False when ``limit`` cut it."""

    repository: Repository
    tags: tuple[str, ...]
    complete: bool = True


@attrs.frozen
class RepositoryList:
    """A registry's repositories (its catalog); ``complete`` is False when ``limit`` cut it."""

    registry: str
    repositories: tuple[str, ...]
    complete: bool = True


@attrs.frozen
class RegistryCredentials:
    """A user name and password (or access token) for one registry; the secret never prints."""

    username: str
    password: SecretValue

    def __attrs_post_init__(self) -> None:
        if not self.username or len(self.username) > 256 or ":" in self.username:
            raise ValidationError("username", "1 to 256 characters, without a colon")
        if not self.password.reveal() or len(self.password.reveal()) > 8192:
            raise ValidationError("password", "1 to 8192 characters")
