"""Find a service and check the caller may act on it: where every service route starts.

A FastAPI dependency (:data:`ServiceAccessDep`) made of the three ports the lookup needs, so a
route that acts on a service declares them through it.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import attrs
from fastapi import Depends

from starform_apps.starbase.auth import Caller, authorize_project
from starform_apps.starbase.ports import EnvironmentsDep, ServicesDep, TenancyDep
from starform_apps.starbase.roles import Action
from starform_core.payload.rows import ServiceRow
from starform_core.ports import EnvironmentStore, ServiceStore, TenancyStore

__all__ = ["ServiceAccess", "ServiceAccessDep", "service_access"]


@attrs.frozen
class ServiceAccess:
    """The lookups behind a service-level authorisation check."""

    services: ServiceStore
    environments: EnvironmentStore
    tenancy: TenancyStore

    def authorized(
        self, caller: Caller, service_id: UUID | str, action: Action, *, what: str = "service"
    ) -> ServiceRow:
        """The service, once ``caller`` may perform ``action`` on it (404/403 otherwise).

        A 404 names only the kind ``what``; deploys into a protected environment need Admin.
        """
        service = self.services.get_service(str(service_id))
        project = self.tenancy.get_project(service.project_id)
        environment = self.environments.get_environment(service.environment_id)
        authorize_project(self.tenancy, caller, project, action, environment=environment, what=what)
        return service


def service_access(
    services: ServicesDep, environments: EnvironmentsDep, tenancy: TenancyDep
) -> ServiceAccess:
    """The dependency: a :class:`ServiceAccess` on the app's ports."""
    return ServiceAccess(services=services, environments=environments, tenancy=tenancy)


ServiceAccessDep = Annotated[ServiceAccess, Depends(service_access)]
"""A route parameter that finds and authorises services."""
