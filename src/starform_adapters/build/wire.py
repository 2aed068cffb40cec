"""The build service's JSON wire format: the port's values (requests, statuses, log pages) to
and from JSON documents, shared by the HTTP client and the test kit's server.

Times are RFC 3339 strings, image references and digests their canonical text, enums their
values. Decoding a document re-runs every value's validation, so a malformed answer is a
:class:`~starform_core.errors.ValidationError` naming the field, never a half-built value.
"""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs
from cattrs.preconf.json import make_converter

from starform_core.build import BuildRequest, BuildStatus, LogPage
from starform_core.errors import ValidationError
from starform_core.registry import Digest, ImageReference, parse_image_reference

__all__ = ["decode", "encode"]

T = TypeVar("T", BuildRequest, BuildStatus, LogPage)

_converter = make_converter()
_converter.register_unstructure_hook(ImageReference, str)
_converter.register_structure_hook(
    ImageReference, lambda text, _type: parse_image_reference(text, field="image", default_tag=None)
)
_converter.register_unstructure_hook(Digest, str)
_converter.register_structure_hook(Digest, lambda text, _type: Digest.parse(text))


def encode(value: BuildRequest | BuildStatus | LogPage) -> dict[str, Any]:
    """The JSON document of ``value``."""
    document: dict[str, Any] = _converter.unstructure(value)
    return document


def decode(document: Any, kind: type[T]) -> T:
    """The ``kind`` value in ``document`` (:class:`ValidationError` if it is not one)."""
    try:
        return _converter.structure(document, kind)
    except ValidationError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        reasons = exc.exceptions if isinstance(exc, cattrs.BaseValidationError) else [exc]
        first = reasons[0] if reasons else exc
        if isinstance(first, ValidationError):
            raise first from exc
        raise ValidationError(kind.__name__, f"is not a valid document ({type(first).__name__})") from exc
