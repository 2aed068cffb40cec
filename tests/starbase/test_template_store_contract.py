"""The TemplateStore port's contract, run against every store implementation (``any_store``)."""

from __future__ import annotations

import uuid
from typing import Any

import attrs
import pytest
from tests.starbase.example_data import fresh_ids, load_rows_via_api
from tests.starbase.store_kit import StoreUnderTest

from starform_core.access import Actor
from starform_core.errors import StoreConflictError, StoreNotFoundError, TemplateError, TemplateRuleError
from starform_core.payload.example import example_rows
from starform_core.payload.rows import ClusterRows, ServiceRow
from starform_core.ports.templates import TemplatedService
from starform_core.templates import Template, instantiate, spec_rows, template_from_json

ACTOR = Actor(label="contract")
IMAGE = "registry.example.com/jobs/consumer@sha256:" + "1" * 64


def _template(name: str, version: int, *, replicas_max: int = 5, **spec: Any) -> Template:
    return template_from_json(
        {
            "name": name,
            "version": version,
            "title": "Consumer",
            "spec": {
                "type": "worker",
                "public": False,
                "image": IMAGE,
                "replicas": 1,
                "resources": {"cpu_request": "100m", "memory_request": "128Mi"},
                **spec,
            },
            "allowed_mutations": {"properties": {"replicas": {"type": "integer", "maximum": replicas_max}}},
        }
    )


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def loaded(any_store: StoreUnderTest) -> ClusterRows:
    return load_rows_via_api(any_store, fresh_ids(example_rows()))


def _create(
    store: StoreUnderTest, rows: ClusterRows, template: Template, changes: dict[str, Any]
) -> ServiceRow:
    env = rows.environments[0]
    identity = ServiceRow(
        service_id=str(uuid.uuid4()),
        project_id=env.project_id,
        environment_id=env.environment_id,
        name=f"s{uuid.uuid4().hex[:8]}",
        type=template.spec.type,
        state=template.spec.state,
    )
    made = spec_rows(instantiate(template, changes), identity, new_id=lambda: str(uuid.uuid4()))
    return store.create_templated_service(TemplatedService(rows=made, template=template.ref), actor=ACTOR)


def test_publishing_is_idempotent_and_versions_only_grow(any_store: StoreUnderTest) -> None:
    name = _name()
    first = any_store.publish_template(_template(name, 1), actor=ACTOR)
    assert first.created
    assert first.record.template == _template(name, 1)
    assert first.record.published_by == "contract"
    again = any_store.publish_template(_template(name, 1), actor=ACTOR)
    assert not again.created
    assert again.record.created_at == first.record.created_at
    with pytest.raises(StoreConflictError, match="already published with other content"):
        any_store.publish_template(_template(name, 1, replicas_max=9), actor=ACTOR)
    any_store.publish_template(_template(name, 3), actor=ACTOR)
    with pytest.raises(StoreConflictError, match="publish a version above it"):
        any_store.publish_template(_template(name, 2), actor=ACTOR)
    assert any_store.get_template(name).template.version == 3
    assert any_store.get_template(name, 1).template == _template(name, 1)
    assert [r.template.version for r in any_store.list_template_versions(name)] == [3, 1]
    [summary] = [s for s in any_store.list_templates() if s.name == name]
    assert (summary.latest_version, summary.versions) == (3, (1, 3))


def test_unknown_templates_are_not_found(any_store: StoreUnderTest) -> None:
    with pytest.raises(StoreNotFoundError):
        any_store.get_template(_name())
    with pytest.raises(StoreNotFoundError):
        any_store.get_template(_name(), 1)
    with pytest.raises(StoreNotFoundError):
        any_store.list_template_versions(_name())
    with pytest.raises(StoreNotFoundError):
        any_store.template_link(str(uuid.uuid4()))


def test_a_templated_service_is_linked_offered_and_upgraded(
    any_store: StoreUnderTest, loaded: ClusterRows
) -> None:
    name = _name()
    v1 = _template(name, 1)
    any_store.publish_template(v1, actor=ACTOR)
    made = _create(any_store, loaded, v1, {"replicas": 4})
    link = any_store.template_link(made.service_id)
    assert link is not None and (link.template, link.upgrade_available) == (v1.ref, False)
    assert [d.image for d in any_store.list_deployments(made.service_id)] == [IMAGE]
    v2 = _template(name, 2, image=IMAGE.replace("1" * 64, "2" * 64))
    any_store.publish_template(v2, actor=ACTOR)
    offers = any_store.upgrade_offers(made.project_id)
    assert [(o.service_id, o.latest_version) for o in offers if o.template.name == name] == [
        (made.service_id, 2)
    ]
    result = any_store.upgrade_templated_service(made.service_id, 2, actor=ACTOR)
    assert (result.template, result.service.replicas) == (v2.ref, 4)
    assert result.deployment is not None and result.deployment.version == 2
    assert any_store.upgrade_offers(made.project_id) == [o for o in offers if o.template.name != name]


def test_a_refused_upgrade_writes_nothing(any_store: StoreUnderTest, loaded: ClusterRows) -> None:
    name = _name()
    v1 = _template(name, 1)
    any_store.publish_template(v1, actor=ACTOR)
    made = _create(any_store, loaded, v1, {"replicas": 4})
    any_store.publish_template(_template(name, 2, replicas_max=3), actor=ACTOR)
    generation = any_store.get_cluster(loaded.cluster.cluster_id).generation
    with pytest.raises(TemplateRuleError, match=r"^/replicas: at most 3"):
        any_store.upgrade_templated_service(made.service_id, 2, actor=ACTOR)
    assert any_store.get_cluster(loaded.cluster.cluster_id).generation == generation
    assert any_store.get_service(made.service_id) == made
    link = any_store.template_link(made.service_id)
    assert link is not None and link.template == v1.ref
    with pytest.raises(StoreConflictError):
        any_store.upgrade_templated_service(made.service_id, 1, actor=ACTOR)


def test_required_var_keys_are_checked_in_the_write(any_store: StoreUnderTest, loaded: ClusterRows) -> None:
    name = _name()
    template = _template(name, 1, var_keys={"QUEUE_URL": {"required": True, "description": "the queue"}})
    any_store.publish_template(template, actor=ACTOR)
    services = len(any_store.list_services(loaded.environments[0].project_id))
    env = loaded.environments[0]
    identity = ServiceRow(
        str(uuid.uuid4()), env.project_id, env.environment_id, "needs-queue", "worker", "active"
    )
    made = spec_rows(template.spec, identity, new_id=lambda: str(uuid.uuid4()))
    request = TemplatedService(
        rows=made, template=template.ref, required_var_keys=template.spec.required_var_keys
    )
    with pytest.raises(TemplateError, match=r"^/var_keys/QUEUE_URL: is required"):
        any_store.create_templated_service(request, actor=ACTOR)
    assert len(any_store.list_services(env.project_id)) == services
    with pytest.raises(StoreNotFoundError):
        any_store.create_templated_service(
            attrs.evolve(request, template=attrs.evolve(template.ref, version=9)), actor=ACTOR
        )
