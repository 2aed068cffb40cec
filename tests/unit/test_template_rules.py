"""The rule language of allowed mutations, template documents and upgrades, case by case."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from starform_core.errors import TemplateError, TemplateRuleError
from starform_core.templates import instantiate, template_from_json, upgrade

BASE_SPEC: dict[str, Any] = {
    "type": "web",
    "port": 8080,
    "replicas": 2,
    "resources": {
        "cpu_request": "250m",
        "memory_request": "256Mi",
        "cpu_limit": "1",
        "memory_limit": "512Mi",
    },
    "volumes": {"cache": {"mount_path": "/cache", "size": "5Gi"}},
}


def template(rules: dict[str, Any], *, version: int = 3, **spec: Any) -> Any:
    return template_from_json(
        {
            "name": "web-app",
            "version": version,
            "title": "Web app",
            "spec": {**BASE_SPEC, **spec},
            "allowed_mutations": rules,
        }
    )


CPU_RULES = {
    "properties": {"resources": {"properties": {"cpu_limit": {"minQuantity": "100m", "maxQuantity": "2"}}}}
}


@pytest.mark.parametrize(
    ("value", "inside"),
    [
        ("1500m", True),
        ("2", True),
        ("2000m", True),
        ("2001m", False),
        ("250m", True),
        ("0.25", True),
        ("99m", False),
        ("3", False),
    ],
)
def test_quantities_compare_as_amounts(value: str, inside: bool) -> None:
    rules = template(CPU_RULES)
    changes = {"resources": {"cpu_limit": value}}
    if inside:
        assert instantiate(rules, changes).resources.cpu_limit in (value, "1")
    else:
        with pytest.raises(TemplateRuleError) as caught:
            instantiate(rules, changes)
        assert caught.value.pointer == "/resources/cpu_limit"
        assert caught.value.rule in ("minQuantity", "maxQuantity")


def test_the_brief_s_message_names_pointer_rule_and_template() -> None:
    with pytest.raises(TemplateRuleError) as caught:
        instantiate(template(CPU_RULES), {"resources": {"cpu_limit": "3"}})
    assert str(caught.value) == "/resources/cpu_limit: at most 2 (template web-app v3)"
    assert (caught.value.template, caught.value.version, caught.value.rule) == ("web-app", 3, "maxQuantity")


def test_a_bounded_quantity_cannot_be_removed() -> None:
    with pytest.raises(TemplateRuleError, match=r"^/resources/cpu_limit: must stay a Kubernetes quantity"):
        instantiate(template(CPU_RULES), {"resources": {"cpu_limit": None}})


def test_a_quantity_written_another_way_is_no_change() -> None:
    closed = template({})
    assert (
        instantiate(closed, {"resources": {"cpu_limit": "1000m"}, "volumes": {"cache": {"size": "5120Mi"}}})
        == closed.spec
    )


def test_closed_by_default_and_open_where_the_rule_says_so() -> None:
    with pytest.raises(TemplateRuleError, match=r"^/replicas: is not a field the template lets you change"):
        instantiate(template({}), {"replicas": 3})
    with pytest.raises(TemplateRuleError, match=r"^/resources/memory_limit: is not a field"):
        instantiate(template(CPU_RULES), {"resources": {"memory_limit": "1Gi"}})
    opened = template({"properties": {"resources": {"type": "object", "additionalProperties": True}}})
    assert instantiate(opened, {"resources": {"memory_limit": "1Gi"}}).resources.memory_limit == "1Gi"


def test_combinators_and_references_count_as_naming_a_field() -> None:
    rules = {
        "$defs": {"replicas": {"type": "integer", "maximum": 4}},
        "allOf": [{"properties": {"replicas": {"$ref": "#/$defs/replicas"}}}],
    }
    assert instantiate(template(rules), {"replicas": 4}).replicas == 4
    with pytest.raises(TemplateRuleError, match=r"^/replicas: at most 4"):
        instantiate(template(rules), {"replicas": 5})


def test_a_rule_s_description_explains_the_refusal() -> None:
    rules = {"properties": {"replicas": {"enum": [1, 2], "description": "the plan's ceiling"}}}
    with pytest.raises(TemplateRuleError, match=r"^/replicas: must be one of 1, 2: the plan's ceiling \("):
        instantiate(template(rules), {"replicas": 3})


def test_domain_formats_assert() -> None:
    rules = {"properties": {"image": {"type": "string", "format": "image-reference"}}}
    with pytest.raises(TemplateRuleError, match=r"^/image: must be an image reference pinned by digest"):
        instantiate(template(rules), {"image": "nginx:latest"})
    image = "registry.example.com/app@sha256:" + "ab" * 32
    assert instantiate(template(rules), {"image": image}).image == image


@pytest.mark.parametrize(
    ("rules", "pointer"),
    [
        (
            {"properties": {"replicas": {"maxQuantiy": "2"}}},
            "/allowed_mutations/properties/replicas/maxQuantiy",
        ),
        (
            {"properties": {"image": {"$ref": "https://example.com/s.json"}}},
            "/allowed_mutations/properties/image/$ref",
        ),
        ({"properties": {"image": {"$ref": "#/$defs/missing"}}}, "/allowed_mutations/properties/image/$ref"),
        ({"$id": "https://example.com/r"}, "/allowed_mutations/$id"),
        ({"properties": {"image": {"format": "email"}}}, "/allowed_mutations/properties/image/format"),
        (
            {"properties": {"replicas": {"maxQuantity": True}}},
            "/allowed_mutations/properties/replicas/maxQuantity",
        ),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, "/allowed_mutations/$schema"),
        ({"properties": {"replicas": {"type": "integr"}}}, "/allowed_mutations/properties/replicas/type"),
        ({"required": ["image"]}, "/allowed_mutations"),
    ],
)
def test_a_rules_document_the_language_refuses_is_refused_at_publication(rules: Any, pointer: str) -> None:
    with pytest.raises(TemplateError) as caught:
        template(rules)
    assert caught.value.pointer == pointer


@pytest.mark.parametrize(
    ("document", "pointer"),
    [
        ({"spec": {**BASE_SPEC, "port": None}}, "/spec/port"),
        ({"spec": {k: v for k, v in BASE_SPEC.items() if k != "port"}}, "/spec/port"),
        (
            {
                "spec": {
                    **BASE_SPEC,
                    "resources": {"cpu_request": "2", "memory_request": "1Gi", "cpu_limit": "1"},
                }
            },
            "/spec/resources/cpu_limit",
        ),
        (
            {"spec": {**BASE_SPEC, "volumes": {"cache": {"mount_path": "cache", "size": "1Gi"}}}},
            "/spec/volumes/cache/mount_path",
        ),
        ({"spec": {**BASE_SPEC, "image": "nginx"}}, "/spec/image"),
        ({"version": True}, "/version"),
        ({"version": 0}, "/version"),
        ({"name": "Web_App"}, "/name"),
        ({"colour": "blue"}, ""),
    ],
)
def test_an_invalid_template_document_names_its_pointer(document: dict[str, Any], pointer: str) -> None:
    data = {"name": "web-app", "version": 1, "title": "Web app", "spec": BASE_SPEC, **document}
    with pytest.raises(TemplateError) as caught:
        template_from_json(data)
    assert caught.value.pointer == pointer


def test_an_upgrade_keeps_customisations_and_takes_new_defaults() -> None:
    rules = {"properties": {"replicas": {"type": "integer", "maximum": 10}}}
    v1, v2 = template(rules, version=1), template(rules, version=2, port=9090)
    mine = instantiate(v1, {"replicas": 7})
    moved = upgrade(v1, v2, mine)
    assert (moved.replicas, moved.port) == (7, 9090)
    v3 = template({"properties": {"replicas": {"type": "integer", "maximum": 5}}}, version=3)
    with pytest.raises(TemplateRuleError, match=r"^/replicas: at most 5 \(template web-app v3\)$"):
        upgrade(v1, v3, mine)


def test_an_upgrade_never_loses_or_shrinks_a_volume() -> None:
    v1 = template({})
    gone = template({}, version=2, volumes={})
    with pytest.raises(TemplateError, match=r"^/volumes/cache: an upgrade never removes a volume"):
        upgrade(v1, gone, v1.spec)
    smaller = template({}, version=2, volumes={"cache": {"mount_path": "/cache", "size": "1Gi"}})
    with pytest.raises(TemplateError, match=r"^/volumes/cache/size: an upgrade never shrinks a volume"):
        upgrade(v1, smaller, v1.spec)
    bigger = template({}, version=2, volumes={"cache": {"mount_path": "/cache", "size": "8Gi"}})
    assert upgrade(v1, bigger, v1.spec).volumes[0].size == "8Gi"


def test_an_upgrade_judges_the_user_s_changes_not_the_template_s() -> None:
    v1 = template({})
    v2 = template({}, version=2, replicas=4)
    assert upgrade(v1, v2, v1.spec).replicas == 4, "the new default is not a user change"
    customised = attrs.evolve(v1.spec, replicas=3)
    with pytest.raises(TemplateRuleError, match=r"^/replicas"):
        upgrade(v1, v2, customised)
