"""Translate psycopg errors into the core's store errors, naming the field where we can."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors

from starform_core.errors import StoreConflictError, StoreError, ValidationError

__all__ = ["translate_errors"]

_UNIQUE_REASONS = {
    "users_email_key": ("email", "a user with this email already exists"),
    "workspaces_pkey": ("id", "a workspace with this id already exists"),
    "projects_workspace_id_name_key": ("name", "the workspace already has a project of this name"),
    "projects_pkey": ("id", "a project with this id already exists"),
    "environments_project_id_name_key": (
        "name",
        "the project already has an environment of this name",
    ),
    "environments_pkey": ("id", "an environment with this id already exists"),
    "services_environment_id_name_key": (
        "name",
        "the environment already has a service of this name",
    ),
    "services_pkey": ("id", "a service with this id already exists"),
    "deployments_service_id_version_key": ("version", "this version already exists"),
    "var_groups_project_id_name_key": ("name", "the project already has a var group of this name"),
    "service_var_groups_service_id_attach_order_key": (
        "attach_order",
        "another var group is attached at this attach_order",
    ),
    "volumes_service_id_name_key": ("name", "the service already has a volume of this name"),
    "volumes_service_id_mount_path_key": (
        "mount_path",
        "the service already mounts a volume at this path",
    ),
    "hostnames_pkey": ("hostname", "this hostname is already routed to a service"),
    "clusters_name_key": ("name", "a cluster of this name already exists"),
    "clusters_pkey": ("id", "a cluster with this id already exists"),
}

_CHECK_REASONS = {
    "services_replicas_or_autoscaling": ("replicas", "set either replicas or autoscaling, not both"),
    "services_web_port": ("port", "a web service needs a port"),
    "services_cron_schedule": ("cron_schedule", "a cron service (and only a cron service) has a schedule"),
    "deployments_image_check": ("image", "must be an image reference pinned by digest"),
}


def _constraint(exc: psycopg.Error) -> str:
    return (exc.diag.constraint_name or "") if exc.diag else ""


def _column_of(constraint: str, table: str) -> str:
    stem = constraint.removeprefix(table + "_")
    for suffix in ("_check", "_fkey", "_key"):
        stem = stem.removesuffix(suffix)
    return stem or "value"


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise psycopg errors as ``StoreConflictError``/``ValidationError``/``StoreError``.

    Messages name constraints and columns, never the values (which may be secret).
    """
    try:
        yield
    except pg_errors.UniqueViolation as exc:
        name = _constraint(exc)
        field, reason = _UNIQUE_REASONS.get(name, ("value", f"conflicts with a stored row ({name})"))
        raise StoreConflictError(f"{field}: {reason}") from exc
    except pg_errors.CheckViolation as exc:
        name = _constraint(exc)
        table = (exc.diag.table_name or "") if exc.diag else ""
        raise ValidationError(_column_of(name, table), f"violates the database rule {name}") from exc
    except pg_errors.ForeignKeyViolation as exc:
        name = _constraint(exc)
        table = (exc.diag.table_name or "") if exc.diag else ""
        raise ValidationError(
            _column_of(name, table), f"refers to a row that does not exist or is still in use ({name})"
        ) from exc
    except pg_errors.NotNullViolation as exc:
        column = (exc.diag.column_name or "value") if exc.diag else "value"
        raise ValidationError(column, "is required") from exc
    except (pg_errors.InvalidTextRepresentation, pg_errors.NumericValueOutOfRange) as exc:
        raise ValidationError("value", "is not of the expected type or range") from exc
    except psycopg.DataError as exc:
        raise ValidationError(
            "value", "cannot be stored (out of range, or text containing a NUL character)"
        ) from exc
    except psycopg.Error as exc:
        raise StoreError(f"database error: {type(exc).__name__}") from exc
