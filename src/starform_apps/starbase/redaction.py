"""Keep Secret values out of the append-only ``events`` table, whatever an agent sends.

An event about a Secret (``data.object`` names ``Secret <namespace>/<name>``) keeps its field
paths but loses every field value; anywhere in an event, a Kubernetes Secret object loses its
``data``/``stringData`` values and its annotations' values, and a
``kubectl.kubernetes.io/last-applied-configuration`` annotation (which copies a whole object,
Secret data included) loses its value. Redacted values become ``"<redacted>"``.
"""

from __future__ import annotations

from typing import Any

from starform_core.secrets_values import REDACTED

__all__ = ["redact_event_data"]

_LAST_APPLIED = "last-applied-configuration"
_FIELD_VALUES = ("live", "desired", "value", "old", "new", "before", "after")


def _about_a_secret(data: dict[str, Any]) -> bool:
    target = data.get("object")
    return isinstance(target, str) and target.startswith("Secret ")


def _redact_secret_object(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    for section in ("data", "stringData"):
        if isinstance(out.get(section), dict):
            out[section] = dict.fromkeys(out[section], REDACTED)
        elif section in out:
            out[section] = REDACTED
    metadata = out.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict):
        out["metadata"] = {**metadata, "annotations": dict.fromkeys(metadata["annotations"], REDACTED)}
    return out


def _redact_field_change(change: dict[str, Any]) -> dict[str, Any]:
    out = {k: (None if k in _FIELD_VALUES else v) for k, v in change.items()}
    out["redacted"] = True
    return out


def _walk(value: Any, *, secret_event: bool) -> Any:
    if isinstance(value, list):
        return [_walk(item, secret_event=secret_event) for item in value]
    if not isinstance(value, dict):
        return value
    if value.get("kind") == "Secret":
        value = _redact_secret_object(value)
    path = value.get("path")
    if (secret_event or (isinstance(path, str) and _LAST_APPLIED in path)) and any(
        k in value for k in _FIELD_VALUES
    ):
        return _redact_field_change(value)
    return {
        key: REDACTED if _LAST_APPLIED in str(key) else _walk(child, secret_event=secret_event)
        for key, child in value.items()
    }


def redact_event_data(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every Secret value replaced by ``"<redacted>"`` (depth is bounded upstream)."""
    result: dict[str, Any] = _walk(data, secret_event=_about_a_secret(data))
    return result
