"""Writing to a registry: blobs, manifests, deletes. What a builder does when it pushes.

:class:`ImageWriter` is what the build double (and the tests) push images through; the HTTP
implementation uses the distribution API's monolithic upload (``POST`` an upload, ``PUT`` the
bytes with their digest), ``PUT`` of manifests by tag or digest, and ``DELETE`` by digest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import httpx

from starform_core.errors import RegistryProtocolError, ValidationError
from starform_core.registry import Digest, ImageReference, Repository

from .answers import Answer, Target
from .session import RegistrySession

__all__ = ["BLOB_LIMIT", "DistributionWriter", "ImageWriter"]

BLOB_LIMIT = 512 * 1024 * 1024
"""The largest blob pushed in one request."""


class ImageWriter(Protocol):
    """Push and delete content in a registry."""

    def put_blob(self, repository: Repository, data: bytes) -> Digest:
        """Store a blob (a no-op when the registry already has it); returns its digest."""
        ...

    def put_manifest(self, reference: ImageReference, data: bytes, *, media_type: str) -> Digest:
        """Store a manifest under a tag (or its digest); returns its digest."""
        ...

    def delete_manifest(self, reference: ImageReference) -> None:
        """Delete the manifest ``reference.digest`` (and so every tag pointing at it)."""
        ...


def push_scope(repository: Repository) -> str:
    """The token scope to push to a repository."""
    return f"repository:{repository.path}:pull,push"


class DistributionWriter:
    """Implements :class:`ImageWriter` on a :class:`RegistrySession`."""

    def __init__(self, session: RegistrySession) -> None:
        self._session = session

    def put_blob(self, repository: Repository, data: bytes) -> Digest:
        """Upload a blob unless the registry has it."""
        if len(data) > BLOB_LIMIT:
            raise ValidationError("blob", f"at most {BLOB_LIMIT} bytes in one upload")
        digest = Digest.of(data)
        return self._session.run(
            "put_blob", f"{repository}@{digest}", lambda: self._put_blob(repository, data, digest)
        )

    def put_manifest(self, reference: ImageReference, data: bytes, *, media_type: str) -> Digest:
        """``PUT`` the manifest; the registry's digest must be the bytes' digest."""
        return self._session.run(
            "put_manifest", str(reference), lambda: self._put_manifest(reference, data, media_type)
        )

    def delete_manifest(self, reference: ImageReference) -> None:
        """``DELETE`` the manifest by digest."""
        if reference.digest is None:
            raise ValidationError("image", f"{reference}: a manifest is deleted by digest")
        self._session.run("delete_manifest", str(reference), lambda: self._delete(reference))

    def _put_blob(self, repository: Repository, data: bytes, digest: Digest) -> Digest:
        session, reference = self._session, f"{repository}@{digest}"

        def send(method: str, path: str, **kwargs: Any) -> Answer:
            url = kwargs.pop("url", None) or session.url(repository.registry, path)
            return session.exchange(
                method, url, registry=repository.registry, scope=push_scope(repository),
                reference=reference, limit=64 * 1024, **kwargs,
            )  # fmt: skip

        if send("HEAD", f"/v2/{repository.path}/blobs/{digest}").status == 200:
            return digest
        started = send("POST", f"/v2/{repository.path}/blobs/uploads/")
        if started.status != 202 or "location" not in started.headers:
            raise session.error(
                started, operation="POST upload", reference=reference, target=Target.REPOSITORY
            )
        try:
            location = session.endpoint(repository.registry).join(started.headers["location"])
        except httpx.InvalidURL as exc:
            raise RegistryProtocolError(
                f"{reference}: the upload location is not a URL", reference=reference
            ) from exc
        finished = send(
            "PUT",
            "",
            url=location.copy_merge_params({"digest": str(digest)}),
            headers={"Content-Type": "application/octet-stream"},
            content=data,
        )
        if finished.status != 201:
            raise session.error(finished, operation="PUT blob", reference=reference, target=Target.REPOSITORY)
        _check_claim(finished.headers.get("docker-content-digest"), digest, reference)
        return digest

    def _put_manifest(self, reference: ImageReference, data: bytes, media_type: str) -> Digest:
        repository, session = reference.repository, self._session
        digest = Digest.of(data)
        answer = session.exchange(
            "PUT",
            session.url(repository.registry, f"/v2/{repository.path}/manifests/{reference.reference}"),
            registry=repository.registry,
            scope=push_scope(repository),
            reference=str(reference),
            limit=64 * 1024,
            headers={"Content-Type": media_type},
            content=data,
        )
        if answer.status != 201:
            raise session.error(
                answer, operation="PUT manifest", reference=str(reference), target=Target.REPOSITORY
            )
        _check_claim(answer.headers.get("docker-content-digest"), digest, str(reference))
        return digest

    def _delete(self, reference: ImageReference) -> None:
        repository, session = reference.repository, self._session
        answer = session.exchange(
            "DELETE",
            session.url(repository.registry, f"/v2/{repository.path}/manifests/{reference.digest}"),
            registry=repository.registry,
            scope=f"repository:{repository.path}:delete",
            reference=str(reference),
            limit=64 * 1024,
        )
        if answer.status != 202:
            raise session.error(
                answer, operation="DELETE manifest", reference=str(reference), target=Target.DIGEST
            )


def _check_claim(claimed: str | None, digest: Digest, reference: str) -> None:
    if claimed and claimed.strip() != str(digest):
        raise RegistryProtocolError(
            f"{reference}: the registry stored {claimed[:80]} for content hashing to {digest}",
            reference=reference,
        )


if TYPE_CHECKING:
    _writer: ImageWriter = DistributionWriter(RegistrySession())
