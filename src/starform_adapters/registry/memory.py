"""The shipped double of the image registry port: a registry in memory, same semantics.

:class:`InMemoryRegistry` is the registry (one host name); :meth:`InMemoryRegistry.client`
gives a client for an identity, implementing both
:class:`~starform_core.ports.registry.ImageRegistry` and
:class:`~starform_adapters.registry.writer.ImageWriter`. It behaves as the distribution
registry does: manifests are checked when pushed (their blobs, or for an index its manifests,
must be there already), deleting a manifest removes the tags pointing at it, a tag list of a
repository whose manifests are all deleted is empty, and the same typed errors come out. With
``users`` set, every request is authenticated (a wrong password or a missing identity is
refused), and anonymous clients may pull from ``public_prefixes`` only.

:meth:`InMemoryRegistry.fail_next` makes the next calls raise a given error, as the adapter
raises it once its retries are spent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from starform_core.errors import (
    RegistryError,
    RegistryManifestNotFoundError,
    RegistryRejectedError,
    RegistryRepositoryNotFoundError,
    RegistryTagNotFoundError,
    RegistryUnauthorizedError,
    RegistryUnavailableError,
    ValidationError,
)
from starform_core.ports.registry import ImageRegistry
from starform_core.registry import (
    LINUX_AMD64,
    MANIFEST_LIMIT,
    Descriptor,
    Digest,
    ImageConfig,
    ImageIndex,
    ImageReference,
    Platform,
    RegistryCredentials,
    Repository,
    RepositoryList,
    ResolvedImage,
    TagList,
    parse_manifest,
    read_image_config,
    resolved,
)
from starform_core.registry.walk import Fetched

from .writer import ImageWriter

__all__ = ["InMemoryRegistry", "InMemoryRegistryClient"]


@attrs.define
class _Repo:
    blobs: dict[Digest, bytes] = attrs.field(factory=dict)
    manifests: dict[Digest, tuple[bytes, str]] = attrs.field(factory=dict)
    tags: dict[str, Digest] = attrs.field(factory=dict)


class InMemoryRegistry:
    """A registry held in memory, serving one host name."""

    def __init__(
        self,
        host: str = "registry.test",
        *,
        users: Mapping[str, str] | None = None,
        public_prefixes: Iterable[str] = (),
    ) -> None:
        self.host = host
        self._users = dict(users) if users is not None else None
        self._public = tuple(public_prefixes)
        self._repos: dict[str, _Repo] = {}
        self._faults: list[tuple[frozenset[str] | None, RegistryError]] = []
        self._lock = threading.RLock()

    def client(self, *, credentials: RegistryCredentials | None = None) -> InMemoryRegistryClient:
        """A client acting as ``credentials`` (anonymous without)."""
        return InMemoryRegistryClient(self, credentials)

    def fail_next(
        self, error: RegistryError, *, times: int = 1, operations: Iterable[str] | None = None
    ) -> None:
        """Make the next ``times`` calls (of ``operations``, or any) raise ``error``."""
        chosen = frozenset(operations) if operations is not None else None
        with self._lock:
            self._faults.extend((chosen, error) for _ in range(times))

    # what the clients call, under the lock

    def _enter(
        self, operation: str, repository: Repository | None, action: str, who: RegistryCredentials | None
    ) -> None:
        for index, (operations, error) in enumerate(self._faults):
            if operations is None or operation in operations:
                del self._faults[index]
                raise error
        reference = str(repository) if repository is not None else self.host
        if repository is not None and repository.registry != self.host:
            raise RegistryUnavailableError(
                f"{reference}: no registry at {repository.registry}", reference=reference
            )
        if self._users is None:
            return
        if who is not None:
            if self._users.get(who.username) != who.password.reveal():
                raise RegistryUnauthorizedError(
                    f"{reference}: unauthorized (the credentials were refused)",
                    reference=reference,
                    status=401,
                )
            return
        public = repository is not None and any(repository.path.startswith(prefix) for prefix in self._public)
        if not (public and action == "pull"):
            raise RegistryUnauthorizedError(
                f"{reference}: unauthorized (no credentials)", reference=reference, status=401
            )

    def _repo(self, repository: Repository, *, create: bool = False) -> _Repo | None:
        if create:
            return self._repos.setdefault(repository.path, _Repo())
        return self._repos.get(repository.path)

    def _manifest(self, reference: ImageReference) -> Fetched:
        repo = self._repo(reference.repository)
        if reference.digest is not None:
            found = repo.manifests.get(reference.digest) if repo else None
            if found is None:
                raise RegistryManifestNotFoundError(
                    f"{reference}: manifest unknown", reference=str(reference), status=404
                )
            return found[0], reference.digest, found[1]
        digest = repo.tags.get(str(reference.tag)) if repo else None
        if digest is None or repo is None:
            raise RegistryTagNotFoundError(
                f"{reference}: manifest unknown (no tag {reference.tag})",
                reference=str(reference),
                status=404,
            )
        data, media_type = repo.manifests[digest]
        return data, digest, media_type

    def _blob(self, repository: Repository, descriptor: Descriptor) -> bytes:
        repo = self._repo(repository)
        data = repo.blobs.get(descriptor.digest) if repo else None
        if data is None:
            reference = str(repository.at(descriptor.digest))
            raise RegistryManifestNotFoundError(f"{reference}: blob unknown", reference=reference, status=404)
        return data

    def _check_references(self, reference: ImageReference, repo: _Repo, data: bytes, media_type: str) -> None:
        document = parse_manifest(data, reference=str(reference), content_type=media_type)
        if document.media_type != media_type:
            raise RegistryRejectedError(
                f"{reference}: MANIFEST_INVALID (declared {document.media_type}, sent as {media_type})",
                reference=str(reference),
                status=400,
            )
        if isinstance(document, ImageIndex):
            missing = [d.digest for d in document.manifests if d.digest not in repo.manifests]
        else:
            missing = [d.digest for d in (document.config, *document.layers) if d.digest not in repo.blobs]
        if missing:
            raise RegistryRejectedError(
                f"{reference}: MANIFEST_BLOB_UNKNOWN ({missing[0]})", reference=str(reference), status=400
            )

    def _put_manifest(self, reference: ImageReference, data: bytes, media_type: str) -> Digest:
        if len(data) > MANIFEST_LIMIT:
            raise RegistryRejectedError(
                f"{reference}: SIZE_INVALID (manifest too large)", reference=str(reference), status=400
            )
        digest = Digest.of(data)
        if reference.digest is not None and reference.digest != digest:
            raise RegistryRejectedError(f"{reference}: DIGEST_INVALID", reference=str(reference), status=400)
        repo = self._repo(reference.repository, create=True)
        assert repo is not None
        self._check_references(reference, repo, data, media_type)
        repo.manifests[digest] = (data, media_type)
        if reference.digest is None and reference.tag is not None:
            repo.tags[reference.tag] = digest
        return digest

    def _delete(self, reference: ImageReference) -> None:
        repo = self._repo(reference.repository)
        if repo is None or reference.digest not in repo.manifests:
            raise RegistryManifestNotFoundError(
                f"{reference}: manifest unknown", reference=str(reference), status=404
            )
        del repo.manifests[reference.digest]
        for tag in [t for t, d in repo.tags.items() if d == reference.digest]:
            del repo.tags[tag]

    def _tags(self, repository: Repository, limit: int) -> TagList:
        repo = self._repo(repository)
        if repo is None:
            raise RegistryRepositoryNotFoundError(
                f"{repository}: NAME_UNKNOWN", reference=str(repository), status=404
            )
        tags = sorted(repo.tags)
        return TagList(repository=repository, tags=tuple(tags[:limit]), complete=len(tags) <= limit)

    def _catalog(self, limit: int) -> RepositoryList:
        names = sorted(self._repos)
        return RepositoryList(
            registry=self.host, repositories=tuple(names[:limit]), complete=len(names) <= limit
        )


class InMemoryRegistryClient:
    """One identity's view of an :class:`InMemoryRegistry` (reader and writer)."""

    def __init__(self, registry: InMemoryRegistry, credentials: RegistryCredentials | None) -> None:
        self._registry = registry
        self._who = credentials

    def _enter(self, operation: str, repository: Repository | None, action: str) -> None:
        self._registry._enter(operation, repository, action, self._who)

    def resolve(self, reference: ImageReference) -> ResolvedImage:
        """The digest served for ``reference``."""
        with self._registry._lock:
            self._enter("resolve", reference.repository, "pull")
            return resolved(reference, self._registry._manifest(reference))

    def exists(self, reference: ImageReference) -> bool:
        """True when the manifest ``reference.digest`` is stored."""
        if reference.digest is None:
            raise ValidationError("image", f"{reference}: exists() needs a digest")
        with self._registry._lock:
            self._enter("exists", reference.repository, "pull")
            repo = self._registry._repo(reference.repository)
            return repo is not None and reference.digest in repo.manifests

    def image_config(self, reference: ImageReference, *, platform: Platform = LINUX_AMD64) -> ImageConfig:
        """The run config of the image for ``platform``."""
        with self._registry._lock:
            self._enter("image_config", reference.repository, "pull")
            return read_image_config(
                reference, platform, fetch_manifest=self._registry._manifest, fetch_blob=self._registry._blob
            )

    def list_tags(self, repository: Repository, *, limit: int = 10_000, page_size: int = 1000) -> TagList:
        """The repository's tags (sorted), at most ``limit``."""
        with self._registry._lock:
            self._enter("list_tags", repository, "pull")
            return self._registry._tags(repository, limit)

    def list_repositories(
        self, registry: str, *, limit: int = 10_000, page_size: int = 1000
    ) -> RepositoryList:
        """The registry's repositories (sorted), at most ``limit``."""
        with self._registry._lock:
            self._enter("list_repositories", None, "catalog")
            if registry != self._registry.host:
                raise RegistryUnavailableError(f"{registry}: no registry there", reference=registry)
            return self._registry._catalog(limit)

    def put_blob(self, repository: Repository, data: bytes) -> Digest:
        """Store a blob."""
        with self._registry._lock:
            self._enter("put_blob", repository, "push")
            repo = self._registry._repo(repository, create=True)
            assert repo is not None
            digest = Digest.of(data)
            repo.blobs[digest] = bytes(data)
            return digest

    def put_manifest(self, reference: ImageReference, data: bytes, *, media_type: str) -> Digest:
        """Store a manifest under its tag (or digest), after checking what it references."""
        with self._registry._lock:
            self._enter("put_manifest", reference.repository, "push")
            return self._registry._put_manifest(reference, bytes(data), media_type)

    def delete_manifest(self, reference: ImageReference) -> None:
        """Delete a manifest by digest and the tags pointing at it."""
        if reference.digest is None:
            raise ValidationError("image", f"{reference}: a manifest is deleted by digest")
        with self._registry._lock:
            self._enter("delete_manifest", reference.repository, "delete")
            self._registry._delete(reference)


if TYPE_CHECKING:
    _port: ImageRegistry = InMemoryRegistry().client()
    _writer: ImageWriter = InMemoryRegistry().client()
