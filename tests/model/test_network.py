"""Walking networks: reading, snapping, network distances, and plans measured along streets.

Oracles are independent of the library: nearest nodes by brute force over a
scalar haversine, paths by networkx's Dijkstra, and the optimum on the
network by scipy's HiGHS on the pairs that oracle finds.
"""

from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.optimize import LinearConstraint, milp

import baohu_assign as ba
from baohu_assign.cli import main
from baohu_assign.model.network import WalkingNetwork
from oracles import haversine_m

LAT0, LON0 = 34.72, 114.0
DEG = 1e-3  # about 111 m of latitude, 91 m of longitude here


# -- oracles ------------------------------------------------------------------------------


def snap_oracle(graph: nx.Graph, lat: float, lon: float) -> tuple[object, float, float]:
    """Nearest node, its distance, and the gap to the second nearest (ties make snapping arbitrary)."""
    dist = sorted((haversine_m(lat, lon, float(d["y"]), float(d["x"])), n) for n, d in graph.nodes(data=True))
    gap = dist[1][0] - dist[0][0] if len(dist) > 1 else math.inf
    return dist[0][1], dist[0][0], gap


def network_distance_oracle(graph: nx.Graph, m: tuple[float, float], h: tuple[float, float]) -> float:
    m_node, m_snap, _ = snap_oracle(graph, *m)
    h_node, h_snap, _ = snap_oracle(graph, *h)
    try:
        path = nx.shortest_path_length(graph, m_node, h_node, weight=lambda u, v, d: _length(d))
    except nx.NetworkXNoPath:
        return math.inf
    return m_snap + path + h_snap


def _length(data: dict) -> float:
    # Multigraph edges come as {key: attributes}: the shortest parallel edge counts.
    if "length" in data:
        return float(data["length"])
    return min(float(d["length"]) for d in data.values())


def arcs_dict(arcs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[tuple[int, int], float]:
    return {(int(h), int(m)): float(d) for h, m, d in zip(*arcs, strict=True)}


def grid_graph(rows: int, cols: int, *, spacing_deg: float = DEG, directed: bool = False) -> nx.Graph:
    graph = nx.DiGraph() if directed else nx.Graph()
    for r in range(rows):
        for c in range(cols):
            graph.add_node((r, c), x=LON0 + c * spacing_deg, y=LAT0 + r * spacing_deg)
    for r in range(rows):
        for c in range(cols):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr < rows and c + dc < cols:
                    a, b = graph.nodes[(r, c)], graph.nodes[(r + dr, c + dc)]
                    graph.add_edge((r, c), (r + dr, c + dc), length=haversine_m(a["y"], a["x"], b["y"], b["x"]))
    return graph


# -- distances on hand-made graphs -----------------------------------------------------


def test_snap_path_snap_on_a_hand_made_graph():
    graph = nx.Graph()
    for name, (dlat, dlon) in {"A": (0, 0), "B": (0, 1), "C": (0, 2), "D": (1, 2)}.items():
        graph.add_node(name, x=LON0 + dlon * DEG, y=LAT0 + dlat * DEG)
    graph.add_edge("A", "B", length=100.0)
    graph.add_edge("B", "C", length=100.0)
    graph.add_edge("C", "D", length=120.0)
    graph.add_edge("A", "D", length=900.0)  # a long way round, never the shortest
    network = WalkingNetwork.from_graph(graph)
    members = [(LAT0 + 0.0001, LON0 + 0.0002), (LAT0 + 0.0011, LON0 + 0.0021)]
    households = [(LAT0 + 0.0009, LON0 + 0.0019), (LAT0 - 0.0002, LON0 + 0.0011), (LAT0, LON0)]
    arcs = arcs_dict(
        network.candidate_arcs(
            np.array([m[0] for m in members]),
            np.array([m[1] for m in members]),
            np.array([10_000.0, 10_000.0]),
            np.array([False, False]),
            np.array([h[0] for h in households]),
            np.array([h[1] for h in households]),
        )
    )
    assert len(arcs) == 6
    for (h, m), distance in arcs.items():
        assert distance == pytest.approx(network_distance_oracle(graph, members[m], households[h]), abs=1e-6)
    # Same node: the two snaps, no path.
    same = network.candidate_arcs(
        np.array([LAT0 + 0.0001]),
        np.array([LON0]),
        np.array([1000.0]),
        np.array([False]),
        np.array([LAT0]),
        np.array([LON0 + 0.0001]),
    )
    node_snaps = haversine_m(LAT0 + 0.0001, LON0, LAT0, LON0) + haversine_m(LAT0, LON0 + 0.0001, LAT0, LON0)
    assert same[2].tolist() == pytest.approx([node_snaps])


def test_reach_is_measured_along_the_network():
    # Two streets 111 m apart joined only at their far ends, 2 km away.
    graph = nx.Graph()
    for street in (0, 1):
        for k in range(21):
            graph.add_node((street, k), x=LON0 + k * 0.0011, y=LAT0 + street * DEG)
            if k:
                graph.add_edge((street, k - 1), (street, k), length=100.0)
    graph.add_edge((0, 20), (1, 20), length=111.0)
    network = WalkingNetwork.from_graph(graph)
    arc_h, _arc_m, distance = network.candidate_arcs(
        np.array([LAT0]),
        np.array([LON0]),
        np.array([1500.0]),
        np.array([False]),
        np.array([LAT0 + DEG, LAT0]),
        np.array([LON0, LON0 + 0.0011 * 5]),
    )
    assert arc_h.tolist() == [1], "the household across is 111 m away in a straight line but 4 km on foot"
    assert distance[0] == pytest.approx(500.0)
    far = network.candidate_arcs(
        np.array([LAT0]),
        np.array([LON0]),
        np.array([1500.0]),
        np.array([True]),
        np.array([LAT0 + DEG]),
        np.array([LON0]),
    )
    assert far[2][0] == pytest.approx(20 * 100.0 * 2 + 111.0), "a mobile member walks the long way"


def test_directed_edges_are_one_way_and_undirected_both_ways():
    one_way = nx.DiGraph()
    one_way.add_node(0, x=LON0, y=LAT0)
    one_way.add_node(1, x=LON0 + 0.01, y=LAT0)
    one_way.add_edge(0, 1, length=950.0)
    network = WalkingNetwork.from_graph(one_way)
    forward = network.candidate_arcs(
        np.array([LAT0]),
        np.array([LON0]),
        np.array([2000.0]),
        np.array([False]),
        np.array([LAT0]),
        np.array([LON0 + 0.01]),
    )
    backward = network.candidate_arcs(
        np.array([LAT0]),
        np.array([LON0 + 0.01]),
        np.array([2000.0]),
        np.array([True]),
        np.array([LAT0]),
        np.array([LON0]),
    )
    assert forward[2].tolist() == [950.0]
    assert backward[0].size == 0, "against a one-way edge there is no path, even for a mobile member"
    both = WalkingNetwork.from_graph(one_way.to_undirected())
    assert not both.directed
    back = both.candidate_arcs(
        np.array([LAT0]),
        np.array([LON0 + 0.01]),
        np.array([2000.0]),
        np.array([False]),
        np.array([LAT0]),
        np.array([LON0]),
    )
    assert back[2].tolist() == [950.0]


def test_parallel_edges_keep_the_shortest_and_zero_lengths_connect():
    graph = nx.MultiGraph()
    graph.add_node("a", x=LON0, y=LAT0)
    graph.add_node("b", x=LON0 + DEG, y=LAT0)
    graph.add_node("c", x=LON0 + 2 * DEG, y=LAT0)
    graph.add_edge("a", "b", length=300.0)
    graph.add_edge("a", "b", length=120.0)
    graph.add_edge("b", "c", length=0.0)
    graph.add_edge("c", "c", length=5.0)
    network = WalkingNetwork.from_graph(graph)
    dense = network.adjacency.toarray()
    assert dense[0, 1] == dense[1, 0] == 120.0
    arcs = network.candidate_arcs(
        np.array([LAT0]),
        np.array([LON0]),
        np.array([500.0]),
        np.array([False]),
        np.array([LAT0]),
        np.array([LON0 + 2 * DEG]),
    )
    assert arcs[2].tolist() == [120.0], "a zero-length edge is an edge"


def test_reach_boundary_is_inclusive_to_the_millimetre():
    graph = nx.Graph()
    graph.add_node(0, x=LON0, y=LAT0)
    graph.add_node(1, x=LON0 + 0.01, y=LAT0)
    graph.add_edge(0, 1, length=950.0)
    network = WalkingNetwork.from_graph(graph)
    for reach, expected in ((950.001, 1), (950.0, 1), (949.999, 0)):
        arcs = network.candidate_arcs(
            np.array([LAT0]),
            np.array([LON0]),
            np.array([reach]),
            np.array([False]),
            np.array([LAT0]),
            np.array([LON0 + 0.01]),
        )
        assert arcs[0].size == expected, reach


@pytest.mark.parametrize("seed", range(4))
def test_random_networks_match_networkx_exactly(seed):
    rng = np.random.default_rng(seed)
    n = 80
    graph = nx.DiGraph() if seed % 2 else nx.Graph()
    lat, lon = LAT0 + rng.uniform(0, 0.02, n), LON0 + rng.uniform(0, 0.02, n)
    for i in range(n):
        graph.add_node(i, x=lon[i], y=lat[i])
    for _ in range(3 * n):  # streets between near corners, a little longer than the crow flies
        u = int(rng.integers(n))
        v = int(np.argsort((lat - lat[u]) ** 2 + (lon - lon[u]) ** 2)[rng.integers(1, 5)])
        graph.add_edge(u, v, length=haversine_m(lat[u], lon[u], lat[v], lon[v]) * rng.uniform(1.0, 1.6))
    members = [
        ((LAT0 + a, LON0 + b), r, mob)
        for a, b, r, mob in zip(
            rng.uniform(0, 0.02, 30),
            rng.uniform(0, 0.02, 30),
            rng.uniform(300, 2500, 30),
            rng.random(30) < 0.1,
            strict=True,
        )
    ]
    households = list(zip(LAT0 + rng.uniform(0, 0.02, 40), LON0 + rng.uniform(0, 0.02, 40), strict=True))
    network = WalkingNetwork.from_graph(graph)
    found = arcs_dict(
        network.candidate_arcs(
            np.array([m[0][0] for m in members]),
            np.array([m[0][1] for m in members]),
            np.array([m[1] for m in members]),
            np.array([m[2] for m in members]),
            np.array([h[0] for h in households]),
            np.array([h[1] for h in households]),
        )
    )
    expected = {}
    for h, home in enumerate(households):
        for m, (position, reach, mobile) in enumerate(members):
            d = network_distance_oracle(graph, position, home)
            if (mobile and math.isfinite(d)) or d <= reach:
                expected[(h, m)] = d
    assert 50 < len(expected) < 30 * 40
    assert found.keys() == expected.keys()
    assert all(found[k] == pytest.approx(expected[k], rel=1e-9) for k in found)


@st.composite
def tiny_cases(draw):
    n = draw(st.integers(1, 6))
    cells = draw(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), min_size=n, max_size=n, unique=True))
    directed = draw(st.booleans())
    graph = nx.MultiDiGraph() if directed else nx.MultiGraph()
    for i, (r, c) in enumerate(cells):
        graph.add_node(i, x=LON0 + c * DEG, y=LAT0 + r * DEG)
    edges = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.floats(0.0, 3000.0)),
            max_size=12,
        )
    )
    for u, v, length in edges:
        graph.add_edge(u, v, length=length)
    assume(graph.number_of_edges() > 0)
    point = st.tuples(st.floats(-1.0, 9.0), st.floats(-1.0, 9.0)).map(lambda p: (LAT0 + p[0] * DEG, LON0 + p[1] * DEG))
    members = draw(st.lists(st.tuples(point, st.floats(0.0, 4000.0), st.booleans()), min_size=1, max_size=4))
    households = draw(st.lists(point, min_size=1, max_size=6))
    return graph, members, households


@given(tiny_cases())
def test_every_arc_is_snap_plus_shortest_path_plus_snap(case):
    graph, members, households = case
    for lat, lon in [m[0] for m in members] + households:
        assume(snap_oracle(graph, lat, lon)[2] > 1e-3)  # no tie for the nearest node
    network = WalkingNetwork.from_graph(graph)
    arcs = network.candidate_arcs(
        np.array([m[0][0] for m in members]),
        np.array([m[0][1] for m in members]),
        np.array([m[1] for m in members]),
        np.array([m[2] for m in members]),
        np.array([h[0] for h in households]),
        np.array([h[1] for h in households]),
    )
    order = np.lexsort((arcs[1], arcs[0]))
    assert (order == np.arange(order.size)).all(), "sorted by household, then member"
    found = arcs_dict(arcs)
    for h, home in enumerate(households):
        for m, (position, reach, mobile) in enumerate(members):
            expected = network_distance_oracle(graph, position, home)
            if not mobile:
                assume(abs(expected - reach) > 1e-6)
            eligible = math.isfinite(expected) if mobile else reach > 0 and expected <= reach
            assert ((h, m) in found) == eligible, (h, m, expected, reach, mobile)
            if eligible:
                assert found[(h, m)] == pytest.approx(expected, rel=1e-9, abs=1e-6)
                assert mobile or found[(h, m)] <= reach


# -- files ------------------------------------------------------------------------------


def osmnx_style(graph: nx.Graph) -> nx.MultiDiGraph:
    """As OSMnx saves a walking network: a MultiDiGraph both ways, every attribute as text."""
    out = nx.MultiDiGraph(crs="epsg:4326")
    for node, data in graph.nodes(data=True):
        out.add_node(node, x=str(data["x"]), y=str(data["y"]), street_count="2")
    for u, v, data in graph.edges(data=True):
        for a, b in ((u, v), (v, u)):
            out.add_edge(a, b, length=str(data["length"]), oneway="False", highway="footway")
    return out


def test_graphml_round_trip_in_the_osmnx_convention(tmp_path):
    graph = grid_graph(4, 5)
    styled = osmnx_style(nx.convert_node_labels_to_integers(graph))
    styled.add_edge(0, 1, length="1.5")  # a parallel shortcut one way only
    path = tmp_path / "walk.graphml"
    nx.write_graphml(styled, path)
    network = WalkingNetwork.read(path)
    assert network.directed and network.num_nodes == 20 and network.edges == styled.number_of_edges()
    assert network.name == "walk.graphml"
    assert network.adjacency[0, 1] == 1.5
    assert network.adjacency[1, 0] == pytest.approx(graph.edges[(0, 0), (0, 1)]["length"])
    plain = WalkingNetwork.from_graph(nx.convert_node_labels_to_integers(graph))
    difference = network.adjacency - plain.adjacency
    difference[0, 1] = 0.0
    assert abs(difference).max() < 1e-9
    assert np.allclose(network.node_lat, plain.node_lat) and np.allclose(network.node_lon, plain.node_lon)


def test_graphml_key_defaults_and_per_edge_directions(tmp_path):
    path = tmp_path / "defaults.graphml"
    nodes = "".join(
        f'<node id="n{i}"><data key="x">{LON0 + i * DEG}</data><data key="y">{LAT0}</data></node>' for i in range(3)
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
        '<key id="x" for="node" attr.name="x" attr.type="double"/>\n'
        '<key id="y" for="node" attr.name="y" attr.type="double"/>\n'
        '<key id="len" for="edge" attr.name="length" attr.type="double"><default>250</default></key>\n'
        '<key id="name" for="edge" attr.name="name" attr.type="string"/>\n'
        f'<graph edgedefault="undirected">{nodes}'
        '<edge source="n0" target="n1"><data key="name">河堤路</data></edge>'
        '<edge source="n1" target="n2" directed="true"><data key="len">80.5</data></edge>'
        "</graph>\n</graphml>\n",
        encoding="utf-8",
    )
    network = WalkingNetwork.read(path)
    assert network.directed and network.edges == 2
    assert network.adjacency.toarray().tolist() == [[0, 250, 0], [250, 0, 80.5], [0, 0, 0]]


def test_projected_graph_is_read_from_its_degrees(tmp_path):
    graph = nx.MultiDiGraph(crs="epsg:32650")
    graph.add_node(0, x="500000.0", y="3840000.0", lon=str(LON0), lat=str(LAT0))
    graph.add_node(1, x="500100.0", y="3840000.0", lon=str(LON0 + DEG), lat=str(LAT0))
    graph.add_edge(0, 1, length="100.0")
    path = tmp_path / "projected.graphml"
    nx.write_graphml(graph, path)
    network = WalkingNetwork.read(path)
    assert network.node_lon.tolist() == [LON0, LON0 + DEG]


def test_edge_csv_merges_endpoints_and_honours_oneway(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text(
        "from_lat,from_lon,to_lat,to_lon,length_m,oneway\n"
        f"{LAT0},{LON0},{LAT0},{LON0 + DEG},95.5,\n"
        f"{LAT0},{LON0 + DEG},{LAT0 + DEG},{LON0 + DEG},120,yes\n",
        encoding="utf-8",
    )
    network = WalkingNetwork.read(path)
    assert network.num_nodes == 3 and network.edges == 2 and network.directed
    there = network.candidate_arcs(
        np.array([LAT0]),
        np.array([LON0]),
        np.array([1000.0]),
        np.array([False]),
        np.array([LAT0 + DEG]),
        np.array([LON0 + DEG]),
    )
    back = network.candidate_arcs(
        np.array([LAT0 + DEG]),
        np.array([LON0 + DEG]),
        np.array([1000.0]),
        np.array([False]),
        np.array([LAT0]),
        np.array([LON0]),
    )
    assert there[2].tolist() == [215.5]
    assert back[0].size == 0


# -- scenarios and plans -------------------------------------------------------------------


def _frames(members: list[dict], households: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(members), pd.DataFrame(households)


def test_household_on_an_island_is_unreachable_with_its_own_reason():
    graph = grid_graph(3, 3)
    graph.add_node("island", x=LON0 + 0.03, y=LAT0)  # a few km east, no street to it
    graph.add_node("islet", x=LON0 + 0.031, y=LAT0)
    graph.add_edge("island", "islet", length=90.0)
    members, households = _frames(
        [
            {"member_id": "M1", "branch": "A", "lat": LAT0, "lon": LON0, "capacity": 5, "mobile": True},
            {
                "member_id": "M2",
                "branch": "A",
                "lat": LAT0 + DEG,
                "lon": LON0,
                "capacity": 5,
                "mobile": False,
                "max_distance_m": 150,
            },
        ],
        [
            {"household_id": "H1", "branch": "A", "lat": LAT0 + 2 * DEG, "lon": LON0 + 2 * DEG},
            {"household_id": "H2", "branch": "A", "lat": LAT0, "lon": LON0 + 0.0305},
        ],
    )
    scenario = ba.Scenario.from_frames(members, households, network=WalkingNetwork.from_graph(graph))
    plan = ba.solve(scenario, objective="distance")
    rows = plan.assignments.set_index("household_id")
    assert rows.loc["H1", "member_id"] == "M1"
    assert pd.isna(rows.loc["H2", "member_id"])
    assert rows.loc["H2", "reason"] == "unreachable_on_network"
    # No change of capacity or mobility can help, so the diagnosis suggests none.
    (shortfall,) = plan.report.shortfalls
    assert shortfall.reasons == {"unreachable_on_network": 1} and shortfall.suggestions == []
    # The same household only out of reach (a street leads there) keeps the old reason.
    graph.add_edge((0, 2), "island", length=2500.0)
    fixed_only = members.assign(mobile=False, max_distance_m=150)
    plan = ba.solve(ba.Scenario.from_frames(fixed_only, households, network=WalkingNetwork.from_graph(graph)))
    assert plan.assignments.set_index("household_id").loc["H2", "reason"] == "out_of_reach"


def test_network_survives_replace_and_rebalance():
    town, streets = ba.synth.make_river_town(1, households=120, branches=2, size_m=2000, street_spacing_m=100)
    scenario = ba.Scenario.from_frames(town.members, town.households, network=WalkingNetwork.from_graph(streets))
    again = scenario.replace(policy=ba.Policy(max_distance_m=1500.0))
    assert again.network is scenario.network
    plan = ba.solve(scenario, objective="distance")
    after = ba.rebalance(scenario, current=plan)
    assert after.report.network is not None and after.report.network.nodes == 441
    before = plan.primary.set_index("household_id")["distance_m"]
    assert after.primary.set_index("household_id")["distance_m"].equals(before), "nothing moved, same distances"


@pytest.fixture(scope="module")
def river():
    """A 4 × 4 km town astride a river, bridges every 3 km, streets every 100 m."""
    town, streets = ba.synth.make_river_town(
        3,
        households=600,
        branches=4,
        size_m=4000.0,
        street_spacing_m=100.0,
        bridge_spacing_m=3000.0,
    )
    scenario = ba.Scenario.from_frames(town.members, town.households, network=WalkingNetwork.from_graph(streets))
    plan = ba.solve(scenario, objective="distance")
    return scenario, streets, plan


def _oracle_pairs(scenario: ba.Scenario, streets: nx.Graph) -> dict[tuple[int, int], float]:
    """(household row, member row) → network distance for every pair the rules allow, by networkx."""
    nodes = list(streets.nodes)
    node_lat = np.array([streets.nodes[n]["y"] for n in nodes])
    node_lon = np.array([streets.nodes[n]["x"] for n in nodes])

    def snap(lat: float, lon: float) -> tuple[object, float]:
        dist = haversine_np(lat, lon, node_lat, node_lon)
        best = int(np.argmin(dist))
        return nodes[best], float(dist[best])

    mem, hh = scenario.members, scenario.households
    h_snaps = [snap(a, b) for a, b in zip(hh["lat"], hh["lon"], strict=True)]
    pairs = {}
    for m, row in enumerate(mem.itertuples()):
        if not row.available or row.capacity <= 0:
            continue
        node, snap_m = snap(row.lat, row.lon)
        cutoff = None if row.mobile else row.max_distance_m - snap_m
        if cutoff is not None and cutoff < 0:
            continue
        paths = nx.single_source_dijkstra_path_length(streets, node, cutoff=cutoff, weight="length")
        for h in np.flatnonzero(hh["branch"].to_numpy() == row.branch):
            h_node, h_snap = h_snaps[h]
            if h_node in paths:
                d = snap_m + paths[h_node] + h_snap
                if row.mobile or d <= row.max_distance_m:
                    pairs[(int(h), m)] = d
    return pairs


def haversine_np(lat1, lon1, lat2, lon2):
    """The haversine of oracles.haversine_m, over arrays."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.asarray(lon2) - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _optimum_on(scenario: ba.Scenario, pairs: dict[tuple[int, int], float]) -> tuple[list[int], float]:
    """Households covered per tier (critical first) and least weekly travel, by HiGHS on ``pairs``."""
    hh, mem = scenario.households, scenario.members
    keys = sorted(pairs)
    h = np.array([k[0] for k in keys])
    m = np.array([k[1] for k in keys])
    distance = np.array([pairs[k] for k in keys])
    n = len(keys)
    cols = np.arange(n)
    per_household = sp.csr_matrix((np.ones(n), (h, cols)), shape=(len(hh), n))
    per_member = sp.csr_matrix((np.ones(n), (m, cols)), shape=(len(mem), n))
    capacity = np.where(mem["available"], mem["capacity"], 0)
    rules = [LinearConstraint(per_household, 0, 1), LinearConstraint(per_member, 0, capacity)]
    # Lexicographic coverage in one solve: one household of a tier outweighs all of the tiers below.
    tier = hh["priority"].map({"normal": 0, "elevated": 1, "critical": 2}).to_numpy()[h]
    weight = float(len(hh) + 1) ** tier
    best = milp(-weight, constraints=rules, integrality=np.ones(n), bounds=(0, 1))
    chosen = best.x > 0.5
    covered = [int((chosen & (tier == t)).sum()) for t in (2, 1, 0)]
    for t, count in zip((2, 1, 0), covered, strict=True):
        rules.append(LinearConstraint((tier == t).astype(float)[None, :], count, np.inf))
    travel = hh["visits_per_week"].to_numpy()[h] * distance
    best = milp(travel, constraints=rules, integrality=np.ones(n), bounds=(0, 1))
    assert best.success
    return covered, float(best.fun)


def test_river_town_plan_respects_walking_reach_and_is_optimal_on_the_network(river):
    scenario, streets, plan = river
    pairs = _oracle_pairs(scenario, streets)
    # The river matters: some pairs within reach in a straight line are not on foot.
    hh, mem = scenario.households, scenario.members
    straight = haversine_np(
        hh["lat"].to_numpy()[:, None],
        hh["lon"].to_numpy()[:, None],
        mem["lat"].to_numpy()[None, :],
        mem["lon"].to_numpy()[None, :],
    )
    allowed = (
        (hh["branch"].to_numpy()[:, None] == mem["branch"].to_numpy()[None, :])
        & (mem["available"] & ~mem["mobile"]).to_numpy()[None, :]
        & (straight <= mem["max_distance_m"].to_numpy()[None, :] - 5)
    )
    cut = sum(1 for h, m in zip(*np.nonzero(allowed), strict=True) if (int(h), int(m)) not in pairs)
    assert cut > 100

    member_row = {mid: i for i, mid in enumerate(mem["member_id"])}
    primary = plan.primary
    assigned = primary[primary["member_id"].notna()]
    assert len(assigned) > 0.9 * len(hh)
    for h, (mid, reported) in enumerate(zip(primary["member_id"], primary["distance_m"], strict=True)):
        if pd.isna(mid):
            continue
        assert (h, member_row[mid]) in pairs, "every assignment is within walking reach"
        assert reported == pytest.approx(pairs[(h, member_row[mid])], rel=0.02)
    covered, travel = _optimum_on(scenario, pairs)
    unc = plan.report.components.uncovered
    tiers = {t: int((hh["priority"] == t).sum()) for t in ("critical", "elevated", "normal")}
    assert [tiers["critical"] - unc.critical, tiers["elevated"] - unc.elevated, tiers["normal"] - unc.normal] == covered
    assert plan.report.components.travel_m_per_week == pytest.approx(travel, rel=0.005)


def test_river_town_distances_exceed_straight_lines_and_report_says_so(river):
    scenario, _, plan = river
    primary = plan.primary
    mem = scenario.members.set_index("member_id")
    assigned = primary[primary["member_id"].notna()]
    straight = [
        haversine_m(r.lat, r.lon, mem.at[r.member_id, "lat"], mem.at[r.member_id, "lon"]) for r in assigned.itertuples()
    ]
    assert (assigned["distance_m"].to_numpy() >= np.array(straight) - 0.1).all()
    summary = plan.report.network
    assert summary is not None and summary.file == "graph" and summary.nodes == 41 * 41
    assert 0 < summary.household_snap_median_m <= summary.household_snap_max_m <= 75.0


# -- the command line ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def river_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("river")
    town, streets = ba.synth.make_river_town(5, households=200, branches=3, size_m=3000, street_spacing_m=100)
    members, households = town.write_csv(directory)
    network = directory / "walk.graphml"
    nx.write_graphml(osmnx_style(streets), network)
    return members, households, network


def test_cli_solve_with_network_writes_network_distances(river_files, tmp_path):
    members, households, network = river_files
    code = main(
        [
            "solve",
            str(members),
            str(households),
            "--network",
            str(network),
            "--out",
            str(tmp_path),
            "--objective",
            "distance",
            "--quiet",
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["network"]["file"] == "walk.graphml" and report["network"]["nodes"] == 31 * 31
    assert report["network"]["directed"] is True
    assert set(report["network"]) == {
        "file",
        "nodes",
        "edges",
        "directed",
        "member_snap_median_m",
        "member_snap_max_m",
        "household_snap_median_m",
        "household_snap_max_m",
    }
    written = pd.read_csv(tmp_path / "assignments.csv", encoding="utf-8-sig")
    expected = ba.solve(ba.Scenario.from_csv(members, households, network=network), objective="distance").primary
    assert np.allclose(written["distance_m"].to_numpy(), expected["distance_m"].to_numpy(), equal_nan=True)
    plain = tmp_path / "plain"
    assert main(["solve", str(members), str(households), "--out", str(plain), "--quiet"]) == 0
    assert json.loads((plain / "report.json").read_text(encoding="utf-8"))["network"] is None


def _graphml(path, nodes: str, edges: str) -> None:
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
        '<key id="x" for="node" attr.name="x" attr.type="string"/>\n'
        '<key id="y" for="node" attr.name="y" attr.type="string"/>\n'
        '<key id="len" for="edge" attr.name="length" attr.type="string"/>\n'
        f'<graph edgedefault="undirected">{nodes}{edges}</graph>\n</graphml>\n',
        encoding="utf-8",
    )


_NODE = '<node id="{id}"><data key="x">{x}</data><data key="y">{y}</data></node>'
_GOOD_NODES = _NODE.format(id=1, x=LON0, y=LAT0) + _NODE.format(id=2, x=LON0 + DEG, y=LAT0)


@pytest.mark.parametrize(
    ("name", "write", "expected"),
    [
        (
            "no_y.graphml",
            lambda p: _graphml(
                p,
                _GOOD_NODES.replace(f'<data key="y">{LAT0}</data>', "", 1),
                '<edge source="1" target="2"><data key="len">90</data></edge>',
            ),
            ["no_y.graphml", "'y'", "node '1'"],
        ),
        (
            "negative.graphml",
            lambda p: _graphml(p, _GOOD_NODES, '<edge source="1" target="2"><data key="len">-4</data></edge>'),
            ["negative.graphml", "'length'", "negative length"],
        ),
        (
            "nolength.graphml",
            lambda p: _graphml(p, _GOOD_NODES, '<edge source="1" target="2"/>'),
            ["nolength.graphml", "'length'", "missing"],
        ),
        ("empty.graphml", lambda p: _graphml(p, "", ""), ["empty.graphml", "no nodes"]),
        (
            "broken.graphml",
            lambda p: p.write_text("<graphml><graph>", encoding="utf-8"),
            ["broken.graphml", "not a readable GraphML"],
        ),
        (
            "other.graphml",
            lambda p: p.write_text("<svg><g/></svg>", encoding="utf-8"),
            ["other.graphml", "not a readable GraphML", "<svg>"],
        ),
        (
            "hyper.graphml",
            lambda p: _graphml(p, _GOOD_NODES, '<hyperedge><endpoint node="1"/></hyperedge>'),
            ["hyper.graphml", "hyperedge"],
        ),
        (
            "dangling.graphml",
            lambda p: _graphml(p, _GOOD_NODES, '<edge source="1" target="7"><data key="len">9</data></edge>'),
            ["dangling.graphml", "node '7' is not declared"],
        ),
        (
            "edges.csv",
            lambda p: p.write_text(
                f"from_lat,from_lon,to_lat,to_lon,length_m\n{LAT0},{LON0},{LAT0},{LON0 + DEG},90\n"
                f"{LAT0},{LON0},{LAT0 + DEG},{LON0},abc\n",
                encoding="utf-8",
            ),
            ["edges.csv", "row 3", "'length_m'", "abc"],
        ),
        (
            "short.csv",
            lambda p: p.write_text("from_lat,from_lon,to_lat,length_m\n1,2,3,4\n", encoding="utf-8"),
            ["short.csv", "'to_lon'", "missing"],
        ),
        (
            "far.csv",
            lambda p: p.write_text(
                f"from_lat,from_lon,to_lat,to_lon,length_m\n{LAT0},{LON0},95,{LON0},9\n", encoding="utf-8"
            ),
            ["far.csv", "row 2", "'to_lat'"],
        ),
        ("streets.shp", lambda p: p.write_bytes(b"\x00\x00"), ["streets.shp", ".graphml", ".csv"]),
        ("absent.graphml", lambda p: None, ["absent.graphml", "file not found"]),
    ],
)
def test_bad_network_files_exit_2_naming_file_row_and_column(river_files, tmp_path, capsys, name, write, expected):
    members, households, _ = river_files
    path = tmp_path / name
    write(path)
    code = main(["solve", str(members), str(households), "--network", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    for text in expected:
        assert text in err
    assert "Traceback" not in err
