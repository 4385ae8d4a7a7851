"""Reasons: why a household is uncovered, or why its contact changed.

Reason codes (the ``reason`` column of assignments.csv):

Uncovered
    ``no_member_in_branch``  no available member with capacity in its branch
    ``out_of_reach``         no available member of its branch within reach
    ``unreachable_on_network`` no available member of its branch has any path
                             to it on the walking network (another component,
                             or one-way edges the wrong way): no reach helps
    ``group_too_large``      its stairwell unit is larger than the capacity of every
                             member who reaches all of it (never while members may
                             take one unit over capacity)
    ``no_member_for_group``  no single member can reach every household of its unit
    ``capacity_exhausted``   members within reach are full with households of
                             equal or higher priority
    ``hour_budget_exhausted`` members within reach have room in count but not
                             in weekly hours

Changed (contact differs from ``current_member_id``; see :func:`changed_mask`)
    ``new_household``        it had no current member
    ``member_unavailable``   the current member does not exist or is unavailable
    ``out_of_reach``         the current member may no longer serve it
                             (another branch, or beyond reach after a move)
    ``over_capacity``        the current member has more households than capacity
    ``coverage``             moved to make room so more households are covered
    ``balance``              moved to even out loads (balanced objective)
    ``travel``               moved to a nearer member (distance objective)

Unchanged
    ``pin_kept``             pinned, and the pin held

An uncovered household that had a current member is changed too (it lost
its contact); its reason says why it is uncovered.

A pin that could not hold adds ``; pin broken: <why>`` to the reason.
"""

from __future__ import annotations

import numpy as np

from ..model.changes import changed_mask
from ..model.compile import (
    CURRENT_ELIGIBLE,
    CURRENT_NONE,
    CURRENT_OTHER_BRANCH,
    CURRENT_OUT_OF_REACH,
    BranchProblem,
)

PIN_REASONS = {
    "pin_without_member": "no current member to keep",
    "member_unknown": "member does not exist",
    "member_other_branch": "member belongs to another branch",
    "member_unavailable": "member unavailable",
    "out_of_reach": "member out of reach",
    "over_capacity": "more pins than the member's capacity",
    "over_hour_budget": "pins exceed the member's weekly hours",
    "group_pinned_elsewhere": "its unit is pinned to another member",
}

_OBJECTIVE_REASON = {"balanced": "balance", "distance": "travel", "min-churn": "coverage"}


def branch_reasons(branch: BranchProblem, member_of: np.ndarray, objective: str) -> tuple[np.ndarray, np.ndarray]:
    """Per household of the branch: ``changed`` (bool, :func:`changed_mask`) and the reason code (str)."""
    problem = branch.problem
    H = problem.num_households
    reasons = np.full(H, "", dtype=object)
    covered = member_of >= 0
    state = branch.current_state
    given = state != CURRENT_NONE
    current = problem.household_current
    # Index stand-ins for the ids: a current member outside the branch's
    # members (unknown, or of another branch) is a token no member matches.
    current_token = np.where(given, np.where(current >= 0, current.astype(str), "-"), "")
    changed = changed_mask(current_token, np.where(covered, member_of.astype(str), ""))

    has_active = bool((problem.member_capacity > 0).any())
    has_arc = np.diff(problem.household_arc_ptr) > 0
    max_capacity = int(problem.member_capacity.max()) if problem.num_members else 0
    # Loads once, not per uncovered household: a 100k-household branch would be quadratic.
    loads = np.bincount(member_of[covered], minlength=problem.num_members)
    for h in np.flatnonzero(~covered):
        if not has_active:
            reasons[h] = "no_member_in_branch"
        elif branch.reachable_members[h] == 0:
            no_path = branch.household_connected is not None and not branch.household_connected[h]
            reasons[h] = "unreachable_on_network" if no_path else "out_of_reach"
        elif problem.household_group[h] >= 0 and not has_arc[h]:
            too_large = branch.group_size[h] > max_capacity and not problem.one_unit_over_capacity
            reasons[h] = "group_too_large" if too_large else "no_member_for_group"
        elif (
            problem.household_group[h] >= 0
            and not problem.unit_fits(problem.arc_member[problem.arcs_of(int(h))], int(branch.group_size[h])).any()
        ):
            # Members reach the whole unit, but it is larger than each one's capacity.
            reasons[h] = "group_too_large"
        elif problem.has_budgets and _room_in_count(problem, int(h), loads):
            reasons[h] = "hour_budget_exhausted"
        else:
            reasons[h] = "capacity_exhausted"

    # Whether today's loads keep the capacity rule (one whole unit over capacity may be allowed).
    current_ok = problem.load_allowed(current)
    for h in np.flatnonzero(covered):
        if not given[h]:
            reasons[h] = "new_household"
        elif not changed[h]:
            if problem.household_pin[h] >= 0:
                reasons[h] = "pin_kept"
        elif state[h] in (CURRENT_OTHER_BRANCH, CURRENT_OUT_OF_REACH):
            reasons[h] = "out_of_reach"
        elif state[h] != CURRENT_ELIGIBLE:
            reasons[h] = "member_unavailable"
        elif not current_ok[current[h]]:
            reasons[h] = "over_capacity"
        else:
            reasons[h] = _OBJECTIVE_REASON.get(problem.objective, "coverage")
    return changed, reasons


def _room_in_count(problem, h: int, loads: np.ndarray) -> bool:
    """Whether some member with an arc to ``h`` still has room in household count (``loads``: per member)."""
    members = problem.arc_member[problem.arcs_of(h)]
    return bool((loads[members] < problem.member_capacity[members]).any())
