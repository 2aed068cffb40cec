"""Events Starbase records itself on a service (adoptions, objects recreated), beside the agents'."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from starform_adapters.postgres.repository import Cursor

__all__ = ["insert_event", "object_label"]


def object_label(kind: str, namespace: str, name: str) -> str:
    """An object as events name it (``data.object``): ``Kind namespace/name``."""
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def insert_event(
    cur: Cursor, cluster_id: str, service_id: str, type_: str, message: str, data: dict[str, Any]
) -> None:
    """Append one event (reason ``starbase``) in the caller's transaction."""
    cur.execute(
        "INSERT INTO events (event_id, cluster_id, service_id, type, reason, message, data, occurred_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, now())",
        (str(uuid.uuid4()), cluster_id, service_id, type_, "starbase", message[:4000], Jsonb(data)),
    )
