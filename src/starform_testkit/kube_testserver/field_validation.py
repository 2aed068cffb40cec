"""``fieldValidation`` for creates, updates and non-apply patches over HTTP, as kube-apiserver
handles it: ``Warn`` (the default) drops fields the schema does not declare and answers with a
``Warning: 299`` header per field; ``Ignore`` drops them silently; ``Strict`` refuses the write
(``400 ... strict decoding error: unknown field "x"``; ``422`` for a patch).

Writes through the handle (``put``, ``patch_as``, ...) are not HTTP requests: they keep the
strict schema validation (``422 ... field not declared in schema``), so a test's typo fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import attrs

from ._json import Obj
from .errors import ApiError
from .resources import ResourceKind
from .typed_patch import undeclared_fields

__all__ = ["MODES", "enforce", "request_validation"]

MODES = ("Strict", "Warn", "Ignore")


@attrs.define
class _Request:
    mode: str
    patch: bool
    warnings: list[str] = attrs.field(factory=list)


_CURRENT: ContextVar[_Request | None] = ContextVar("kube_testserver_field_validation", default=None)


@contextlib.contextmanager
def request_validation(mode: str | None, *, patch: bool) -> Iterator[list[str]]:
    """Validate the writes of one HTTP request with ``mode`` (``Warn`` when not given); yields
    the ``Warning`` header values the request collects."""
    chosen = mode or "Warn"
    if chosen not in MODES:
        raise ApiError(
            400,
            f'fieldValidation: Unsupported value: "{chosen}": supported values: "Ignore", "Strict", "Warn"',
        )
    request = _Request(chosen, patch)
    token = _CURRENT.set(request)
    try:
        yield request.warnings
    finally:
        _CURRENT.reset(token)


def enforce(kind: ResourceKind, obj: Obj) -> None:
    """Apply the current request's ``fieldValidation`` to ``obj`` (in place)."""
    request = _CURRENT.get()
    if request is None:
        return  # a write through the handle: schema validation stays strict
    found = undeclared_fields(kind, obj)
    if not found:
        return
    unknown = ", ".join(f'unknown field "{f.indexed_path}"' for f in found)
    if request.mode == "Strict":
        if request.patch:
            raise ApiError(422, f"strict decoding error: {unknown}", reason="Invalid")
        raise ApiError(
            400,
            f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
            f"strict decoding error: {unknown}",
        )
    for field in found:
        field.parent.pop(field.key, None)
        if request.mode == "Warn":
            request.warnings.append(f'299 - "unknown field \\"{field.indexed_path}\\""')
