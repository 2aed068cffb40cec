"""Builds as the build service sees them: a request, its phases, its failure, its log lines.

A build turns one commit of a repository into an image pushed under a tag (§16): Railpack
detects the framework, or a Dockerfile is used; the user's overrides (§39.1 #12) replace the
detected build and start commands and add a pre-deploy command. The service's phases are
queued → building → pushing → succeeded, or failed / cancelled / timed out (§16.12); what
happens after the push (deploying, live) is Starbase's.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime

import attrs

from starform_core.errors import ValidationError
from starform_core.registry.reference import Digest, ImageReference
from starform_core.validation import check_range, check_uuid, field_check

__all__ = [
    "COMMAND_MAX",
    "LOG_LINE_MAX",
    "BuildFailure",
    "BuildOverrides",
    "BuildPhase",
    "BuildRequest",
    "BuildStatus",
    "FailureReason",
    "LogLine",
    "LogPage",
    "LogStream",
    "SourceRef",
]

COMMAND_MAX = 4096
"""The longest build, pre-deploy or start command accepted."""
LOG_LINE_MAX = 8192
"""The longest log line kept; a longer one is cut and marked."""

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_BRANCH_MAX = 255
_PATH = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[\x21-\x7e]{0,1024}$")


class BuildPhase(enum.StrEnum):
    """Where a build is (§16.12)."""

    QUEUED = "queued"
    BUILDING = "building"
    PUSHING = "pushing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def terminal(self) -> bool:
        """True once the build can no longer change."""
        return self in _TERMINAL


_TERMINAL = frozenset({BuildPhase.SUCCEEDED, BuildPhase.FAILED, BuildPhase.CANCELLED, BuildPhase.TIMED_OUT})


class FailureReason(enum.StrEnum):
    """Why a build failed; the caller retries only what is ``retryable``."""

    BUILD_ERROR = "build_error"
    """The build itself failed (a compile error, a failing build command): retrying won't help."""
    SOURCE_ERROR = "source_error"
    """The commit could not be fetched (deleted, access revoked)."""
    PUSH_ERROR = "push_error"
    """The image could not be pushed to the registry."""
    IMAGE_TOO_LARGE = "image_too_large"
    """The image is over the platform's size limit (§39.1 #15)."""
    TIMEOUT = "timeout"
    """The build ran past its time limit."""
    INFRASTRUCTURE = "infrastructure"
    """The build service failed on its side (no builder, lost machine): transient."""


class LogStream(enum.StrEnum):
    """Which stream a log line came from; ``system`` lines are the build service's own."""

    STDOUT = "stdout"
    STDERR = "stderr"
    SYSTEM = "system"


def _check_command(_instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(attribute.name, "must be a non-empty string (or absent)")
    if len(value) > COMMAND_MAX:
        raise ValidationError(attribute.name, f"must be at most {COMMAND_MAX} characters")
    if "\0" in value:
        raise ValidationError(attribute.name, "must not contain NUL characters")


@attrs.frozen
class BuildOverrides:
    """The user's overrides of what Railpack detects (§39.1 #12); ``None`` keeps the default.

    Commands are shell command lines. ``pre_deploy_command`` runs before the new release takes
    traffic (database migrations, say); the build records it, Starbase runs it.
    """

    build_command: str | None = attrs.field(default=None, validator=_check_command)
    pre_deploy_command: str | None = attrs.field(default=None, validator=_check_command)
    start_command: str | None = attrs.field(default=None, validator=_check_command)


def _check_commit(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _COMMIT.match(value):
        raise ValidationError("commit_sha", "must be a full 40-character lower-case hex commit SHA")


def _check_repository(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _REPOSITORY.match(value):
        raise ValidationError("repository", "must be a GitHub owner/name")


def _check_branch(_instance: object, _attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (
        not value or len(value) > _BRANCH_MAX or any(c in value for c in " ~^:?*[\\\0")
    ):
        raise ValidationError("branch", f"must be a git branch name of at most {_BRANCH_MAX} characters")


@attrs.frozen
class SourceRef:
    """The commit to build: a GitHub repository (``owner/name``), a full SHA, and its branch.

    ``installation_id`` is the GitHub App installation whose token clones the repository.
    """

    repository: str = attrs.field(validator=_check_repository)
    commit_sha: str = attrs.field(validator=_check_commit)
    branch: str | None = attrs.field(default=None, kw_only=True, validator=_check_branch)
    installation_id: int | None = attrs.field(default=None, kw_only=True)


def _check_relative(field: str, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not _PATH.match(value)):
        raise ValidationError(field, "must be a relative path inside the repository (no '..')")


def _check_target(
    _instance: object, _attribute: attrs.Attribute[ImageReference], value: ImageReference
) -> None:
    if value.tag is None or value.digest is not None:
        raise ValidationError("image", "the build pushes to a tag: give a tag and no digest")


def _check_timeout(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    check_range(attribute.name, value, low=60, high=7200)


@attrs.frozen
class BuildRequest:
    """Build ``source`` and push the image to ``image`` (a tag).

    ``build_id`` (a UUID the caller chooses) makes :meth:`start` idempotent. ``workspace_id``
    selects the isolated builder project of the workspace (one Depot project per workspace).
    ``dockerfile`` forces a Dockerfile build; ``None`` lets Railpack detect the framework.
    """

    build_id: str = attrs.field(validator=field_check(check_uuid))
    workspace_id: str = attrs.field(validator=field_check(check_uuid))
    source: SourceRef
    image: ImageReference = attrs.field(validator=_check_target)
    overrides: BuildOverrides = attrs.field(factory=BuildOverrides, kw_only=True)
    root_directory: str = attrs.field(default="", kw_only=True, validator=field_check(_check_relative))
    dockerfile: str | None = attrs.field(default=None, kw_only=True, validator=field_check(_check_relative))
    timeout_seconds: int = attrs.field(default=1800, kw_only=True, validator=_check_timeout)


@attrs.frozen
class BuildFailure:
    """Why a build did not succeed, in words a user can act on (never a secret)."""

    reason: FailureReason
    message: str
    retryable: bool = False


@attrs.frozen
class BuildStatus:
    """A build as the service reports it.

    ``digest`` is set once the image is pushed (phase ``succeeded``): the digest of what
    ``image`` pointed to right after the push. ``started_at``/``finished_at`` bound the time a
    builder ran, which is what build minutes are billed on.
    """

    build_id: str
    phase: BuildPhase
    image: ImageReference
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    digest: Digest | None = None
    failure: BuildFailure | None = None
    pre_deploy_command: str | None = None

    @property
    def build_seconds(self) -> float:
        """Seconds a builder ran (0 before it started), the basis of build-minute billing."""
        if self.started_at is None:
            return 0.0
        end = self.finished_at or self.started_at
        return max(0.0, (end - self.started_at).total_seconds())


@attrs.frozen
class LogLine:
    """One line of build output; ``seq`` orders a build's lines from 1."""

    seq: int
    at: datetime
    stream: LogStream
    text: str


@attrs.frozen
class LogPage:
    """Log lines after a cursor. Pass ``next_after`` back to read on; ``complete`` is True once
    the build is over and every line has been read (a follower stops there)."""

    lines: tuple[LogLine, ...]
    next_after: int
    complete: bool
