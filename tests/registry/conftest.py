"""Registry fixtures: real Distribution registries (open, htpasswd, token) and the double."""

from __future__ import annotations

from tests.registry.kit.fixtures import (  # noqa: F401 - fixtures
    backend,
    distribution_basic,
    distribution_open,
    distribution_token,
    public_backend,
    secured_backend,
)
