"""The observed cache by UID: the objects of each service as the agent's status reports list them.

An object is its identity (kind, namespace, name) *and* its UID. A report naming an identity with
a new UID means the object was deleted and recreated (by someone else, or by Shuttle after an
out-of-band delete): the old row stops being ``current`` and a ``ResourceDeletedExternally``
event says so. Objects the report no longer lists are marked not ``present``; ``last_seen_at``
tells how fresh the cache is (stale after ``observed_stale_after``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from psycopg.rows import kwargs_row

from starform_adapters.postgres.fetch import fetch_all
from starform_adapters.postgres.own_events import insert_event, object_label
from starform_adapters.postgres.repository import Cursor
from starform_core.errors import StoreNotFoundError, ValidationError
from starform_core.ports.adoptions import ObjectReport, ObservedObject

__all__ = ["OBSERVED_MAX_BYTES", "read_objects", "store_objects"]

OBSERVED_MAX_BYTES: Final = 8192
"""The largest snapshot kept per object (JSON); a larger one is kept as ``{"truncated": true}``."""

_COLUMNS = "service_id, kind, namespace, name, uid, first_seen_at, last_seen_at, current, present, observed"


def _snapshot(observed: Any) -> dict[str, Any]:
    data = dict(observed) if isinstance(observed, dict) else {}
    if len(json.dumps(data, separators=(",", ":"), default=str)) > OBSERVED_MAX_BYTES:
        return {"truncated": True}
    return data


def store_objects(
    cur: Cursor, cluster_id: str, objects: Sequence[ObjectReport], known: set[str], seen_at: datetime
) -> int:
    """Upsert the reported objects of the cluster's ``known`` services; returns how many were
    recreated (a new UID under a known identity)."""
    identities = [(o.service_id, o.kind, o.namespace, o.name) for o in objects]
    if len(set(identities)) != len(identities):
        raise ValidationError("objects", "each object may appear once per report")
    reported = [o for o in objects if o.service_id in known]
    if len({(o.service_id, o.uid) for o in reported}) != len(reported):
        raise ValidationError("objects", "each object UID may appear once per service")
    recreated = _retire_recreated(cur, cluster_id, reported)
    _upsert_objects(cur, cluster_id, reported, seen_at)
    _mark_absent(cur, cluster_id, {(o.service_id, o.uid) for o in reported})
    return recreated


def _retire_recreated(cur: Cursor, cluster_id: str, reported: Sequence[ObjectReport]) -> int:
    """Retire the current row of each identity reported with another UID (deleted and
    recreated), with a ``ResourceDeletedExternally`` event each; how many there were."""
    current = {
        (str(r[0]), str(r[1]), str(r[2]), str(r[3])): str(r[4])
        for r in cur.execute(
            "SELECT service_id, kind, namespace, name, uid FROM service_objects"
            " WHERE cluster_id = %s AND current FOR UPDATE",
            (cluster_id,),
        ).fetchall()
    }
    replaced = [
        (obj, old)
        for obj in reported
        if (old := current.get((obj.service_id, obj.kind, obj.namespace, obj.name))) is not None
        and old != obj.uid
    ]
    if replaced:
        cur.execute(
            "UPDATE service_objects o SET current = false FROM unnest(%s::uuid[], %s::text[]) AS r(sid, uid)"
            " WHERE o.service_id = r.sid AND o.uid = r.uid",
            ([obj.service_id for obj, _old in replaced], [old for _obj, old in replaced]),
        )
    for obj, old in replaced:
        _recreated_event(cur, cluster_id, obj, old)
    return len(replaced)


def _mark_absent(cur: Cursor, cluster_id: str, listed: set[tuple[str, str]]) -> None:
    """Mark the cluster's current objects that the report did not list (service id, UID) absent."""
    absent = [
        (str(r[0]), str(r[1]))
        for r in cur.execute(
            "SELECT service_id, uid FROM service_objects WHERE cluster_id = %s AND current AND present",
            (cluster_id,),
        ).fetchall()
        if (str(r[0]), str(r[1])) not in listed
    ]
    if absent:
        cur.execute(
            "UPDATE service_objects o SET present = false FROM unnest(%s::uuid[], %s::text[]) AS r(sid, uid)"
            " WHERE o.service_id = r.sid AND o.uid = r.uid",
            ([a[0] for a in absent], [a[1] for a in absent]),
        )


def _recreated_event(cur: Cursor, cluster_id: str, obj: ObjectReport, old_uid: str) -> None:
    insert_event(
        cur,
        cluster_id,
        obj.service_id,
        "ResourceDeletedExternally",
        f"{obj.kind} {obj.namespace}/{obj.name} was deleted and recreated (new UID)",
        {
            "object": object_label(obj.kind, obj.namespace, obj.name),
            "kind": obj.kind,
            "namespace": obj.namespace,
            "name": obj.name,
            "old_uid": old_uid,
            "uid": obj.uid,
        },
    )


def _upsert_objects(
    cur: Cursor, cluster_id: str, reported: Sequence[ObjectReport], seen_at: datetime
) -> None:
    """Every reported object current and present, in one statement."""
    if not reported:
        return
    cur.execute(
        "INSERT INTO service_objects (service_id, cluster_id, kind, namespace, name, uid,"
        " first_seen_at, last_seen_at, current, present, observed)"
        " SELECT r.sid, %s, r.kind, r.namespace, r.name, r.uid, %s, %s, true, true, r.observed::jsonb"
        " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
        " AS r(sid, kind, namespace, name, uid, observed)"
        " ON CONFLICT (service_id, uid) DO UPDATE SET present = true, current = true,"
        " last_seen_at = greatest(service_objects.last_seen_at, EXCLUDED.last_seen_at),"
        " observed = EXCLUDED.observed",
        (
            cluster_id,
            seen_at,
            seen_at,
            [o.service_id for o in reported],
            [o.kind for o in reported],
            [o.namespace for o in reported],
            [o.name for o in reported],
            [o.uid for o in reported],
            [json.dumps(_snapshot(o.observed)) for o in reported],
        ),
    )


def read_objects(cur: Cursor, service_id: str, *, stale_after_seconds: float) -> list[ObservedObject]:
    """A service's objects by UID: current ones first (by kind and name), then replaced ones."""
    if cur.execute("SELECT 1 FROM services WHERE id = %s", (service_id,)).fetchone() is None:
        raise StoreNotFoundError("service not found")

    def row(**columns: Any) -> ObservedObject:
        columns["service_id"] = str(columns["service_id"])
        return ObservedObject(**columns)

    return fetch_all(
        cur,
        f"SELECT {_COLUMNS}, (current AND present AND last_seen_at < now() - make_interval(secs => %s))"  # noqa: S608
        " AS stale FROM service_objects WHERE service_id = %s"
        " ORDER BY current DESC, kind, namespace, name, last_seen_at DESC LIMIT 1000",
        (stale_after_seconds, service_id),
        kwargs_row(row),
    )
