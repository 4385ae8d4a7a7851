"""The compiled numeric problem every engine solves.

A :class:`Problem` holds only integer indices and numpy arrays: households
``0..H-1``, members ``0..M-1`` and the sparse eligible *arcs* between them
(a household may be served by a member only through an arc). Engines see a
Problem and return a :class:`~baohu_assign.solution.Solution`; they never see
ids, frames or files. :func:`compile_branch` (in ``compile.py``) builds it.

Costs are int64 in one unit: decimetre-visits per week (a household visited
``v`` times a week at ``d`` metres costs ``round(10 * v * d)``). Every cost
formula lives in :mod:`baohu_assign.costs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import costs

OBJECTIVES: tuple[str, ...] = ("balanced", "distance", "min-churn")

TIER_NORMAL, TIER_ELEVATED, TIER_CRITICAL = 0, 1, 2
NUM_TIERS = 3


@dataclass(frozen=True, slots=True, eq=False)
class Problem:
    """One assignment problem in dense integer form.

    Attributes
    ----------
    objective
        The objective the costs encode.
    household_tier
        int8[H]: 0 normal, 1 elevated, 2 critical.
    household_visits
        float64[H]: visits per week.
    household_group
        int32[H]: stairwell unit index ``0..G-1`` or -1. A group goes whole to
        one member; the compiler keeps, for each household of a group, only
        the arcs of members eligible for the whole group.
    household_pin
        int32[H]: the member a household must keep, or -1. The compiler
        leaves a pinned household exactly one arc (to that member) and keeps
        pins within capacity, so every engine can always honour them.
    household_current
        int32[H]: today's member or -1 (used by churn and explanations).
    member_capacity
        int32[M]: most households a member takes (0 when unavailable).
    arc_household, arc_member
        int32[A]: the eligible pairs, sorted by household then member.
    arc_distance_m
        float64[A]: distance of each pair in metres.
    arc_cost
        int64[A]: secondary cost of using the arc: weekly travel in
        decimetre-visits, plus ``churn_penalty`` when using it changes the
        household's contact (:func:`~baohu_assign.costs.churned`;
        min-churn objective only).
    household_arc_ptr
        int64[H+1]: CSR pointer, the arcs of household ``h`` are
        ``household_arc_ptr[h]:household_arc_ptr[h+1]``.
    balance_scale
        Weight of the convex balance term; 0 disables it. A member carrying
        ``k`` households pays ``Σ_{j=1..k} round(balance_scale*(2j-1)/capacity)``,
        the integer form of ``balance_scale * k² / capacity``.
    tier_penalty
        int64[3]: cost of leaving one household of each tier uncovered. Chosen
        by :func:`~baohu_assign.objective.tier_penalties` so that coverage can
        never be traded for any secondary cost (see docs/model.md).
    churn_penalty
        int: cost added to arcs that change a household's current member
        (0 unless the objective is min-churn).
    arc_weight, member_budget
        Optional int64[A] and int64[M]: a second, member-dependent resource
        (weekly minutes of visiting and walking; GAP weights). A member's
        arcs in use may weigh at most its budget. ``None``: no such limit.
    household_backup
        Optional bool[H]: households that should also get a backup member
        (never the primary, through an eligible arc, only when covered).
    member_backup_capacity
        Optional int32[M]: most backups a member takes.
    backup_penalty
        Cost of a covered household that needs a backup and has none. Larger
        than any secondary cost change, smaller than any primary coverage
        change (see :func:`~baohu_assign.objective.tier_penalties`).
    one_unit_over_capacity
        Whether a member may take one whole stairwell unit larger than its
        capacity, and then nothing else (see :meth:`load_allowed`). Its
        balance term then follows the same formula for ``k`` > capacity.
    """

    objective: str
    household_tier: np.ndarray
    household_visits: np.ndarray
    household_group: np.ndarray
    household_pin: np.ndarray
    household_current: np.ndarray
    member_capacity: np.ndarray
    arc_household: np.ndarray
    arc_member: np.ndarray
    arc_distance_m: np.ndarray
    arc_cost: np.ndarray
    household_arc_ptr: np.ndarray
    balance_scale: float
    tier_penalty: np.ndarray
    churn_penalty: int
    arc_weight: np.ndarray | None = None
    member_budget: np.ndarray | None = None
    household_backup: np.ndarray | None = None
    member_backup_capacity: np.ndarray | None = None
    backup_penalty: int = 0
    one_unit_over_capacity: bool = False

    @property
    def num_households(self) -> int:
        return int(self.household_tier.shape[0])

    @property
    def num_members(self) -> int:
        return int(self.member_capacity.shape[0])

    @property
    def num_arcs(self) -> int:
        return int(self.arc_household.shape[0])

    @property
    def num_groups(self) -> int:
        return int(self.household_group.max()) + 1 if self.num_households else 0

    @property
    def has_budgets(self) -> bool:
        return self.arc_weight is not None and self.member_budget is not None

    @property
    def has_backups(self) -> bool:
        return self.household_backup is not None and bool(self.household_backup.any())

    @property
    def has_groups(self) -> bool:
        return bool(self.num_households and (self.household_group >= 0).any())

    def arcs_of(self, household: int) -> slice:
        """Slice of the arc arrays that belong to ``household``."""
        return slice(int(self.household_arc_ptr[household]), int(self.household_arc_ptr[household + 1]))

    def arc_index(self, household: int, member: int) -> int:
        """Index of the arc (household, member), or -1 when not eligible."""
        sl = self.arcs_of(household)
        members = self.arc_member[sl]
        pos = int(np.searchsorted(members, member))
        if pos < members.shape[0] and members[pos] == member:
            return sl.start + pos
        return -1

    def uncovered_cost(self) -> np.ndarray:
        """int64[H]: cost of leaving each household uncovered (:func:`~baohu_assign.costs.uncovered_cost`).

        The tier penalty, plus the churn penalty when the household has a
        current member (losing the contact is a change too).
        """
        return costs.uncovered_cost(self.household_tier, self.household_current, self.tier_penalty, self.churn_penalty)

    def arc_indices(self, households: np.ndarray, members: np.ndarray) -> np.ndarray:
        """int64: arc index of each (household, member) pair, -1 where not eligible."""
        households = np.asarray(households, dtype=np.int64)
        members = np.asarray(members, dtype=np.int64)
        width = self.num_members + 1
        keys = self.arc_household.astype(np.int64) * width + self.arc_member
        query = households * width + members
        pos = np.searchsorted(keys, query)
        pos_clipped = np.minimum(pos, max(keys.shape[0] - 1, 0))
        found = (pos < keys.shape[0]) & (keys[pos_clipped] == query) if keys.shape[0] else np.zeros(query.shape, bool)
        return np.where(found & (members >= 0), pos_clipped, -1).astype(np.int64)

    def balance_step_costs(self, member: int, count: int | None = None) -> np.ndarray:
        """int64[count]: cost of the k-th household (k = 1..count) of a member.

        The steps are those of :func:`~baohu_assign.costs.balance_steps`.

        ``count`` defaults to the capacity; beyond it (a member carrying one
        unit over capacity) the steps follow the same formula.
        """
        cap = max(int(self.member_capacity[member]), 0)
        count = cap if count is None else max(int(count), 0)
        return costs.balance_steps(self.balance_scale, np.full(count, cap), np.arange(1, count + 1))

    def unit_fits(self, members: np.ndarray, size: int | np.ndarray) -> np.ndarray:
        """bool: whether each of ``members`` may carry a whole unit of ``size`` households, alone.

        Within capacity, or, with ``one_unit_over_capacity``, any size for a
        member with capacity > 0 (then the unit is all it carries).
        """
        cap = self.member_capacity[np.asarray(members, dtype=np.int64)].astype(np.int64)
        fits = np.asarray(size, dtype=np.int64) <= cap
        if self.one_unit_over_capacity:
            fits = fits | (cap > 0)
        return fits

    def member_load_limit(self) -> np.ndarray:
        """int64[M]: most households each member may carry under the rules.

        The capacity; with ``one_unit_over_capacity``, the largest unit a
        member has arcs to when that is larger.
        """
        limit = np.maximum(self.member_capacity.astype(np.int64), 0)
        if not self.one_unit_over_capacity or not self.has_groups or self.num_arcs == 0:
            return limit
        group = self.household_group.astype(np.int64)
        sizes = np.bincount(group[group >= 0])
        arc_group = group[self.arc_household]
        grouped = arc_group >= 0
        members = self.arc_member[grouped].astype(np.int64)
        ok = limit[members] > 0
        np.maximum.at(limit, members[ok], sizes[arc_group[grouped]][ok])
        return limit

    def load_allowed(self, member_of: np.ndarray) -> np.ndarray:
        """bool[M]: whether each member's load in ``member_of`` keeps the capacity rule.

        The rule: load ≤ capacity, or (with ``one_unit_over_capacity``)
        exactly one whole stairwell unit larger than the capacity and
        nothing else.
        """
        member_of = np.asarray(member_of, dtype=np.int64)
        covered = member_of >= 0
        loads = np.bincount(member_of[covered], minlength=self.num_members)
        ok = loads <= self.member_capacity
        if self.one_unit_over_capacity and not ok.all():
            # Over capacity: every household of the member in one group, and all of that group.
            M = self.num_members
            group = self.household_group.astype(np.int64)
            rows = np.flatnonzero(covered)
            members, groups = member_of[rows], group[rows]
            low = np.full(M, np.iinfo(np.int64).max, dtype=np.int64)
            high = np.full(M, -2, dtype=np.int64)
            np.minimum.at(low, members, groups)
            np.maximum.at(high, members, groups)
            sizes = np.bincount(group[group >= 0], minlength=1)
            one_group = (low == high) & (low >= 0)
            whole = one_group & (sizes[np.where(one_group, low, 0)] == loads)
            ok |= whole & (self.member_capacity > 0)
        return ok

    def validate(self) -> None:
        """Raise ``ValueError`` when arrays disagree in shape, dtype or order."""
        H, M, A = self.num_households, self.num_members, self.num_arcs
        checks = [
            (self.household_tier.shape == (H,), "household_tier"),
            (self.household_visits.shape == (H,), "household_visits"),
            (self.household_group.shape == (H,), "household_group"),
            (self.household_pin.shape == (H,), "household_pin"),
            (self.household_current.shape == (H,), "household_current"),
            (self.arc_member.shape == (A,), "arc_member"),
            (self.arc_distance_m.shape == (A,), "arc_distance_m"),
            (self.arc_cost.shape == (A,), "arc_cost"),
            (self.household_arc_ptr.shape == (H + 1,), "household_arc_ptr"),
            (self.tier_penalty.shape == (NUM_TIERS,), "tier_penalty"),
        ]
        if self.arc_weight is not None:
            checks.append((self.arc_weight.shape == (A,), "arc_weight"))
        if self.member_budget is not None:
            checks.append((self.member_budget.shape == (M,), "member_budget"))
        if self.household_backup is not None:
            checks.append((self.household_backup.shape == (H,), "household_backup"))
            checks.append(
                (
                    self.member_backup_capacity is not None and self.member_backup_capacity.shape == (M,),
                    "member_backup_capacity",
                )
            )
        for ok, name in checks:
            if not ok:
                raise ValueError(f"Problem.{name} has the wrong shape")
        if A:
            if self.arc_member.min() < 0 or self.arc_member.max() >= M:
                raise ValueError("arc_member out of range")
            order = self.arc_household.astype(np.int64) * (M + 1) + self.arc_member
            if (np.diff(order) <= 0).any():
                raise ValueError("arcs must be sorted by (household, member) without duplicates")
        expected_ptr = np.searchsorted(self.arc_household, np.arange(H + 1), side="left")
        if not np.array_equal(expected_ptr, self.household_arc_ptr):
            raise ValueError("household_arc_ptr does not match arc_household")


def csr_pointer(arc_household: np.ndarray, num_households: int) -> np.ndarray:
    """CSR pointer for arcs sorted by household."""
    return np.searchsorted(arc_household, np.arange(num_households + 1), side="left").astype(np.int64)
