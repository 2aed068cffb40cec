"""Git integration (§16.11): GitHub webhook signatures, the events Starbase acts on, debouncing."""

from starform_core.gitpush.debounce import DEBOUNCE, debounce_until
from starform_core.gitpush.events import (
    DELIVERY_ID,
    IGNORED,
    InstallationAction,
    InstallationEvent,
    PushEvent,
    check_delivery_id,
    parse_installation,
    parse_push,
)
from starform_core.gitpush.signature import SIGNATURE_HEADER, sign_body, verify_signature

__all__ = [
    "DEBOUNCE",
    "DELIVERY_ID",
    "IGNORED",
    "SIGNATURE_HEADER",
    "InstallationAction",
    "InstallationEvent",
    "PushEvent",
    "check_delivery_id",
    "debounce_until",
    "parse_installation",
    "parse_push",
    "sign_body",
    "verify_signature",
]
