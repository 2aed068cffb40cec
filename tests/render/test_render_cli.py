"""``starform render``: YAML stream in apply order, secrets redacted unless asked for."""

from __future__ import annotations

import base64

import yaml
from click.testing import CliRunner

from starform_apps.cli.main import cli
from starform_core.payload.codec import to_json
from starform_core.payload.example import example_payload
from starform_core.render import render
from starform_core.secrets_values import REDACTED

BODY = to_json(example_payload()).decode()
SECRET = "postgres://shop:example-only@db-prod/shop"


def test_render_prints_objects_then_partials_with_secrets_redacted() -> None:
    result = CliRunner().invoke(cli, ["render", "-"], input=BODY)
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.stdout))
    rendering = render(example_payload())
    assert len(docs) == len(rendering.objects) + len(rendering.partials)
    assert [d["kind"] for d in docs] == [o["kind"] for o in rendering.objects + rendering.partials]
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert secrets
    assert all(v == REDACTED for s in secrets for v in s.get("data", {}).values())
    assert base64.b64encode(SECRET.encode()).decode() not in result.output
    assert SECRET not in result.output
    assert "DATABASE_URL" in result.stderr  # the conflict warning names the key, not the value


def test_show_secrets_prints_the_values() -> None:
    result = CliRunner().invoke(cli, ["render", "--show-secrets", "-"], input=BODY)
    assert result.exit_code == 0
    docs = list(yaml.safe_load_all(result.stdout))
    values = {
        base64.b64decode(v).decode()
        for d in docs
        if d["kind"] == "Secret"
        for v in d.get("data", {}).values()
    }
    assert SECRET in values


def test_invalid_payload_exits_1_with_the_pointer() -> None:
    result = CliRunner().invoke(cli, ["render", "-"], input='{"apiVersion": "starform.io/v1"}')
    assert result.exit_code == 1
    assert "invalid:" in result.stderr
