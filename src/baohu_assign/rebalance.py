"""rebalance(): repair a plan after moves, illness or new households, changing as little as possible."""

from __future__ import annotations

from collections.abc import Callable

from .params import SolveParams
from .plan import Plan
from .scenario import Scenario
from .solve import check_scenario, solve


def rebalance(
    scenario: Scenario,
    *,
    current: Plan | None = None,
    objective: str = "min-churn",
    strategy: str = "auto",
    time_limit: float | None = None,
    seed: int | None = None,
    params: SolveParams | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Plan:
    """Re-assign with today's contacts as the starting point.

    Today's contacts come from the households' ``current_member_id`` column,
    or from ``current`` (a previous plan) when given: a household's member in
    that plan becomes its current member. Pins (``pinned``) hold wherever the
    member is still available and eligible; a pin that cannot hold is a
    warning in the report, never an error.

    Under ``min-churn`` (the default) the plan covers the most households
    (critical first) and, among those plans, changes the fewest contacts,
    then minimises weekly travel; with the flow engine this minimum is exact.
    Each household's ``changed`` flag and ``reason`` say what happened.
    ``time_limit``, ``seed``, ``params`` and ``progress`` are passed on to
    :func:`~baohu_assign.solve` (which checks them).
    """
    check_scenario(scenario)
    if current is not None:
        households = scenario.households.drop(columns=["row"], errors="ignore").copy()
        previous = current.primary.set_index("household_id")["member_id"]
        mapped = households["household_id"].map(previous)
        households["current_member_id"] = mapped.astype("string")
        scenario = scenario.replace(households=households)
    return solve(
        scenario,
        objective=objective,
        strategy=strategy,
        time_limit=time_limit,
        seed=seed,
        params=params,
        progress=progress,
    )
