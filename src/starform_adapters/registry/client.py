"""The image registry port over the OCI distribution API (httpx).

Manifests are read with an ``Accept`` header naming OCI and Docker schema 2 manifests and
indexes; every manifest and blob is checked against its digest (the registry's
``Docker-Content-Digest`` header, and the digest asked for). A multi-platform image resolves to
its index's digest; its config is read from the asked platform's manifest. Tag lists and the
catalog follow the registry's ``Link`` pages.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import httpx

from starform_core.errors import RegistryProtocolError, ValidationError
from starform_core.ports.registry import ImageRegistry
from starform_core.registry import (
    ACCEPTED_MANIFEST_TYPES,
    CONFIG_LIMIT,
    LINUX_AMD64,
    MANIFEST_LIMIT,
    Descriptor,
    Digest,
    ImageConfig,
    ImageReference,
    Platform,
    Repository,
    RepositoryList,
    ResolvedImage,
    TagList,
    check_digest,
)
from starform_core.registry.walk import read_image_config, resolved

from .answers import Answer, Target
from .session import RegistrySession

__all__ = ["LIST_PAGE_LIMIT", "DistributionRegistry"]

LIST_PAGE_LIMIT = 4 * 1024 * 1024
"""The largest page of a tag list or catalog read."""
_ACCEPT = ", ".join(ACCEPTED_MANIFEST_TYPES)
_NEXT_LINK = re.compile(r'<([^>]{1,4096})>\s*;\s*rel="?next"?', re.IGNORECASE)


def pull_scope(repository: Repository) -> str:
    """The token scope to read a repository."""
    return f"repository:{repository.path}:pull"


class DistributionRegistry:
    """Implements :class:`~starform_core.ports.registry.ImageRegistry` on a :class:`RegistrySession`."""

    def __init__(self, session: RegistrySession) -> None:
        self._session = session

    def resolve(self, reference: ImageReference) -> ResolvedImage:
        """The digest served for ``reference`` (an index's own digest for a multi-platform image)."""
        return self._session.run("resolve", str(reference), lambda: self._resolve(reference))

    def exists(self, reference: ImageReference) -> bool:
        """True when the manifest ``reference.digest`` is in the repository."""
        if reference.digest is None:
            raise ValidationError("image", f"{reference}: exists() needs a digest")
        return self._session.run("exists", str(reference), lambda: self._exists(reference))

    def image_config(self, reference: ImageReference, *, platform: Platform = LINUX_AMD64) -> ImageConfig:
        """The run config of the image for ``platform``."""
        return self._session.run("image_config", str(reference), lambda: self._config(reference, platform))

    def list_tags(self, repository: Repository, *, limit: int = 10_000, page_size: int = 1000) -> TagList:
        """Every tag (at most ``limit``), page by page."""
        url = self._session.url(repository.registry, f"/v2/{repository.path}/tags/list")

        def run() -> TagList:
            tags, complete = self._paged(
                url, key="tags", registry=repository.registry, scope=pull_scope(repository),
                reference=str(repository), limit=limit, page_size=page_size, target=Target.REPOSITORY,
            )  # fmt: skip
            return TagList(repository=repository, tags=tags, complete=complete)

        return self._session.run("list_tags", str(repository), run)

    def list_repositories(
        self, registry: str, *, limit: int = 10_000, page_size: int = 1000
    ) -> RepositoryList:
        """The registry's catalog (at most ``limit`` repositories), page by page."""
        url = self._session.url(registry, "/v2/_catalog")

        def run() -> RepositoryList:
            names, complete = self._paged(
                url, key="repositories", registry=registry, scope="registry:catalog:*",
                reference=registry, limit=limit, page_size=page_size, target=Target.REGISTRY,
            )  # fmt: skip
            return RepositoryList(registry=registry, repositories=names, complete=complete)

        return self._session.run("list_repositories", registry, run)

    # manifests

    def _manifest_request(self, method: str, reference: ImageReference) -> Answer:
        repository = reference.repository
        return self._session.exchange(
            method,
            self._session.url(repository.registry, f"/v2/{repository.path}/manifests/{reference.reference}"),
            registry=repository.registry,
            scope=pull_scope(repository),
            reference=str(reference),
            limit=MANIFEST_LIMIT,
            headers={"Accept": _ACCEPT},
        )

    def fetch_manifest(self, reference: ImageReference) -> tuple[bytes, Digest, str | None]:
        """The manifest bytes, their checked digest and content type (no retries)."""
        answer = self._manifest_request("GET", reference)
        if answer.status != 200:
            raise self._session.error(
                answer, operation="GET manifest", reference=str(reference), target=_target(reference)
            )
        digest = check_digest(
            answer.body,
            reference=str(reference),
            header=answer.headers.get("docker-content-digest"),
            expected=reference.digest,
        )
        return answer.body, digest, answer.headers.get("content-type")

    def _resolve(self, reference: ImageReference) -> ResolvedImage:
        return resolved(reference, self.fetch_manifest(reference))

    def _exists(self, reference: ImageReference) -> bool:
        answer = self._manifest_request("HEAD", reference)
        if answer.status == 404:
            return False
        if answer.status != 200:
            raise self._session.error(
                answer, operation="HEAD manifest", reference=str(reference), target=Target.DIGEST
            )
        claimed = answer.headers.get("docker-content-digest")
        if claimed and claimed.strip() != str(reference.digest):
            raise RegistryProtocolError(
                f"{reference}: the registry answered for another digest ({claimed[:80]})",
                reference=str(reference),
            )
        return True

    def _config(self, reference: ImageReference, platform: Platform) -> ImageConfig:
        return read_image_config(
            reference, platform, fetch_manifest=self.fetch_manifest, fetch_blob=self._blob
        )

    def _blob(self, repository: Repository, descriptor: Descriptor) -> bytes:
        reference = str(repository.at(descriptor.digest))
        answer = self._session.exchange(
            "GET",
            self._session.url(repository.registry, f"/v2/{repository.path}/blobs/{descriptor.digest}"),
            registry=repository.registry,
            scope=pull_scope(repository),
            reference=reference,
            limit=CONFIG_LIMIT,
            follow_redirects=True,
        )
        if answer.status != 200:
            raise self._session.error(answer, operation="GET blob", reference=reference, target=Target.DIGEST)
        return answer.body

    # pages

    def _paged(
        self,
        url: httpx.URL,
        *,
        key: str,
        registry: str,
        scope: str,
        reference: str,
        limit: int,
        page_size: int,
        target: Target,
    ) -> tuple[tuple[str, ...], bool]:
        items: list[str] = []
        seen: set[str] = set()
        next_url: httpx.URL | None = url.copy_merge_params({"n": str(max(1, min(page_size, limit)))})
        while next_url is not None:
            if str(next_url) in seen:
                raise RegistryProtocolError(f"{reference}: the registry's pages loop", reference=reference)
            seen.add(str(next_url))
            answer = self._session.exchange(
                "GET", next_url, registry=registry, scope=scope, reference=reference, limit=LIST_PAGE_LIMIT
            )
            if answer.status != 200:
                raise self._session.error(answer, operation=f"GET {key}", reference=reference, target=target)
            items.extend(_names(answer, key=key, reference=reference))
            next_url = self._next_page(answer, base=next_url, reference=reference)
            if len(items) >= limit:
                return tuple(items[:limit]), len(items) == limit and next_url is None
        return tuple(items), True

    @staticmethod
    def _next_page(answer: Answer, *, base: httpx.URL, reference: str) -> httpx.URL | None:
        found = _NEXT_LINK.search(answer.headers.get("link", ""))
        if not found:
            return None
        try:
            target = base.join(found.group(1))
        except httpx.InvalidURL as exc:
            raise RegistryProtocolError(
                f"{reference}: the next page link is not a URL", reference=reference
            ) from exc
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise RegistryProtocolError(
                f"{reference}: the next page points at another host", reference=reference
            )
        return target


def _target(reference: ImageReference) -> Target:
    return Target.DIGEST if reference.digest is not None else Target.TAG


def _names(answer: Answer, *, key: str, reference: str) -> list[str]:
    try:
        document = json.loads(answer.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryProtocolError(f"{reference}: the {key} page is not JSON", reference=reference) from exc
    values = document.get(key) if isinstance(document, dict) else None
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) and len(v) <= 512 for v in values):
        raise RegistryProtocolError(
            f"{reference}: the {key} page is not a list of names", reference=reference
        )
    return values


if TYPE_CHECKING:
    _port: ImageRegistry = DistributionRegistry(RegistrySession())
