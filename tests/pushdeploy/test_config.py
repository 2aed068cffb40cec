"""Push to deploy's configuration: defaults, the variables, and a clear error per bad value."""

from __future__ import annotations

import pytest

from starform_apps.starbase.deploy.config import DeployConfig
from starform_apps.starbase.deploy.wiring import open_registry
from starform_core.errors import ValidationError


def test_nothing_set_means_no_registry_and_no_builds() -> None:
    config = DeployConfig.from_env({})
    assert (config.registry_url, config.builds_enabled, open_registry(config)) == (None, False, None)


def test_the_variables_are_read_and_secrets_never_print() -> None:
    config = DeployConfig.from_env(
        {
            "STARBASE_REGISTRY_URL": "https://registry.example.com:5443/",
            "STARBASE_REGISTRY_USERNAME": "builder",
            "STARBASE_REGISTRY_PASSWORD": "registry-password-1",
            "STARBASE_BUILD_SERVICE_URL": "https://builds.example.com",
            "STARBASE_BUILD_SERVICE_TOKEN": "build-token-1",
            "STARBASE_BUILD_MAX_ACTIVE": "4",
            "STARBASE_BUILD_LEASE_SECONDS": "30",
        }
    )
    assert config.registry_host == "registry.example.com:5443" and config.builds_enabled
    runner = config.runner_config()
    assert (runner.registry, runner.max_active, runner.lease.total_seconds()) == (
        "registry.example.com:5443",
        4,
        30,
    )
    assert "registry-password-1" not in repr(config) and "build-token-1" not in repr(config)
    assert open_registry(config) is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STARBASE_REGISTRY_URL", "ftp://registry"),
        ("STARBASE_REGISTRY_URL", "registry.example.com"),
        ("STARBASE_BUILD_MAX_ACTIVE", "0"),
        ("STARBASE_BUILD_LEASE_SECONDS", "lots"),
        ("STARBASE_BUILD_TIMEOUT_SECONDS", "99999"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        DeployConfig.from_env({name: value})
    assert raised.value.field == name
