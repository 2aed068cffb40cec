"""A wrong encryption key answers 503, never garbage; readiness follows the database."""

from __future__ import annotations

import base64

import httpx
from tests.starbase.world import build_world

from starform_adapters.postgres import PostgresStore, VarCipher, open_pool
from starform_apps.starbase.app import create_app
from starform_apps.starbase.server import ServerThread, postgres_ports
from starform_testkit.starbase import RunningStarbase


def test_a_wrong_encryption_key_answers_503_without_values(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    w = build_world(starbase, client)
    wrong = VarCipher.from_base64(base64.b64encode(b"w" * 32).decode())
    pool = open_pool(starbase.starbase.database_url, max_size=2)
    wrong_store = PostgresStore(pool, wrong)
    thread = ServerThread(
        create_app(postgres_ports(wrong_store, starbase.starbase.billing), checksum_key=wrong.checksum_key)
    )
    base = thread.start()
    try:
        response = httpx.get(
            f"{base}/v1/clusters/{w.cluster_id}/desired-state", headers=w.h(w.agent_token), timeout=30
        )
    finally:
        thread.stop()
        pool.close()
    assert response.status_code == 503
    assert "key id" in response.json()["detail"]
    assert "debug" not in response.text


def test_readyz_reports_an_unreachable_database(starbase: RunningStarbase) -> None:
    pool = open_pool(starbase.starbase.database_url, max_size=1)
    pool.close()
    closed = PostgresStore(pool, starbase.starbase.cipher)
    thread = ServerThread(
        create_app(
            postgres_ports(closed, starbase.starbase.billing),
            checksum_key=starbase.starbase.cipher.checksum_key,
        )
    )
    base = thread.start()
    try:
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        ready = httpx.get(f"{base}/readyz", timeout=30)
    finally:
        thread.stop()
    assert ready.status_code == 503
    assert ready.json() == {"status": "database unreachable"}


def test_register_cluster_helper(starbase: RunningStarbase) -> None:
    cluster_id, token = starbase.register_cluster(lb_size_unit=None)
    response = httpx.get(
        f"{starbase.base_url}/v1/clusters/{cluster_id}/desired-state",
        headers=starbase.auth(token),
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["cluster"]["cluster_id"] == cluster_id
