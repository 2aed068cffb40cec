"""Planning: desired objects + live objects → an ordered plan of actions (see docs/planning.md)."""

from starform_core.plan.actions import (
    Action,
    ActionKind,
    Conflict,
    Create,
    Delete,
    DriftDetected,
    FieldChange,
    Held,
    Plan,
    PruneReport,
    Reason,
    RemoveFields,
    Update,
)
from starform_core.plan.apply_body import build_apply_body
from starform_core.plan.fields import FieldRule, parse_rule
from starform_core.plan.hashing import desired_hash
from starform_core.plan.incremental import IncrementalPlanner, IncrementalStep
from starform_core.plan.options import PlanOptions
from starform_core.plan.ownership import CONTROLLER_MANAGERS, is_owned
from starform_core.plan.planner import plan

__all__ = [
    "CONTROLLER_MANAGERS",
    "Action",
    "ActionKind",
    "Conflict",
    "Create",
    "Delete",
    "DriftDetected",
    "FieldChange",
    "FieldRule",
    "Held",
    "IncrementalPlanner",
    "IncrementalStep",
    "Plan",
    "PlanOptions",
    "PruneReport",
    "Reason",
    "RemoveFields",
    "Update",
    "build_apply_body",
    "desired_hash",
    "is_owned",
    "parse_rule",
    "plan",
]
