"""Adopt: drift reports become pending adoptions; approve, reject, or adopt automatically.

A value inside the template's rules (or of a service made without a template) waits for a user
under the ``manual`` policy and is adopted at once under ``auto``; a value outside the rules, or
one that cannot be the service's at all, is rejected at once (the payload's ``drift.revert``
then makes the agent revert it). Adopting writes the value into the desired spec and bumps the
generation in the same transaction; every step is an audit-log row and an event.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from psycopg.rows import kwargs_row
from psycopg.types.json import Jsonb

from starform_adapters.postgres.fetch import fetch_all, fetch_one
from starform_adapters.postgres.observed_objects import read_objects
from starform_adapters.postgres.own_events import insert_event, object_label
from starform_adapters.postgres.repo_agents import AgentRepository
from starform_adapters.postgres.repo_templates import TemplateRepository
from starform_adapters.postgres.repository import Cursor, Scope
from starform_core.access import Actor
from starform_core.adopt import AdoptableField, adoptable_field, adopted_spec
from starform_core.errors import (
    StoreConflictError,
    StoreNotFoundError,
    TemplateError,
    TierLimitError,
    ValidationError,
)
from starform_core.model.enums import AdoptionPolicy, DriftMode
from starform_core.payload.rows import ServiceRow
from starform_core.ports.adoptions import (
    AdoptionRecord,
    AdoptionStatus,
    DriftField,
    DriftReport,
    ObservedObject,
)
from starform_core.records import EventRecord
from starform_core.templates import ServiceSpec, Template, judge_change

__all__ = ["AdoptionRepository"]

_SYSTEM = Actor(label="starbase")
_COLUMNS = (
    "id AS adoption_id, service_id, kind, namespace, name, uid, field, spec_field, live, desired,"
    " manager, status, within_rules, problems, decided_by, decided_at, generation,"
    " first_reported_at, last_reported_at"
)


def _record(*, service_id: Any, adoption_id: Any, problems: Any, **columns: Any) -> AdoptionRecord:
    return AdoptionRecord(
        adoption_id=str(adoption_id),
        service_id=str(service_id),
        problems=tuple(problems or ()),
        **columns,
    )


_ROW = kwargs_row(_record)


def _event_data(record: AdoptionRecord, **extra: Any) -> dict[str, Any]:
    return {
        "adoption_id": record.adoption_id,
        "object": object_label(record.kind, record.namespace, record.name),
        "kind": record.kind,
        "namespace": record.namespace,
        "name": record.name,
        "uid": record.uid,
        "field": record.field,
        "spec_field": record.spec_field,
        "live": record.live,
        "desired": record.desired,
        **extra,
    }


@attrs.frozen
class _Judged:
    """A reported value read against the service: the spec it would give, and the verdict."""

    after: ServiceSpec | None
    within_rules: bool | None
    problems: tuple[dict[str, str], ...]


class AdoptionRepository(TemplateRepository, AgentRepository):
    """Pending adoptions and their decisions (the agent's drift reports included)."""

    # -- reading the service as a spec ---------------------------------------------------------
    def _spec_and_template(self, cur: Cursor, service: ServiceRow) -> tuple[ServiceSpec, Template | None]:
        link = self._load_link(cur, service.service_id)
        template = None
        if link is not None:
            template = self._load_template(cur, link.template.name, link.template.version).template
        var_keys = () if template is None else template.spec.var_keys
        return self._current_spec(cur, service, var_keys), template

    def _judge(self, cur: Cursor, service: ServiceRow, field: AdoptableField, live: str) -> _Judged:
        before, template = self._spec_and_template(cur, service)
        try:
            after = adopted_spec(before, field, live)
        except (TemplateError, ValidationError) as exc:
            pointer = exc.field if isinstance(exc, TemplateError) else field.spec_pointer
            return _Judged(None, False, ({"pointer": pointer, "rule": "value", "reason": exc.reason},))
        if after == before:
            return _Judged(None, None, ())
        try:
            self._check_tier(cur, service.project_id, service, after, claims=False)
        except TierLimitError as exc:
            problem = {"pointer": field.spec_pointer, "rule": "tier", "reason": exc.reason}
            return _Judged(after, False, (problem,))
        if template is None:
            return _Judged(after, None, ())
        verdict = judge_change(template, before, after)
        problems = tuple(
            {"pointer": p.pointer, "rule": p.rule, "reason": p.reason, "template": str(template.ref)}
            for p in verdict.problems
        )
        return _Judged(after, verdict.within_rules, problems)

    # -- agents' drift reports -----------------------------------------------------------------
    def record_drift(self, cluster_id: str, reports: Sequence[DriftReport]) -> int:
        """Turn drift reports into adoptions; returns how many new adoptions were recorded.

        A value already pending is refreshed, one already rejected is left to the agent's revert,
        a value the desired spec already holds is ignored (a late report).
        """
        recorded = 0
        with self._tx() as cur:
            if (
                cur.execute(
                    "SELECT 1 FROM clusters WHERE id = %s FOR NO KEY UPDATE", (cluster_id,)
                ).fetchone()
                is None
            ):
                raise StoreNotFoundError(f"cluster {cluster_id} not found")
            for report in reports:
                service = self._reported_service(cur, cluster_id, report.service_id)
                if service is None or service.drift_mode is not DriftMode.ADOPT:
                    continue
                for drift in report.fields:
                    recorded += self._record_field(cur, cluster_id, service, report, drift)
        return recorded

    def _reported_service(self, cur: Cursor, cluster_id: str, service_id: str) -> ServiceRow | None:
        owner = cur.execute(
            "SELECT p.cluster_id FROM services s JOIN projects p ON p.id = s.project_id WHERE s.id = %s",
            (service_id,),
        ).fetchone()
        if owner is None:
            return None  # deleted since the agent's pull
        if str(owner[0]) != cluster_id:
            raise ValidationError("reports.service_id", "names a service of another cluster")
        return self._load_service(cur, service_id)

    def _record_field(
        self, cur: Cursor, cluster_id: str, service: ServiceRow, report: DriftReport, drift: DriftField
    ) -> int:
        field = adoptable_field(report.kind, drift.path)
        if field is None:
            return 0
        sid = service.service_id
        rejected = cur.execute(
            "SELECT 1 FROM adoptions WHERE service_id = %s AND field = %s AND live = %s"
            " AND status = 'rejected'",
            (sid, field.rule, drift.live),
        ).fetchone()
        if rejected is not None:
            return 0
        pending = cur.execute(
            "SELECT id, live FROM adoptions WHERE service_id = %s AND field = %s AND status = 'pending'"
            " FOR UPDATE",
            (sid, field.rule),
        ).fetchone()
        if pending is not None and pending[1] == drift.live:
            cur.execute(
                "UPDATE adoptions SET last_reported_at = now(), uid = coalesce(%s, uid) WHERE id = %s",
                (report.uid, pending[0]),
            )
            return 0
        judged = self._judge(cur, service, field, drift.live)
        if judged.after is None and not judged.problems:
            return 0  # the desired spec already holds the value
        if pending is not None:
            cur.execute("UPDATE adoptions SET status = 'superseded' WHERE id = %s", (pending[0],))
        record = self._insert_adoption(cur, cluster_id, service, report, drift, field, judged)
        insert_event(
            cur,
            cluster_id,
            sid,
            "AdoptionPending",
            f"{field.rule}: {drift.live} reported out of band (desired {drift.desired})",
            _event_data(record, within_rules=judged.within_rules),
        )
        self._audit(
            cur,
            _SYSTEM,
            "adoption.report",
            "adoption",
            record.adoption_id,
            cluster_id=cluster_id,
            after=_event_data(record, within_rules=judged.within_rules),
        )
        scope = self._scope_of_project(cur, service.project_id, lock=False)
        if judged.within_rules is False:
            self._reject(cur, scope, record, _SYSTEM, automatic=True)
        elif judged.within_rules and service.adoption_policy is AdoptionPolicy.AUTO:
            self._adopt(cur, scope, record, _SYSTEM, judged, automatic=True)
        return 1

    @staticmethod
    def _insert_adoption(
        cur: Cursor,
        cluster_id: str,
        service: ServiceRow,
        report: DriftReport,
        drift: DriftField,
        field: AdoptableField,
        judged: _Judged,
    ) -> AdoptionRecord:
        record = fetch_one(
            cur,
            "INSERT INTO adoptions (id, service_id, cluster_id, kind, namespace, name, uid, field,"  # noqa: S608
            " spec_field, live, desired, manager, status, within_rules, problems)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s)"
            f" RETURNING {_COLUMNS}",
            (
                str(uuid.uuid4()),
                service.service_id,
                cluster_id,
                report.kind,
                report.namespace,
                report.name,
                report.uid,
                field.rule,
                field.spec_pointer,
                drift.live,
                drift.desired,
                drift.manager,
                judged.within_rules,
                Jsonb(list(judged.problems)),
            ),
            _ROW,
        )
        assert record is not None
        return record

    # -- decisions -----------------------------------------------------------------------------
    def _adopt(
        self,
        cur: Cursor,
        scope: Scope,
        record: AdoptionRecord,
        actor: Actor,
        judged: _Judged,
        *,
        automatic: bool,
    ) -> AdoptionRecord:
        assert judged.after is not None
        service = self._load_service(cur, record.service_id)
        before, _template = self._spec_and_template(cur, service)
        self._write_spec(cur, before, judged.after, service)
        data = _event_data(record, automatic=automatic)
        generation = self._finish_change(
            cur, scope, actor, "adoption.adopt", "adoption", record.adoption_id, after=data
        )
        updated = self._decide(cur, record.adoption_id, AdoptionStatus.ADOPTED, actor, generation)
        # the new desire is applied whole: other values waiting on the object are reverted with it
        cur.execute(
            "UPDATE adoptions SET status = 'superseded' WHERE service_id = %s AND kind = %s"
            " AND namespace = %s AND name = %s AND status = 'pending' AND id <> %s",
            (record.service_id, record.kind, record.namespace, record.name, record.adoption_id),
        )
        how = "automatically (inside the template's rules)" if automatic else f"by {actor.label}"
        insert_event(
            cur,
            scope.cluster_id,
            record.service_id,
            "AdoptionAdopted",
            f"{record.field}: {record.live} adopted {how}; desired generation {generation}",
            {**data, "generation": generation},
        )
        return updated

    def _reject(
        self, cur: Cursor, scope: Scope, record: AdoptionRecord, actor: Actor, *, automatic: bool
    ) -> AdoptionRecord:
        rules = "; ".join(f"{p['pointer']}: {p['reason']}{_rule_suffix(p)}" for p in record.problems)
        data = _event_data(record, automatic=automatic, problems=list(record.problems))
        generation = self._finish_change(
            cur, scope, actor, "adoption.reject", "adoption", record.adoption_id, after=data
        )
        updated = self._decide(cur, record.adoption_id, AdoptionStatus.REJECTED, actor, generation)
        why = f"outside the rules: {rules}" if automatic else f"by {actor.label}"
        insert_event(
            cur,
            scope.cluster_id,
            record.service_id,
            "AdoptionRejected",
            f"{record.field}: {record.live} rejected {why}; the agent reverts it",
            {**data, "generation": generation},
        )
        return updated

    @staticmethod
    def _decide(
        cur: Cursor, adoption_id: str, status: AdoptionStatus, actor: Actor, generation: int
    ) -> AdoptionRecord:
        record = fetch_one(
            cur,
            "UPDATE adoptions SET status = %s, decided_by = %s, decided_at = now(), generation = %s"  # noqa: S608
            f" WHERE id = %s RETURNING {_COLUMNS}",
            (status.value, actor.label, generation, adoption_id),
            _ROW,
        )
        assert record is not None
        return record

    def _pending(self, cur: Cursor, adoption_id: str) -> tuple[AdoptionRecord, Scope]:
        record = fetch_one(
            cur,
            f"SELECT {_COLUMNS} FROM adoptions WHERE id = %s FOR UPDATE",  # noqa: S608
            (adoption_id,),
            _ROW,
        )
        if record is None:
            raise StoreNotFoundError("adoption not found")
        scope = self._scope_of(cur, "services", record.service_id)
        if record.status is not AdoptionStatus.PENDING:
            raise StoreConflictError(f"status: the adoption is {record.status.value}, not pending")
        return record, scope

    def adoption_service(self, adoption_id: str) -> str:
        """The service an adoption belongs to."""
        with self._read() as cur:
            found = cur.execute("SELECT service_id FROM adoptions WHERE id = %s", (adoption_id,)).fetchone()
        if found is None:
            raise StoreNotFoundError("adoption not found")
        return str(found[0])

    def approve_adoption(self, adoption_id: str, *, actor: Actor) -> AdoptionRecord:
        """Adopt a pending value (judged again: the desired spec may have moved since)."""
        with self._tx() as cur:
            record, scope = self._pending(cur, adoption_id)
            field = adoptable_field(record.kind, record.field.partition(":")[2])
            assert field is not None
            service = self._load_service(cur, record.service_id)
            judged = self._judge(cur, service, field, record.live)
            if judged.problems:
                first = judged.problems[0]
                raise TemplateError(first["pointer"], first["reason"] + _rule_suffix(first))
            if judged.after is None:
                raise StoreConflictError("live: the desired spec already holds this value")
            return self._adopt(cur, scope, record, actor, judged, automatic=False)

    def reject_adoption(self, adoption_id: str, *, actor: Actor) -> AdoptionRecord:
        """Reject a pending value: listed in ``drift.revert`` until the agent reverted it."""
        with self._tx() as cur:
            record, scope = self._pending(cur, adoption_id)
            return self._reject(cur, scope, record, actor, automatic=False)

    def list_adoptions(self, service_id: str, *, limit: int = 50) -> list[AdoptionRecord]:
        """Pending adoptions first (oldest first), then the most recent others."""
        with self._tx() as cur:
            self._load_service(cur, service_id)
            return fetch_all(
                cur,
                f"SELECT {_COLUMNS} FROM adoptions WHERE service_id = %s"  # noqa: S608
                " ORDER BY (status = 'pending') DESC,"
                " CASE WHEN status = 'pending' THEN first_reported_at END ASC,"
                " coalesce(decided_at, last_reported_at) DESC, id LIMIT %s",
                (service_id, limit),
                _ROW,
            )

    def service_objects(self, service_id: str, *, stale_after_seconds: float) -> list[ObservedObject]:
        """The service's objects by UID (current ones first), ``stale`` judged by the threshold."""
        with self._read() as cur:
            return read_objects(cur, service_id, stale_after_seconds=stale_after_seconds)

    # -- the agent's reverts -------------------------------------------------------------------
    def _after_event(self, cur: Cursor, cluster_id: str, event: EventRecord) -> None:
        """A ``DriftReverted`` event: rejected values it names are reverted (they leave the payload)."""
        if event.type != "DriftReverted" or event.service_id is None:
            return
        data = event.data
        service_id = event.service_id
        kind = data.get("kind")
        fields = data.get("fields")
        if not isinstance(kind, str) or not isinstance(fields, list):
            return
        pairs = [
            (f"{kind}:{f['path']}", f["live"])
            for f in fields
            if isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("live"), str)
        ]
        if not pairs:
            return
        settled = [
            str(row[0])
            for row in cur.execute(
                "UPDATE adoptions a SET status = 'reverted'"
                " FROM unnest(%s::text[], %s::text[]) AS r(field, live) WHERE a.service_id = %s"
                " AND a.status = 'rejected' AND a.field = r.field AND a.live = r.live RETURNING a.id",
                ([p[0] for p in pairs], [p[1] for p in pairs], service_id),
            ).fetchall()
        ]
        if settled:
            scope = self._scope_of(cur, "services", service_id)
            self._finish_change(
                cur, scope, _SYSTEM, "adoption.reverted", "service", service_id, after={"adoptions": settled}
            )


def _rule_suffix(problem: Mapping[str, str]) -> str:
    if "template" in problem:
        return f" ({problem['rule']} rule, template {problem['template']})"
    return ""
