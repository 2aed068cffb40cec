"""The ``starform payload`` commands."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from starform_apps.cli.main import cli
from starform_core.payload import example_payload, parse_payload, payload_schema


def test_schema_prints_the_shipped_schema() -> None:
    result = CliRunner().invoke(cli, ["payload", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == payload_schema()


def test_example_is_a_valid_payload(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["payload", "example"])
    assert result.exit_code == 0
    assert parse_payload(result.output) == example_payload()
    path = tmp_path / "payload.json"
    path.write_text(result.output)
    validated = CliRunner().invoke(cli, ["payload", "validate", str(path)])
    assert validated.exit_code == 0
    assert "valid: starform.io/v1 generation 42" in validated.output


def test_validate_reports_pointer_and_reason(tmp_path: Path) -> None:
    data = json.loads(CliRunner().invoke(cli, ["payload", "example"]).output)
    data["projects"][1]["environments"][0]["name"] = "Staging"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(cli, ["payload", "validate", str(path)])
    assert result.exit_code == 1
    assert "/projects/1/environments/0/name" in result.output


def test_validate_reads_stdin_and_reports_unreadable_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["payload", "validate", "-"], input="{}")
    assert result.exit_code == 1
    assert "/apiVersion" in result.output
    missing = CliRunner().invoke(cli, ["payload", "validate", str(tmp_path / "nope.json")])
    assert missing.exit_code != 0
