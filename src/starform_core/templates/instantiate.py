"""Apply a user's changes to a template within its rules, judge a spec change, upgrade a service.

Three entry points, all pure:

* :func:`instantiate` ``(template, changes) -> ServiceSpec``: the service a user asks for. The
  changes are a merge patch over the template's spec; what equals the spec is dropped (also a
  quantity written another way, ``"2000m"`` for ``"2"``), the rest must satisfy the template's
  allowed mutations, and the result must be a valid spec. Raises :class:`TemplateRuleError`
  (the pointer, the rule, the template) or :class:`TemplateError` (a malformed change or a spec
  the service model refuses). ``instantiate(t, {}) == t.spec``.
* :func:`judge_change` ``(template, before, after) -> ChangeVerdict``: is an arbitrary change of
  a service's spec inside the template's rules? This is what the Adopt flow asks before adopting
  an out-of-band edit automatically. Only the fields that differ between ``before`` and
  ``after`` are judged (a service already outside the rules elsewhere is not held against the
  change); a field set back to the template's own value is always inside; ``type`` and
  ``var_keys`` never change. The verdict lists every changed field and every rule broken.
* :func:`upgrade` ``(current_template, new_template, spec) -> ServiceSpec``: the service on a
  newer version. The user's customisations (the merge diff from the current version's spec to
  the service's spec) are applied to the new version's spec and judged by the new version's
  rules; a volume is never removed, shrunk or given another access mode by an upgrade.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, Final

import attrs
import jsonschema

from starform_core.errors import TemplateError, TemplateRuleError
from starform_core.quantity import parse_quantity, quantities_equal
from starform_core.templates.merge import changed_pointers, merge_diff, merge_patch
from starform_core.templates.schema_errors import Problem, first_error_of, problems_of
from starform_core.templates.spec import ServiceSpec, check_no_floats, spec_from_json, spec_to_json
from starform_core.templates.spec_schema import CHANGES_SCHEMA, FIXED_FIELDS
from starform_core.templates.template import Template

__all__ = [
    "CHANGES_MAX_BYTES",
    "ChangeVerdict",
    "effective_changes",
    "instantiate",
    "judge_change",
    "upgrade",
]

CHANGES_MAX_BYTES: Final = 64 * 1024
"""The largest change document (as compact JSON)."""

_FIXED_REASON: Final = "is fixed by the template"


@attrs.frozen
class ChangeVerdict:
    """Whether a spec change is inside a template's rules.

    ``changed`` lists the JSON pointer of every field that differs; ``problems`` every rule the
    change breaks (empty: inside the rules).
    """

    template: str
    version: int
    changed: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def within_rules(self) -> bool:
        """True when the change breaks no rule (an empty change is within the rules)."""
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise the first problem as a :class:`TemplateRuleError` (nothing when within the rules)."""
        if self.problems:
            first = self.problems[0]
            raise TemplateRuleError(
                first.pointer, first.reason, rule=first.rule, template=self.template, version=self.version
            )


@functools.cache
def _structure_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(CHANGES_SCHEMA)


def _check_document(changes: Any) -> None:
    if not isinstance(changes, dict):
        raise TemplateError("", "changes must be a JSON object (a merge patch over the template's spec)")
    if len(json.dumps(changes, separators=(",", ":"), default=str)) > CHANGES_MAX_BYTES:
        raise TemplateError("", f"changes must be at most {CHANGES_MAX_BYTES // 1024} KiB of JSON")
    for name in FIXED_FIELDS:
        if name in changes:
            raise TemplateError(f"/{name}", _FIXED_REASON)
    error = first_error_of(_structure_validator(), changes)
    if error is not None:
        raise error
    check_no_floats(changes)


def _same_amounts(base: Mapping[str, Any], merged: dict[str, Any]) -> dict[str, Any]:
    """``merged`` with every quantity that equals the base's amount written as the base writes it."""
    out = dict(merged)
    base_resources, resources = base.get("resources", {}), dict(out.get("resources", {}))
    for key, value in resources.items():
        if key in base_resources and quantities_equal(base_resources[key], value):
            resources[key] = base_resources[key]
    out["resources"] = resources
    base_volumes, volumes = base.get("volumes", {}), {}
    for name, volume in out.get("volumes", {}).items():
        old = base_volumes.get(name)
        size = volume.get("size") if isinstance(volume, dict) else None
        if isinstance(old, dict) and size is not None and quantities_equal(old.get("size", ""), size):
            volume = {**volume, "size": old["size"]}
        volumes[name] = volume
    if "volumes" in out:
        out["volumes"] = volumes
    return out


def effective_changes(template: Template, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes that actually change the template's spec (a merge patch; ``{}``: none)."""
    _check_document(changes)
    base = template.base
    return merge_diff(base, _same_amounts(base, merge_patch(base, changes)))


def _judge(template: Template, patch: Mapping[str, Any]) -> tuple[Problem, ...]:
    return tuple(problems_of(template.validator(), patch))


def _raise_first(template: Template, problems: tuple[Problem, ...]) -> None:
    verdict = ChangeVerdict(template.name, template.version, (), problems)
    verdict.raise_for_problems()


def instantiate(template: Template, changes: Mapping[str, Any]) -> ServiceSpec:
    """The spec of a service made from ``template`` with the user's ``changes`` (see the module)."""
    effective = effective_changes(template, changes)
    if not effective:
        return template.spec
    _raise_first(template, _judge(template, effective))
    return spec_from_json(merge_patch(template.base, effective))


def _back_to_base(patch: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """``patch`` without the fields it sets back to the template's own value."""
    kept: dict[str, Any] = {}
    for key, value in patch.items():
        old = base.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            inner = _back_to_base(value, old)
            if inner:
                kept[key] = inner
        elif not (value == old or (value is None and key not in base)):
            kept[key] = value
    return kept


def judge_change(template: Template, before: ServiceSpec, after: ServiceSpec) -> ChangeVerdict:
    """Whether changing a service from ``before`` to ``after`` stays inside ``template``'s rules."""
    old, new = spec_to_json(before), spec_to_json(after)
    patch = merge_diff(old, _same_amounts(old, new))
    changed = tuple(changed_pointers(patch))
    fixed = [Problem(f"/{name}", "fixed", _FIXED_REASON) for name in FIXED_FIELDS if name in patch]
    judged = {k: v for k, v in _back_to_base(patch, template.base).items() if k not in FIXED_FIELDS}
    problems = tuple(sorted({*fixed, *_judge(template, judged)}))
    return ChangeVerdict(template.name, template.version, changed, problems)


def _check_volumes_kept(before: ServiceSpec, after: ServiceSpec) -> None:
    kept = {volume.name: volume for volume in after.volumes}
    for volume in before.volumes:
        now = kept.get(volume.name)
        pointer = f"/volumes/{volume.name}"
        if now is None:
            raise TemplateError(pointer, "an upgrade never removes a volume (its data would be lost)")
        if now.access_mode is not volume.access_mode:
            raise TemplateError(pointer + "/access_mode", "an upgrade never changes a volume's access mode")
        if not quantities_equal(now.size, volume.size) and _smaller(now.size, volume.size):
            raise TemplateError(pointer + "/size", "an upgrade never shrinks a volume")


def _smaller(left: str, right: str) -> bool:
    return parse_quantity(left) < parse_quantity(right)


def upgrade(current: Template, target: Template, spec: ServiceSpec) -> ServiceSpec:
    """``spec`` (made from ``current``) moved onto ``target``, keeping the user's customisations."""
    if target.name != current.name:
        raise TemplateError("/template/name", "an upgrade stays on the same template")
    if spec.type is not current.spec.type or target.spec.type is not current.spec.type:
        raise TemplateError("/type", "an upgrade never changes the service type")
    theirs = spec_to_json(spec)
    customised = merge_diff(current.base, _same_amounts(current.base, theirs))
    changes = {key: value for key, value in customised.items() if key not in FIXED_FIELDS}
    upgraded = instantiate(target, changes)
    _check_volumes_kept(spec, upgraded)
    return upgraded
