"""The webhook secret never leaves Starbase after it is shown once: not in logs, answers,
metrics or the audit log, and it is stored sealed (no plaintext in the database)."""

from __future__ import annotations

import base64

import httpx
import psycopg
from tests.pushdeploy.rig import connect, set_source
from tests.starbase.logbuffer import LOG_BUFFER
from tests.starbase.world import build_world, ok

from starform_testkit.starbase import RunningStarbase


def _encodings(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        raw.hex(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


def test_the_webhook_secret_is_never_logged_answered_or_stored_in_the_clear(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    world = build_world(starbase, client)
    github = connect(starbase, client, world)
    set_source(starbase, client, world, github, world.web_id)
    answers = [
        github.push("acme/web", "main"),
        github.push("acme/web", "main", secret="wrong"),
        github.push("acme/web", "main", installation_id=github.installation_id + 1),
        github.deliver("push", b"{broken"),
        client.get("/metrics", headers=starbase.auth(starbase.metrics_token)),
    ]
    assert [a.status_code for a in answers] == [202, 401, 404, 400, 200]
    seen = LOG_BUFFER.getvalue() + "".join(a.text for a in answers)
    assert "webhook signature refused" in LOG_BUFFER.getvalue()
    with psycopg.connect(starbase.starbase.database_url) as conn:
        rows = conn.execute(
            "SELECT secret_ciphertext FROM github_installations WHERE id = %s", (github.installation_id,)
        ).fetchall()
        audit = conn.execute(
            "SELECT coalesce(before::text, '') || coalesce(after::text, '') FROM audit_log"
        ).fetchall()
    assert rows and github.secret.encode() not in bytes(rows[0][0])
    seen += "".join(str(r[0]) for r in audit)
    source = ok(client.get(f"/v1/services/{world.web_id}/source", headers=starbase.auth(world.owner)))
    seen += str(source)
    for text in _encodings(github.secret):
        assert text not in seen
