"""Every size, count and time limit Starbase enforces, in one place (documented in docs/starbase.md).

Request bodies over their limit are refused with ``413`` before they are read (and before the
token is checked); values over a field's limit with ``422`` naming the field and the limit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starform_core.kube.limits import PROJECT_VARS_MAX_BYTES, SECRET_MAX_BYTES

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "EARLIEST_TIMESTAMP",
    "MAX_AGENT_BODY_BYTES",
    "MAX_ARGUMENT_LENGTH",
    "MAX_BODY_BYTES",
    "MAX_ENVIRONMENTS_PER_PROJECT",
    "MAX_HOSTNAMES_PER_SERVICE",
    "MAX_JSON_DEPTH",
    "MAX_PROJECT_VAR_BYTES",
    "MAX_REPORT_JSON_BYTES",
    "MAX_REPORT_JSON_DEPTH",
    "MAX_ROTATION_GRACE_SECONDS",
    "MAX_SERVICES_PER_PROJECT",
    "MAX_TOKEN_DAYS",
    "MAX_VAR_ENTRIES",
    "MAX_VAR_GROUPS_PER_PROJECT",
    "MAX_VAR_GROUP_BYTES",
    "MAX_VAR_KEY_LENGTH",
    "MAX_VOLUMES_PER_SERVICE",
    "MAX_WEBHOOK_BYTES",
]

MAX_BODY_BYTES = 2 * 1024 * 1024
"""Largest request body of the people API (a full var group, JSON-escaped, fits)."""

MAX_AGENT_BODY_BYTES = 8 * 1024 * 1024
"""Largest request body of an agent's status, events or usage-snapshot report (a snapshot of
the most samples it may carry, 10,000 pods and volumes with every field at its longest, fits;
a 1,000-pod snapshot is about 0.3 MiB)."""

MAX_WEBHOOK_BYTES = 512 * 1024
"""Largest payment provider webhook (a Stripe event is a few KiB)."""

MAX_JSON_DEPTH = 32
"""Deepest nesting of any JSON request body."""

MAX_REPORT_JSON_DEPTH = 16
"""Deepest nesting of a reported ``status`` or event ``data`` object."""

MAX_REPORT_JSON_BYTES = 64 * 1024
"""Largest reported ``status`` or event ``data`` object (about, in JSON)."""

MAX_ARGUMENT_LENGTH = 8192
"""Length of one container command or argument string (at most 100 of each)."""

MAX_VAR_GROUP_BYTES = SECRET_MAX_BYTES
"""Keys plus values of one var group: what fits in one Kubernetes Secret (1 MiB)."""

MAX_PROJECT_VAR_BYTES = PROJECT_VARS_MAX_BYTES
"""Keys plus values of all var groups of one project (they travel in every payload)."""

MAX_VAR_ENTRIES = 1000
"""Entries of one var group."""

MAX_VAR_KEY_LENGTH = 253
"""Length of a var key (a Secret key is at most 253 characters)."""

MAX_VAR_GROUPS_PER_PROJECT = 100
"""Var groups of one project."""

MAX_ENVIRONMENTS_PER_PROJECT = 50
"""Environments of one project."""

MAX_SERVICES_PER_PROJECT = 500
"""Services of one project (all environments)."""

MAX_HOSTNAMES_PER_SERVICE = 100
"""Hostnames routed to one service."""

MAX_VOLUMES_PER_SERVICE = 20
"""Volumes of one service."""

CLOCK_SKEW_SECONDS = 300
"""How far ahead of Starbase's clock an agent's ``observed_at``/``occurred_at`` may be."""

EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
"""No agent timestamp before this is accepted."""

MAX_TOKEN_DAYS = 1825
"""Longest lifetime of an API token made through the API (five years; ``null``: no expiry)."""

MAX_ROTATION_GRACE_SECONDS = 86400
"""Longest time a rotated token keeps working beside its successor."""
