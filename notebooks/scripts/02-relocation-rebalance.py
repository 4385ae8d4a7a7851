# %% [markdown]
# # After a relocation: rebalance with as few changes as possible
#
# A village is demolished and its households move into apartment communities
# a few kilometres away, still belonging to the village branch. Its members
# follow them (移动包户, `mobile`). In the same weeks some members fall ill
# and returnees arrive, a quarter of them quarantined. The plan in force
# must be repaired — but people already know their contact, so the repair
# should change as few relationships as possible.
#
# This notebook builds that situation with `synth.relocate`, runs the
# minimal-churn `rebalance`, and shows what changed and why.

# %%
import os
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import display

import baohu_assign as ba
from baohu_assign.cli import main as cli
from baohu_assign.outputs import plots

HOUSEHOLDS = int(os.environ.get("BAOHU_NOTEBOOK_HOUSEHOLDS", "12000"))
BRANCHES = 32 if HOUSEHOLDS >= 3000 else 8
OUT = Path("out") / "02-relocation-rebalance"

# %% [markdown]
# ## 1. The plan in force
#
# `current=True` gives every household today's contact (`current_member_id`).
# Rebalancing the town as it is keeps those contacts wherever they are valid:
# this is the plan in force, "before".

# %%
town = ba.synth.make_town(0, households=HOUSEHOLDS, branches=BRANCHES, current=True)
before = ba.rebalance(ba.Scenario.from_frames(town.members, town.households))
print(before.summary())

# %% [markdown]
# ## 2. The event
#
# `synth.relocate` moves one village's households 2–5 km away into three
# communities and makes its members mobile; 5 % of all members fall ill
# (`available` false); 20 households arrive with no contact; a few
# households whose contact can stay are `pinned`.

# %%
moved = ba.synth.relocate(town, seed=1)
old = town.households.set_index("household_id")
new = moved.households.set_index("household_id")
shifted = (old["lat"] != new["lat"].reindex(old.index)) | (old["lon"] != new["lon"].reindex(old.index))
village = old.loc[shifted, "branch"].unique().tolist()
ill = int((town.members["available"] & ~moved.members["available"]).sum())
arrived = len(new) - len(old)
print(f"relocated village: {village} ({int(shifted.sum()):,} households moved)")
print(f"members now mobile: {int(moved.members['mobile'].sum() - town.members['mobile'].sum()):,}")
print(
    f"members fallen ill: {ill:,}; households arrived: {arrived:,}; pinned: {int(moved.households['pinned'].sum()):,}"
)

# %% [markdown]
# ## 3. Rebalance
#
# `rebalance(scenario, current=before)` starts from the contacts of the plan in
# force. Under `min-churn` (its default) it covers as many households as
# possible — critical first — and among those plans changes the fewest
# contacts, then minimises walking. With the flow engine that minimum is exact.

# %%
scenario_after = ba.Scenario.from_frames(moved.members, moved.households)
after = ba.rebalance(scenario_after, current=before)
print(after.summary())

# %% [markdown]
# ## 4. What changed, and why
#
# `compare_plans` puts the KPIs side by side and lists the households whose
# contact differs, with both members and the reason the new plan gives.

# %%
comparison = ba.compare_plans(before, after, labels=("before", "after"))
print(comparison.summary())

# %%
comparison.differing.groupby(["change", "reason_b"]).size().rename("households").to_frame()

# %% [markdown]
# Reading the reasons:
#
# - `member_unavailable`: the contact fell ill; the household goes to the nearest member
#   with room.
# - `new_household`: a returnee who had no contact.
# - `capacity_exhausted` (now uncovered): the members within reach are full with households
#   of equal or higher priority — the branch needs more members or more capacity
#   (see the shortfall lines of the summary).
# - `out_of_reach`: the contact can no longer reach the household; mobile members never are.
#
# The relocated village's households kept their contacts because its members are mobile:
# only those whose member fell ill changed.

# %%
moved_ids = old.index[shifted]
in_village = comparison.differing["household_id"].isin(moved_ids)
print(f"households of {village} whose contact changed: {int(in_village.sum()):,} of {len(moved_ids):,}")
print(comparison.differing.loc[in_village, "reason_b"].value_counts().to_string())
walk = after.primary.set_index("household_id").loc[moved_ids, "distance_m"]
print(f"their contacts now walk a median {np.nanmedian(walk):,.0f} m (mobile members follow them)")

# %% [markdown]
# ## 5. Why not solve from scratch?
#
# A fresh plan on the new situation walks a little less, but it changes far more
# relationships — every one of them a household that has to meet a new contact.

# %%
fresh = ba.solve(scenario_after, objective="balanced", seed=0)
fresh_changes = ba.compare_plans(before, fresh).num_differing
table = pd.DataFrame(
    {
        "households with a new contact": [comparison.num_differing, fresh_changes],
        "uncovered": [after.report.counts.uncovered, fresh.report.counts.uncovered],
        "weekly travel (km)": [
            after.report.components.travel_m_per_week / 1000,
            fresh.report.components.travel_m_per_week / 1000,
        ],
    },
    index=["rebalance (min-churn)", "solve from scratch (balanced)"],
)
table.round(1)

# %% [markdown]
# ## 6. Before and after

# %%
plots.plot_rebalance(before, after)

# %% [markdown]
# ## 7. The same from the command line
#
# Both plans are written as folders; `baohu-assign compare` prints the KPI
# table and writes the list of changed households for the office:
#
#     baohu-assign rebalance members.csv households.csv --out after/ --xlsx
#     baohu-assign compare before/ after/ --out changes.csv

# %%
before.write(OUT / "before")
after.write(OUT / "after")
exit_code = cli(["compare", str(OUT / "before"), str(OUT / "after"), "--out", str(OUT / "changes.csv")])
display(pd.read_csv(OUT / "changes.csv", dtype=str).head())
