"""The order of a round's stops: a walk from home through the stops and back.

Rounds of up to :data:`EXACT_STOPS` stops are solved exactly by trying every
order (at most 7! = 5,040, vectorised); longer rounds start from a
nearest-neighbour order improved by 2-opt, which OR-Tools routing then
improves further by local search until no move helps. See docs/model.md for
why OR-Tools and why enumeration.
"""

from __future__ import annotations

import itertools
import warnings
from functools import lru_cache

import numpy as np

EXACT_STOPS = 7
"""Rounds with at most this many stops are ordered by trying every order."""
ROUTING_UNIT_M = 0.1
"""Metres per integer unit of the routing model's arc costs (decimetres)."""


def tour_length(distance: np.ndarray, order: list[int] | tuple[int, ...]) -> float:
    """Metres of the walk home → ``order`` → home; index 0 of ``distance`` is home."""
    stops = [0, *order, 0]
    return float(sum(distance[a, b] for a, b in itertools.pairwise(stops)))


@lru_cache(maxsize=EXACT_STOPS + 1)
def _permutations(k: int) -> np.ndarray:
    """int64[k!, k]: every order of stops 1 … k, in lexicographic order."""
    return np.array(list(itertools.permutations(range(1, k + 1))), dtype=np.int64).reshape(-1, k)


def exact_order(distance: np.ndarray) -> list[int]:
    """The shortest order of stops 1 … k by trying every order (first one in lexicographic order on ties)."""
    k = distance.shape[0] - 1
    if k <= 1:
        return list(range(1, k + 1))
    orders = _permutations(k)
    length = distance[0, orders[:, 0]] + distance[orders[:, -1], 0]
    length = length + distance[orders[:, :-1], orders[:, 1:]].sum(axis=1)
    # Rounded so that float noise never decides between orders of the same length.
    return [int(s) for s in orders[int(np.argmin(np.round(length, 6)))]]


def nearest_neighbour_two_opt(distance: np.ndarray) -> list[int]:
    """Nearest-neighbour order from home, then 2-opt (segment reversals) until none shortens it.

    The reference order the routing is measured against; also the routing's start.
    """
    k = distance.shape[0] - 1
    left = list(range(1, k + 1))
    order: list[int] = []
    here = 0
    while left:
        # min over (distance, index): the first stop wins on ties.
        nxt = min(left, key=lambda s: (distance[here, s], s))
        order.append(nxt)
        left.remove(nxt)
        here = nxt
    best = tour_length(distance, order)
    improved = True
    while improved:
        improved = False
        for i in range(k - 1):
            for j in range(i + 1, k):
                candidate = order[:i] + order[i : j + 1][::-1] + order[j + 1 :]
                length = tour_length(distance, candidate)
                if length < best - 1e-9:
                    order, best, improved = candidate, length, True
    return order


def routed_order(distance: np.ndarray) -> list[int]:
    """A short order of stops 1 … k with OR-Tools routing, never longer than :func:`nearest_neighbour_two_opt`.

    The nearest-neighbour + 2-opt order is the first solution; OR-Tools' local
    search (2-opt, or-opt, relocate, exchange, …) improves it by greedy
    descent, which ends at a local optimum without any time limit, so the
    same distances give the same order.
    """
    start = nearest_neighbour_two_opt(distance)
    try:  # imported here so that the package (and greedy) work without OR-Tools
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    except ImportError:
        warnings.warn(  # shown once per session by Python's default filter
            f"OR-Tools is not installed: rounds of more than {EXACT_STOPS} stops keep their"
            " nearest-neighbour + 2-opt order",
            RuntimeWarning,
            stacklevel=2,
        )
        return start
    n = distance.shape[0]
    manager = pywrapcp.RoutingIndexManager(n, 1, 0)
    routing = pywrapcp.RoutingModel(manager)
    cost = np.rint(distance / ROUTING_UNIT_M).astype(np.int64)
    transit = routing.RegisterTransitMatrix(cost.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    routing.CloseModelWithParameters(params)
    initial = routing.ReadAssignmentFromRoutes([start], True)
    solution = routing.SolveFromAssignmentWithParameters(initial, params) if initial is not None else None
    if solution is None:
        return start
    order: list[int] = []
    index = routing.Start(0)
    while True:
        index = solution.Value(routing.NextVar(index))
        if routing.IsEnd(index):
            break
        order.append(manager.IndexToNode(index))
    # Decimetre rounding could in principle prefer an order a hair longer in metres.
    return order if tour_length(distance, order) <= tour_length(distance, start) else start


def round_order(distance: np.ndarray) -> list[int]:
    """The order of a round's stops 1 … k; index 0 of the (k+1)² ``distance`` matrix is home.

    Exact (:func:`exact_order`) up to :data:`EXACT_STOPS` stops, OR-Tools
    routing (:func:`routed_order`) beyond.
    """
    if distance.shape[0] - 1 <= EXACT_STOPS:
        return exact_order(distance)
    return routed_order(distance)
