"""The oracle of "nothing lost, nothing counted twice": the API server's request log against
the events Starbase stored.

Every write Shuttle sends carries its event's id as ``Audit-ID``, which the Kubernetes test
server records (as kube-apiserver's audit log does). So every write the server saw must have
exactly one event in Starbase with that id: its success event when the server applied it,
``ReconcileFailed`` when it did not; and no success event may exist without such a write.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import attrs
from tests.shuttle.tenant import Tenant

from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.kube_testserver.requestlog import RequestRecord

SUCCESS = frozenset({"Applied", "DriftReverted", "Pruned"})


@attrs.frozen
class Audit:
    """What the comparison found."""

    writes: int
    actions: int
    events: int
    lost: tuple[str, ...]
    wrong: tuple[str, ...]
    unfounded: tuple[str, ...]
    confirmed_after_restart: int
    interrupted: int
    details: dict[str, str] = attrs.field(factory=dict)
    """For each wrong or unfounded id: its event and the server's records of it, in words."""

    def assert_exact(self) -> None:
        """Nothing lost, nothing claimed that did not happen, every outcome right."""
        assert self.lost == (), f"{len(self.lost)} writes have no event: {self.lost[:5]}"
        assert self.wrong == (), f"events with the wrong outcome: {self._described(self.wrong)}"
        assert self.unfounded == (), f"success events without a write: {self._described(self.unfounded)}"

    def _described(self, ids: tuple[str, ...]) -> list[str]:
        return [self.details.get(i, i) for i in ids[:5]]


def _detail(event: dict[str, Any], records: list[RequestRecord]) -> str:
    data = event.get("data") or {}
    seen = [f"{r.verb} {r.path} -> {r.status}{' (' + r.fault + ')' if r.fault else ''}" for r in records]
    return (
        f"{event['event_id']}: {event['type']} {data.get('action')} {data.get('object')} "
        f"error={data.get('error')!r} confirmed_after_restart={data.get('confirmed_after_restart')!r}; "
        f"the server saw {seen or 'nothing'}"
    )


def _took_effect(records: list[RequestRecord]) -> bool:
    return any(
        (200 <= r.status < 300 and r.fault != "drop") or (r.verb == "delete" and r.status == 404)
        for r in records
    )


def audit(kube: KubeTestServer, tenant: Tenant) -> Audit:
    """Compare the server's writes with the cluster's events in Starbase."""
    by_id: defaultdict[str, list[RequestRecord]] = defaultdict(list)
    writes = [r for r in kube.requests.writes() if r.audit_id]
    for record in writes:
        by_id[record.audit_id].append(record)
    events: dict[str, dict[str, Any]] = {e["event_id"]: e for e in tenant.cluster_events()}
    lost = tuple(sorted(i for i in by_id if i not in events))
    wrong = tuple(
        sorted(
            i
            for i, records in by_id.items()
            if i in events and (events[i]["type"] in SUCCESS) != _took_effect(records)
        )
    )
    unfounded = tuple(sorted(i for i, e in events.items() if e["type"] in SUCCESS and i not in by_id))
    data = [e.get("data") or {} for e in events.values()]
    details = {i: _detail(events[i], by_id.get(i, [])) for i in (*wrong, *unfounded)}
    return Audit(
        writes=len(writes),
        actions=len(by_id),
        events=len(events),
        lost=lost,
        wrong=wrong,
        unfounded=unfounded,
        confirmed_after_restart=sum(1 for d in data if d.get("confirmed_after_restart")),
        interrupted=sum(1 for d in data if d.get("error") == "interrupted"),
        details=details,
    )
