"""Small real container images: a gzipped layer tarball, an image config, a manifest, an index.

What a builder produces, made byte-for-byte reproducibly (fixed timestamps and owners, sorted
entries, canonical JSON), in OCI or Docker schema 2 media types, and pushed through an
:class:`~starform_adapters.registry.writer.ImageWriter`: blobs first, then the platform
manifests, then the index, then the tag.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from starform_core.registry import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    LINUX_AMD64,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Digest,
    ExposedPort,
    ImageReference,
    Platform,
)

from .writer import ImageWriter

__all__ = ["BuiltImage", "BuiltIndex", "ImageFile", "ImageSpec", "build_image", "build_index", "push_image"]


@attrs.frozen
class ImageFile:
    """A file of the image's one layer (``path`` absolute, inside the image)."""

    path: str
    content: bytes = attrs.field(repr=False)
    mode: int = 0o644


@attrs.frozen
class ImageSpec:
    """What to put in an image; ``docker_media_types`` makes a Docker schema 2 image instead of OCI."""

    files: tuple[ImageFile, ...] = ()
    platform: Platform = LINUX_AMD64
    entrypoint: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    exposed_ports: tuple[ExposedPort, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str | None = None
    user: str | None = None
    labels: Mapping[str, str] = attrs.field(factory=dict)
    docker_media_types: bool = False


@attrs.frozen
class Blob:
    """Content with its media type."""

    media_type: str
    data: bytes = attrs.field(repr=False)

    @property
    def digest(self) -> Digest:
        """The content's digest."""
        return Digest.of(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """The OCI descriptor of this content."""
        return {"mediaType": self.media_type, "digest": str(self.digest), "size": len(self.data), **extra}


@attrs.frozen
class BuiltImage:
    """A single-platform image: its manifest, config and layers."""

    platform: Platform
    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def digest(self) -> Digest:
        """The manifest's digest."""
        return self.manifest.digest


@attrs.frozen
class BuiltIndex:
    """A multi-platform image: an index over single-platform images."""

    manifest: Blob
    images: tuple[BuiltImage, ...]

    @property
    def digest(self) -> Digest:
        """The index's digest."""
        return self.manifest.digest


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _tarball(files: Iterable[ImageFile]) -> bytes:
    buffer = io.BytesIO()
    entries: dict[str, ImageFile | None] = {}
    for file in files:
        parts = file.path.strip("/").split("/")
        for depth in range(1, len(parts)):
            entries.setdefault("/".join(parts[:depth]), None)
        entries["/".join(parts)] = file
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            entry = entries[name]
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            if entry is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(entry.content), entry.mode
                tar.addfile(info, io.BytesIO(entry.content))
    return buffer.getvalue()


def _run_config(spec: ImageSpec) -> dict[str, Any]:
    run: dict[str, Any] = {}
    for key, value in (
        ("Entrypoint", list(spec.entrypoint) if spec.entrypoint is not None else None),
        ("Cmd", list(spec.command) if spec.command is not None else None),
        ("Env", list(spec.env) or None),
        ("ExposedPorts", {str(port): {} for port in spec.exposed_ports} or None),
        ("WorkingDir", spec.working_dir),
        ("User", spec.user),
        ("Labels", dict(spec.labels) or None),
    ):
        if value is not None:
            run[key] = value
    return run


def build_image(spec: ImageSpec) -> BuiltImage:
    """Make the image: one layer with ``spec.files``, its config, its manifest."""
    tar = _tarball(spec.files)
    layer = Blob(DOCKER_LAYER if spec.docker_media_types else OCI_LAYER, gzip.compress(tar, mtime=0))
    platform: dict[str, Any] = {"os": spec.platform.os, "architecture": spec.platform.architecture}
    if spec.platform.variant:
        platform["variant"] = spec.platform.variant
    config_document = {
        **platform,
        "created": "1970-01-01T00:00:00Z",
        "config": _run_config(spec),
        "rootfs": {"type": "layers", "diff_ids": [str(Digest.of(tar))]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "starform build"}],
    }
    config = Blob(DOCKER_CONFIG if spec.docker_media_types else OCI_CONFIG, _canonical(config_document))
    media_type = DOCKER_MANIFEST if spec.docker_media_types else OCI_MANIFEST
    manifest_document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    }
    return BuiltImage(spec.platform, Blob(media_type, _canonical(manifest_document)), config, (layer,))


def build_index(images: Iterable[BuiltImage], *, docker_media_types: bool = False) -> BuiltIndex:
    """Make a multi-platform index (an OCI index, or a Docker manifest list) over ``images``."""
    images = tuple(images)
    media_type = DOCKER_MANIFEST_LIST if docker_media_types else OCI_INDEX
    entries = []
    for image in images:
        platform: dict[str, str] = {"os": image.platform.os, "architecture": image.platform.architecture}
        if image.platform.variant:
            platform["variant"] = image.platform.variant
        entries.append(image.manifest.descriptor(platform=platform))
    document = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
    return BuiltIndex(Blob(media_type, _canonical(document)), images)


def _push_single(writer: ImageWriter, reference: ImageReference, image: BuiltImage) -> Digest:
    for blob in (*image.layers, image.config):
        writer.put_blob(reference.repository, blob.data)
    return writer.put_manifest(reference, image.manifest.data, media_type=image.manifest.media_type)


def push_image(writer: ImageWriter, reference: ImageReference, image: BuiltImage | BuiltIndex) -> Digest:
    """Push every blob and manifest of ``image`` and point ``reference`` (a tag) at it."""
    if isinstance(image, BuiltImage):
        return _push_single(writer, reference, image)
    for platform_image in image.images:
        _push_single(writer, reference.repository.at(platform_image.digest), platform_image)
    return writer.put_manifest(reference, image.manifest.data, media_type=image.manifest.media_type)
