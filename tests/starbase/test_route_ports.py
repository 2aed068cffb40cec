"""Each Starbase route depends only on the role ports it uses (issue 13).

Three checks over the real app: the ports each route module receives through FastAPI's
dependency tree are exactly the ones in ``EXPECTED`` (a new module or a new port fails until the
table says so); every port a route declares is used in its body; and no route module reaches the
ports around the dependency system. The import-linter contract "Starbase's routes reach
persistence through the role ports only" keeps adapters out of the same modules.
"""

from __future__ import annotations

import ast
import inspect
import types
import typing
from collections.abc import Iterator
from types import ModuleType

import attrs
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from starform_apps.starbase import ports as starbase_ports
from starform_apps.starbase.app import ROUTERS, create_app
from starform_apps.starbase.billing.scheduler import JobScheduler
from starform_apps.starbase.ports import StarbasePorts
from starform_core.ports import (
    AgentStore,
    ApiTokenStore,
    ClusterStore,
    DashboardReads,
    EnvironmentStore,
    InvoiceStore,
    PaymentProvider,
    Readiness,
    ReleaseStore,
    ServiceStore,
    TemplateStore,
    TenancyStore,
    UsageAuditTrail,
    UsageLedger,
    VarGroupStore,
)

# Reaching a service goes through ServiceAccess: services, environments and tenancy.
_SERVICE_ACCESS = {ServiceStore, EnvironmentStore, TenancyStore}

EXPECTED: dict[str, set[type]] = {
    "routes_health": {Readiness},
    "routes_agents": {AgentStore},
    "routes_clusters": {ApiTokenStore, ClusterStore, DashboardReads},
    "routes_workspaces": {ApiTokenStore, TenancyStore},
    "routes_projects": {ApiTokenStore, TenancyStore, EnvironmentStore, ServiceStore},
    "routes_services": {ApiTokenStore, ReleaseStore, VarGroupStore} | _SERVICE_ACCESS,
    "routes_releases": {ApiTokenStore, ReleaseStore} | _SERVICE_ACCESS,
    "routes_observed": {ApiTokenStore, DashboardReads} | _SERVICE_ACCESS,
    "routes_vargroups": {ApiTokenStore, TenancyStore, VarGroupStore},
    "routes_tokens": {ApiTokenStore, TenancyStore},
    "routes_templates": {ApiTokenStore, TemplateStore} | _SERVICE_ACCESS,
    # The agent's token is checked by check_agent (as on routes_agents), the snapshot billed by
    # usage ingestion on the usage and usage-audit roles.
    "routes_usage": {UsageLedger, UsageAuditTrail},
    # Webhooks: the invoices, the provider that verifies them, the queue of dunning retries.
    "routes_billing": {ApiTokenStore, TenancyStore, UsageLedger, InvoiceStore, PaymentProvider, JobScheduler},
}


def _role(hint: object) -> type:
    """The port of a role (an optional role, ``X | None``, is the port ``X``)."""
    if isinstance(hint, types.UnionType):
        (port,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        return typing.cast(type, port)
    return typing.cast(type, hint)


# The provider function of each role, read from StarbasePorts' fields and ports.py's functions.
PROVIDERS = {
    getattr(starbase_ports, f"{field.name}_port"): _role(typing.get_type_hints(StarbasePorts)[field.name])
    for field in attrs.fields(StarbasePorts)
}


def _short(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def _ports_in(dependant: Dependant) -> Iterator[type]:
    for sub in dependant.dependencies:
        if sub.call in PROVIDERS:
            yield PROVIDERS[sub.call]
        yield from _ports_in(sub)


def _routes_by_module() -> dict[str, list[APIRoute]]:
    """The API routes of every router ``create_app`` includes, by module."""
    return {
        _short(module): [r for r in module.router.routes if isinstance(r, APIRoute)] for module in ROUTERS
    }


def _unusable_ports() -> StarbasePorts:
    """Ports no route can use: building the app must not touch them."""
    nothing = object()
    return StarbasePorts(**{field.name: nothing for field in attrs.fields(StarbasePorts)})  # type: ignore[arg-type]


def test_the_app_serves_every_router_on_ports_it_does_not_touch_while_building() -> None:
    app = create_app(_unusable_ports(), checksum_key=lambda _cluster: b"k" * 32)
    served = set(app.openapi()["paths"])
    declared = {route.path for routes in _routes_by_module().values() for route in routes}
    assert declared <= served
    assert "/v1/services/{service_id}/deployments" in served


def test_every_role_has_a_provider_and_some_route_uses_it() -> None:
    assert len(PROVIDERS) == len(attrs.fields(StarbasePorts))
    for provider, port in PROVIDERS.items():
        assert _role(typing.get_type_hints(provider)["return"]) is port
    assert set().union(*EXPECTED.values()) == set(PROVIDERS.values()), "a role no route uses"


def test_each_route_module_receives_exactly_its_role_ports() -> None:
    by_module = _routes_by_module()
    assert set(by_module) == set(EXPECTED) == {_short(m) for m in ROUTERS}
    for module, routes in by_module.items():
        received = {port for route in routes for port in _ports_in(route.dependant)}
        assert received == EXPECTED[module], module


@pytest.mark.parametrize("module", ROUTERS, ids=_short)
def test_every_declared_port_is_used(module: ModuleType) -> None:
    """A route parameter annotated with a port dependency (``*Dep``) is read in the body."""
    tree = ast.parse(inspect.getsource(module))
    checked = 0
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        used = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
        for arg in function.args.args + function.args.kwonlyargs:
            annotation = ast.unparse(arg.annotation) if arg.annotation else ""
            if annotation.endswith("Dep") and annotation != "CurrentUser":
                checked += 1
                assert arg.arg in used, (
                    f"{module.__name__}.{function.name} declares {arg.arg} and never uses it"
                )
    assert checked, f"{module.__name__} declares no port at all"


@pytest.mark.parametrize("module", ROUTERS, ids=_short)
def test_no_route_reaches_the_ports_around_the_dependencies(module: ModuleType) -> None:
    source = inspect.getsource(module)
    assert "app.state.ports" not in source
    assert "ports_of" not in source
    tree = ast.parse(source)
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not calls & {provider.__name__ for provider in PROVIDERS}
