"""What Starbase believes of an agent's report, and how a cluster's epoch moves on.

Every store implementation calls these (the rules live in the core, not in SQL):

* a report made in another epoch than the cluster's is refused (``epoch-ahead``: the agent has
  seen a newer history, Starbase's database was restored; ``epoch-behind``: the agent has not
  pulled the new epoch yet);
* a report of a generation above the desired one is refused (``generation-ahead``);
* a new epoch is above the current one, above any epoch an agent ever reported, and (as Unix
  milliseconds) not before now, so it also exceeds epochs a restored database no longer knows.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = ["AgentState", "RefusalReason", "ReportRefusal", "judge_report", "next_epoch"]


class RefusalReason(enum.StrEnum):
    """Why Starbase refused an agent's status report."""

    EPOCH_AHEAD = "epoch-ahead"
    EPOCH_BEHIND = "epoch-behind"
    GENERATION_AHEAD = "generation-ahead"


@attrs.frozen
class ReportRefusal:
    """A refused report: the machine-readable reason and a sentence for people."""

    reason: RefusalReason
    detail: str


def judge_report(
    *,
    cluster_epoch: int,
    desired_generation: int,
    epoch: int | None,
    applied_generation: int,
    attempted_generation: int | None,
) -> ReportRefusal | None:
    """``None`` when Starbase can believe the report; else why not.

    ``epoch`` ``None`` is an agent from before epochs: only its generations are checked.
    """
    if epoch is not None and epoch > cluster_epoch:
        return ReportRefusal(
            RefusalReason.EPOCH_AHEAD,
            f"the agent reports epoch {epoch}, newer than the cluster's epoch {cluster_epoch}: "
            "was Starbase's database restored? Start a new epoch (starbase cluster new-epoch)",
        )
    if epoch is not None and epoch < cluster_epoch:
        return ReportRefusal(
            RefusalReason.EPOCH_BEHIND,
            f"the report was made in epoch {epoch}; the cluster is in epoch {cluster_epoch}",
        )
    for name, value in (("applied", applied_generation), ("attempted", attempted_generation)):
        if value is not None and value > desired_generation:
            return ReportRefusal(
                RefusalReason.GENERATION_AHEAD,
                f"{name} generation {value} is ahead of the desired generation {desired_generation}",
            )
    return None


def next_epoch(*, current: int, highest_reported: int, now_millis: int) -> int:
    """The epoch a cluster moves to: above ``current`` and every reported epoch, and not before now."""
    return max(current + 1, highest_reported + 1, now_millis)


@attrs.frozen(kw_only=True)
class AgentState:
    """What a cluster's agent last said and how often Starbase refused it (the cluster view).

    ``attempt`` is the wire form of the last apply attempt (outcome, counts per state, kind and
    reason, examples of objects not applied).
    """

    epoch: int
    agent: str = ""
    reported_epoch: int | None = None
    attempted_generation: int | None = None
    outcome: str | None = None
    attempt: Mapping[str, Any] = attrs.field(factory=dict)
    reported_at: datetime | None = None
    refused_reports: int = 0
    last_refused_at: datetime | None = None
    last_refused_reason: str | None = None
