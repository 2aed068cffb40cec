"""The usage ledger on PostgreSQL: snapshot ingestion, build minutes, running totals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from psycopg_pool import ConnectionPool

from starform_adapters.postgres.billing.audit import samples_json
from starform_adapters.postgres.billing.repository import BillingRepository, Cursor, as_int
from starform_core.billing import (
    BillingMonth,
    BuildCharge,
    PlanPeriod,
    UnbilledUsage,
    UsageKey,
    UsageQuantities,
)
from starform_core.billing.lifecycle import build_minutes
from starform_core.billing.months import micros
from starform_core.billing.snapshots import SAMPLE_ROW, SampleKind, UsageSnapshot, billable_spans
from starform_core.errors import ValidationError
from starform_core.model.tenant import TenantKey
from starform_core.ports.billing import BuildUsage, IngestResult, RejectedSample, UsageStatement

__all__ = ["PostgresUsageLedger", "load_statement", "plan_period_of"]

_INGEST = (
    "SELECT duplicate, billed, rows_written, rejected, received_at FROM billing_ingest("
    "%s, %s, %s, %s, %s, %s, %s::uuid[], %s::boolean[], %s::uuid[], %s::uuid[],"
    " %s::text[], %s::uuid[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],"
    " %s::integer[])"
)
_INGEST_AUDITED = (
    "WITH r AS MATERIALIZED (SELECT * FROM billing_ingest("
    "%s, %s, %s, %s, %s, %s, %s::uuid[], %s::boolean[], %s::uuid[], %s::uuid[],"
    " %s::text[], %s::uuid[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],"
    " %s::integer[])),"
    " a AS (INSERT INTO billing_audit_snapshots (cluster_id, snapshot_id, window_start, window_end,"
    "  received_at, agent, samples, rejected)"
    "  SELECT %s, %s, %s, %s, r.received_at, %s, %s::json,"
    "   (SELECT coalesce(jsonb_object_agg(x ->> 'uid', x ->> 'reason'), '{}'::jsonb)"
    "    FROM jsonb_array_elements(r.rejected) x)"
    "  FROM r ON CONFLICT (cluster_id, snapshot_id) DO NOTHING RETURNING 1)"
    " SELECT r.duplicate, r.billed, r.rows_written + (SELECT count(*) FROM a)::integer, r.rejected,"
    " r.received_at FROM r"
)
"""The snapshot applied and recorded in the PostgreSQL audit trail by one statement: one round
trip, one transaction (the audit row's refused samples and receipt time are the ledger's)."""
_UNBILLED_USAGE = (
    "SELECT u.month, u.project_id, u.environment, u.service_id, u.tier, u.pod_us - u.billed_pod_us,"
    " u.cpu_milli_us - u.billed_cpu_milli_us, u.memory_byte_us - u.billed_memory_byte_us,"
    " u.volume_us - u.billed_volume_us, u.storage_byte_us - u.billed_storage_byte_us, coalesce(s.name, '')"
    " FROM billing_usage u LEFT JOIN services s ON s.id = u.service_id"
    " WHERE u.workspace_id = %s AND u.month <= %s AND (u.pod_us > u.billed_pod_us"
    " OR u.cpu_milli_us > u.billed_cpu_milli_us OR u.memory_byte_us > u.billed_memory_byte_us"
    " OR u.volume_us > u.billed_volume_us OR u.storage_byte_us > u.billed_storage_byte_us)"
    " ORDER BY u.month, u.project_id, u.environment, u.service_id, u.tier"
)
_TOTALS = (
    "SELECT project_id, environment, service_id, tier, pod_us, cpu_milli_us, memory_byte_us, volume_us,"
    " storage_byte_us FROM billing_usage WHERE workspace_id = %s AND month = %s"
)
_PERIODS = (
    "SELECT project_id, workspace_id, project_name, tier, lower(during), upper(during)"
    " FROM billing_plan_periods WHERE workspace_id = %s ORDER BY project_id, lower(during)"
)
_PERIODS_IN = (
    "SELECT project_id, workspace_id, project_name, tier, lower(during), upper(during)"
    " FROM billing_plan_periods WHERE workspace_id = %s AND during && tstzrange(%s, %s)"
    " ORDER BY project_id, lower(during)"
)


def _array(values: Iterable[object]) -> str:
    """A PostgreSQL array literal of tokens that need no quoting (UUIDs, numbers, ``t``/``f``).

    A thousand-element list is sent as one text parameter: psycopg adapts a list element by
    element, which costs more than the rest of the call.
    """
    return "{" + ",".join(map(str, values)) + "}"


def _ingest_params(snapshot: UsageSnapshot, digest: bytes) -> tuple[Any, ...]:
    """The arguments of ``billing_ingest``: the billable samples as columns (spans in
    microseconds after the window's start), transposed from the snapshot's rows (made once:
    the digest and the audit row read them too)."""
    start = micros(snapshot.window_start)
    picked = sorted(
        (
            (row, index, span[0] - start, span[1] - start)
            for index, (row, span) in enumerate(zip(snapshot.rows, billable_spans(snapshot), strict=True))
            if span is not None
        ),
        key=_by_uid,
    )
    columns: list[Sequence[Any]] = [(), (), (), ()]
    fields: list[Sequence[Any]] = [()] * len(SAMPLE_ROW)
    if picked:
        columns = list(zip(*picked, strict=True))  # rows, ordinals, froms, tos
        fields = list(zip(*columns[0], strict=True))  # the rows' fields (SAMPLE_ROW), column by column
    uid, kind, workspace, project, environment, service, _, cpu, memory, storage, _, _ = fields
    return (
        snapshot.cluster_id,
        snapshot.snapshot_id,
        digest,
        snapshot.window_start,
        snapshot.window_end,
        len(snapshot.samples),
        _array(uid),
        _array("t" if k == SampleKind.POD.value else "f" for k in kind),
        _array(workspace),
        _array(project),
        # environment names are RFC 1123 labels: quoted, so that "null" stays a name
        _array(f'"{name}"' for name in environment),
        _array(service),
        _array(cpu),
        _array(memory),
        _array(storage),
        _array(columns[2]),
        _array(columns[3]),
        _array(columns[1]),
    )


def _by_uid(item: tuple[tuple[Any, ...], int, int, int]) -> str:
    uid: str = item[0][0]
    return uid


def _quantities(record: Sequence[Any], offset: int) -> UsageQuantities:
    return UsageQuantities(*(as_int(v) for v in record[offset : offset + 5]))


def plan_period_of(record: Sequence[Any]) -> PlanPeriod:
    """A ``billing_plan_periods`` row (project, workspace, name, tier, lower, upper) as a value."""
    return PlanPeriod(record[0], record[1], record[3], record[4], record[5], project_name=record[2])


def _unbilled_usage(cur: Cursor, workspace_id: str, month: BillingMonth) -> list[UnbilledUsage]:
    records = cur.execute(_UNBILLED_USAGE, (workspace_id, month.first_day)).fetchall()
    return [
        UnbilledUsage(
            UsageKey(TenantKey(workspace_id, r[1], r[2], r[3]), BillingMonth(r[0].year, r[0].month), r[4]),
            _quantities(r, 5),
            service_name=r[10],
        )
        for r in records
    ]


def _unbilled_builds(
    cur: Cursor, workspace_id: str, month: BillingMonth
) -> tuple[list[BuildCharge], list[str]]:
    records = cur.execute(
        "SELECT b.month, b.project_id, b.environment, b.service_id, b.tier, sum(b.minutes),"
        " coalesce(max(s.name), ''), array_agg(b.build_id) FROM billing_builds b"
        " LEFT JOIN services s ON s.id = b.service_id"
        " WHERE b.workspace_id = %s AND b.invoice_id IS NULL AND b.month <= %s"
        " GROUP BY b.month, b.project_id, b.environment, b.service_id, b.tier",
        (workspace_id, month.first_day),
    ).fetchall()
    charges = [
        BuildCharge(
            TenantKey(workspace_id, r[1], r[2], r[3]),
            BillingMonth(r[0].year, r[0].month),
            r[4],
            int(r[5]),
            service_name=r[6],
        )
        for r in records
    ]
    return charges, [build_id for r in records for build_id in r[7]]


def _periods(cur: Cursor, workspace_id: str, month: BillingMonth | None) -> list[PlanPeriod]:
    if month is None:
        records = cur.execute(_PERIODS, (workspace_id,))
    else:
        records = cur.execute(_PERIODS_IN, (workspace_id, month.start, month.end))
    return [plan_period_of(r) for r in records]


def load_statement(cur: Cursor, workspace_id: str, month: BillingMonth) -> tuple[UsageStatement, list[str]]:
    """The statement of ``month`` read on ``cur`` and the ids of the builds it bills."""
    builds, build_ids = _unbilled_builds(cur, workspace_id, month)
    statement = UsageStatement(
        plans=tuple(_periods(cur, workspace_id, month)),
        usage=tuple(_unbilled_usage(cur, workspace_id, month)),
        builds=tuple(builds),
    )
    return statement, build_ids


def _audit_params(snapshot: UsageSnapshot) -> tuple[Any, ...]:
    return (
        snapshot.cluster_id,
        snapshot.snapshot_id,
        snapshot.window_start,
        snapshot.window_end,
        snapshot.agent,
        samples_json(snapshot),
    )


class PostgresUsageLedger(BillingRepository):
    """Running totals per workspace, project, environment, service, month and tier.

    ``with_audit_trail``: the audit trail is PostgreSQL's (:class:`PostgresUsageAuditTrail` on
    the same database), so each ingest also records its snapshot there, in the same statement
    (the result says ``audited``).
    """

    def __init__(self, pool: ConnectionPool, *, with_audit_trail: bool = False) -> None:
        super().__init__(pool)
        self._with_audit_trail = with_audit_trail

    def ingest(self, snapshot: UsageSnapshot, *, digest: bytes) -> IngestResult:
        """Apply a snapshot in one call of ``billing_ingest`` (one round trip, one transaction)."""
        params = _ingest_params(snapshot, digest)
        with self._one() as cur:
            if self._with_audit_trail:
                record = cur.execute(_INGEST_AUDITED, params + _audit_params(snapshot)).fetchone()
            else:
                record = cur.execute(_INGEST, params).fetchone()
        assert record is not None
        duplicate, billed, written, rejected, received_at = record
        refused = tuple(RejectedSample(r["index"], r["uid"], r["reason"]) for r in rejected)
        return IngestResult(duplicate, billed, refused, written, received_at, audited=self._with_audit_trail)

    def record_build(self, build: BuildUsage) -> bool:
        """Store a build's minutes, rated later with the tier in force when it finished."""
        if build.finished_at < build.started_at:
            raise ValidationError("finished_at", "a build cannot finish before it starts")
        tenant = build.tenant
        with self._one() as cur:
            cur.execute(
                "INSERT INTO billing_builds (build_id, workspace_id, project_id, environment, service_id,"
                " started_at, finished_at, minutes, month, tier)"
                " SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, p.tier FROM billing_plan_periods p"
                " WHERE p.project_id = %s AND p.workspace_id = %s"
                " ORDER BY p.during @> %s::timestamptz DESC, lower(p.during) DESC LIMIT 1"
                " ON CONFLICT (build_id) DO NOTHING",
                (
                    build.build_id,
                    tenant.workspace_id,
                    tenant.project_id,
                    tenant.environment,
                    tenant.service_id,
                    build.started_at,
                    build.finished_at,
                    build_minutes(build.started_at, build.finished_at),
                    BillingMonth.of(build.finished_at).first_day,
                    tenant.project_id,
                    tenant.workspace_id,
                    build.finished_at,
                ),
            )
            inserted = cur.rowcount == 1
            if not inserted:
                known = cur.execute("SELECT 1 FROM billing_builds WHERE build_id = %s", (build.build_id,))
                if known.fetchone() is None:
                    raise ValidationError("project_id", "names no project of this workspace")
        return inserted

    def statement(self, workspace_id: str, month: BillingMonth) -> UsageStatement:
        """Unbilled usage and builds up to ``month`` and the plan periods touching it."""
        with self._tx() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return load_statement(cur, workspace_id, month)[0]

    def usage_totals(self, workspace_id: str, month: BillingMonth) -> Mapping[UsageKey, UsageQuantities]:
        """The raw running totals of a usage month (billed or not)."""
        with self._one() as cur:
            records = cur.execute(_TOTALS, (workspace_id, month.first_day)).fetchall()
        return {
            UsageKey(TenantKey(workspace_id, r[0], r[1], r[2]), month, r[3]): _quantities(r, 4)
            for r in records
        }

    def plan_periods(self, workspace_id: str) -> Sequence[PlanPeriod]:
        """Every plan period of the workspace's projects."""
        with self._one() as cur:
            return _periods(cur, workspace_id, None)

    def purge(self, *, before: dt.datetime) -> int:
        """Drop de-duplication records, and coverage of objects gone, before ``before``."""
        with self._one() as cur:
            record = cur.execute("SELECT billing_purge(%s)", (before,)).fetchone()
        return int(record[0]) if record else 0
