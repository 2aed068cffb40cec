"""The public API of ``starform_core`` stays as declared: small, importable, documented."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import starform_core

DECLARED = {
    "API_VERSION",
    "ClusterRows",
    "ClusterSettings",
    "ContractError",
    "DesiredState",
    "DriftPolicy",
    "Environment",
    "KubeObject",
    "ObjectKey",
    "Plan",
    "PlanOptions",
    "Project",
    "Release",
    "Rendering",
    "SecretValue",
    "Service",
    "ServiceHealth",
    "ServiceStatus",
    "ServiceType",
    "StarformError",
    "TenantKey",
    "UnsupportedApiVersionError",
    "ValidationError",
    "VarGroup",
    "assess_services",
    "build_payload",
    "etag_of",
    "key_of",
    "parse_payload",
    "parse_route_name",
    "payload_schema",
    "plan",
    "render",
    "route_name",
    "to_json",
}
"""The supported surface. Changing it is an API change: update this set, the docs and the changelog."""

PACKAGES = [
    "starform_core",
    "starform_core.model",
    "starform_core.payload",
    "starform_core.kube",
    "starform_core.render",
    "starform_core.plan",
    "starform_core.health",
    "starform_core.ports",
    "starform_core.pipeline",
    "starform_core.reporting",
    "starform_core.adopt",
    "starform_core.templates",
    "starform_adapters.kubernetes",
    "starform_adapters.starbase",
    "starform_testkit.kube_testserver",
    "starform_apps.shuttle",
]


def test_the_top_level_surface_is_exactly_the_declared_one() -> None:
    assert set(starform_core.__all__) == DECLARED
    assert len(starform_core.__all__) == len(DECLARED), "no duplicates"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_exists_and_has_a_docstring(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__doc__, f"{package} has no docstring"
    exported = getattr(module, "__all__", None)
    assert exported, f"{package} declares no __all__"
    for name in exported:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{package}.{name} has no docstring"


def test_the_api_reference_page_covers_the_core_packages() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "core.md").read_text()
    for package in (
        "starform_core.render",
        "starform_core.plan",
        "starform_core.health",
        "starform_core.ports",
    ):
        assert f"::: {package}" in page, package
