"""Build requests refuse bad input with the field and the reason."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from starform_core.build import COMMAND_MAX, BuildOverrides, BuildPhase, BuildRequest, SourceRef
from starform_core.errors import ValidationError
from starform_core.registry import Digest, parse_image_reference

SHA = "0123456789abcdef0123456789abcdef01234567"


def _request(**changes: Any) -> BuildRequest:
    fields: dict[str, Any] = {
        "build_id": str(uuid.uuid4()),
        "workspace_id": str(uuid.uuid4()),
        "source": SourceRef("acme/web", SHA),
        "image": parse_image_reference("reg.io/acme/web:abc"),
    }
    fields.update(changes)
    return BuildRequest(**fields)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: SourceRef("acme/web", SHA[:12]), "commit_sha"),
        (lambda: SourceRef("acme/web", SHA.upper()), "commit_sha"),
        (lambda: SourceRef("not a repo", SHA), "repository"),
        (lambda: SourceRef("acme/web", SHA, branch="bad branch"), "branch"),
        (lambda: SourceRef("acme/web", SHA, branch="x" * 256), "branch"),
        (lambda: BuildOverrides(start_command="   "), "start_command"),
        (lambda: BuildOverrides(build_command="x" * (COMMAND_MAX + 1)), "build_command"),
        (lambda: BuildOverrides(pre_deploy_command="a\0b"), "pre_deploy_command"),
        (lambda: _request(build_id="not-a-uuid"), "build_id"),
        (lambda: _request(timeout_seconds=10), "timeout_seconds"),
        (lambda: _request(timeout_seconds=10_000), "timeout_seconds"),
        (lambda: _request(root_directory="../elsewhere"), "root_directory"),
        (lambda: _request(root_directory="/abs"), "root_directory"),
        (lambda: _request(dockerfile="docker/../../Dockerfile"), "dockerfile"),
        (
            lambda: _request(image=parse_image_reference("reg.io/acme/web").with_digest(Digest.of(b"x"))),
            "image",
        ),
    ],
)
def test_bad_build_input_names_its_field(make: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make()
    assert caught.value.field == field


def test_a_valid_request_keeps_its_parts() -> None:
    request = _request(root_directory="services/api", dockerfile="services/api/Dockerfile")
    assert request.timeout_seconds == 1800 and request.overrides == BuildOverrides()
    assert request.root_directory == "services/api"


def test_terminal_phases() -> None:
    assert {p for p in BuildPhase if p.terminal} == {
        BuildPhase.SUCCEEDED,
        BuildPhase.FAILED,
        BuildPhase.CANCELLED,
        BuildPhase.TIMED_OUT,
    }
