# %% [markdown]
# # Quick start: the demo town end to end
#
# This notebook walks through `baohu_assign` with the Python API on the
# demo town: a synthetic town shaped like 大孟镇 (32 villages and
# communities, about 2,000 party members, 12,000 households). It
#
# 1. writes the town as the two input sheets (`members.csv`, `households.csv`),
# 2. reads them back and solves the assignment,
# 3. looks at the result: coverage, loads, distances, the households left uncovered and why,
# 4. writes the outputs an office uses: `assignments.csv`, `members.csv`, `report.json`,
#    the printable `roster.xlsx` and the offline `map.html`.
#
# Set `BAOHU_NOTEBOOK_HOUSEHOLDS` to run it on a smaller town (the tests use a few hundred).

# %%
import os
from pathlib import Path

import pandas as pd
from IPython.display import IFrame, display

import baohu_assign as ba
from baohu_assign.outputs import plots
from baohu_assign.outputs.roster import write_roster
from baohu_assign.outputs.webmap import write_map

HOUSEHOLDS = int(os.environ.get("BAOHU_NOTEBOOK_HOUSEHOLDS", "12000"))
BRANCHES = 32 if HOUSEHOLDS >= 3000 else 8  # small test towns keep enough households per branch
OUT = Path("out") / "01-quickstart"
print(f"baohu_assign {ba.__version__}: a town of {HOUSEHOLDS:,} households, output in {OUT}/")

# %% [markdown]
# ## 1. The input sheets
#
# A town office keeps two sheets. `members.csv` has one row per party member
# (id, name, branch, where they live, age; optionally capacity, reach,
# `mobile`, `available`), `households.csv` one row per household (id, head,
# branch, where it lives now, priority; optionally visits per week, a
# stairwell unit `group_id`, today's contact `current_member_id`, `pinned`).
# See `docs/data-contract.md` for every column. The demo town writes both:

# %%
town = ba.synth.make_town(0, households=HOUSEHOLDS, branches=BRANCHES)
members_csv, households_csv = town.write_csv(OUT / "input")
print(town)
pd.read_csv(members_csv, dtype=str).head()

# %%
pd.read_csv(households_csv, dtype=str).head()

# %% [markdown]
# ## 2. Read and solve
#
# `Scenario.from_csv` validates the sheets (an error names file, row and
# column). `solve` covers as many households as possible, critical ones
# first, then by default balances loads at little extra walking
# (`objective="balanced"`); `"distance"` minimises walking only.

# %%
scenario = ba.Scenario.from_csv(members_csv, households_csv)
plan = ba.solve(scenario, objective="balanced", seed=0)
print(plan.summary())

# %% [markdown]
# Every household has one row in `plan.assignments`: its member (empty when
# uncovered), the distance, and a reason where there is something to say.

# %%
plan.assignments[["household_id", "member_id", "distance_m", "reason", "branch", "priority"]].head(10)

# %% [markdown]
# `plan.members` holds each member's load against capacity, weekly visits and walking.

# %%
plan.members.sort_values("utilisation", ascending=False).head(10)

# %% [markdown]
# ## 3. Loads and distances
#
# Each row is a branch; each dot a member (households taken / capacity).
# Balanced plans keep members of a branch close to the same share of their capacity.

# %%
plots.plot_loads(plan)

# %% [markdown]
# Critical households (elderly living alone, quarantined) are visited most, so their contact
# should be the closest: their curve lies to the left.

# %%
plots.plot_distances(plan)

# %% [markdown]
# ## 4. Households without a contact
#
# When a branch does not have enough capacity within reach, some households stay
# uncovered — never a critical one while a less urgent one is covered. Each has a reason,
# and the report computes the cheapest fixes per branch.

# %%
uncovered = plan.uncovered()
print(f"{len(uncovered):,} households uncovered")
display(uncovered["reason"].value_counts().to_frame())
for shortfall in plan.report.shortfalls[:5]:
    best = shortfall.suggestions[0].text if shortfall.suggestions else "no single fix found"
    print(f"{shortfall.branch}: {shortfall.uncovered.total} uncovered; best fix: {best}")

# %%
if len(uncovered):
    display(plan.explain(uncovered["household_id"].iloc[0]))

# %% [markdown]
# ## 5. Files for the office
#
# `plan.write` writes the three contract files; `write_roster` the printable 联户台账
# (one sheet per branch, reasons in Chinese) and `write_map` a single HTML file that works
# offline. The command line does the same in one step:
#
#     baohu-assign solve members.csv households.csv --out out/ --xlsx --map

# %%
paths = plan.write(OUT)
paths["roster"] = write_roster(plan, OUT / "roster.xlsx")
paths["map"] = write_map(plan, OUT / "map.html")
for name, path in paths.items():
    print(f"{name:<12} {path}  ({path.stat().st_size / 1024:,.0f} KiB)")

# %% [markdown]
# The map: members are large dots, households small dots in their member's colour,
# critical households ringed red, uncovered households yellow; one layer per branch.

# %%
IFrame(src=str(paths["map"]), width="100%", height=520)
