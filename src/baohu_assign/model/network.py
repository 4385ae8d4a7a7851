"""Walking network: a street network and the member–household distances measured along it.

Straight-line distance lies where a river, a railway or a walled compound
stands between a member and a household. With a :class:`WalkingNetwork`,
the distance between a member and a household is

    snap(member) + shortest path(member's node → household's node) + snap(household)

where a *snap* is the great-circle distance from a point to its nearest
network node and the path is the shortest one along the network's edges
(``length`` in metres). Two points that snap to the same node are
snap + snap apart. A pair with no path between the two nodes (another
component of the network, or one-way edges the wrong way) is never
eligible, whatever the reach.

Networks come as GraphML in the OSMnx convention (node attributes ``x`` =
longitude and ``y`` = latitude in WGS84 degrees, edge attribute ``length``
in metres, directed or not; attribute values may be text, as OSMnx writes
them) or as an edge-list CSV (``from_lat, from_lon, to_lat, to_lon,
length_m`` and an optional ``oneway``). GraphML is streamed, keeping
only coordinates, lengths and directions (a networkx graph of the same file
would take about four times the memory); networkx reads only what the
stream does not handle (nested graphs, hyperedges), and
:meth:`WalkingNetwork.from_graph` takes a graph already in memory.
Distances are computed with
:func:`scipy.sparse.csgraph.dijkstra` from the members' nodes, cut off at
each member's reach, households grouped by node; nothing members × nodes is
held for more than a bounded block of members at a time.
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from ..errors import InputError, Issue
from ..io.tables import IssueCollector, missing_mask
from .geo import chord_to_metres, unit_vectors

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["DENSE_BLOCK_BYTES", "EDGE_CSV_COLUMNS", "NetworkSummary", "WalkingNetwork"]

DENSE_BLOCK_BYTES = 48 * 2**20
"""Most bytes of one block of shortest-path distances (members of a block × nodes)."""

EDGE_CSV_COLUMNS: tuple[str, ...] = ("from_lat", "from_lon", "to_lat", "to_lon", "length_m")
"""Required columns of an edge-list CSV; ``oneway`` (yes/no, blank: no) is optional."""

_DEGREE_BOUNDS = {"from_lat": 90.0, "to_lat": 90.0, "from_lon": 180.0, "to_lon": 180.0}
_COORDINATE_DECIMALS = 7  # edge-list endpoints equal to 1e-7 degrees (about 1 cm) are one node
_WGS84_CRS = {"epsg:4326", "wgs84", "wgs 84", "urn:ogc:def:crs:ogc:1.3:crs84", "crs84"}


class NetworkSummary(BaseModel):
    """What ``report.json`` says about the walking network (no personal data).

    Snap distances are great-circle metres from members and households to
    their nearest network node; a large maximum usually means a point outside
    the area the network covers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str = Field(description="file name the network was read from (no folder)")
    nodes: int
    edges: int = Field(description="edges as given in the file (an undirected edge counts once)")
    directed: bool = Field(description="edges are one-way as given (true for OSMnx graphs)")
    member_snap_median_m: float
    member_snap_max_m: float
    household_snap_median_m: float
    household_snap_max_m: float


@dataclass(frozen=True, eq=False)
class WalkingNetwork:
    """A walking or road network, ready to measure distances along it.

    Build it with :meth:`read`, :meth:`from_graphml`, :meth:`from_edge_csv`
    or :meth:`from_graph`; the readers raise
    :class:`~baohu_assign.errors.InputError` naming the file (and, for CSV,
    the row and column) of every problem found.

    Attributes
    ----------
    node_lat, node_lon
        float64[N]: node coordinates in WGS84 degrees.
    adjacency
        N × N sparse matrix (CSR) of edge lengths in metres: entry (u, v) is
        the shortest edge from u to v. Undirected edges are stored both ways;
        zero-length edges are kept as edges.
    directed
        Whether the source graph was directed (edges one-way as given).
    edges
        Edges in the source (an undirected edge counts once).
    name
        Where the network came from: a file name (no folder), or ``"graph"``.
    """

    node_lat: np.ndarray
    node_lon: np.ndarray
    adjacency: sp.csr_matrix
    directed: bool
    edges: int
    name: str = "graph"
    _tree: cKDTree = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lat = np.ascontiguousarray(self.node_lat, dtype=np.float64)
        lon = np.ascontiguousarray(self.node_lon, dtype=np.float64)
        n = lat.shape[0]
        if lat.shape != (n,) or lon.shape != (n,) or self.adjacency.shape != (n, n):
            raise ValueError("node_lat, node_lon and adjacency must describe the same nodes")
        if n == 0:
            raise ValueError("a walking network needs at least one node")
        for array in (lat, lon):
            array.flags.writeable = False
        object.__setattr__(self, "node_lat", lat)
        object.__setattr__(self, "node_lon", lon)
        object.__setattr__(self, "adjacency", sp.csr_matrix(self.adjacency, dtype=np.float64))
        object.__setattr__(self, "_tree", cKDTree(unit_vectors(lat, lon)))

    # -- construction ---------------------------------------------------------------

    @classmethod
    def read(cls, path: str | Path) -> WalkingNetwork:
        """Read a network file, by its suffix: ``.graphml`` (OSMnx) or ``.csv`` (edge list).

        Parameters
        ----------
        path
            The file.

        Returns
        -------
        WalkingNetwork

        Raises
        ------
        InputError
            Missing file, unknown suffix, or any problem the reader finds.
        """
        suffix = Path(path).suffix.lower()
        if suffix == ".graphml":
            return cls.from_graphml(path)
        if suffix == ".csv":
            return cls.from_edge_csv(path)
        raise InputError(
            Issue(
                str(path),
                None,
                None,
                "unknown network format; expected a .graphml file (OSMnx) or a .csv edge list "
                f"({', '.join(EDGE_CSV_COLUMNS)})",
            )
        )

    @classmethod
    def from_graphml(cls, path: str | Path) -> WalkingNetwork:
        """Read GraphML in the OSMnx convention (``ox.save_graphml``).

        Parameters
        ----------
        path
            A GraphML file. Node attributes ``x`` (longitude) and ``y``
            (latitude) in WGS84 degrees, edge attribute ``length`` in metres;
            values may be numbers or text, and a key's ``<default>`` applies
            where a value is absent. A graph projected by OSMnx (graph
            attribute ``crs`` other than WGS84) is read from its nodes' ``lon``
            and ``lat`` attributes. Directed graphs (OSMnx writes
            MultiDiGraphs) are taken as directed; parallel edges keep the
            shortest. Other attributes are skipped while reading, so memory
            stays near the size of the network, not of the file; files with
            nested graphs or hyperedges are read with networkx instead.

        Returns
        -------
        WalkingNetwork

        Raises
        ------
        InputError
            The file is missing or not GraphML, or a node lacks coordinates,
            an edge lacks a length or has a negative one, or the graph is empty.
        """
        file = str(path)
        _require_file(Path(path), file)
        try:
            parts = _stream_graphml(Path(path))
        except ElementTree.ParseError as exc:
            raise InputError(Issue(file, None, None, f"not a readable GraphML file ({exc})")) from None
        except _UnusualGraphML:
            import networkx as nx

            try:
                parts = _GraphParts.of(nx.read_graphml(Path(path)))
            except (ElementTree.ParseError, nx.NetworkXError, ValueError, TypeError, KeyError) as exc:
                raise InputError(Issue(file, None, None, f"not a readable GraphML file ({exc})")) from None
        return cls._from_parts(parts, file=file, name=Path(path).name)

    @classmethod
    def from_graph(cls, graph: nx.Graph, *, name: str = "graph") -> WalkingNetwork:
        """A network from a networkx graph (for example one OSMnx returns).

        Parameters
        ----------
        graph
            Any networkx graph: nodes with ``x`` (longitude) and ``y``
            (latitude), edges with ``length`` in metres. Directed graphs keep
            their directions; parallel edges keep the shortest; self-loops
            are ignored.
        name
            Name used in error messages and in ``report.json``.

        Returns
        -------
        WalkingNetwork

        Raises
        ------
        InputError
            A node without coordinates, an edge without a valid length, or an
            empty graph.
        """
        return cls._from_parts(_GraphParts.of(graph), file=name, name=name)

    @classmethod
    def _from_parts(cls, parts: _GraphParts, *, file: str, name: str) -> WalkingNetwork:
        issues = IssueCollector(file)
        count = len(parts.nodes)
        if not count:
            raise InputError(Issue(file, None, None, "the network has no nodes"))
        if not parts.sources:
            raise InputError(Issue(file, None, None, "the network has no edges"))
        lon_key, lat_key = "x", "y"
        if parts.crs is not None and str(parts.crs).strip().lower() not in _WGS84_CRS:
            # OSMnx keeps the degrees of a projected graph in lon/lat.
            lon_key, lat_key = "lon", "lat"
            issues.hint = (
                f"the graph is projected (crs {parts.crs}); nodes need 'lon' and 'lat', or save the graph "
                "in longitude/latitude (unprojected)"
            )
        lat, lon = _node_coordinates(parts, issues, lon_key, lat_key)
        source, target, length, is_one_way = _declared_edges(parts, issues)
        issues.raise_if_any()
        adjacency = _both_ways_adjacency(source, target, length, is_one_way, count)
        network = cls(lat, lon, adjacency, directed=bool(is_one_way.any()), edges=len(parts.sources), name=name)
        logger.debug("network %s: %d nodes, %d edges", name, count, network.edges)
        return network

    @classmethod
    def from_edge_csv(cls, path: str | Path) -> WalkingNetwork:
        """Read an edge-list CSV: one edge per row.

        Parameters
        ----------
        path
            CSV (UTF-8, with or without BOM, or GBK) with columns
            ``from_lat, from_lon, to_lat, to_lon`` (WGS84 degrees) and
            ``length_m`` (metres, ≥ 0), and optionally ``oneway`` (yes/no,
            blank: no): a one-way edge runs only from ``from`` to ``to``.
            Endpoints with the same coordinates (to 1e-7 degrees) are one node.

        Returns
        -------
        WalkingNetwork

        Raises
        ------
        InputError
            Naming file, row and column of every bad cell; a missing column;
            no edges.
        """
        from ..io.tables import read_table

        file = str(path)
        frame = read_table(path)
        issues = IssueCollector(file, np.arange(len(frame)) + 2)  # spreadsheet rows: the header is row 1
        missing = [c for c in EDGE_CSV_COLUMNS if c not in frame.columns]
        for column in missing:
            issues.add(None, column, "required column missing; an edge list needs " + ", ".join(EDGE_CSV_COLUMNS))
        issues.raise_if_any()
        if len(frame) == 0:
            raise InputError(Issue(file, None, None, "the network has no edges"))
        values = {column: _edge_csv_numbers(frame, column, issues) for column in EDGE_CSV_COLUMNS}
        oneway = _edge_csv_oneway(frame, issues)
        issues.raise_if_any()
        ends = np.round(
            np.column_stack(
                (
                    np.concatenate((values["from_lat"], values["to_lat"])),
                    np.concatenate((values["from_lon"], values["to_lon"])),
                )
            ),
            _COORDINATE_DECIMALS,
        )
        coordinates, node = np.unique(ends, axis=0, return_inverse=True)
        node = node.reshape(-1)
        n_edges = len(frame)
        source, target = node[:n_edges], node[n_edges:]
        adjacency = _both_ways_adjacency(source, target, values["length_m"], oneway, coordinates.shape[0])
        network = cls(
            coordinates[:, 0],
            coordinates[:, 1],
            adjacency,
            directed=bool(oneway.any()),
            edges=n_edges,
            name=Path(path).name,
        )
        logger.debug("network %s: %d nodes, %d edges", network.name, network.num_nodes, n_edges)
        return network

    # -- measuring ------------------------------------------------------------------

    @property
    def num_nodes(self) -> int:
        """Nodes of the network."""
        return int(self.node_lat.shape[0])

    def snap(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each point and the great-circle metres to it.

        Parameters
        ----------
        lat, lon
            float64[n]: WGS84 degrees.

        Returns
        -------
        node : int64[n]
        snap_m : float64[n]
        """
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        if lat.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        chord, node = self._tree.query(unit_vectors(lat, np.atleast_1d(lon)), k=1)
        return np.asarray(node, dtype=np.int64), chord_to_metres(chord)

    def candidate_arcs(
        self,
        member_lat: np.ndarray,
        member_lon: np.ndarray,
        member_reach_m: np.ndarray,
        member_mobile: np.ndarray,
        household_lat: np.ndarray,
        household_lon: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (household, member) pair within reach along the network, as :func:`baohu_assign.geo.candidate_arcs`.

        Parameters
        ----------
        member_lat, member_lon, household_lat, household_lon
            WGS84 degrees.
        member_reach_m
            float64[M]: the farthest network distance of each non-mobile
            member; reach ≤ 0 gives no arcs.
        member_mobile
            bool[M]: mobile members reach every household they have a path to.

        Returns
        -------
        arc_household, arc_member : int32[A]
            Sorted by household, then member.
        distance_m : float64[A]
            snap + path + snap, at most the member's reach (any, for mobile members).
        """
        empty = (np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float64))
        reach = np.asarray(member_reach_m, dtype=np.float64).reshape(-1)
        mobile = np.asarray(member_mobile, dtype=bool).reshape(-1)
        if reach.shape[0] == 0 or np.asarray(household_lat).shape[0] == 0:
            return empty
        m_node, m_snap = self.snap(member_lat, member_lon)
        h_node, h_snap = self.snap(household_lat, household_lon)
        # What is left of the reach for the path once the member has walked to its node.
        budget = np.where(mobile, np.inf, reach - m_snap)
        serving = np.flatnonzero(mobile | ((reach > 0) & (budget >= 0)))
        if serving.size == 0:
            return empty
        # Households grouped by node: one column per distinct node.
        h_cols, h_of_col = _group(h_node)
        # Members grouped by node: one Dijkstra source per distinct node, cut off at its widest budget.
        s_nodes, m_of_src = _group(m_node[serving], serving)
        src_budget = np.maximum.reduceat(budget[m_of_src.items], m_of_src.ptr[:-1])
        parts_h: list[np.ndarray] = []
        parts_m: list[np.ndarray] = []
        parts_d: list[np.ndarray] = []
        for block in _blocks(src_budget, max(1, DENSE_BLOCK_BYTES // (8 * self.num_nodes))):
            cutoff = float(src_budget[block].max())
            # A hair beyond the cut-off: the exact reach filter below decides.
            limit = cutoff * (1.0 + 1e-9) + 1e-6 if math.isfinite(cutoff) else np.inf
            path = dijkstra(self.adjacency, directed=True, indices=s_nodes[block], limit=limit)[:, h_cols]
            near = np.isfinite(path) & (path <= src_budget[block][:, None] * (1.0 + 1e-9) + 1e-6)
            src_row, col = np.nonzero(near)
            metres = path[src_row, col]
            del path
            # Node pairs → (member, household) pairs.
            pair, households = h_of_col.expand(col)
            src, metres = block[src_row][pair], metres[pair]
            pair, members = m_of_src.expand(src)
            households, metres = households[pair], metres[pair]
            total = m_snap[members] + metres + h_snap[households]
            keep = mobile[members] | (total <= reach[members])
            parts_h.append(households[keep])
            parts_m.append(members[keep])
            parts_d.append(total[keep])
        if not parts_h:
            return empty
        arc_h, arc_m, distance = np.concatenate(parts_h), np.concatenate(parts_m), np.concatenate(parts_d)
        order = np.lexsort((arc_m, arc_h))
        return arc_h[order].astype(np.int32), arc_m[order].astype(np.int32), distance[order]

    def distances_from(self, lat: float, lon: float, to_lat: np.ndarray, to_lon: np.ndarray) -> np.ndarray:
        """Network distance from one point to many (snap + path + snap).

        Parameters
        ----------
        lat, lon
            The origin, WGS84 degrees.
        to_lat, to_lon
            float64[n]: the destinations.

        Returns
        -------
        float64[n]
            Metres; ``inf`` where no path leads from the origin's node to the
            destination's node.
        """
        node, snap = self.snap(np.array([lat]), np.array([lon]))
        to_node, to_snap = self.snap(to_lat, to_lon)
        path = dijkstra(self.adjacency, directed=True, indices=int(node[0]))
        return snap[0] + path[to_node] + to_snap

    def distance_matrix(self, lat: np.ndarray, lon: np.ndarray, limit: float = np.inf) -> np.ndarray:
        """Network distance between every pair of points (snap + path + snap), as :meth:`distances_from`.

        Parameters
        ----------
        lat, lon
            float64[n]: WGS84 degrees.
        limit
            Paths longer than this many metres are not searched for (``inf``
            in the result): a search that stops early is much faster on a
            large network.

        Returns
        -------
        float64[n, n]
            Entry (i, j): metres from point i to point j; ``inf`` where no
            path (within ``limit``) leads from i's node to j's node. Two
            points at one node are their two snaps apart (the diagonal included).
        """
        node, snap = self.snap(lat, lon)
        if node.size == 0:
            return np.zeros((0, 0), dtype=np.float64)
        # One search per distinct node: the points of a round often share nodes.
        distinct, inverse = np.unique(node, return_inverse=True)
        path = dijkstra(self.adjacency, directed=True, indices=distinct, limit=limit)[:, distinct]
        return snap[:, None] + path[np.ix_(inverse, inverse)] + snap[None, :]

    def reachable(
        self, from_lat: np.ndarray, from_lon: np.ndarray, to_lat: np.ndarray, to_lon: np.ndarray
    ) -> np.ndarray:
        """Whether some origin has a path to each destination, at any distance.

        Parameters
        ----------
        from_lat, from_lon
            float64[k]: origins (for example the available members).
        to_lat, to_lon
            float64[n]: destinations.

        Returns
        -------
        bool[n]
        """
        to_node, _ = self.snap(to_lat, to_lon)
        from_node, _ = self.snap(from_lat, from_lon)
        if from_node.size == 0:
            return np.zeros(to_node.shape[0], dtype=bool)
        # One multi-source search: the distance from the nearest origin to every node.
        nearest = dijkstra(self.adjacency, directed=True, indices=np.unique(from_node), min_only=True)
        return np.isfinite(nearest[to_node])

    def summary(
        self,
        member_lat: np.ndarray,
        member_lon: np.ndarray,
        household_lat: np.ndarray,
        household_lon: np.ndarray,
    ) -> NetworkSummary:
        """Size of the network and how far members and households lie from it, for ``report.json``."""
        _, member_snap = self.snap(member_lat, member_lon)
        _, household_snap = self.snap(household_lat, household_lon)

        def stats(values: np.ndarray) -> tuple[float, float]:
            if values.size == 0:
                return 0.0, 0.0
            return round(float(np.median(values)), 1), round(float(values.max()), 1)

        member_median, member_max = stats(member_snap)
        household_median, household_max = stats(household_snap)
        return NetworkSummary(
            file=self.name,
            nodes=self.num_nodes,
            edges=self.edges,
            directed=self.directed,
            member_snap_median_m=member_median,
            member_snap_max_m=member_max,
            household_snap_median_m=household_median,
            household_snap_max_m=household_max,
        )

    def __repr__(self) -> str:
        kind = "directed" if self.directed else "undirected"
        return f"<WalkingNetwork {self.name!r}: {self.num_nodes:,} nodes, {self.edges:,} {kind} edges>"


def as_network(network: WalkingNetwork | str | Path | None) -> WalkingNetwork | None:
    """A network, read from a file when given as a path; ``None`` stays ``None``."""
    if network is None or isinstance(network, WalkingNetwork):
        return network
    return WalkingNetwork.read(network)


# -- helpers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Groups:
    """Items grouped by key, CSR style: the items of group g are ``items[ptr[g]:ptr[g + 1]]``."""

    ptr: np.ndarray
    items: np.ndarray

    def expand(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each entry of ``groups``, every item of that group: (entry index, item) pairs."""
        start = self.ptr[groups]
        count = self.ptr[groups + 1] - start
        entry = np.repeat(np.arange(groups.shape[0]), count)
        offset = np.arange(entry.shape[0]) - np.repeat(np.cumsum(count) - count, count)
        return entry, self.items[start[entry] + offset]


BLOCK_BUDGET_SPREAD = 1.25
"""Largest ratio of path budgets within one block of Dijkstra sources."""


def _blocks(budget: np.ndarray, rows: int) -> list[np.ndarray]:
    """Sources in blocks of at most ``rows``, by increasing budget.

    One block shares one cut-off (its largest budget), and a search costs
    about the area its cut-off covers, so a block never mixes budgets more
    than :data:`BLOCK_BUDGET_SPREAD` apart, nor finite budgets with the
    unlimited ones of mobile members.
    """
    order = np.argsort(budget, kind="stable")
    blocks: list[np.ndarray] = []
    start = 0
    for i in range(1, order.size + 1):
        if i < order.size:
            first, value = budget[order[start]], budget[order[i]]
            same_kind = np.isfinite(first) == np.isfinite(value)
            close = not np.isfinite(value) or value <= BLOCK_BUDGET_SPREAD * first + 1.0
            if i - start < rows and same_kind and close:
                continue
        blocks.append(order[start:i])
        start = i
    return blocks


def _group(keys: np.ndarray, items: np.ndarray | None = None) -> tuple[np.ndarray, _Groups]:
    """Distinct keys (sorted) and the items of each (positions of ``keys`` unless ``items`` is given)."""
    distinct, inverse = np.unique(keys, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    ptr = np.zeros(distinct.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(inverse, minlength=distinct.shape[0]), out=ptr[1:])
    chosen = order if items is None else np.asarray(items)[order]
    return distinct, _Groups(ptr, chosen.astype(np.int64))


@dataclass(slots=True)
class _GraphParts:
    """A graph as read, before any check: node ids with raw coordinates, edges with raw lengths."""

    nodes: list[Any] = field(default_factory=list)
    x: list[Any] = field(default_factory=list)
    y: list[Any] = field(default_factory=list)
    lon: list[Any] = field(default_factory=list)
    lat: list[Any] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)
    lengths: list[Any] = field(default_factory=list)
    directed: list[bool] = field(default_factory=list)
    crs: Any = None

    @classmethod
    def of(cls, graph: nx.Graph) -> _GraphParts:
        parts = cls(crs=graph.graph.get("crs"))
        for node, data in graph.nodes(data=True):
            parts.nodes.append(node)
            parts.x.append(data.get("x"))
            parts.y.append(data.get("y"))
            parts.lon.append(data.get("lon"))
            parts.lat.append(data.get("lat"))
        for u, v, length in graph.edges(data="length"):
            parts.sources.append(u)
            parts.targets.append(v)
            parts.lengths.append(length)
        parts.directed = [graph.is_directed()] * len(parts.sources)
        return parts


class _UnusualGraphML(Exception):
    """GraphML beyond what OSMnx writes (nested graphs, hyperedges, ports): left to networkx."""


_NODE_FIELDS = ("x", "y", "lon", "lat")


def _stream_graphml(path: Path) -> _GraphParts:
    """The first graph of a GraphML file, keeping only coordinates, lengths and directions.

    Elements are cleared once read, so a file of hundreds of megabytes (OSMnx
    writes every street's name and geometry) needs little memory.
    """
    parts = _GraphParts()
    key_name: dict[str, str] = {}  # key id → attribute name, for the attributes read here
    key_default: dict[str, str] = {}
    graph_key = set()
    edge_default_directed = False
    graphs = 0
    inside: ElementTree.Element | None = None  # the node or edge being read
    root_seen = False
    for event, element in ElementTree.iterparse(path, events=("start", "end")):
        tag = element.tag.rsplit("}", 1)[-1]
        if event == "start":
            if not root_seen:
                root_seen = True
                if tag != "graphml":
                    raise ElementTree.ParseError(f"the root element is <{tag}>, not <graphml>")
            elif tag == "graph":
                graphs += 1
                if graphs > 1 or inside is not None:
                    raise _UnusualGraphML
                edge_default_directed = element.get("edgedefault") == "directed"
            elif tag in ("node", "edge"):
                inside = element
            elif tag in ("hyperedge", "port", "endpoint", "locator"):
                raise _UnusualGraphML
            continue
        if tag == "key":
            name, domain = element.get("attr.name"), element.get("for", "all")
            wanted = (
                (domain in ("node", "all") and name in _NODE_FIELDS)
                or (domain in ("edge", "all") and name == "length")
                or (domain in ("graph", "all") and name == "crs")
            )
            if wanted and element.get("id") is not None:
                key_name[element.get("id")] = name
                if domain in ("graph", "all") and name == "crs":
                    graph_key.add(element.get("id"))
                default = next((c for c in element if c.tag.rsplit("}", 1)[-1] == "default"), None)
                if default is not None and default.text is not None:
                    key_default[element.get("id")] = default.text
        elif tag == "data" and inside is None and element.get("key") in graph_key:
            parts.crs = element.text
        elif tag in ("node", "edge"):
            values = {key_name[k]: v for k, v in key_default.items()}
            for child in element:
                name = key_name.get(child.get("key", ""))
                if name is not None and child.tag.rsplit("}", 1)[-1] == "data":
                    values[name] = child.text
            if tag == "node":
                parts.nodes.append(element.get("id"))
                for name in _NODE_FIELDS:
                    getattr(parts, name).append(values.get(name))
            else:
                parts.sources.append(element.get("source"))
                parts.targets.append(element.get("target"))
                parts.lengths.append(values.get("length"))
                own = element.get("directed")
                parts.directed.append(edge_default_directed if own is None else own.strip().lower() == "true")
            inside = None
            element.clear()
    return parts


def _adjacency(
    source: np.ndarray, target: np.ndarray, length: np.ndarray, count: int, *, directed: bool
) -> sp.csr_matrix:
    """CSR of edge lengths: both ways unless directed, parallel edges keep the shortest, no self-loops."""
    if not directed:
        source, target, length = (
            np.concatenate((source, target)),
            np.concatenate((target, source)),
            np.concatenate((length, length)),
        )
    proper = source != target
    source, target, length = source[proper], target[proper], length[proper]
    order = np.lexsort((length, target, source))
    source, target, length = source[order], target[order], length[order]
    first = np.r_[True, (source[1:] != source[:-1]) | (target[1:] != target[:-1])] if source.size else np.zeros(0, bool)
    source, target, length = source[first], target[first], length[first]
    # Built from CSR arrays directly: explicit zero lengths stay edges.
    ptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=count), out=ptr[1:])
    return sp.csr_matrix((length, target, ptr), shape=(count, count))


def _node_coordinates(
    parts: _GraphParts, issues: IssueCollector, lon_key: str, lat_key: str
) -> tuple[np.ndarray, np.ndarray]:
    """Node latitudes and longitudes from the fields named (``x``/``y`` or ``lon``/``lat``); bad ones to ``issues``."""
    count = len(parts.nodes)
    lat = np.full(count, np.nan)
    lon = np.full(count, np.nan)
    for key, out, bound in ((lon_key, lon, 180.0), (lat_key, lat, 90.0)):
        for i, raw in enumerate(getattr(parts, key)):
            value = _number(raw)
            if value is None:
                issues.add(
                    None,
                    key,
                    f"node {parts.nodes[i]!r}: coordinate missing or not a number",
                    None if raw is None else str(raw),
                )
            elif abs(value) > bound:
                issues.add(
                    None,
                    key,
                    f"node {parts.nodes[i]!r}: not a WGS84 "
                    f"{'longitude' if bound > 90 else 'latitude'} in degrees "
                    "(is the graph projected?)",
                    str(raw),
                )
            else:
                out[i] = value
    return lat, lon


def _declared_edges(
    parts: _GraphParts, issues: IssueCollector
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source and target node indices, lengths and one-way flags of the good edges; bad ones go to ``issues``."""
    index = {node: i for i, node in enumerate(parts.nodes)}
    sources, targets, lengths, directed = [], [], [], []
    for u, v, raw, one_way in zip(parts.sources, parts.targets, parts.lengths, parts.directed, strict=True):
        value = _number(raw)
        ends = (index.get(u), index.get(v))
        if ends[0] is None or ends[1] is None:
            issues.add(None, None, f"edge {u!r} → {v!r}: node {(u if ends[0] is None else v)!r} is not declared")
            continue
        if value is None or value < 0:
            what = "length missing or not a number" if value is None else "negative length"
            issues.add(None, "length", f"edge {u!r} → {v!r}: {what}", None if raw is None else str(raw))
            continue
        sources.append(ends[0])
        targets.append(ends[1])
        lengths.append(value)
        directed.append(one_way)
    return (
        np.asarray(sources, np.int64),
        np.asarray(targets, np.int64),
        np.asarray(lengths, np.float64),
        np.asarray(directed, bool),
    )


def _edge_csv_numbers(frame: pd.DataFrame, column: str, issues: IssueCollector) -> np.ndarray:
    """A coordinate or length column of an edge list as floats (NaN where bad; each bad cell goes to ``issues``)."""
    text = frame[column].astype(str).str.strip()
    parsed = np.array([np.nan if (v := _number(t)) is None else v for t in text], dtype=np.float64)
    bound = _DEGREE_BOUNDS.get(column)
    blank = missing_mask(text)
    finite = np.isfinite(parsed)
    issues.where(~finite & blank, column, "required value is blank")
    issues.where(~finite & ~blank, column, "expected a number", text)
    if bound is not None:
        issues.where(finite & (np.abs(parsed) > bound), column, f"outside ±{bound:g} degrees", text)
    else:
        issues.where(finite & (parsed < 0), column, "negative length", text)
    return parsed


def _edge_csv_oneway(frame: pd.DataFrame, issues: IssueCollector) -> np.ndarray:
    """The edge list's ``oneway`` flags (blank or no column: both ways); unknown words go to ``issues``."""
    from ..io.validate import BOOL_FALSE, BOOL_TRUE

    if "oneway" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    word = frame["oneway"].astype(str).str.strip().str.lower()
    oneway = word.isin(BOOL_TRUE).to_numpy()
    unknown = ~(oneway | word.isin(BOOL_FALSE).to_numpy() | missing_mask(word))
    issues.where(unknown, "oneway", "expected yes/no (blank: no)", frame["oneway"])
    return oneway


def _both_ways_adjacency(
    source: np.ndarray, target: np.ndarray, length: np.ndarray, one_way: np.ndarray, count: int
) -> sp.csr_matrix:
    """The adjacency of edges that run both ways unless flagged one-way (from source to target)."""
    both = ~one_way
    return _adjacency(
        np.concatenate((source, target[both])),
        np.concatenate((target, source[both])),
        np.concatenate((length, length[both])),
        count,
        directed=True,
    )


def _number(value: Any) -> float | None:
    """A finite float from a number or its text (GraphML from OSMnx stores text); None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _require_file(path: Path, file: str) -> None:
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "file not found"
        raise InputError(Issue(file, None, None, what))
