"""Measure walking-network figures: reading, building arcs, solving, and the acceptance checks.

Run: ``.venv/bin/python benchmarks/network_bench.py [--households 12000] [--spacing 45]``.
A town astride a river (``synth.make_river_town``), streets every ``--spacing``
metres (45 m: about 50,000 street corners on 10 × 10 km), bridges every 3 km,
saved as GraphML the way OSMnx saves a walking network (a MultiDiGraph with
both directions, every attribute as text). Prints a Markdown table
(paste-ready for docs/benchmarks.md). Timings and peak memory come from
separate processes (``/usr/bin/time -f %M``); the checks compare with
networkx's Dijkstra and with HiGHS. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baohu_assign as ba  # noqa: E402
from peers import highs_solve  # noqa: E402

EARTH_RADIUS_M = 6_371_008.8


def run_measured(args: list[str]) -> tuple[float, float, str]:
    """A process under GNU time: wall seconds, peak RSS in MB, stdout."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "PEAK_KB %M", sys.executable, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    peak_kb = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KB"))
    return wall, peak_kb / 1024.0, proc.stdout


READ_CODE = """
import json, sys, time
from baohu_assign.model.network import WalkingNetwork
t = time.perf_counter(); net = WalkingNetwork.read(sys.argv[1]); read_s = time.perf_counter() - t
print(json.dumps({"read_s": read_s, "nodes": net.num_nodes, "edges": net.edges}))
"""

READ_NX_CODE = """
import json, sys, time
import networkx as nx
t = time.perf_counter(); graph = nx.read_graphml(sys.argv[1]); read_s = time.perf_counter() - t
print(json.dumps({"read_s": read_s}))
"""

ARCS_CODE = """
import json, sys, time
import baohu_assign as ba
from baohu_assign.model.compile import compile_scenario
network = sys.argv[3] if len(sys.argv) > 3 else None
t = time.perf_counter(); scenario = ba.Scenario.from_csv(sys.argv[1], sys.argv[2], network=network)
load_s = time.perf_counter() - t
t = time.perf_counter()
branches = compile_scenario(scenario.members, scenario.households, objective="distance",
                            policy=scenario.policy, network=scenario.network)
arcs_s = time.perf_counter() - t
print(json.dumps({"load_s": load_s, "arcs_s": arcs_s, "arcs": sum(b.problem.num_arcs for b in branches)}))
"""


def haversine_m(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def brute_snap(lat: np.ndarray, lon: np.ndarray, node_lat: np.ndarray, node_lon: np.ndarray):
    """Nearest node of every point by brute force (no tree): index and metres."""
    node = np.empty(lat.shape[0], dtype=np.int64)
    dist = np.empty(lat.shape[0])
    for lo in range(0, lat.shape[0], 100):
        d = haversine_m(lat[lo : lo + 100, None], lon[lo : lo + 100, None], node_lat[None, :], node_lon[None, :])
        node[lo : lo + 100] = d.argmin(axis=1)
        dist[lo : lo + 100] = d[np.arange(d.shape[0]), node[lo : lo + 100]]
    return node, dist


def osmnx_style(graph: nx.Graph) -> nx.MultiDiGraph:
    out = nx.MultiDiGraph(crs="epsg:4326")
    out.add_nodes_from(
        (n, {"x": repr(d["x"]), "y": repr(d["y"]), "street_count": "4"}) for n, d in graph.nodes(data=True)
    )
    for u, v, d in graph.edges(data=True):
        for a, b in ((u, v), (v, u)):
            out.add_edge(a, b, length=repr(d["length"]), oneway="False", reversed="False", highway="residential")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=12_000)
    parser.add_argument("--spacing", type=float, default=45.0, help="street spacing in metres (45: ~50k nodes)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    town, streets = ba.synth.make_river_town(args.seed, households=args.households, street_spacing_m=args.spacing)
    members_csv, households_csv = town.write_csv(work)
    graphml = work / "walk.graphml"
    nx.write_graphml(osmnx_style(streets), graphml)
    rows: list[tuple[str, str]] = []
    label = (
        f"{args.households:,} households, {len(town.members):,} members, {streets.number_of_nodes():,} nodes "
        f"({2 * streets.number_of_edges():,} directed edges, {graphml.stat().st_size / 2**20:.0f} MB GraphML)"
    )

    wall, peak, out = run_measured(["-c", READ_CODE, str(graphml)])
    read = json.loads(out)
    rows.append(
        (
            "read the GraphML into a WalkingNetwork (`WalkingNetwork.read`)",
            f"{read['read_s']:.1f} s, process peak {peak:.0f} MB",
        )
    )
    wall, peak, out = run_measured(["-c", READ_NX_CODE, str(graphml)])
    rows.append(
        (
            "`networkx.read_graphml` of the same file, for comparison",
            f"{json.loads(out)['read_s']:.1f} s, process peak {peak:.0f} MB",
        )
    )
    wall, peak, out = run_measured(["-c", ARCS_CODE, str(members_csv), str(households_csv), str(graphml)])
    arcs = json.loads(out)
    rows.append(
        (
            "build the arcs along the network (all branches)",
            f"{arcs['arcs_s']:.2f} s, {arcs['arcs']:,} arcs; process peak {peak:.0f} MB (GraphML read included)",
        )
    )
    wall, peak, out = run_measured(["-c", ARCS_CODE, str(members_csv), str(households_csv)])
    plain = json.loads(out)
    rows.append(
        (
            "build the arcs, great-circle (no network), for comparison",
            f"{plain['arcs_s']:.2f} s, {plain['arcs']:,} arcs; process peak {peak:.0f} MB",
        )
    )
    for objective in ("distance", "balanced"):
        out_dir = work / f"out_{objective}"
        wall, peak, _ = run_measured(
            [
                "-m",
                "baohu_assign",
                "solve",
                str(members_csv),
                str(households_csv),
                "--network",
                str(graphml),
                "--objective",
                objective,
                "--out",
                str(out_dir),
                "--quiet",
            ]
        )
        rows.append((f"CLI solve --network, {objective}, end to end", f"{wall:.1f} s, peak {peak:.0f} MB"))
    wall, peak, _ = run_measured(
        [
            "-m",
            "baohu_assign",
            "solve",
            str(members_csv),
            str(households_csv),
            "--objective",
            "distance",
            "--out",
            str(work / "out_plain"),
            "--quiet",
        ]
    )
    rows.append(("CLI solve without a network, distance, for comparison", f"{wall:.1f} s, peak {peak:.0f} MB"))

    # Acceptance checks on the same files, in this process.
    scenario = ba.Scenario.from_csv(members_csv, households_csv, network=graphml)
    plan = ba.solve(scenario, objective="distance")
    nodes = np.array(list(streets.nodes))
    node_lat = np.array([streets.nodes[n]["y"] for n in nodes])
    node_lon = np.array([streets.nodes[n]["x"] for n in nodes])
    mem, hh = scenario.members, scenario.households
    m_node, m_snap = brute_snap(mem["lat"].to_numpy(), mem["lon"].to_numpy(), node_lat, node_lon)
    h_node, h_snap = brute_snap(hh["lat"].to_numpy(), hh["lon"].to_numpy(), node_lat, node_lon)
    primary = plan.primary
    member_row = {mid: i for i, mid in enumerate(mem["member_id"])}
    assigned = np.flatnonzero(primary["member_id"].notna().to_numpy())
    rows_m = np.array([member_row[mid] for mid in primary["member_id"].to_numpy()[assigned]])
    reported = primary["distance_m"].to_numpy()[assigned]
    oracle = np.full(assigned.size, np.inf)
    started = time.perf_counter()
    for m in np.unique(rows_m):
        mine = np.flatnonzero(rows_m == m)
        # Cut off at what is left of the reach: anything farther is beyond reach anyway.
        cutoff = None if mem["mobile"].iat[m] else max(mem["max_distance_m"].iat[m] - m_snap[m], 0.0) + 1.0
        paths = nx.single_source_dijkstra_path_length(streets, nodes[m_node[m]].item(), cutoff=cutoff, weight="length")
        for k in mine:
            h = assigned[k]
            path = paths.get(nodes[h_node[h]].item())
            if path is not None:
                oracle[k] = m_snap[m] + path + h_snap[h]
    oracle_s = time.perf_counter() - started
    reach = np.where(mem["mobile"].to_numpy()[rows_m], np.inf, mem["max_distance_m"].to_numpy()[rows_m])
    over = int((oracle > reach + 1e-6).sum())
    relative = np.abs(reported - oracle) / np.maximum(oracle, 1.0)
    rows.append(
        (
            "assignments beyond walking reach (networkx Dijkstra oracle, brute-force snaps)",
            f"{over} of {assigned.size:,} ({oracle_s:.0f} s of oracle)",
        )
    )
    rows.append(
        (
            "distance_m vs network distance (oracle)",
            f"max relative difference {relative.max():.2e}, {int((relative > 0.02).sum())} beyond 2 %",
        )
    )
    straight = haversine_m(
        hh["lat"].to_numpy()[assigned],
        hh["lon"].to_numpy()[assigned],
        mem["lat"].to_numpy()[rows_m],
        mem["lon"].to_numpy()[rows_m],
    )
    rows.append(
        (
            "network / straight-line distance of the assigned pairs",
            f"median {np.median(oracle / np.maximum(straight, 1.0)):.2f}, p99 "
            f"{np.percentile(oracle / np.maximum(straight, 1.0), 99):.2f}",
        )
    )
    highs_total, highs_wall, statuses = 0.0, 0.0, set()
    for result in plan.results:
        _, objective, status, wall = highs_solve(result.branch.problem)
        highs_total += objective
        highs_wall += wall
        statuses.add(status)
    ours = plan.report.objective_value
    rows.append(
        (
            "distance objective vs HiGHS optimum on the same network arcs",
            f"{(ours - highs_total) / highs_total:+.6%} ({ours:,} vs {highs_total:,.0f}; HiGHS "
            f"{', '.join(sorted(statuses))}, {highs_wall:.0f} s)",
        )
    )
    rows.append(
        (
            "coverage / weekly travel along the network",
            f"{plan.report.counts.covered:,}/{plan.report.counts.households:,}, "
            f"{plan.report.components.travel_m_per_week / 1000:,.0f} km",
        )
    )

    print(f"River town: {label}\n")
    print("| measure | measured |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
