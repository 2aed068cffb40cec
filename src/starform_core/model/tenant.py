"""The canonical tenant key (§24.1, v1.9): workspace → project → environment → service."""

from __future__ import annotations

import attrs

from starform_core.validation import check_environment_name, check_uuid, field_check

__all__ = ["TenantKey"]


@attrs.frozen(order=True)
class TenantKey:
    """Identifies one service in one environment; every metric, log line and object carries it.

    ``workspace_id`` is the billing boundary; ``project_id + environment + service_id`` the
    identity tuple. There is no ``customer_id`` (removed in v1.9).
    """

    workspace_id: str = attrs.field(validator=field_check(check_uuid))
    project_id: str = attrs.field(validator=field_check(check_uuid))
    environment: str = attrs.field(validator=field_check(check_environment_name))
    service_id: str = attrs.field(validator=field_check(check_uuid))
