"""What an agent reports about an apply: results per action, the honest outcome, its counts.

A generation is *applied* only when every action of its plan succeeded and nothing was held;
:func:`assess_apply` says which of ``applied``, ``held``, ``partial`` or ``failed`` a plan and
the results of its actions amount to, with counts per state, kind and reason.
:func:`judge_payload` orders payloads by ``(epoch, generation)`` (the agent refuses to go
backwards); :func:`judge_report` and :func:`next_epoch` are Starbase's side: which reports it believes, and
how a cluster's epoch moves on after a restore.
"""

from starform_core.reporting.agent import (
    AgentState,
    RefusalReason,
    ReportRefusal,
    judge_report,
    next_epoch,
)
from starform_core.reporting.ordering import PayloadVerdict, Version, judge_payload
from starform_core.reporting.outcome import (
    ActionRecord,
    ActionResult,
    ApplyOutcome,
    ApplyReport,
    NotApplied,
    ObjectState,
    assess_apply,
)

__all__ = [
    "ActionRecord",
    "ActionResult",
    "AgentState",
    "ApplyOutcome",
    "ApplyReport",
    "NotApplied",
    "ObjectState",
    "PayloadVerdict",
    "RefusalReason",
    "ReportRefusal",
    "Version",
    "assess_apply",
    "judge_payload",
    "judge_report",
    "next_epoch",
]
