"""Health: kstatus-like status per live object and a summary per service (pure)."""

from starform_core.health.objects import FAILING_WAIT_REASONS, assess_object
from starform_core.health.services import assess_service, assess_services
from starform_core.health.status import ObjectHealth, ObjectStatus, ServiceHealth, ServiceStatus

__all__ = [
    "FAILING_WAIT_REASONS",
    "ObjectHealth",
    "ObjectStatus",
    "ServiceHealth",
    "ServiceStatus",
    "assess_object",
    "assess_service",
    "assess_services",
]
