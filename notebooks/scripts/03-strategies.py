# %% [markdown]
# # Strategies: greedy, flow, CP-SAT and HiGHS
#
# `solve(..., strategy=...)` picks the engine:
#
# - `flow` — OR-Tools min-cost flow, exact; cannot keep stairwell units whole.
# - `cpsat` — OR-Tools CP-SAT, for stairwell units, hour budgets and backups (when installed).
# - `greedy` — augmenting paths, regret and local search; needs no OR-Tools; the fallback.
# - `auto` (default) — flow where it applies, otherwise the next engine that can.
#
# HiGHS (through `scipy.optimize.milp`) is not an engine of the library: it
# solves the same compiled problems (same candidate pairs, same integer costs)
# as an independent reference for the optimum and for speed.
#
# The towns below have no stairwell units, so every engine solves exactly the
# same problem under `objective="distance"`. Sizes follow
# `BAOHU_NOTEBOOK_HOUSEHOLDS` (default 12000): 1/12, 1/4 and all of it.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp
from IPython.display import display
from scipy.optimize import Bounds, LinearConstraint, milp

import baohu_assign as ba

HOUSEHOLDS = int(os.environ.get("BAOHU_NOTEBOOK_HOUSEHOLDS", "12000"))
SIZES = sorted({max(HOUSEHOLDS // 12, 100), max(HOUSEHOLDS // 4, 200), HOUSEHOLDS})
TIME_LIMIT = 120.0  # seconds per solve; the exact engines need far less on these towns

STRATEGIES = ["greedy", "flow"]
try:
    import baohu_assign.engines.cpsat

    STRATEGIES.append("cpsat")
except ImportError as exc:
    print(f"cpsat engine not available ({exc}); compared without it")
print("sizes:", SIZES, "strategies:", [*STRATEGIES, "highs"])

# %% [markdown]
# ## HiGHS on the compiled problems
#
# `compile_scenario` gives one integer `Problem` per branch. As a MILP: one
# variable per candidate pair and one "uncovered" variable per household, each
# household covered once or paying its tier's penalty, each member within
# capacity. The matrix is a transportation matrix, so the LP optimum is integral.


# %%
def highs_branch(problem):
    """Optimal objective of one branch with HiGHS (distance objective, no stairwell units)."""
    H, A = problem.num_households, problem.num_arcs
    if H == 0:
        return 0.0
    cost = np.concatenate([problem.arc_cost, problem.uncovered_cost()]).astype(float)
    upper = np.concatenate([np.ones(A), (problem.household_pin < 0).astype(float)])
    one_each = sp.csr_matrix(
        (np.ones(A + H), (np.concatenate([problem.arc_household, np.arange(H)]), np.arange(A + H))),
        shape=(H, A + H),
    )
    capacity = sp.csr_matrix((np.ones(A), (problem.arc_member, np.arange(A))), shape=(problem.num_members, A + H))
    result = milp(
        cost,
        integrality=np.ones(A + H),
        bounds=Bounds(np.zeros(A + H), upper),
        constraints=[
            LinearConstraint(one_each, 1, 1),
            LinearConstraint(capacity, 0, problem.member_capacity.astype(float)),
        ],
        options={"time_limit": TIME_LIMIT},
    )
    return float(result.fun)


def highs(scenario):
    started = time.perf_counter()
    branches = ba.compile_scenario(scenario.members, scenario.households, objective="distance", policy=scenario.policy)
    objective = sum(highs_branch(branch.problem) for branch in branches)
    return objective, time.perf_counter() - started


# %% [markdown]
# ## Run every strategy on every size

# %%
rows = []
for size in SIZES:
    town = ba.synth.make_town(0, households=size, branches=max(4, min(32, size // 375)), stairwells=False)
    scenario = ba.Scenario.from_frames(town.members, town.households)
    for strategy in STRATEGIES:
        started = time.perf_counter()
        plan = ba.solve(scenario, objective="distance", strategy=strategy, time_limit=TIME_LIMIT, seed=0)
        r = plan.report
        rows.append(
            {
                "households": size,
                "strategy": strategy,
                "wall_s": time.perf_counter() - started,
                "objective": r.objective_value,
                "status": r.status.value,
                "uncovered": r.counts.uncovered,
                "travel_km": r.components.travel_m_per_week / 1000,
            }
        )
    objective, wall = highs(scenario)
    rows.append(
        {
            "households": size,
            "strategy": "highs",
            "wall_s": wall,
            "objective": objective,
            "status": "optimal",
            "uncovered": np.nan,
            "travel_km": np.nan,
        }
    )
results = pd.DataFrame(rows)
best = results.groupby("households")["objective"].transform("min")
results["above_best_%"] = 100.0 * (results["objective"] - best) / best
results.round({"wall_s": 2, "travel_km": 1, "above_best_%": 4})

# %% [markdown]
# `objective` is the integer objective every engine minimises (uncovered
# penalties plus weekly travel in decimetre-visits): equal values mean equal
# coverage and equal walking. flow and HiGHS agree (both exact); greedy is
# usually within a fraction of a percent.

# %%
fig, (time_ax, gap_ax) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
# Distinct markers and sizes: equal objectives draw on top of each other and must stay visible.
styles = zip(results["strategy"].unique(), "osD^", (11, 8, 6, 4), strict=False)  # up to four strategies
for strategy, marker, size in styles:
    group = results[results["strategy"] == strategy]
    time_ax.plot(group["households"], group["wall_s"], marker=marker, markersize=size, label=strategy)
    gap_ax.plot(group["households"], group["above_best_%"], marker=marker, markersize=size, label=strategy)
time_ax.set(xscale="log", yscale="log", xlabel="households", ylabel="wall time (s)", title="Speed")
gap_ax.set(xscale="log", xlabel="households", ylabel="objective above the best (%)", title="Quality")
time_ax.legend()
gap_ax.legend()

# %% [markdown]
# ## Stairwell units
#
# In an apartment community each member takes one stairwell unit (单元) of
# 12 households whole. Flow cannot express that, so `auto` sends such
# branches to the next engine that can; here greedy and (when available)
# CP-SAT on the largest town with its stairwell community.

# %%
town = ba.synth.make_town(0, households=SIZES[-1], branches=max(4, min(32, SIZES[-1] // 375)))
scenario = ba.Scenario.from_frames(town.members, town.households)
unit_rows = []
for strategy in [s for s in STRATEGIES if s != "flow"] + ["auto"]:
    plan = ba.solve(scenario, objective="distance", strategy=strategy, time_limit=TIME_LIMIT, seed=0)
    r = plan.report
    unit_rows.append(
        {
            "strategy": strategy,
            "engines": dict(r.engines),
            "status": r.status.value,
            "objective": r.objective_value,
            "uncovered": r.counts.uncovered,
            "wall_s": round(r.wall_s, 2),
        }
    )
display(pd.DataFrame(unit_rows))
