"""Templates: the immutable catalogue, services made from a template, upgrades to a newer version."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs
from psycopg.rows import RowFactory, class_row, kwargs_row
from psycopg.types.json import Jsonb

from starform_adapters.postgres.fetch import fetch_all, fetch_one
from starform_adapters.postgres.queries import current_release
from starform_adapters.postgres.repo_services import ServiceRepository
from starform_adapters.postgres.repository import Cursor, jsonable
from starform_core.access import Actor
from starform_core.errors import StoreConflictError, StoreNotFoundError, TemplateError, TierLimitError
from starform_core.model.enums import Tier
from starform_core.payload.rows import ServiceRow, ServiceVarGroupRow, VolumeRow
from starform_core.ports.templates import (
    PublishOutcome,
    TemplatedService,
    TemplateLink,
    TemplateRecord,
    TemplateSummary,
    UpgradeResult,
)
from starform_core.render.tier_fit import ServiceFootprint, check_claims_fit, check_service_fits
from starform_core.templates import (
    ServiceSpec,
    Template,
    TemplateRef,
    VarKey,
    judge_change,
    spec_of_rows,
    spec_rows,
    spec_to_json,
    template_from_json,
    upgrade,
)

__all__ = ["TemplateRepository"]

_TEMPLATE_COLUMNS = (
    "name, version, title, description, base_spec, allowed_mutations, digest, published_by, created_at"
)
_LINK_COLUMNS = (
    "s.id AS service_id, s.name AS service_name, s.environment_id, s.template_name, s.template_version,"
    " (SELECT max(t.version) FROM templates t WHERE t.name = s.template_name) AS latest_version"
)
_VOLUME_COLUMNS = "id AS volume_id, service_id, name, mount_path, size, access_mode"


def _record(
    *,
    name: str,
    version: int,
    title: str,
    description: str,
    base_spec: dict[str, Any],
    allowed_mutations: dict[str, Any],
    digest: str,
    published_by: str,
    created_at: datetime,
) -> TemplateRecord:
    """A stored version read back (and checked again by the core, as every reader does)."""
    template = template_from_json(
        {
            "name": name,
            "version": version,
            "title": title,
            "description": description,
            "spec": base_spec,
            "allowed_mutations": allowed_mutations,
        }
    )
    return TemplateRecord(template=template, created_at=created_at, published_by=published_by)


def _link(
    *,
    service_id: str,
    service_name: str,
    environment_id: str,
    template_name: str | None,
    template_version: int | None,
    latest_version: int | None,
) -> TemplateLink | None:
    if template_name is None or template_version is None:
        return None
    return TemplateLink(
        service_id=service_id,
        service_name=service_name,
        environment_id=environment_id,
        template=TemplateRef(template_name, template_version),
        latest_version=latest_version or template_version,
    )


_RECORD: RowFactory[TemplateRecord] = kwargs_row(_record)
_LINK: RowFactory[TemplateLink | None] = kwargs_row(_link)
_SUMMARY: RowFactory[TemplateSummary] = kwargs_row(
    lambda *, versions, **columns: TemplateSummary(versions=tuple(versions), **columns)
)


class TemplateRepository(ServiceRepository):
    """The ``templates`` table and the template columns of ``services``."""

    # -- the catalogue ---------------------------------------------------------------------------
    @staticmethod
    def _load_template(cur: Cursor, name: str, version: int | None = None) -> TemplateRecord:
        where = "name = %s" + ("" if version is None else " AND version = %s")
        params = (name,) if version is None else (name, version)
        record = fetch_one(
            cur,
            f"SELECT {_TEMPLATE_COLUMNS} FROM templates WHERE {where} ORDER BY version DESC LIMIT 1",  # noqa: S608
            params,
            _RECORD,
        )
        if record is None:
            raise StoreNotFoundError(
                "template not found" if version is None else "template version not found"
            )
        return record

    def publish_template(self, template: Template, *, actor: Actor) -> PublishOutcome:
        """Publish a version: identical content again is a no-op, anything else new must be newer."""
        with self._tx() as cur:
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('starform-template:' || %s, 0))",
                (template.name,),
            )
            found = cur.execute(
                "SELECT digest FROM templates WHERE name = %s AND version = %s",
                (template.name, template.version),
            ).fetchone()
            if found is not None:
                if found[0] != template.digest:
                    raise StoreConflictError(
                        f"version: {template} is already published with other content;"
                        " a published version never changes, publish a new version"
                    )
                return PublishOutcome(
                    self._load_template(cur, template.name, template.version), created=False
                )
            latest = cur.execute(
                "SELECT max(version) FROM templates WHERE name = %s", (template.name,)
            ).fetchone()
            if latest is not None and latest[0] is not None and template.version <= latest[0]:
                raise StoreConflictError(
                    f"version: template {template.name} is at v{latest[0]}; publish a version above it"
                )
            cur.execute(
                "INSERT INTO templates (id, name, version, title, description, base_spec,"
                " allowed_mutations, digest, published_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    str(uuid.uuid4()),
                    template.name,
                    template.version,
                    template.title,
                    template.description,
                    Jsonb(template.base),
                    Jsonb(dict(template.allowed_mutations)),
                    template.digest,
                    actor.label,
                ),
            )
            self._audit(
                cur,
                actor,
                "template.publish",
                "template",
                f"{template.name}@{template.version}",
                after={"name": template.name, "version": template.version, "digest": template.digest},
            )
            return PublishOutcome(self._load_template(cur, template.name, template.version), created=True)

    def get_template(self, name: str, version: int | None = None) -> TemplateRecord:
        """One version (``None``: the latest)."""
        with self._read() as cur:
            return self._load_template(cur, name, version)

    def list_templates(self) -> list[TemplateSummary]:
        """Every template, by name, with its latest version's title and description."""
        with self._read() as cur:
            return fetch_all(
                cur,
                "SELECT t.name, t.version AS latest_version, t.title, t.description, v.versions"
                " FROM (SELECT DISTINCT ON (name) name, version, title, description FROM templates"
                " ORDER BY name, version DESC) t JOIN (SELECT name, array_agg(version ORDER BY version)"
                " AS versions FROM templates GROUP BY name) v USING (name) ORDER BY t.name",
                (),
                _SUMMARY,
            )

    def list_template_versions(self, name: str) -> list[TemplateRecord]:
        """Every version of one template, newest first."""
        with self._read() as cur:
            records = fetch_all(
                cur,
                f"SELECT {_TEMPLATE_COLUMNS} FROM templates WHERE name = %s ORDER BY version DESC",  # noqa: S608
                (name,),
                _RECORD,
            )
        if not records:
            raise StoreNotFoundError("template not found")
        return records

    # -- services made from a template ------------------------------------------------------------
    @staticmethod
    def _require_var_keys(cur: Cursor, group_ids: Iterable[str], required: Iterable[str]) -> None:
        wanted = sorted(set(required))
        if not wanted:
            return
        records = cur.execute(
            "SELECT DISTINCT key FROM var_group_entries WHERE var_group_id = ANY(%s::uuid[])",
            (list(group_ids),),
        ).fetchall()
        present = {str(r[0]) for r in records}
        for key in wanted:
            if key not in present:
                raise TemplateError(
                    f"/var_keys/{key}", "is required by the template: attach a var group that sets it"
                )

    @staticmethod
    def _attach(cur: Cursor, project_id: str, link: ServiceVarGroupRow) -> None:
        group = cur.execute(
            "SELECT project_id FROM var_groups WHERE id = %s", (link.var_group_id,)
        ).fetchone()
        if group is None or str(group[0]) != project_id:
            raise StoreNotFoundError("var group not found")
        cur.execute(
            "INSERT INTO service_var_groups (service_id, var_group_id, project_id, attach_order)"
            " VALUES (%s, %s, %s, %s)",
            (link.service_id, link.var_group_id, project_id, link.attach_order),
        )

    @staticmethod
    def _set_template(cur: Cursor, service_id: str, ref: TemplateRef) -> None:
        cur.execute(
            "UPDATE services SET template_name = %s, template_version = %s WHERE id = %s",
            (ref.name, ref.version, service_id),
        )

    def create_templated_service(self, service: TemplatedService, *, actor: Actor) -> ServiceRow:
        """Create the service, its volumes, hostnames, attachments and release, linked to its template."""
        rows = service.rows
        with self._tx() as cur:
            scope = self._scope_of_project(cur, rows.service.project_id, lock=True)
            self._load_template(cur, service.template.name, service.template.version)
            self._check_service(cur, rows.service)
            self._insert_service(cur, rows.service)
            self._set_template(cur, rows.service.service_id, service.template)
            for volume in rows.volumes:
                self._insert_volume(cur, volume)
            for hostname in rows.hostnames:
                self._insert_hostname(cur, hostname)
            for link in service.attachments:
                self._attach(cur, scope.project_id, link)
            self._require_var_keys(
                cur, [link.var_group_id for link in service.attachments], service.required_var_keys
            )
            release = (
                None if rows.deployment is None else self._insert_deployment(cur, rows.deployment, actor)
            )
            self._finish_change(
                cur,
                scope,
                actor,
                "service.create",
                "service",
                rows.service.service_id,
                after={
                    **jsonable(rows.service),
                    "template": {"name": service.template.name, "version": service.template.version},
                    "volumes": jsonable(list(rows.volumes)),
                    "hostnames": [h.hostname for h in rows.hostnames],
                    "var_groups": jsonable(list(service.attachments)),
                    "release": None if release is None else jsonable(release),
                },
            )
        return rows.service

    @staticmethod
    def _load_link(cur: Cursor, service_id: str) -> TemplateLink | None:
        found = cur.execute("SELECT 1 FROM services WHERE id = %s", (service_id,)).fetchone()
        if found is None:
            raise StoreNotFoundError("service not found")
        return fetch_one(cur, f"SELECT {_LINK_COLUMNS} FROM services s WHERE s.id = %s", (service_id,), _LINK)  # noqa: S608

    def template_link(self, service_id: str) -> TemplateLink | None:
        """The template a service was made from (``None``: made without one)."""
        with self._tx() as cur:
            return self._load_link(cur, service_id)

    def upgrade_offers(self, project_id: str) -> list[TemplateLink]:
        """The project's services whose template has a newer version, by environment and name."""
        with self._read() as cur:
            links = fetch_all(
                cur,
                f"SELECT {_LINK_COLUMNS} FROM services s WHERE s.project_id = %s"  # noqa: S608
                " AND s.template_name IS NOT NULL ORDER BY s.environment_id, s.name",
                (project_id,),
                _LINK,
            )
        return [link for link in links if link is not None and link.upgrade_available]

    def update_service(self, service: ServiceRow, *, actor: Actor) -> ServiceRow:
        """Replace a service's spec; a service made from a template stays inside its rules
        (``TemplateRuleError`` naming the rule, nothing written). The drift policy is how
        Starform treats out-of-band edits, not what runs: it is not judged."""
        with self._tx() as cur:
            link = self._load_link(cur, service.service_id)
            if link is not None:
                template = self._load_template(cur, link.template.name, link.template.version).template
                keys = template.spec.var_keys
                before = self._current_spec(cur, self._load_service(cur, service.service_id), keys)
                after = attrs.evolve(self._current_spec(cur, service, keys), drift=before.drift)
                judge_change(template, before, after).raise_for_problems()
        return super().update_service(service, actor=actor)

    # -- upgrades -------------------------------------------------------------------------------
    @staticmethod
    def _current_spec(cur: Cursor, service: ServiceRow, var_keys: Iterable[VarKey] = ()) -> ServiceSpec:
        """The spec the service runs now (its rows and current release)."""
        volumes = fetch_all(
            cur,
            f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE service_id = %s ORDER BY name",  # noqa: S608
            (service.service_id,),
            class_row(VolumeRow),
        )
        hostnames = [
            str(r[0])
            for r in cur.execute(
                "SELECT hostname FROM hostnames WHERE service_id = %s", (service.service_id,)
            )
        ]
        release = current_release(cur, service.service_id)
        return spec_of_rows(service, volumes, hostnames, release, var_keys=var_keys)

    def _write_spec(self, cur: Cursor, before: ServiceSpec, after: ServiceSpec, service: ServiceRow) -> None:
        """Write the rows that differ between two specs of one service (volumes only added or grown)."""
        rows = spec_rows(after, service, new_id=lambda: str(uuid.uuid4()))
        self._write_service(cur, rows.service)
        existing = {volume.name for volume in before.volumes}
        for volume in rows.volumes:
            if volume.name in existing:
                cur.execute(
                    "UPDATE volumes SET mount_path = %s, size = %s WHERE service_id = %s AND name = %s",
                    (volume.mount_path, volume.size, volume.service_id, volume.name),
                )
            else:
                self._insert_volume(cur, volume)
        cur.execute(
            "DELETE FROM hostnames WHERE service_id = %s AND NOT (hostname = ANY(%s::text[]))",
            (service.service_id, list(after.hostnames)),
        )
        for hostname in rows.hostnames:
            if hostname.hostname not in before.hostnames:
                self._insert_hostname(cur, hostname)

    @staticmethod
    def _check_tier(
        cur: Cursor, project_id: str, service: ServiceRow, spec: ServiceSpec, *, claims: bool = True
    ) -> None:
        """Refuse a computed spec over the project's tier (``spec.<field>``; the cluster row is
        locked, so the project's other volumes cannot change meanwhile). ``claims``: the project's
        claim quota too (only the container otherwise)."""
        found = cur.execute("SELECT tier FROM projects WHERE id = %s", (project_id,)).fetchone()
        if found is None:
            raise StoreNotFoundError("project not found")
        tier = Tier(found[0])
        others = cur.execute(
            "SELECT v.size FROM volumes v JOIN services s ON s.id = v.service_id"
            " WHERE s.project_id = %s AND s.id <> %s",
            (project_id, service.service_id),
        ).fetchall()
        try:
            volumes = spec.volumes if claims else ()
            check_service_fits(tier, ServiceFootprint(service.name, spec.resources, volumes))
            if claims:
                check_claims_fit(tier, [*(str(r[0]) for r in others), *(v.size for v in spec.volumes)])
        except TierLimitError as exc:
            where = exc.field if exc.field.startswith("volumes") else f"resources.{exc.field}"
            raise TierLimitError(f"spec.{where}", exc.reason) from exc

    def upgrade_templated_service(self, service_id: str, version: int, *, actor: Actor) -> UpgradeResult:
        """Move a service to a newer version of its template, keeping its customisations."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", service_id)
            link = self._load_link(cur, service_id)
            if link is None:
                raise StoreConflictError("template: the service was not made from a template")
            if version <= link.template.version:
                raise StoreConflictError(
                    f"version: the service runs {link.template}; an upgrade goes to a newer version"
                )
            current = self._load_template(cur, link.template.name, link.template.version).template
            target = self._load_template(cur, link.template.name, version).template
            service = self._load_service(cur, service_id)
            before = self._current_spec(cur, service, current.spec.var_keys)
            after = upgrade(current, target, before)
            self._check_tier(cur, scope.project_id, service, after)
            self._write_spec(cur, before, after, service)
            attached = [
                str(r[0])
                for r in cur.execute(
                    "SELECT var_group_id FROM service_var_groups WHERE service_id = %s", (service_id,)
                )
            ]
            self._require_var_keys(cur, attached, after.required_var_keys)
            deployment = None
            if after.release() is not None and before.release() != after.release():
                new = spec_rows(after, service, new_id=lambda: str(uuid.uuid4())).deployment
                assert new is not None
                deployment = self._insert_deployment(cur, new, actor)
            self._set_template(cur, service_id, target.ref)
            self._finish_change(
                cur,
                scope,
                actor,
                "service.template_upgrade",
                "service",
                service_id,
                before={
                    "template": {"name": current.name, "version": current.version},
                    "spec": spec_to_json(before),
                },
                after={
                    "template": {"name": target.name, "version": target.version},
                    "spec": spec_to_json(after),
                },
            )
            updated = self._load_service(cur, service_id)
        return UpgradeResult(service=updated, template=target.ref, spec=after, deployment=deployment)
