"""GitHub webhook payloads Starbase acts on, parsed into values (after the signature checked out).

* ``push``: a branch moved to a commit (:class:`PushEvent`); tag pushes and branch deletions are
  recognised and ignored by the caller;
* ``installation``: the GitHub App was installed, uninstalled, suspended or unsuspended on an
  account (:class:`InstallationEvent`);
* ``ping``: GitHub checking the hook.

Every other event is :data:`IGNORED`. A payload that does not have the fields its event needs
raises :class:`~starform_core.errors.WebhookPayloadError` naming the field.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

import attrs

from starform_core.errors import WebhookPayloadError

__all__ = [
    "DELIVERY_ID",
    "IGNORED",
    "InstallationAction",
    "InstallationEvent",
    "PushEvent",
    "check_delivery_id",
    "parse_installation",
    "parse_push",
]

IGNORED = "ignored"
"""The outcome recorded for an event Starbase does not act on."""

DELIVERY_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
"""``X-GitHub-Delivery``: a GUID (we accept up to 64 letters, digits and dashes)."""

_SHA = re.compile(r"^[0-9a-f]{40}$")
_ZERO_SHA = "0" * 40
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_BRANCH_PREFIX = "refs/heads/"
_MESSAGE_MAX = 500


class InstallationAction(enum.StrEnum):
    """What an ``installation`` event says happened."""

    CREATED = "created"
    DELETED = "deleted"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"


@attrs.frozen
class PushEvent:
    """A ``push``: ``branch`` of ``repository`` now points at ``commit_sha``.

    ``branch`` is ``None`` for a tag push; ``deleted`` is True when the branch was deleted
    (``commit_sha`` is then the all-zero SHA). ``message`` is the head commit's first line, cut.
    """

    installation_id: int
    repository: str
    branch: str | None
    commit_sha: str
    deleted: bool
    message: str = ""

    @property
    def buildable(self) -> bool:
        """True for a push of a branch to a commit (not a tag, not a deletion)."""
        return self.branch is not None and not self.deleted


@attrs.frozen
class InstallationEvent:
    """An ``installation`` event for ``installation_id`` on the GitHub ``account``."""

    action: InstallationAction
    installation_id: int
    account: str


def check_delivery_id(value: str | None) -> str:
    """The ``X-GitHub-Delivery`` header, or :class:`WebhookPayloadError` if missing or malformed."""
    if value is None or not DELIVERY_ID.match(value):
        raise WebhookPayloadError(
            "X-GitHub-Delivery", "must be the delivery's GUID (1 to 64 letters, digits, -)"
        )
    return value


def _object(payload: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = payload.get(field)
    if not isinstance(value, dict):
        raise WebhookPayloadError(field, "must be an object")
    return value


def _string(payload: Mapping[str, Any], field: str, *, path: str | None = None) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise WebhookPayloadError(path or field, "must be a non-empty string")
    return value


def _installation_id(payload: Mapping[str, Any]) -> int:
    value = _object(payload, "installation").get("id")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise WebhookPayloadError("installation.id", "must be a positive integer")
    return value


def _branch(ref: str) -> str | None:
    if ref.startswith("refs/tags/"):
        return None
    if not ref.startswith(_BRANCH_PREFIX) or len(ref) > len(_BRANCH_PREFIX) + 255:
        raise WebhookPayloadError("ref", "must be refs/heads/<branch> or refs/tags/<tag>")
    return ref.removeprefix(_BRANCH_PREFIX)


def _message(payload: Mapping[str, Any]) -> str:
    head = payload.get("head_commit")
    text = head.get("message") if isinstance(head, dict) else None
    return text.splitlines()[0][:_MESSAGE_MAX] if isinstance(text, str) and text else ""


def parse_push(payload: Mapping[str, Any]) -> PushEvent:
    """The ``push`` event in ``payload``."""
    repository = _string(_object(payload, "repository"), "full_name", path="repository.full_name")
    if not _REPOSITORY.match(repository):
        raise WebhookPayloadError("repository.full_name", "must be a GitHub owner/name")
    after = _string(payload, "after")
    if not _SHA.match(after):
        raise WebhookPayloadError("after", "must be a 40-character lower-case hex commit SHA")
    deleted = payload.get("deleted", False)
    if not isinstance(deleted, bool):
        raise WebhookPayloadError("deleted", "must be a boolean")
    return PushEvent(
        installation_id=_installation_id(payload),
        repository=repository,
        branch=_branch(_string(payload, "ref")),
        commit_sha=after,
        deleted=deleted or after == _ZERO_SHA,
        message=_message(payload),
    )


def parse_installation(payload: Mapping[str, Any]) -> InstallationEvent | None:
    """The ``installation`` event in ``payload``; ``None`` for an action Starbase ignores
    (``new_permissions_accepted``, say)."""
    action = _string(payload, "action")
    try:
        parsed = InstallationAction(action)
    except ValueError:
        return None
    account = _string(
        _object(_object(payload, "installation"), "account"), "login", path="installation.account.login"
    )
    return InstallationEvent(action=parsed, installation_id=_installation_id(payload), account=account[:100])
