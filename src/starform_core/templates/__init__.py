"""Templates: versioned service blueprints with the changes a user may make (seed 004).

A :class:`Template` is a name, a version, a :class:`ServiceSpec` (the base) and its allowed
mutations, a JSON Schema over the user's changes (:mod:`~starform_core.templates.rules` is the
rule language). :func:`instantiate` applies changes within the rules, :func:`judge_change` says
whether an arbitrary spec change is inside them (for Adopt), :func:`upgrade` moves a service to a
newer version keeping its customisations. Everything here is pure.
"""

from starform_core.templates.instantiate import (
    CHANGES_MAX_BYTES,
    ChangeVerdict,
    effective_changes,
    instantiate,
    judge_change,
    upgrade,
)
from starform_core.templates.merge import changed_pointers, merge_diff, merge_patch
from starform_core.templates.rows import SpecRows, spec_of_rows, spec_rows
from starform_core.templates.rules import QUANTITY_KEYWORDS, RULES_DIALECT, check_rules
from starform_core.templates.schema_errors import Problem
from starform_core.templates.spec import ServiceSpec, VarKey, spec_from_json, spec_to_json
from starform_core.templates.spec_schema import CHANGES_SCHEMA, FIXED_FIELDS, SPEC_SCHEMA
from starform_core.templates.template import (
    Template,
    TemplateRef,
    template_from_json,
    template_to_json,
)

__all__ = [
    "CHANGES_MAX_BYTES",
    "CHANGES_SCHEMA",
    "FIXED_FIELDS",
    "QUANTITY_KEYWORDS",
    "RULES_DIALECT",
    "SPEC_SCHEMA",
    "ChangeVerdict",
    "Problem",
    "ServiceSpec",
    "SpecRows",
    "Template",
    "TemplateRef",
    "VarKey",
    "changed_pointers",
    "check_rules",
    "effective_changes",
    "instantiate",
    "judge_change",
    "merge_diff",
    "merge_patch",
    "spec_from_json",
    "spec_of_rows",
    "spec_rows",
    "spec_to_json",
    "template_from_json",
    "template_to_json",
    "upgrade",
]
