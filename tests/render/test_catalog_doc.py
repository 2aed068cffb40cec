"""docs/kubernetes-objects.md stays in step with the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starform_core.kube import labels as kl
from starform_core.kube.ordering import APPLY_RANK
from starform_core.model.enums import Tier
from starform_core.payload.example import example_payload
from starform_core.render import render
from starform_core.render.network import PRIVATE_IPV4_RANGES, PRIVATE_IPV6_RANGES
from starform_core.render.tiers import TIER_LIMITS

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "kubernetes-objects.md").read_text()


def _constants() -> list[str]:
    values: list[str] = []
    for name in kl.__all__:
        value = getattr(kl, name)
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, tuple):
            values.extend(value)
    return values


def test_every_catalog_constant_is_documented() -> None:
    missing = [value for value in _constants() if f"`{value}" not in PAGE]
    assert missing == []


def _keys(obj: Any, found: set[str]) -> None:
    if isinstance(obj, dict):
        for key in ("labels", "annotations"):
            if isinstance(obj.get(key), dict):
                found.update(obj[key])
        for value in obj.values():
            _keys(value, found)
    elif isinstance(obj, list):
        for value in obj:
            _keys(value, found)


def test_every_key_on_rendered_objects_is_documented() -> None:
    rendering = render(example_payload())
    found: set[str] = set()
    for obj in rendering.objects + rendering.partials:
        _keys(dict(obj)["metadata"], found)
        _keys(dict(obj).get("spec", {}), found)
    documented = {
        key
        for key in found
        if f"`{key}`" in PAGE
        or (
            key.startswith(kl.ANNOTATION_VAR_GROUP_CHECKSUM_PREFIX)
            and f"`{kl.ANNOTATION_VAR_GROUP_CHECKSUM_PREFIX}<var_group_id>`" in PAGE
        )
    }
    assert sorted(found - documented) == []
    assert len(found) > 15  # the walk did find the keys


def test_every_rendered_kind_is_catalogued_with_its_apply_rank() -> None:
    kinds = {o["kind"] for o in render(example_payload()).objects}
    for kind in kinds:
        assert re.search(rf"^\| {kind} \|", PAGE, re.MULTILINE), kind
        assert kind in APPLY_RANK


def test_tier_table_matches_the_code() -> None:
    for tier in Tier:
        limits = TIER_LIMITS[tier]
        row = (
            f"| `{tier.value}` | {limits.requests_cpu} | {limits.requests_memory} | {limits.pods} "
            f"| {limits.persistent_volume_claims} | {limits.requests_storage} "
            f"| {limits.container_max_cpu} | {limits.container_max_memory} "
            f"| {limits.container_default_request_cpu} "
            f"| {limits.container_default_request_memory} | {limits.claim_max_storage} |"
        )
        assert row in PAGE, tier


def test_network_policy_ranges_are_documented() -> None:
    for cidr in (*PRIVATE_IPV4_RANGES, *PRIVATE_IPV6_RANGES):
        assert f"`{cidr}`" in PAGE
