"""ClickHouse adapters: the usage audit trail (``clickhouse-connect``)."""

from starform_adapters.clickhouse.audit import ClickHouseUsageAuditTrail

__all__ = ["ClickHouseUsageAuditTrail"]
