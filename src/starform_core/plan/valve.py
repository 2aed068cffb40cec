"""The prune safety valve: a plan that would delete too much of what Shuttle owns is held.

Deletions are held when they exceed ``max_delete_percent`` of the owned objects *and*
``max_delete_count`` objects (both, so small clusters can still be emptied on purpose), unless
the payload sets ``release_held``. When Starbase is unreachable nothing new is pruned at all.
"""

from __future__ import annotations

from starform_core.model.cluster import PrunePolicy
from starform_core.plan.actions import PruneReport, Reason

__all__ = ["judge_prune"]


def judge_prune(*, owned: int, would_delete: int, policy: PrunePolicy, allow_prune: bool) -> PruneReport:
    """Decide whether ``would_delete`` deletions out of ``owned`` objects may go ahead."""
    if would_delete and not allow_prune:
        return PruneReport(owned, would_delete, held=True, reason=Reason.STARBASE_UNREACHABLE)
    too_many = (
        would_delete * 100 > policy.max_delete_percent * owned and would_delete > policy.max_delete_count
    )
    if too_many and not policy.release_held:
        return PruneReport(owned, would_delete, held=True, reason=Reason.MASS_DELETION)
    return PruneReport(owned, would_delete)
