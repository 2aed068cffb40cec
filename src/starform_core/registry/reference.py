"""Image references: registry host, repository path, tag and digest, parsed the way Docker does.

``nginx`` means ``docker.io/library/nginx:latest``; a first component with a dot or a port, or
``localhost``, is a registry host; the host is lower-cased (hosts are case-insensitive). The
grammar is the distribution project's reference grammar; every part has its length limit.
"""

from __future__ import annotations

import hashlib
import re

import attrs

from starform_core.errors import ValidationError
from starform_core.validation import check_image_reference, field_check

__all__ = [
    "DEFAULT_REGISTRY",
    "Digest",
    "ImageReference",
    "Repository",
    "parse_image_reference",
    "parse_repository",
]

DEFAULT_REGISTRY = "docker.io"
"""The registry a reference without a host names (Docker Hub)."""

_REFERENCE_MAX = 512
_NAME_MAX = 255
_ALGORITHMS = {"sha256": 64, "sha512": 128}
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]{1,5})?$"
)
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HEX = re.compile(r"^[a-f0-9]+$")


def _check_domain(field: str, value: str) -> None:
    if not _DOMAIN.match(value) or value != value.lower():
        raise ValidationError(field, f"{value!r} is not a registry host (lower-case name[:port])")
    if ":" in value and not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ValidationError(field, f"{value!r} has a port outside 1-65535")


def _check_path(field: str, value: str) -> None:
    if not value or len(value) > _NAME_MAX:
        raise ValidationError(field, f"a repository path has 1 to {_NAME_MAX} characters")
    for component in value.split("/"):
        if not _PATH_COMPONENT.match(component):
            raise ValidationError(
                field, f"{component!r} is not a repository path component (lower-case a-z, 0-9, . _ -)"
            )


def _check_tag(field: str, value: str | None) -> None:
    if value is not None and not _TAG.match(value):
        raise ValidationError(field, f"{value[:140]!r} is not a tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})")


@attrs.frozen(order=True)
class Digest:
    """A content digest, ``algorithm:hex`` (sha256 or sha512, lower-case hex)."""

    algorithm: str
    hex: str

    def __attrs_post_init__(self) -> None:
        expected = _ALGORITHMS.get(self.algorithm)
        if expected is None:
            raise ValidationError("digest", f"unsupported digest algorithm {self.algorithm[:20]!r}")
        if len(self.hex) != expected or not _HEX.match(self.hex):
            raise ValidationError("digest", f"a {self.algorithm} digest is {expected} lower-case hex digits")

    @classmethod
    def parse(cls, text: str, *, field: str = "digest") -> Digest:
        """Parse ``sha256:<64 hex>`` (or sha512); a :class:`ValidationError` names ``field``."""
        algorithm, sep, hexpart = text.partition(":")
        if not sep:
            raise ValidationError(field, "a digest is algorithm:hex, such as sha256:<64 hex>")
        try:
            return cls(algorithm, hexpart)
        except ValidationError as exc:
            raise ValidationError(field, exc.reason) from exc

    @classmethod
    def of(cls, data: bytes, *, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``."""
        if algorithm not in _ALGORITHMS:
            raise ValidationError("digest", f"unsupported digest algorithm {algorithm[:20]!r}")
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def matches(self, data: bytes) -> bool:
        """True when ``data`` hashes to this digest."""
        return hashlib.new(self.algorithm, data).hexdigest() == self.hex

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


@attrs.frozen(order=True)
class Repository:
    """A repository in a registry: ``host[:port]/path``."""

    registry: str = attrs.field(validator=field_check(_check_domain))
    path: str = attrs.field(validator=field_check(_check_path))

    def tagged(self, tag: str) -> ImageReference:
        """The reference to ``tag`` in this repository."""
        return ImageReference(self, tag=tag)

    def at(self, digest: Digest) -> ImageReference:
        """The reference to the manifest ``digest`` in this repository."""
        return ImageReference(self, digest=digest)

    def __str__(self) -> str:
        return f"{self.registry}/{self.path}"


@attrs.frozen
class ImageReference:
    """A repository with a tag, a digest or both (the digest wins when both are given)."""

    repository: Repository
    tag: str | None = attrs.field(default=None, kw_only=True)
    digest: Digest | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        _check_tag("tag", self.tag)
        if self.tag is None and self.digest is None:
            raise ValidationError("image", "a reference names a tag or a digest")

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/`` in the registry API: the digest, else the tag."""
        return str(self.digest) if self.digest is not None else str(self.tag)

    def with_digest(self, digest: Digest) -> ImageReference:
        """The same reference pinned to ``digest`` (the tag kept for readability)."""
        return attrs.evolve(self, digest=digest)

    def pinned(self) -> str:
        """The digest-pinned string a deployment stores (``host/path[:tag]@sha256:…``)."""
        if self.digest is None:
            raise ValidationError("image", f"{self} is not pinned by digest")
        text = str(self)
        check_image_reference("image", text)
        return text

    def __str__(self) -> str:
        text = str(self.repository)
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def _split_host(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first.lower(), rest
    path = name if sep else f"library/{name}"
    return DEFAULT_REGISTRY, path


def parse_repository(text: str, *, field: str = "repository") -> Repository:
    """Parse ``[host/]path`` (Docker's defaults for a missing host)."""
    if not isinstance(text, str) or not text or len(text) > _REFERENCE_MAX:
        raise ValidationError(field, f"a repository name has 1 to {_REFERENCE_MAX} characters")
    registry, path = _split_host(text)
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    try:
        return Repository(registry, path)
    except ValidationError as exc:
        raise ValidationError(field, exc.reason) from exc


def parse_image_reference(
    text: str, *, field: str = "image", default_tag: str | None = "latest"
) -> ImageReference:
    """Parse ``[host/]path[:tag][@digest]``; a reference with neither gets ``default_tag``.

    Bad input raises :class:`ValidationError` naming ``field`` and the part at fault.
    """
    if not isinstance(text, str) or not text or len(text) > _REFERENCE_MAX:
        raise ValidationError(field, f"an image reference has 1 to {_REFERENCE_MAX} characters")
    name, at, digest_text = text.partition("@")
    digest = Digest.parse(digest_text, field=field) if at else None
    tag: str | None = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    if tag is None and digest is None:
        tag = default_tag
    repository = parse_repository(name, field=field)
    try:
        return ImageReference(repository, tag=tag, digest=digest)
    except ValidationError as exc:
        raise ValidationError(field, exc.reason) from exc
