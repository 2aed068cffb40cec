"""Var groups: named sets of secret entries, attached to services in order.

Values go in as :class:`~starform_core.secrets_values.SecretValue` and never come out of these
reads (keys and metadata only). Every write bumps the cluster's generation and is audited (keys,
never values). Errors as for the other role ports; a group that no longer fits in one
Kubernetes Secret is a :class:`~starform_core.errors.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from starform_core.access import Actor
from starform_core.payload.rows import ServiceVarGroupRow, VarGroupRow
from starform_core.records import VarKeyInfo
from starform_core.secrets_values import SecretValue

__all__ = ["VarGroupStore"]


class VarGroupStore(Protocol):
    """Create and fill var groups, attach them to services."""

    def create_var_group(
        self,
        group: VarGroupRow,
        *,
        entries: Mapping[str, SecretValue] | None = None,
        actor: Actor,
    ) -> VarGroupRow:
        """Create a var group with its first entries."""
        ...

    def delete_var_group(self, var_group_id: str, *, actor: Actor) -> None:
        """Delete a var group (it is detached from every service)."""
        ...

    def get_var_group(self, var_group_id: str) -> VarGroupRow:
        """One var group."""
        ...

    def list_var_groups(self, project_id: str) -> list[VarGroupRow]:
        """A project's var groups."""
        ...

    def set_var_entries(self, var_group_id: str, entries: Mapping[str, SecretValue], *, actor: Actor) -> None:
        """Set (insert or replace) entries of a var group."""
        ...

    def delete_var_entry(self, var_group_id: str, key: str, *, actor: Actor) -> None:
        """Remove one entry of a var group."""
        ...

    def list_var_keys(self, var_group_id: str) -> list[VarKeyInfo]:
        """A var group's keys with metadata; values are write-only."""
        ...

    def attach_var_group(self, link: ServiceVarGroupRow, *, actor: Actor) -> ServiceVarGroupRow:
        """Attach (or re-order) a var group on a service of the same project."""
        ...

    def detach_var_group(self, service_id: str, var_group_id: str, *, actor: Actor) -> None:
        """Detach a var group from a service."""
        ...

    def list_attachments(self, service_id: str) -> list[ServiceVarGroupRow]:
        """The var groups attached to a service, by attach order."""
        ...
