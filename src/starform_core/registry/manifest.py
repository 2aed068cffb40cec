"""Parse and check what a registry serves: manifests, indexes, image configs, their digests.

Pure functions over bytes, shared by the HTTP adapter and the in-memory double so both judge a
manifest the same way. Every problem is a :class:`~starform_core.errors.RegistryProtocolError`
naming the reference; nothing here trusts a size or a digest it has not checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from starform_core.errors import RegistryProtocolError, ValidationError
from starform_core.registry.image import (
    CONFIG_TYPES,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    ExposedPort,
    ImageConfig,
    Platform,
    PlatformManifest,
)
from starform_core.registry.reference import Digest

__all__ = [
    "CONFIG_LIMIT",
    "MANIFEST_LIMIT",
    "ImageIndex",
    "ImageManifest",
    "check_digest",
    "parse_image_config",
    "parse_manifest",
]

MANIFEST_LIMIT = 4 * 1024 * 1024
"""The largest manifest read (the distribution registry's own limit)."""
CONFIG_LIMIT = 8 * 1024 * 1024
"""The largest image config blob read."""
_DESCRIPTORS_MAX = 4096
_LABELS_MAX = 512
_LABEL_KEY_MAX = 256
_LABEL_VALUE_MAX = 4096
_ARGV_MAX = 1024
_STRING_MAX = 8192


@attrs.frozen
class ImageManifest:
    """A single-platform image manifest: its config blob and its layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@attrs.frozen
class ImageIndex:
    """A multi-platform index (OCI image index or Docker manifest list)."""

    media_type: str
    manifests: tuple[Descriptor, ...]

    def platforms(self) -> tuple[PlatformManifest, ...]:
        """The entries that name a real platform (attestations, ``unknown/unknown``, are left out)."""
        return tuple(
            PlatformManifest(platform=d.platform, digest=d.digest, media_type=d.media_type)
            for d in self.manifests
            if d.platform is not None and d.platform.os != "unknown"
        )

    def select(self, platform: Platform) -> Descriptor | None:
        """The entry for ``platform``: same OS and architecture, and the variant if one is asked.

        Without an asked variant an entry without a variant is preferred, then the first listed.
        """
        candidates = [
            d
            for d in self.manifests
            if d.platform is not None
            and (d.platform.os, d.platform.architecture) == (platform.os, platform.architecture)
            and (platform.variant is None or d.platform.variant == platform.variant)
        ]
        plain = [d for d in candidates if d.platform is not None and d.platform.variant is None]
        chosen = plain or candidates
        return chosen[0] if chosen else None


def _fail(reference: str, reason: str) -> RegistryProtocolError:
    return RegistryProtocolError(f"{reference}: {reason}", reference=reference)


def check_digest(
    data: bytes, *, reference: str, header: str | None = None, expected: Digest | None = None
) -> Digest:
    """The sha256 digest of ``data``, after checking it against the registry's
    ``Docker-Content-Digest`` ``header`` and the ``expected`` digest, when given."""
    computed = Digest.of(data)
    if header:
        try:
            claimed = Digest.parse(header.strip())
        except ValidationError as exc:
            raise _fail(reference, f"the registry sent a malformed digest header ({exc.reason})") from exc
        if not claimed.matches(data):
            raise _fail(reference, f"the registry claims digest {claimed} but the content hashes otherwise")
    if expected is not None and not expected.matches(data):
        raise _fail(reference, f"asked for {expected} but the content hashes to {computed}")
    return computed


def _json_object(data: bytes, *, reference: str, what: str) -> Mapping[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(reference, f"the {what} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise _fail(reference, f"the {what} is not a JSON object")
    return value


def _platform(raw: object, *, reference: str) -> Platform | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail(reference, "an index entry has a malformed platform")
    try:
        return Platform(str(raw.get("os", "")), str(raw.get("architecture", "")), variant=raw.get("variant"))
    except (ValidationError, TypeError) as exc:
        raise _fail(reference, "an index entry has a malformed platform") from exc


def _descriptor(raw: object, *, reference: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise _fail(reference, "a descriptor is not a JSON object")
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    if not isinstance(media_type, str) or not media_type or len(media_type) > 255:
        raise _fail(reference, "a descriptor has no media type")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _fail(reference, "a descriptor has no valid size")
    try:
        parsed = Digest.parse(digest if isinstance(digest, str) else "")
    except ValidationError as exc:
        raise _fail(reference, f"a descriptor has a malformed digest ({exc.reason})") from exc
    return Descriptor(media_type, parsed, size, platform=_platform(raw.get("platform"), reference=reference))


def _descriptors(raw: object, *, reference: str, what: str) -> tuple[Descriptor, ...]:
    if not isinstance(raw, list) or len(raw) > _DESCRIPTORS_MAX:
        raise _fail(reference, f"the manifest's {what} are not a list of at most {_DESCRIPTORS_MAX}")
    return tuple(_descriptor(item, reference=reference) for item in raw)


def _media_type(document: Mapping[str, Any], content_type: str | None, *, reference: str) -> str:
    declared = document.get("mediaType")
    header = (content_type or "").split(";", 1)[0].strip().lower() or None
    if isinstance(declared, str) and declared:
        return declared
    if header in MANIFEST_TYPES | INDEX_TYPES:
        return header
    if "manifests" in document:
        return OCI_INDEX
    if "config" in document:
        return OCI_MANIFEST
    raise _fail(reference, "the manifest declares no media type")


def parse_manifest(
    data: bytes, *, reference: str, content_type: str | None = None
) -> ImageManifest | ImageIndex:
    """Parse a manifest or an index (schema 2: OCI or Docker); schema 1 and other kinds are refused."""
    if len(data) > MANIFEST_LIMIT:
        raise _fail(reference, f"the manifest is over {MANIFEST_LIMIT} bytes")
    document = _json_object(data, reference=reference, what="manifest")
    if document.get("schemaVersion") != 2:
        raise _fail(reference, "only schema 2 manifests are supported (Docker schema 1 is deprecated)")
    media_type = _media_type(document, content_type, reference=reference)
    if media_type in INDEX_TYPES:
        return ImageIndex(
            media_type, _descriptors(document.get("manifests"), reference=reference, what="entries")
        )
    if media_type in MANIFEST_TYPES:
        config = _descriptor(document.get("config"), reference=reference)
        layers = _descriptors(document.get("layers", []), reference=reference, what="layers")
        return ImageManifest(media_type, config, layers)
    raise _fail(reference, f"media type {media_type[:100]!r} is not an image manifest or index")


def _argv(raw: object, *, reference: str, what: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > _ARGV_MAX:
        raise _fail(reference, f"the config's {what} is not a list of at most {_ARGV_MAX} strings")
    if not all(isinstance(item, str) and len(item) <= _STRING_MAX for item in raw):
        raise _fail(reference, f"the config's {what} holds something other than strings")
    return tuple(raw)


def _exposed_ports(raw: object, *, reference: str) -> tuple[ExposedPort, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or len(raw) > 1024:
        raise _fail(reference, "the config's ExposedPorts is not an object of at most 1024 ports")
    ports = set()
    for key in raw:
        number, _, protocol = str(key).partition("/")
        protocol = (protocol or "tcp").lower()
        if not number.isdigit() or not 0 < int(number) < 65536 or protocol not in ("tcp", "udp", "sctp"):
            raise _fail(reference, f"the config exposes a malformed port {str(key)[:40]!r}")
        ports.add(ExposedPort(int(number), protocol))
    return tuple(sorted(ports))


def _labels(raw: object, *, reference: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > _LABELS_MAX:
        raise _fail(reference, f"the config's Labels is not an object of at most {_LABELS_MAX} labels")
    labels = {}
    for key, value in raw.items():
        if not isinstance(value, str) or len(key) > _LABEL_KEY_MAX or len(value) > _LABEL_VALUE_MAX:
            raise _fail(reference, "the config has a label that is not a bounded string")
        labels[key] = value
    return labels


def _optional_string(raw: object, *, reference: str, what: str) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > _STRING_MAX:
        raise _fail(reference, f"the config's {what} is not a string")
    return raw


def parse_image_config(
    data: bytes, *, reference: str, manifest_digest: Digest, digest: Digest, media_type: str
) -> ImageConfig:
    """Parse an image config blob (OCI or Docker) into what the image runs by default."""
    if media_type not in CONFIG_TYPES:
        raise _fail(reference, f"config media type {media_type[:100]!r} is not a container image config")
    if len(data) > CONFIG_LIMIT:
        raise _fail(reference, f"the image config is over {CONFIG_LIMIT} bytes")
    document = _json_object(data, reference=reference, what="image config")
    run = document.get("config") or {}
    if not isinstance(run, dict):
        raise _fail(reference, "the image config's config section is not an object")
    try:
        platform = Platform(
            str(document.get("os", "")),
            str(document.get("architecture", "")),
            variant=document.get("variant"),
        )
    except (ValidationError, TypeError) as exc:
        raise _fail(reference, "the image config names no valid os and architecture") from exc
    return ImageConfig(
        manifest_digest=manifest_digest,
        digest=digest,
        platform=platform,
        entrypoint=_argv(run.get("Entrypoint"), reference=reference, what="Entrypoint"),
        command=_argv(run.get("Cmd"), reference=reference, what="Cmd"),
        exposed_ports=_exposed_ports(run.get("ExposedPorts"), reference=reference),
        working_dir=_optional_string(run.get("WorkingDir"), reference=reference, what="WorkingDir"),
        user=_optional_string(run.get("User"), reference=reference, what="User"),
        labels=_labels(run.get("Labels"), reference=reference),
    )
