"""Push to deploy's configuration, from the environment.

* ``STARBASE_REGISTRY_URL``: the image registry builds push to and hand deploys resolve tags in
  (``https://registry.example.com``; ``http://`` only for a registry on loopback or a private
  network). ``STARBASE_REGISTRY_USERNAME``/``STARBASE_REGISTRY_PASSWORD`` when it needs them.
  Unset: hand deploys need digest-pinned images and no build runs.
* ``STARBASE_BUILD_SERVICE_URL`` and ``STARBASE_BUILD_SERVICE_TOKEN``: the build service
  (the worker runs builds only with both and a registry).
* ``STARBASE_BUILD_MAX_ACTIVE`` (builds one workspace runs at once, default 2),
  ``STARBASE_BUILD_LEASE_SECONDS`` (60), ``STARBASE_BUILD_TIMEOUT_SECONDS`` (1800),
  ``STARBASE_BUILD_MAX_ATTEMPTS`` (3).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

import attrs
import httpx

from starform_apps.starbase.config import env_whole_number
from starform_apps.starbase.deploy.runner import RunnerConfig
from starform_core.errors import ValidationError
from starform_core.registry import RegistryCredentials
from starform_core.secrets_values import SecretValue

__all__ = ["DeployConfig"]


def _url(env: Mapping[str, str], name: str) -> str | None:
    text = env.get(name, "").strip().rstrip("/")
    if not text:
        return None
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValidationError(name, "must be an http(s) URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValidationError(name, "must be an http(s) URL with a host")
    return text


@attrs.frozen(repr=False)
class DeployConfig:
    """The registry, the build service and the worker's limits (secrets never print)."""

    registry_url: str | None = None
    registry_credentials: RegistryCredentials | None = None
    build_service_url: str | None = None
    build_service_token: SecretValue | None = None
    max_active: int = 2
    lease_seconds: int = 60
    timeout_seconds: int = 1800
    max_attempts: int = 3

    def __repr__(self) -> str:
        return (
            f"DeployConfig(registry_url={self.registry_url!r}, build_service_url={self.build_service_url!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeployConfig:
        """Read the variables (``ValidationError`` naming the variable at fault)."""
        env = os.environ if env is None else env
        user = env.get("STARBASE_REGISTRY_USERNAME", "").strip()
        token = env.get("STARBASE_BUILD_SERVICE_TOKEN", "").strip()
        return cls(
            registry_url=_url(env, "STARBASE_REGISTRY_URL"),
            registry_credentials=RegistryCredentials(
                user, SecretValue(env.get("STARBASE_REGISTRY_PASSWORD", ""))
            )
            if user
            else None,
            build_service_url=_url(env, "STARBASE_BUILD_SERVICE_URL"),
            build_service_token=SecretValue(token) if token else None,
            max_active=env_whole_number(env, "STARBASE_BUILD_MAX_ACTIVE", 2, low=1, high=100),
            lease_seconds=env_whole_number(env, "STARBASE_BUILD_LEASE_SECONDS", 60, low=10, high=3600),
            timeout_seconds=env_whole_number(env, "STARBASE_BUILD_TIMEOUT_SECONDS", 1800, low=60, high=7200),
            max_attempts=env_whole_number(env, "STARBASE_BUILD_MAX_ATTEMPTS", 3, low=1, high=10),
        )

    @property
    def registry_host(self) -> str | None:
        """``host[:port]`` of the registry (what image references start with)."""
        if self.registry_url is None:
            return None
        url = httpx.URL(self.registry_url)
        return f"{url.host}:{url.port}" if url.port else str(url.host)

    @property
    def builds_enabled(self) -> bool:
        """True when a worker can run builds (a registry and a build service)."""
        return bool(self.registry_url and self.build_service_url and self.build_service_token)

    def runner_config(self) -> RunnerConfig:
        """The runner's settings."""
        if self.registry_host is None:
            raise ValidationError("STARBASE_REGISTRY_URL", "is required to run builds")
        return RunnerConfig(
            registry=self.registry_host,
            lease=dt.timedelta(seconds=self.lease_seconds),
            max_active=self.max_active,
            max_attempts=self.max_attempts,
            timeout_seconds=self.timeout_seconds,
        )
