"""Environments, services, deployments, volumes and hostnames."""

from __future__ import annotations

import attrs
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from starform_adapters.postgres.fetch import fetch_all, fetch_one
from starform_adapters.postgres.queries import (
    DEPLOYMENT_COLUMNS,
    DEPLOYMENT_ROW,
    SERVICE_COLUMNS,
    SERVICE_ROW,
    current_release,
    load_cluster,
)
from starform_adapters.postgres.repository import VALIDATION_CHECKSUM_KEY, Cursor, Repository, jsonable
from starform_core.access import Actor
from starform_core.errors import StoreConflictError, StoreNotFoundError
from starform_core.payload.build import build_payload
from starform_core.payload.codec import converter
from starform_core.payload.rows import (
    ClusterRows,
    DeploymentRow,
    EnvironmentRow,
    HostnameRow,
    ProjectRow,
    ServiceRow,
    VolumeRow,
)
from starform_core.records import NewDeployment

__all__ = ["ServiceRepository"]

_ENVIRONMENT_COLUMNS = "id AS environment_id, project_id, name, is_ephemeral, protected"
_VOLUME_COLUMNS = "id AS volume_id, service_id, name, mount_path, size, access_mode"
_ENVIRONMENT_ROW = class_row(EnvironmentRow)
_SERVICE_BY_ID = f"SELECT {SERVICE_COLUMNS} FROM services s WHERE s.id = %s"  # noqa: S608
_VOLUME_BY_ID = f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE id = %s"  # noqa: S608
_VOLUME_ROW = class_row(VolumeRow)


def _service_params(service: ServiceRow) -> dict[str, object]:
    return {
        "id": service.service_id,
        "project_id": service.project_id,
        "environment_id": service.environment_id,
        "name": service.name,
        "type": service.type.value,
        "state": service.state.value,
        "cpu_request": service.cpu_request,
        "memory_request": service.memory_request,
        "cpu_limit": service.cpu_limit,
        "memory_limit": service.memory_limit,
        "replicas": service.replicas,
        "autoscaling": None
        if service.autoscaling is None
        else Jsonb(converter.unstructure(service.autoscaling)),
        "probes": Jsonb(converter.unstructure(service.probes)),
        "port": service.port,
        "public": service.public,
        "cron_schedule": service.cron_schedule,
        "cron_time_zone": service.cron_time_zone,
        "drift_mode": service.drift_mode.value,
        "drift_ignore_fields": list(service.drift_ignore_fields),
        "adoption_policy": service.adoption_policy.value,
    }


class ServiceRepository(Repository):
    """Environments, services and what hangs off a service."""

    @staticmethod
    def _insert_service(cur: Cursor, service: ServiceRow) -> None:
        cur.execute(
            "INSERT INTO services (id, project_id, environment_id, name, type, state,"
            " cpu_request, memory_request, cpu_limit, memory_limit, replicas, autoscaling,"
            " probes, port, public, cron_schedule, cron_time_zone, drift_mode,"
            " drift_ignore_fields, adoption_policy) VALUES (%(id)s, %(project_id)s, %(environment_id)s,"
            " %(name)s, %(type)s, %(state)s, %(cpu_request)s, %(memory_request)s,"
            " %(cpu_limit)s, %(memory_limit)s, %(replicas)s, %(autoscaling)s, %(probes)s,"
            " %(port)s, %(public)s, %(cron_schedule)s, %(cron_time_zone)s, %(drift_mode)s,"
            " %(drift_ignore_fields)s, %(adoption_policy)s)",
            _service_params(service),
        )

    @staticmethod
    def _write_service(cur: Cursor, service: ServiceRow) -> None:
        cur.execute(
            "UPDATE services SET name = %(name)s, type = %(type)s, state = %(state)s,"
            " cpu_request = %(cpu_request)s, memory_request = %(memory_request)s,"
            " cpu_limit = %(cpu_limit)s, memory_limit = %(memory_limit)s,"
            " replicas = %(replicas)s, autoscaling = %(autoscaling)s, probes = %(probes)s,"
            " port = %(port)s, public = %(public)s, cron_schedule = %(cron_schedule)s,"
            " cron_time_zone = %(cron_time_zone)s, drift_mode = %(drift_mode)s,"
            " drift_ignore_fields = %(drift_ignore_fields)s, adoption_policy = %(adoption_policy)s,"
            " updated_at = now()"
            " WHERE id = %(id)s",
            _service_params(service),
        )

    @staticmethod
    def _insert_deployment(cur: Cursor, deployment: NewDeployment, actor: Actor) -> DeploymentRow:
        """Store the service's next version (the cluster row must be locked by the caller)."""
        record = cur.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM deployments WHERE service_id = %s",
            (deployment.service_id,),
        ).fetchone()
        assert record is not None
        row = DeploymentRow(
            deployment_id=deployment.deployment_id,
            service_id=deployment.service_id,
            version=int(record[0]),
            image=deployment.image,
            command=deployment.command,
            args=deployment.args,
        )
        cur.execute(
            "INSERT INTO deployments (id, service_id, version, image, command, args, created_by)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                row.deployment_id,
                row.service_id,
                row.version,
                row.image,
                None if row.command is None else list(row.command),
                None if row.args is None else list(row.args),
                actor.user_id,
            ),
        )
        return row

    @staticmethod
    def _insert_volume(cur: Cursor, volume: VolumeRow) -> None:
        cur.execute(
            "INSERT INTO volumes (id, service_id, name, mount_path, size, access_mode)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (*attrs.astuple(volume, recurse=False)[:5], volume.access_mode.value),
        )

    @staticmethod
    def _insert_hostname(cur: Cursor, hostname: HostnameRow) -> None:
        cur.execute(
            "INSERT INTO hostnames (hostname, service_id) VALUES (%s, %s)",
            (hostname.hostname, hostname.service_id),
        )

    def create_environment(self, environment: EnvironmentRow, *, actor: Actor) -> EnvironmentRow:
        """Create an environment (name unique per project)."""
        with self._tx() as cur:
            scope = self._scope_of_project(cur, environment.project_id, lock=True)
            cur.execute(
                "INSERT INTO environments (id, project_id, name, is_ephemeral, protected)"
                " VALUES (%s, %s, %s, %s, %s)",
                (
                    environment.environment_id,
                    environment.project_id,
                    environment.name,
                    environment.is_ephemeral,
                    environment.protected,
                ),
            )
            self._finish_change(
                cur,
                scope,
                actor,
                "environment.create",
                "environment",
                environment.environment_id,
                after=jsonable(environment),
            )
        return environment

    @staticmethod
    def _load_environment(cur: Cursor, environment_id: str) -> EnvironmentRow:
        row = fetch_one(
            cur,
            f"SELECT {_ENVIRONMENT_COLUMNS} FROM environments WHERE id = %s",  # noqa: S608
            (environment_id,),
            _ENVIRONMENT_ROW,
        )
        if row is None:
            raise StoreNotFoundError("environment not found")
        return row

    def update_environment(self, environment: EnvironmentRow, *, actor: Actor) -> EnvironmentRow:
        """Change an environment's flags (name and project are fixed)."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "environments", environment.environment_id)
            before = self._load_environment(cur, environment.environment_id)
            if (before.project_id, before.name) != (environment.project_id, environment.name):
                raise StoreConflictError("name: an environment's name and project cannot change")
            cur.execute(
                "UPDATE environments SET is_ephemeral = %s, protected = %s WHERE id = %s",
                (environment.is_ephemeral, environment.protected, environment.environment_id),
            )
            self._finish_change(
                cur,
                scope,
                actor,
                "environment.update",
                "environment",
                environment.environment_id,
                before=jsonable(before),
                after=jsonable(environment),
            )
        return environment

    def delete_environment(self, environment_id: str, *, actor: Actor) -> None:
        """Delete an environment with its services and scoped var groups."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "environments", environment_id)
            before = self._load_environment(cur, environment_id)
            cur.execute("DELETE FROM environments WHERE id = %s", (environment_id,))
            self._finish_change(
                cur,
                scope,
                actor,
                "environment.delete",
                "environment",
                environment_id,
                before=jsonable(before),
            )

    def get_environment(self, environment_id: str) -> EnvironmentRow:
        """One environment."""
        with self._read() as cur:
            return self._load_environment(cur, environment_id)

    def list_environments(self, project_id: str) -> list[EnvironmentRow]:
        """A project's environments, by name."""
        with self._read() as cur:
            return fetch_all(
                cur,
                f"SELECT {_ENVIRONMENT_COLUMNS} FROM environments WHERE project_id = %s ORDER BY name",  # noqa: S608
                (project_id,),
                _ENVIRONMENT_ROW,
            )

    @staticmethod
    def _load_service(cur: Cursor, service_id: str) -> ServiceRow:
        row = fetch_one(cur, _SERVICE_BY_ID, (service_id,), SERVICE_ROW)
        if row is None:
            raise StoreNotFoundError("service not found")
        return row

    def _check_service(self, cur: Cursor, service: ServiceRow) -> None:
        """Fold the service alone through the core (clear field errors before the database's)."""
        try:
            env = self._load_environment(cur, service.environment_id)
        except StoreNotFoundError:
            env = None
        if env is None or env.project_id != service.project_id:
            raise StoreNotFoundError("environment not found")
        project = fetch_one(
            cur,
            "SELECT id AS project_id, workspace_id, cluster_id, name, tier FROM projects WHERE id = %s",
            (service.project_id,),
            class_row(ProjectRow),
        )
        assert project is not None
        cluster = load_cluster(cur, project.cluster_id)
        build_payload(
            ClusterRows(cluster=cluster, projects=(project,), environments=(env,), services=(service,)),
            checksum_key=VALIDATION_CHECKSUM_KEY,
        )

    def create_service(self, service: ServiceRow, *, actor: Actor) -> ServiceRow:
        """Create a service (name unique per environment)."""
        with self._tx() as cur:
            scope = self._scope_of_project(cur, service.project_id, lock=True)
            self._check_service(cur, service)
            self._insert_service(cur, service)
            self._finish_change(
                cur,
                scope,
                actor,
                "service.create",
                "service",
                service.service_id,
                after=jsonable(service),
            )
        return service

    def update_service(self, service: ServiceRow, *, actor: Actor) -> ServiceRow:
        """Replace a service's spec (id, project and environment are fixed)."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", service.service_id)
            before = self._load_service(cur, service.service_id)
            if (before.project_id, before.environment_id) != (
                service.project_id,
                service.environment_id,
            ):
                raise StoreConflictError("environment_id: a service cannot move")
            self._check_service(cur, service)
            self._write_service(cur, service)
            self._finish_change(
                cur,
                scope,
                actor,
                "service.update",
                "service",
                service.service_id,
                before=jsonable(before),
                after=jsonable(service),
            )
        return service

    def delete_service(self, service_id: str, *, actor: Actor) -> None:
        """Delete a service and everything attached to it."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", service_id)
            before = self._load_service(cur, service_id)
            cur.execute("DELETE FROM services WHERE id = %s", (service_id,))
            self._finish_change(
                cur, scope, actor, "service.delete", "service", service_id, before=jsonable(before)
            )

    def get_service(self, service_id: str) -> ServiceRow:
        """One service."""
        with self._read() as cur:
            return self._load_service(cur, service_id)

    def list_services(self, project_id: str) -> list[ServiceRow]:
        """A project's services."""
        with self._read() as cur:
            return fetch_all(
                cur,
                f"SELECT {SERVICE_COLUMNS} FROM services s WHERE s.project_id = %s"  # noqa: S608
                " ORDER BY s.environment_id, s.name",
                (project_id,),
                SERVICE_ROW,
            )

    def create_deployment(self, deployment: NewDeployment, *, actor: Actor) -> DeploymentRow:
        """Deploy: store the next version of the service (monotonic per service)."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", deployment.service_id)
            row = self._insert_deployment(cur, deployment, actor)
            self._finish_change(
                cur,
                scope,
                actor,
                "deployment.create",
                "service",
                row.service_id,
                after=jsonable(row),
            )
        return row

    def list_deployments(self, service_id: str) -> list[DeploymentRow]:
        """A service's deployments, newest first."""
        with self._read() as cur:
            return fetch_all(
                cur,
                f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments d WHERE d.service_id = %s"  # noqa: S608
                " ORDER BY d.version DESC",
                (service_id,),
                DEPLOYMENT_ROW,
            )

    def current_release(self, service_id: str) -> DeploymentRow | None:
        """The release the service runs: its highest version (``None`` before the first)."""
        with self._read() as cur:
            return current_release(cur, service_id)

    def get_deployment(self, service_id: str, version: int) -> DeploymentRow:
        """One version of a service."""
        with self._read() as cur:
            row = fetch_one(
                cur,
                f"SELECT {DEPLOYMENT_COLUMNS} FROM deployments d WHERE d.service_id = %s AND d.version = %s",  # noqa: S608
                (service_id, version),
                DEPLOYMENT_ROW,
            )
        if row is None:
            raise StoreNotFoundError("version: the service has no such version")
        return row

    def add_volume(self, volume: VolumeRow, *, actor: Actor) -> VolumeRow:
        """Add a volume to a service."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", volume.service_id)
            self._insert_volume(cur, volume)
            self._finish_change(
                cur,
                scope,
                actor,
                "volume.create",
                "volume",
                volume.volume_id,
                after=jsonable(volume),
            )
        return volume

    def _load_volume(self, cur: Cursor, volume_id: str) -> VolumeRow:
        row = fetch_one(cur, _VOLUME_BY_ID, (volume_id,), _VOLUME_ROW)
        if row is None:
            raise StoreNotFoundError("volume not found")
        return row

    def delete_volume(self, volume_id: str, *, actor: Actor) -> None:
        """Remove a volume."""
        with self._tx() as cur:
            before = self._load_volume(cur, volume_id)
            scope = self._scope_of(cur, "services", before.service_id)
            cur.execute("DELETE FROM volumes WHERE id = %s", (volume_id,))
            self._finish_change(
                cur, scope, actor, "volume.delete", "volume", volume_id, before=jsonable(before)
            )

    def get_volume(self, volume_id: str) -> VolumeRow:
        """One volume."""
        with self._read() as cur:
            return self._load_volume(cur, volume_id)

    def list_volumes(self, service_id: str) -> list[VolumeRow]:
        """A service's volumes, by name."""
        with self._read() as cur:
            return fetch_all(
                cur,
                f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE service_id = %s ORDER BY name",  # noqa: S608
                (service_id,),
                _VOLUME_ROW,
            )

    def add_hostname(self, hostname: HostnameRow, *, actor: Actor) -> HostnameRow:
        """Route a hostname (unique across Starform) to a web service."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", hostname.service_id)
            self._insert_hostname(cur, hostname)
            self._finish_change(
                cur,
                scope,
                actor,
                "hostname.create",
                "service",
                hostname.service_id,
                after={"hostname": hostname.hostname},
            )
        return hostname

    def delete_hostname(self, service_id: str, hostname: str, *, actor: Actor) -> None:
        """Stop routing a hostname to the service."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", service_id)
            cur.execute(
                "DELETE FROM hostnames WHERE hostname = %s AND service_id = %s",
                (hostname, service_id),
            )
            if cur.rowcount != 1:
                raise StoreNotFoundError("hostname: not routed to this service")
            self._finish_change(
                cur,
                scope,
                actor,
                "hostname.delete",
                "service",
                service_id,
                before={"hostname": hostname},
            )

    def list_hostnames(self, service_id: str) -> list[str]:
        """A service's hostnames, sorted."""
        with self._read() as cur:
            records = cur.execute(
                "SELECT hostname FROM hostnames WHERE service_id = %s ORDER BY hostname",
                (service_id,),
            ).fetchall()
        return [str(r[0]) for r in records]
