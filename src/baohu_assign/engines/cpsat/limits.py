"""Sizes, shares and work limits of the CP-SAT engine's phases."""

from __future__ import annotations

from typing import Final

NAME: Final = "cpsat"

SMALL_MODEL_OPTIONS = 1_500
"""Up to this many options the whole model is solved first (it often proves optimality)."""
CORE_SHARE = 0.15
"""Share of the time for the first solve of a larger model (its core when the LP is known)."""
FINAL_SHARE = 0.25
"""Share of the time left after the LNS for the whole pruned model (improvement and proof)."""
MIP_MAX_OPTIONS = 50_000
"""Largest pruned model the branch-and-cut phase (HiGHS) gets, before the final whole-model solve."""
MIP_MAX_GAP = 0.006
"""Branch and cut runs only when the incumbent is within this share of the bound after the first solve:
measured on the GAP instances, it improved plans from gaps of 0.1–0.5 % and none from 0.9 % or more."""
MIP_SHARE = 0.7
"""Share of the final phase's time for branch and cut; CP-SAT's whole-model solve has the rest."""
MIP_FINAL_SHARE = 0.5
"""Share of the time left after the first solve for the final phase when branch and cut runs in it."""
FINAL_LOAD_FACTOR = 5.0
"""Under a wall-clock limit the final phase gets its share only when that is this many times the load time
of the whole model; else the LNS, still improving on large models, keeps the time."""
FULL_MODEL_OPTIONS = 150_000
"""Beyond this many options the whole model is never built (building and presolve take seconds)."""
LP_MAX_OPTIONS = 400_000
"""Largest model whose LP relaxation is solved for bounds and reduced costs."""
CORE_RANK = 3
"""Options per unit kept in the heuristic core (best by reduced cost)."""
AFFINITY_RANK = 4
"""Best options per unit whose members count as related to each other."""
LNS_DETERMINISTIC_TIME = 0.1
"""Deterministic time limit of one neighbourhood solve."""
LNS_THREADS = 2
"""Disjoint neighbourhoods solved side by side (at most ``workers`` threads); also the
neighbourhoods per round in work-limited mode, whatever ``workers``, so the plan does not depend on it."""
LNS_INITIAL_TARGET = 30
"""Free units of the first neighbourhoods; then it adapts to how often sub-models are proven optimal."""
LNS_MIN_TARGET = 6
"""Smallest neighbourhood (free units)."""
PARTIAL_SHARE = 0.5
"""Share of neighbourhoods that free only the most mobile units of more members."""
PARTIAL_SPREAD = 2
"""A partial neighbourhood spans this many times the members of a full one."""
LNS_LOCAL_RANK = 3
"""Options per free unit among the neighbourhood's members that a sub-model keeps (best by reduced cost)."""
WHOLE_MODEL_SECONDS_PER_OPTION = 3e-5
"""Rough load time of a whole model per option (presolve, LP), to skip hopeless whole-model solves."""
LP_SECONDS_PER_OPTION = 2e-6
"""Rough time of the LP relaxation per option (HiGHS does not stop at its limit before its first
iterations); under a time limit the LP is left out when its share of the time is shorter."""
UNLIMITED_DETERMINISTIC_TIME = 20.0
"""Deterministic time limit of one whole-model solve when there is neither a time limit nor an iteration budget."""
WHOLE_SHARE_OF_UNITS = 0.5
"""The LNS hands over to the whole model once neighbourhoods would free this share of all units."""
STALL_ROUNDS = 300
"""The LNS stops after this many neighbourhoods in a row without improvement (not in work-limited mode)."""

INT64_MAX = 2**63 - 1
