"""``POST /v1/services/{id}/deployments`` with a tag: resolved through the registry port (the
real registry), stored pinned to the digest; a missing tag or repository is a 422 naming it."""

from __future__ import annotations

import httpx
from tests.registry.kit.backends import Backend
from tests.registry.kit.images import multi_arch, small_image
from tests.starbase.world import IMAGE, World, ok

from starform_adapters.registry import push_image


def _deploy(client: httpx.Client, world: World, image: str) -> httpx.Response:
    return client.post(
        f"/v1/services/{world.web_id}/deployments", headers=world.h(world.owner), json={"image": image}
    )


def test_a_tag_is_deployed_pinned_to_the_digest_the_registry_serves(
    client: httpx.Client, world: World, distribution_open: Backend
) -> None:
    _, writer = distribution_open.client()
    reference = distribution_open.repository("web").tagged("v1")
    digest = push_image(writer, reference, small_image())
    deployed = ok(_deploy(client, world, str(reference)), 201)
    assert deployed["image"] == f"{reference}@{digest}"
    moved = push_image(writer, reference, small_image())
    assert moved != digest
    redeployed = ok(_deploy(client, world, str(reference)), 201)
    assert redeployed["image"] == f"{reference}@{moved}" and redeployed["version"] == deployed["version"] + 1


def test_a_multi_platform_tag_is_pinned_to_its_index(
    client: httpx.Client, world: World, distribution_open: Backend
) -> None:
    _, writer = distribution_open.client()
    reference = distribution_open.repository("multi").tagged("latest")
    digest = push_image(writer, reference, multi_arch())
    bare = str(reference.repository)
    assert ok(_deploy(client, world, bare), 201)["image"] == f"{bare}:latest@{digest}"


def test_a_missing_tag_is_422_naming_it_and_deploys_nothing(
    client: httpx.Client, world: World, distribution_open: Backend
) -> None:
    _, writer = distribution_open.client()
    repository = distribution_open.repository("web")
    push_image(writer, repository.tagged("v1"), small_image())
    answer = _deploy(client, world, f"{repository}:v2")
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["detail"]
    assert problem["field"] == "image" and "'v2' not found" in problem["msg"]
    assert ok(client.get(f"/v1/services/{world.web_id}/deployments", headers=world.h(world.owner))) == []


def test_a_missing_repository_is_422_naming_it(
    client: httpx.Client, world: World, distribution_open: Backend
) -> None:
    repository = distribution_open.repository("never-pushed")
    answer = _deploy(client, world, f"{repository}:v1")
    assert answer.status_code == 422
    assert str(repository) in answer.json()["detail"][0]["msg"]


def test_a_digest_pinned_image_is_deployed_as_given(client: httpx.Client, world: World) -> None:
    assert ok(_deploy(client, world, IMAGE), 201)["image"] == IMAGE


def test_a_malformed_reference_is_422(client: httpx.Client, world: World) -> None:
    answer = _deploy(client, world, "Not A Reference!")
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "image"
