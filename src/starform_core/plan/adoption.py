"""Drift under the ``adopt`` policy: which out-of-band values wait for Starbase's decision.

A drifted field waits (is reported for adoption, and kept live) when adoption covers it
(:mod:`starform_core.adopt`), its live value is a plain integer or string, someone other than
Shuttle wrote it, and Starbase has not rejected exactly that value (``drift.revert``). Every
other drifted field is reverted. Shuttle reverts by applying the whole object, so the apply
body carries the waiting fields' live values (:func:`pin_waiting`): reverting one field never
reverts another that is still waiting.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from starform_core.adopt.fields import is_adoptable
from starform_core.model.workload import DriftPolicy, RevertField
from starform_core.plan.fields import to_pointer
from starform_core.plan.managed import Attribution
from starform_core.plan.normalize import MISSING, Mismatch

__all__ = ["pin_waiting", "split_adoptable"]


def _show(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _waits(
    kind: str, mismatch: Mismatch, policy: DriftPolicy, attribution: Attribution, manager: str
) -> bool:
    pointer = to_pointer(mismatch.desired_path)
    if not is_adoptable(kind, pointer) or mismatch.live_path != mismatch.desired_path:
        return False
    value = mismatch.live
    if value is MISSING or isinstance(value, bool) or not isinstance(value, int | str):
        return False
    writer = attribution.owner(mismatch.live_path)
    if writer is None or writer.manager == manager:
        return False
    return RevertField(f"{kind}:{pointer}", _show(value)) not in policy.revert


def split_adoptable(
    kind: str,
    mismatches: Iterable[Mismatch],
    policy: DriftPolicy,
    attribution: Attribution,
    *,
    field_manager: str,
) -> tuple[list[Mismatch], list[Mismatch]]:
    """``(waiting, to_revert)``: the drifted fields kept for adoption, and the others."""
    waiting: list[Mismatch] = []
    revert: list[Mismatch] = []
    for mismatch in mismatches:
        (waiting if _waits(kind, mismatch, policy, attribution, field_manager) else revert).append(mismatch)
    return waiting, revert


def pin_waiting(body: dict[str, Any], waiting: Iterable[Mismatch]) -> dict[str, Any]:
    """A copy of the apply ``body`` holding the waiting fields' live values (``body`` if none)."""
    waiting = list(waiting)
    if not waiting:
        return body
    pinned = copy.deepcopy(body)
    for mismatch in waiting:
        node: Any = pinned
        *parents, last = mismatch.desired_path
        for segment in parents:
            node = node[segment]
        node[last] = mismatch.live
    return pinned
