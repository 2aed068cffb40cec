"""The registry backends the contract suite runs against, behind one small interface.

A backend is a registry (a real Distribution process, open or behind htpasswd or token auth,
or the in-memory double) plus a way to get a reader and a writer for an identity. Every test
takes repositories of its own (a fresh random prefix), so tests share one registry process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol

import attrs
import bcrypt

from starform_adapters.registry import (
    DistributionRegistry,
    DistributionWriter,
    ImageWriter,
    InMemoryRegistry,
    RegistrySession,
    RetryPolicy,
)
from starform_core.registry import RegistryCredentials, Repository
from starform_core.secrets_values import SecretValue
from starform_testkit.distribution import LocalDistribution

from .token_server import ISSUER, SERVICE, TokenServer

USER = "builder"
PASSWORD = "s3cret-builder-password-0001"
PUBLIC_PREFIX = "public/"


def credentials(password: str = PASSWORD, *, user: str = USER) -> RegistryCredentials:
    """The test user's credentials (or a wrong password)."""
    return RegistryCredentials(username=user, password=SecretValue(password))


class Reader(Protocol):
    """What the contract tests read through (the port, plus the catalog)."""

    def resolve(self, reference: Any) -> Any: ...
    def exists(self, reference: Any) -> bool: ...
    def image_config(self, reference: Any, *, platform: Any = ...) -> Any: ...
    def list_tags(self, repository: Any, *, limit: int = ..., page_size: int = ...) -> Any: ...
    def list_repositories(self, registry: str, *, limit: int = ..., page_size: int = ...) -> Any: ...


@attrs.define
class Backend:
    """A registry under test. ``secured``: every request needs an identity; ``anonymous_public``:
    anonymous clients may pull from repositories under :data:`PUBLIC_PREFIX`."""

    name: str
    host: str
    open_client: Callable[[RegistryCredentials | None], tuple[Reader, ImageWriter]]
    secured: bool = False
    anonymous_public: bool = False
    token_server: TokenServer | None = None
    sleeps: list[float] = attrs.field(factory=list)
    memory: InMemoryRegistry | None = None

    def client(self, who: RegistryCredentials | None = None) -> tuple[Reader, ImageWriter]:
        """A reader and a writer acting as ``who`` (the test user when secured and not given)."""
        return self.open_client(who)

    def repository(self, name: str = "app", *, public: bool = False) -> Repository:
        """A repository no other test uses."""
        prefix = PUBLIC_PREFIX if public else "t/"
        return Repository(self.host, f"{prefix}{uuid.uuid4().hex[:12]}/{name}")


def _htpasswd(path: Path) -> Path:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"{USER}:{hashed}\n")
    return path


@contextmanager
def distribution_backend(root: Path, kind: str) -> Iterator[Backend]:
    """A real registry process: ``open``, ``basic`` (htpasswd) or ``token`` (with a token server)."""
    with ExitStack() as stack:
        auth: dict[str, Any] | None = None
        token_server: TokenServer | None = None
        root.mkdir(parents=True, exist_ok=True)
        if kind == "basic":
            auth = {"htpasswd": {"realm": "starform-test", "path": str(_htpasswd(root / "htpasswd"))}}
        elif kind == "token":
            token_server = stack.enter_context(TokenServer(users={USER: PASSWORD}).running())
            bundle = token_server.write_certificate(root / "token.pem")
            auth = {
                "token": {
                    "realm": token_server.realm,
                    "service": SERVICE,
                    "issuer": ISSUER,
                    "rootcertbundle": str(bundle),
                }
            }
        registry = stack.enter_context(LocalDistribution(root / "registry", auth=auth))
        sleeps: list[float] = []
        sessions: list[RegistrySession] = []

        def open_client(who: RegistryCredentials | None) -> tuple[Reader, ImageWriter]:
            session = RegistrySession(
                endpoints={registry.host: registry.url},
                credentials={registry.host: who} if who else {},
                retry=RetryPolicy(sleep=sleeps.append),
            )
            sessions.append(session)
            return DistributionRegistry(session), DistributionWriter(session)

        backend = Backend(
            name=f"distribution-{kind}",
            host=registry.host,
            open_client=open_client,
            secured=kind != "open",
            anonymous_public=kind == "token",
            token_server=token_server,
            sleeps=sleeps,
        )
        try:
            yield backend
        finally:
            for session in sessions:
                session.close()


def memory_backend(*, secured: bool) -> Backend:
    """The in-memory double, open or with the same users and public prefix as the token server."""
    registry = InMemoryRegistry(
        "registry.test", users={USER: PASSWORD} if secured else None, public_prefixes=(PUBLIC_PREFIX,)
    )

    def open_client(who: RegistryCredentials | None) -> tuple[Reader, ImageWriter]:
        client = registry.client(credentials=who)
        return client, client

    return Backend(
        name="memory-auth" if secured else "memory",
        host=registry.host,
        open_client=open_client,
        secured=secured,
        anonymous_public=secured,
        memory=registry,
    )
