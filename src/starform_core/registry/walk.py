"""From a reference to what it resolves to and to its run config, over injected fetches.

The adapter fetches over HTTP and the double from memory; both walk an index to the asked
platform's manifest, then to its config blob, the same way, through these functions.
"""

from __future__ import annotations

from collections.abc import Callable

from starform_core.errors import RegistryManifestNotFoundError, RegistryProtocolError
from starform_core.registry.image import CONFIG_TYPES, Descriptor, ImageConfig, Platform, ResolvedImage
from starform_core.registry.manifest import (
    CONFIG_LIMIT,
    ImageIndex,
    ImageManifest,
    check_digest,
    parse_image_config,
    parse_manifest,
)
from starform_core.registry.reference import Digest, ImageReference, Repository

__all__ = ["BlobFetch", "Fetched", "ManifestFetch", "read_image_config", "resolved"]

Fetched = tuple[bytes, Digest, str | None]
"""A manifest's bytes, their checked digest, and the content type served."""
ManifestFetch = Callable[[ImageReference], Fetched]
"""Fetch a manifest by reference, its digest already checked."""
BlobFetch = Callable[[Repository, Descriptor], bytes]
"""Fetch a blob by descriptor (at most :data:`CONFIG_LIMIT` bytes)."""
_INDEX_DEPTH = 3


def resolved(reference: ImageReference, fetched: Fetched) -> ResolvedImage:
    """What ``reference`` resolves to, given its fetched manifest."""
    body, digest, content_type = fetched
    document = parse_manifest(body, reference=str(reference), content_type=content_type)
    platforms = document.platforms() if isinstance(document, ImageIndex) else ()
    return ResolvedImage(
        reference=reference,
        digest=digest,
        media_type=document.media_type,
        size=len(body),
        platforms=platforms,
    )


def _platform_manifest(
    reference: ImageReference, platform: Platform, fetch: ManifestFetch
) -> tuple[ImageManifest, Digest]:
    body, digest, content_type = fetch(reference)
    document = parse_manifest(body, reference=str(reference), content_type=content_type)
    for _ in range(_INDEX_DEPTH):
        if not isinstance(document, ImageIndex):
            break
        entry = document.select(platform)
        if entry is None:
            offered = ", ".join(str(p.platform) for p in document.platforms()) or "none"
            raise RegistryManifestNotFoundError(
                f"{reference}: no manifest for {platform} (the index offers: {offered})",
                reference=str(reference),
            )
        at = reference.repository.at(entry.digest)
        body, digest, content_type = fetch(at)
        document = parse_manifest(body, reference=str(at), content_type=content_type)
    if not isinstance(document, ImageManifest):
        raise RegistryProtocolError(f"{reference}: indexes nested too deep", reference=str(reference))
    return document, digest


def read_image_config(
    reference: ImageReference, platform: Platform, *, fetch_manifest: ManifestFetch, fetch_blob: BlobFetch
) -> ImageConfig:
    """The run config of ``reference`` for ``platform``: index → platform manifest → config blob."""
    manifest, digest = _platform_manifest(reference, platform, fetch_manifest)
    descriptor = manifest.config
    if descriptor.media_type not in CONFIG_TYPES:
        raise RegistryProtocolError(
            f"{reference}: config media type {descriptor.media_type[:100]!r} is not a container image config",
            reference=str(reference),
        )
    if descriptor.size > CONFIG_LIMIT:
        raise RegistryProtocolError(
            f"{reference}: the image config is {descriptor.size} bytes, over {CONFIG_LIMIT}",
            reference=str(reference),
        )
    data = fetch_blob(reference.repository, descriptor)
    if len(data) != descriptor.size:
        raise RegistryProtocolError(
            f"{reference}: the config blob is {len(data)} bytes, the manifest says {descriptor.size}",
            reference=str(reference),
        )
    check_digest(data, reference=str(reference), expected=descriptor.digest)
    parsed = parse_image_config(
        data,
        reference=str(reference),
        manifest_digest=digest,
        digest=descriptor.digest,
        media_type=descriptor.media_type,
    )
    if (parsed.platform.os, parsed.platform.architecture) != (platform.os, platform.architecture):
        raise RegistryManifestNotFoundError(
            f"{reference}: the image is {parsed.platform}, not {platform}", reference=str(reference)
        )
    return parsed
