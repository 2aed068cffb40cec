"""Reading registry answers safely: bounded bodies, the distribution error JSON, ``Retry-After``.

Every body is read under a size limit (an answer announcing or streaming more is refused), and
every non-success answer becomes one of the typed :class:`~starform_core.errors.RegistryError`
subclasses, with the registry's own error code and message (never a credential).
"""

from __future__ import annotations

import email.utils
import enum
import json
from collections.abc import Mapping

import attrs
import httpx

from starform_core.errors import (
    RegistryError,
    RegistryManifestNotFoundError,
    RegistryProtocolError,
    RegistryRateLimitedError,
    RegistryRejectedError,
    RegistryRepositoryNotFoundError,
    RegistryTagNotFoundError,
    RegistryUnauthorizedError,
    RegistryUnavailableError,
)

__all__ = [
    "ERROR_BODY_LIMIT",
    "Answer",
    "Target",
    "error_for",
    "parse_retry_after",
    "read_bounded",
]

ERROR_BODY_LIMIT = 64 * 1024
"""At most this much of an error answer is read (the rest is dropped)."""
_MESSAGE_MAX = 300


class Target(enum.Enum):
    """What a request was about, which decides the error a 404 becomes."""

    TAG = "tag"
    DIGEST = "digest"
    REPOSITORY = "repository"
    REGISTRY = "registry"


@attrs.frozen
class Answer:
    """A registry answer, its body already read (within its limit)."""

    status: int
    headers: Mapping[str, str]
    body: bytes = attrs.field(repr=False)
    url: str = ""


def read_bounded(response: httpx.Response, *, limit: int, reference: str, truncate: bool = False) -> bytes:
    """Read the body, at most ``limit`` bytes: beyond it raise (or, with ``truncate``, stop)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit and not truncate:
        raise RegistryProtocolError(
            f"{reference}: the registry announced {declared} bytes, over the {limit}-byte limit",
            reference=reference,
        )
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > limit:
            if truncate:
                chunks.append(chunk[: len(chunk) - (total - limit)])
                break
            raise RegistryProtocolError(
                f"{reference}: the answer is over the {limit}-byte limit", reference=reference
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _errors(body: bytes) -> list[tuple[str, str]]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return []
    found = []
    for item in errors[:10]:
        if isinstance(item, dict):
            found.append((str(item.get("code", ""))[:64], str(item.get("message", ""))[:_MESSAGE_MAX]))
    return found


def parse_retry_after(value: str | None, *, date: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds, or an HTTP date (measured
    against the answer's ``Date`` header when there is one, else ``now``, a Unix time)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
        base = email.utils.parsedate_to_datetime(date).timestamp() if date else now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - base)


def _not_found(target: Target, message: str, reference: str) -> RegistryError:
    if target is Target.TAG:
        return RegistryTagNotFoundError(message, reference=reference, status=404)
    if target is Target.DIGEST:
        return RegistryManifestNotFoundError(message, reference=reference, status=404)
    return RegistryRepositoryNotFoundError(message, reference=reference, status=404)


def error_for(answer: Answer, *, operation: str, reference: str, target: Target, now: float) -> RegistryError:
    """The typed error for a non-success answer."""
    errors = _errors(answer.body)
    codes = {code for code, _ in errors}
    detail = "; ".join(f"{code}: {message}" if message else code for code, message in errors)
    message = f"{operation} {reference}: HTTP {answer.status}" + (f" ({detail})" if detail else "")
    status = answer.status
    if status == 429 or "TOOMANYREQUESTS" in codes:
        retry_after = parse_retry_after(
            answer.headers.get("Retry-After"), date=answer.headers.get("Date"), now=now
        )
        return RegistryRateLimitedError(message, reference=reference, status=status, retry_after=retry_after)
    if status in (401, 403) or codes & {"UNAUTHORIZED", "DENIED"}:
        return RegistryUnauthorizedError(message, reference=reference, status=status)
    if status == 404:
        if "BLOB_UNKNOWN" in codes:
            return RegistryManifestNotFoundError(message, reference=reference, status=status)
        return _not_found(target, message, reference)
    if status == 408 or (status >= 500 and status != 501):
        return RegistryUnavailableError(message, reference=reference, status=status)
    return RegistryRejectedError(message, reference=reference, status=status)
