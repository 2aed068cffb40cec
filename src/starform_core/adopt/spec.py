"""Turn an adopted live value into the service's new spec (validated like any spec)."""

from __future__ import annotations

import json
from typing import Any

from starform_core.adopt.fields import AdoptableField
from starform_core.errors import TemplateError, ValidationError
from starform_core.model.enums import RunState
from starform_core.templates.spec import ServiceSpec, spec_from_json, spec_to_json

__all__ = ["adopted_spec", "live_value"]

_LIVE_MAX = 1024


def live_value(text: str) -> Any:
    """The JSON value an agent reported (``ValidationError`` for anything but a small scalar)."""
    if not isinstance(text, str) or len(text) > _LIVE_MAX:
        raise ValidationError("live", f"must be compact JSON of at most {_LIVE_MAX} characters")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValidationError("live", "must be JSON") from exc
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError("live", "an adoptable value is an integer or a string")
    return value


def adopted_spec(spec: ServiceSpec, field: AdoptableField, live: str) -> ServiceSpec:
    """``spec`` with the live value of ``field`` written into its spec field.

    Raises :class:`TemplateError` (pointer into the spec) when the value cannot be the service's
    (a replica count of a paused service, a field the service does not have, a value the model
    refuses).
    """
    value = live_value(live)
    data = spec_to_json(spec)
    parts = field.spec_pointer.strip("/").split("/")
    if parts[0] == "replicas" and spec.state is RunState.PAUSED:
        raise TemplateError(field.spec_pointer, "a paused service runs no replicas: nothing to adopt")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            raise TemplateError(field.spec_pointer, "the service has no such field to adopt into")
        node = child
    if parts[0] == "replicas" and "replicas" not in data:
        raise TemplateError(field.spec_pointer, "the service scales automatically: nothing to adopt")
    node[parts[-1]] = value
    try:
        return spec_from_json(data)
    except ValidationError as exc:
        raise TemplateError(field.spec_pointer, f"the live value is not valid here ({exc.reason})") from exc
