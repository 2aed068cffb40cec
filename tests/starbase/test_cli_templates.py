"""``starbase template list|show|publish`` against a real database (DATABASE_URL)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from starform_apps.starbase.cli import main
from starform_testkit.postgres import fresh_database

KEY = base64.b64encode(b"t" * 32).decode()

TEMPLATE = """\
# a queue consumer, published by an operator
name: consumer
version: 1
title: Queue consumer
spec:
  type: worker
  public: false
  resources: {cpu_request: "100m", memory_request: "128Mi"}
allowed_mutations:
  properties:
    replicas: {type: integer, minimum: 1, maximum: 4}
"""


@pytest.fixture
def cli_db(pg_server: str) -> Iterator[str]:
    with fresh_database(pg_server) as url:
        yield url


def _run(url: str, *args: str, key: str | None = KEY) -> tuple[int, str]:
    env = {"DATABASE_URL": url, "ENCRYPTION_KEY": key} if key else {"DATABASE_URL": url}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_publish_list_and_show(cli_db: str, tmp_path: Path) -> None:
    path = tmp_path / "consumer.yaml"
    path.write_text(TEMPLATE)
    code, out = _run(cli_db, "template", "publish", str(path))
    assert code == 0, out
    assert out.startswith("published consumer v1 sha256:")
    code, again = _run(cli_db, "template", "publish", str(path))
    assert (code, again.split(":")[0]) == (0, "unchanged (already published with this content)")
    path.write_text(TEMPLATE.replace("maximum: 4", "maximum: 8"))
    code, out = _run(cli_db, "template", "publish", str(path))
    assert code == 1
    assert "already published with other content" in out
    code, out = _run(cli_db, "template", "publish", "--shipped")
    assert (code, out) == (
        0,
        "templates: published cron-job v1, minecraft-server v1, web-app v1, worker v1\n",
    )
    code, out = _run(cli_db, "template", "list")
    assert code == 0
    rows = [line.split("\t") for line in out.strip().splitlines()]
    assert rows[0] == ["name", "latest", "versions", "title"]
    assert [r[0] for r in rows[1:]] == ["consumer", "cron-job", "minecraft-server", "web-app", "worker"]
    code, out = _run(cli_db, "template", "show", "consumer", "1")
    assert code == 0
    shown = json.loads(out)
    assert shown["allowed_mutations"]["properties"]["replicas"]["maximum"] == 4
    assert shown["spec"]["type"] == "worker"
    assert shown["digest"].startswith("sha256:")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            TEMPLATE.replace("maximum: 4", "maximum: 4, maximun: 9"),
            "Error: /allowed_mutations/properties/replicas/maximun:",
        ),
        (
            TEMPLATE.replace('cpu_request: "100m"', 'cpu_request: "lots"'),
            "Error: /spec/resources/cpu_request:",
        ),
        (TEMPLATE + "name: again\n", "Error: /: is not valid YAML or JSON (duplicate key 'name' at line 12"),
        ("[1, 2]", "Error: /: a template must be a JSON object"),
    ],
)
def test_a_bad_file_is_an_error_naming_the_pointer_and_nothing_is_published(
    cli_db: str, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out = _run(cli_db, "template", "publish", str(path))
    assert code == 1
    assert out.startswith(message), out
    assert "Traceback" not in out
    code, listed = _run(cli_db, "template", "list")
    assert (code, listed) == (0, "name\tlatest\tversions\ttitle\n")


def test_usage_errors(cli_db: str, tmp_path: Path) -> None:
    code, out = _run(cli_db, "template", "publish")
    assert code == 2
    assert "give a FILE or --shipped" in out
    code, out = _run(cli_db, "template", "publish", str(tmp_path / "missing.yaml"))
    assert code == 1
    assert "cannot read" in out
    code, out = _run(cli_db, "template", "show", "no-such")
    assert (code, out) == (1, "Error: template not found\n")
