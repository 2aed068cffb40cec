"""What Starbase stores about push-to-deploy: GitHub App installations, each service's source
(repository, branch, build overrides), and builds of the pipeline (§16.12)."""

from __future__ import annotations

import datetime as dt
import enum
import re

import attrs

from starform_core.build.lifecycle import BuildState
from starform_core.build.values import BuildOverrides, FailureReason
from starform_core.errors import ValidationError
from starform_core.validation import check_uuid, field_check

__all__ = [
    "BuildRecord",
    "BuildTrigger",
    "Claim",
    "ClaimOutcome",
    "Installation",
    "InstallationState",
    "PushResult",
    "ServiceSource",
]

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_PATH = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[\x21-\x7e]{0,1024}$")


class InstallationState(enum.StrEnum):
    """Where a GitHub App installation is: registered in Starbase (``pending``) until GitHub's
    ``installation.created`` arrives, then ``active``; pushes are acted on only when active."""

    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


def _check_installation_id(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise ValidationError("installation_id", "must be a positive integer (GitHub's installation id)")


def _check_account(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not _ACCOUNT.match(value):
        raise ValidationError("account", "must be a GitHub account login")


@attrs.frozen
class Installation:
    """A GitHub App installation on ``account``, owned by a workspace."""

    installation_id: int = attrs.field(validator=_check_installation_id)
    workspace_id: str = attrs.field(validator=field_check(check_uuid))
    account: str = attrs.field(validator=_check_account)
    state: InstallationState = InstallationState.PENDING


def _check_repository(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not _REPOSITORY.match(value):
        raise ValidationError("repository", "must be a GitHub owner/name")


def _check_branch(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or any(c in value for c in " ~^:?*[\\\0"):
        raise ValidationError("branch", "must be a git branch name of at most 255 characters")


def _check_path(field: str, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not _PATH.match(value)):
        raise ValidationError(field, "must be a relative path inside the repository (no '..')")


@attrs.frozen
class ServiceSource:
    """Where a service's image comes from: pushes to ``branch`` of ``repository`` (through the
    installation) build and, with ``auto_deploy``, deploy it (§39.1 #17). ``overrides`` replace
    what Railpack detects (§39.1 #12)."""

    service_id: str = attrs.field(validator=field_check(check_uuid))
    installation_id: int = attrs.field(validator=_check_installation_id)
    repository: str = attrs.field(validator=_check_repository)
    branch: str = attrs.field(validator=_check_branch)
    auto_deploy: bool = attrs.field(default=True, kw_only=True)
    root_directory: str = attrs.field(default="", kw_only=True, validator=field_check(_check_path))
    dockerfile: str | None = attrs.field(default=None, kw_only=True, validator=field_check(_check_path))
    overrides: BuildOverrides = attrs.field(factory=BuildOverrides, kw_only=True)


class BuildTrigger(enum.StrEnum):
    """What started a build."""

    PUSH = "push"
    MANUAL = "manual"


@attrs.frozen
class BuildRecord:
    """One build of the pipeline as Starbase keeps it.

    ``image`` is the tag the build pushes to (set when a worker first starts it), ``digest`` what
    that tag resolved to through the registry port, ``deployment_id``/``generation`` the
    deployment it created. ``build_seconds`` is what build minutes are billed on.
    """

    build_id: str
    service_id: str
    workspace_id: str
    cluster_id: str
    repository: str
    branch: str
    commit_sha: str
    trigger: BuildTrigger
    state: BuildState
    not_before: dt.datetime
    created_at: dt.datetime
    message: str = ""
    installation_id: int | None = None
    image: str | None = None
    digest: str | None = None
    deployment_id: str | None = None
    generation: int | None = None
    failure_reason: FailureReason | None = None
    failure_message: str | None = None
    attempts: int = 0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    live_at: dt.datetime | None = None
    build_seconds: float | None = None


class ClaimOutcome(enum.StrEnum):
    """What a worker's claim of a build found."""

    CLAIMED = "claimed"
    """The lease is the worker's: run the build."""
    WAIT = "wait"
    """Not yet: the debounce window or the workspace's concurrency limit; retry at ``retry_at``."""
    HELD = "held"
    """Another worker holds a live lease on it."""
    DONE = "done"
    """The build is over (or deploying); nothing to do."""


@attrs.frozen
class Claim:
    """A claim's outcome, with the build as it stands after it."""

    outcome: ClaimOutcome
    build: BuildRecord | None = None
    retry_at: dt.datetime | None = None


@attrs.frozen
class PushResult:
    """What a delivered push did: builds queued (new or with their commit replaced while still
    waiting in the debounce window) and older builds cancelled."""

    queued: tuple[str, ...] = ()
    cancelled: tuple[str, ...] = ()
    duplicate: bool = False
