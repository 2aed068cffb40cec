"""The Owner rules of workspace membership (§15), shared by every store implementation.

Only an Owner changes, grants or removes the Owner role, and a workspace always keeps at least
one Owner. Stores apply these rules inside the transaction that changes the membership, with the
workspace locked, so concurrent requests cannot leave a workspace without an Owner.
"""

from __future__ import annotations

from collections.abc import Mapping

from starform_core.access import Actor, WorkspaceRole
from starform_core.errors import StoreConflictError

__all__ = ["check_owner_rules"]


def check_owner_rules(
    members: Mapping[str, WorkspaceRole],
    *,
    actor: Actor,
    target: str,
    new_role: WorkspaceRole | None,
) -> None:
    """Refuse (``StoreConflictError``) a change of ``target`` to ``new_role`` (``None``: removal).

    ``members`` are the workspace's current members and roles; an actor without a user id (the
    ``starbase`` command line, the system) is trusted like an Owner.
    """
    current = members.get(target)
    touches_owner = WorkspaceRole.OWNER in (current, new_role)
    if touches_owner and actor.user_id is not None and members.get(actor.user_id) is not WorkspaceRole.OWNER:
        raise StoreConflictError("role: only an Owner grants, changes or removes the Owner role")
    owners = [user for user, role in members.items() if role is WorkspaceRole.OWNER]
    if current is WorkspaceRole.OWNER and new_role is not WorkspaceRole.OWNER and owners == [target]:
        raise StoreConflictError("role: a workspace keeps at least one Owner; make someone else Owner first")
