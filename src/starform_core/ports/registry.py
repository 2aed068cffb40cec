"""The image registry port: what Starbase needs to turn a tag into a digest-pinned deployment.

Errors (all :class:`~starform_core.errors.RegistryError`): ``RegistryTagNotFoundError`` for an
unknown tag, ``RegistryManifestNotFoundError`` for an unknown (or deleted) digest or a platform
an index lacks, ``RegistryRepositoryNotFoundError`` for an unknown repository,
``RegistryUnauthorizedError``, ``RegistryRateLimitedError`` (with ``retry_after``),
``RegistryUnavailableError`` (transient: retry later) and ``RegistryProtocolError`` (the
registry answered something unusable, such as content that does not match its digest).
Implementations retry transient failures themselves, a bounded number of times.
"""

from __future__ import annotations

from typing import Protocol

from starform_core.registry.image import LINUX_AMD64, ImageConfig, Platform, ResolvedImage, TagList
from starform_core.registry.reference import ImageReference, Repository

__all__ = ["ImageRegistry"]


class ImageRegistry(Protocol):
    """Read-only access to container images, by reference."""

    def resolve(self, reference: ImageReference) -> ResolvedImage:
        """The digest the registry serves for ``reference`` (a tag or a digest), checked against
        the bytes; a multi-platform image resolves to its index's digest."""
        ...

    def exists(self, reference: ImageReference) -> bool:
        """True when the manifest ``reference.digest`` is in the repository (a digest is required)."""
        ...

    def image_config(self, reference: ImageReference, *, platform: Platform = LINUX_AMD64) -> ImageConfig:
        """The default entrypoint, command, exposed ports, working directory and user of the
        image for ``platform`` (an index is followed to that platform's manifest)."""
        ...

    def list_tags(self, repository: Repository, *, limit: int = 10_000) -> TagList:
        """The repository's tags, following the registry's pages, at most ``limit`` of them."""
        ...
