"""The same API on the in-memory store; a wrong encryption key answers 503, never garbage."""

from __future__ import annotations

import base64
import uuid

import httpx
from tests.starbase.world import IMAGE, build_world, ok

from starform_adapters.memory_store import MemoryStore
from starform_adapters.postgres import PostgresStore, VarCipher, open_pool
from starform_apps.starbase.app import create_app
from starform_apps.starbase.server import ServerThread
from starform_apps.starbase.tokens import USER_PREFIX, hash_token, new_token
from starform_core.ports.store import UserRecord
from starform_testkit.starbase import RunningStarbase


def test_the_api_runs_on_the_memory_store() -> None:
    store = MemoryStore()
    user = store.create_user(UserRecord(user_id=str(uuid.uuid4()), email="ops@example.com", is_operator=True))
    token = new_token(USER_PREFIX)
    store.create_api_token(user.user_id, hash_token(token))
    thread = ServerThread(create_app(store, tokens=store.tokens, checksum_key=lambda _cluster: b"m" * 32))
    base = thread.start()
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            auth = {"Authorization": f"Bearer {token}"}
            reg = ok(
                client.post(
                    "/v1/clusters",
                    headers=auth,
                    json={
                        "name": "mem",
                        "region": "fra1",
                        "gateway_namespace": "gw",
                        "gateway_name": "gw",
                    },
                ),
                201,
            )
            cid, agent = reg["cluster"]["id"], reg["agent_token"]
            ws = ok(client.post("/v1/workspaces", headers=auth, json={"name": "w"}), 201)
            project = ok(
                client.post(
                    f"/v1/workspaces/{ws['id']}/projects", headers=auth, json={"name": "p", "cluster_id": cid}
                ),
                201,
            )
            env = ok(
                client.post(f"/v1/projects/{project['id']}/environments", headers=auth, json={"name": "dev"}),
                201,
            )
            svc = ok(
                client.post(
                    f"/v1/projects/{project['id']}/services",
                    headers=auth,
                    json={"environment_id": env["id"], "name": "api", "type": "web", "port": 80},
                ),
                201,
            )
            ok(client.post(f"/v1/services/{svc['id']}/deployments", headers=auth, json={"image": IMAGE}), 201)
            bad = client.post(f"/v1/services/{svc['id']}/deployments", headers=auth, json={"image": "x:1"})
            assert bad.status_code == 422
            agent_auth = {"Authorization": f"Bearer {agent}"}
            first = client.get(f"/v1/clusters/{cid}/desired-state", headers=agent_auth)
            assert first.status_code == 200
            assert first.json()["projects"][0]["services"][0]["release"]["image"] == IMAGE
            again = client.get(
                f"/v1/clusters/{cid}/desired-state",
                headers={**agent_auth, "If-None-Match": first.headers["etag"]},
            )
            assert again.status_code == 304
    finally:
        thread.stop()


def test_a_wrong_encryption_key_answers_503_without_values(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    w = build_world(starbase, client)
    wrong = VarCipher.from_base64(base64.b64encode(b"w" * 32).decode())
    pool = open_pool(starbase.starbase.database_url, max_size=2)
    wrong_store = PostgresStore(pool, wrong)
    thread = ServerThread(create_app(wrong_store, tokens=wrong_store, checksum_key=wrong.checksum_key))
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
        create_app(closed, tokens=closed, checksum_key=starbase.starbase.cipher.checksum_key)
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
