"""Deterministic synthetic towns shaped like 大孟镇, for the demo, tests and benchmarks.

A town (:func:`make_town`) has about 32 branches over some 10 × 10 km:
villages whose households cluster around the village centre (some made of
2–4 natural villages, like 土寨村), apartment communities of buildings and
stairwell units, one of them shaped like 朱大汉社区 (12 compounds, 32
buildings, units of 12 households that go whole to one member), and a
demolished village like 李小安村 whose households now live in three
communities 2–5 km away while its members follow them (``mobile``).
Members live among the households of their branch; one or two branches are
short of capacity so that shortage shows. :func:`make_county` puts several
towns side by side and :func:`relocate` applies a relocation and illness
event to a town with current contacts, the input of a rebalance.

The same seed gives byte-identical frames and files: every draw comes from
one :func:`numpy.random.default_rng` seeded with the given seed (a
:class:`numpy.random.SeedSequence` child per town in a county); nothing reads
the global generator or the clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..io.policy import PRIORITIES, Policy
from ..model.geo import EARTH_RADIUS_M, great_circle_m

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "HOUSEHOLD_COLUMNS",
    "MEMBER_COLUMNS",
    "LocatedCommunity",
    "Town",
    "make_community_with_locations",
    "make_county",
    "make_river_town",
    "make_town",
    "relocate",
    "with_hours",
]

MEMBER_COLUMNS: tuple[str, ...] = (
    "member_id",
    "name",
    "branch",
    "lat",
    "lon",
    "age",
    "capacity",
    "max_distance_m",
    "mobile",
    "available",
)
"""Columns of :attr:`Town.members`, in the data contract's order."""
HOUSEHOLD_COLUMNS: tuple[str, ...] = (
    "household_id",
    "head_name",
    "branch",
    "lat",
    "lon",
    "size",
    "priority",
    "visits_per_week",
    "group_id",
    "current_member_id",
    "pinned",
    "address",
)
"""Columns of :attr:`Town.households`: the contract's, then ``address`` (passed through)."""

_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0
_UNIT_SIZE = 12  # households per stairwell unit (朱大汉社区: 每个党员分包一个单元的12户)
_SITE_RADIUS_M = 220.0  # spread of relocated households around a community centre

# Positions (metres east, north of the town centre) of the branches the
# article names; the old site of the demolished village is 3–4.5 km from the
# three communities its households moved to.
_STAIRWELL_XY = (-900.0, 700.0)
_RELOCATED_XY = (-2300.0, -2100.0)
_SITE_XY = ((0.0, 0.0), (1100.0, -250.0), (900.0, 750.0))

_SURNAMES = np.array(
    list(
        "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许沈曾彭吕苏卢蒋蔡贾丁魏薛叶"
        "阎潘杜戴夏田任姜范方石姚谭尚校尤翟牛岳孟葛娄申"
    )
)
# Common surnames are drawn more often (roughly Zipf, as in a Henan town).
_SURNAME_P = 1.0 / np.arange(1, len(_SURNAMES) + 1) ** 0.8
_SURNAME_P /= _SURNAME_P.sum()
_GIVEN_FIRST = list("文爱志丹冬永刚会淑明中巧海建国秀玉春桂振保金德新秋小荣俊红树")
_GIVEN_SECOND = list("忠琴鹏华梅贞杰民娟豪山凤峰胜英兰军伟芳霞强亮平敏丽涛辉勇燕林生成福")
_GIVEN_SINGLE = list("瑞强军伟芳敏磊静勇娜")
_GIVEN = np.array([a + b for a in _GIVEN_FIRST for b in _GIVEN_SECOND] + _GIVEN_SINGLE)

_VILLAGE_PREFIX = list("东西南北前后大小新老上下")
_VILLAGE_CORE = list("王张刘赵孙马郭高宋冯丁杨韩陈黄姚胡苗潘岳")
_VILLAGE_SUFFIX = ["庄村", "寨村", "营村", "楼村", "岗村", "集村", "桥村", "店村", "屯村", "湾村"]
_COMMUNITY_CORE = [
    "滨河",
    "和谐",
    "幸福",
    "文昌",
    "建设",
    "锦绣",
    "阳光",
    "东城",
    "西城",
    "南苑",
    "北苑",
    "惠民",
    "安居",
    "康宁",
    "新华",
    "胜利",
    "长青",
    "丰乐",
    "祥和",
    "瑞景",
]
_TOWN_NAMES = [
    "大孟镇",
    "官渡镇",
    "狼城岗镇",
    "万滩镇",
    "韩寺镇",
    "姚家镇",
    "雁鸣湖镇",
    "黄店镇",
    "刘集镇",
    "三官庙镇",
    "刁家乡",
    "八岗镇",
    "张庄镇",
    "白沙镇",
    "郑庵镇",
]
_CN_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True, eq=False)
class Town:
    """Member and household tables of a synthetic town, in the data contract's columns.

    Attributes
    ----------
    members
        One row per party member: :data:`MEMBER_COLUMNS`. ``capacity`` is
        ``Int64`` and mostly missing (the policy's default by age applies),
        ``max_distance_m`` mostly NaN, ``mobile`` and ``available`` bool.
    households
        One row per household: :data:`HOUSEHOLD_COLUMNS`. ``visits_per_week``,
        ``group_id`` and ``current_member_id`` are missing where not given;
        ``pinned`` is bool.
    centres
        Branch → (lat, lon) of the village or community centre; for a
        demolished village, its old site. Empty for towns built by hand.
    """

    members: pd.DataFrame
    households: pd.DataFrame
    centres: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def write_csv(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``members.csv`` and ``households.csv`` (UTF-8, no index, booleans as true/false).

        Parameters
        ----------
        directory
            Folder to write into; created when missing.

        Returns
        -------
        tuple of Path
            The members file and the households file. The same town always
            gives byte-identical files.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        paths = (folder / "members.csv", folder / "households.csv")
        for frame, path in zip((self.members, self.households), paths, strict=True):
            _as_file_frame(frame).to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        return paths

    def __repr__(self) -> str:
        branches = self.households["branch"].nunique()
        return f"<Town {len(self.households):,} households, {len(self.members):,} members, {branches} branches>"


def make_town(
    seed: int = 0,
    *,
    households: int = 12_000,
    branches: int = 32,
    members_per_household: float = 1 / 6,
    stairwells: bool = True,
    relocation: bool = True,
    current: bool = False,
    center: tuple[float, float] = (34.72, 114.0),
) -> Town:
    """A synthetic town like 大孟镇, the same for the same arguments.

    Parameters
    ----------
    seed
        Seed of the only random generator used.
    households
        Number of households, exactly (at least ``branches``).
    branches
        Number of branches (villages and communities). The ones the article
        names come first: 朱大汉社区, 李小安村 (when ``relocation``), 土寨村,
        万胜村, 镇区社区, 绿博二号社区, 绿博三号社区; then generated villages.
    members_per_household
        Members per household over the town (1/6 gives about 75 % of the
        capacity used); individual branches vary, one or two are short.
    stairwells
        Give the households of 朱大汉社区 a ``group_id`` per stairwell unit of
        12 households (``"ZDH-B07-U2"``); otherwise ``group_id`` stays empty.
    relocation
        Include the demolished village 李小安村: households in three
        communities 2–5 km from the old site, members ``mobile``.
    current
        Fill ``current_member_id`` with a plausible assignment: each
        household (or whole unit) to the nearest available member of its
        branch within reach who has capacity left; empty where none.
    center
        (lat, lon) of the town centre in WGS84 degrees.

    Returns
    -------
    Town
        Members and households with ids ``"M00001"`` and ``"H000001"``.

    Raises
    ------
    ValueError
        When ``branches < 1``, ``households < branches`` or
        ``members_per_household <= 0``.

    Examples
    --------
    >>> town = make_town(0, households=600, branches=4)
    >>> len(town.households)
    600
    """
    return _build_town(
        np.random.SeedSequence(seed),
        households=households,
        branches=branches,
        members_per_household=members_per_household,
        stairwells=stairwells,
        relocation=relocation,
        current=current,
        center=center,
        famous=True,
    )


def make_county(
    seed: int = 0,
    *,
    towns: int = 6,
    households: int = 74_000,
    center: tuple[float, float] = (34.72, 114.0),
    **kw: object,
) -> Town:
    """Several towns side by side (14 km apart), as one table: a county of ~12,000 members.

    Parameters
    ----------
    seed
        Seed; town ``k`` is built from the ``k``-th child of its
        :class:`~numpy.random.SeedSequence`.
    towns
        Number of towns.
    households
        Households over all towns, split unevenly (±20 %) between them.
    center
        (lat, lon) of the county centre.
    **kw
        Passed to every town: ``branches``, ``members_per_household``,
        ``stairwells``, ``relocation``, ``current``.

    Returns
    -------
    Town
        Ids carry the town's prefix (``"T2-M00017"``, ``"T2-ZDH-B03-U1"``) and
        branch names the town's name (``"官渡镇王庄村"``), so both stay unique.
        The first town uses the names of the article, the others generated ones.
    """
    if towns < 1:
        raise ValueError(f"towns must be at least 1, got {towns}")
    allowed = {"branches", "members_per_household", "stairwells", "relocation", "current"}
    unknown = sorted(set(kw) - allowed)
    if unknown:
        raise TypeError(f"make_county() got unexpected arguments {unknown}; allowed {sorted(allowed)}")
    root = np.random.SeedSequence(seed)
    children = root.spawn(towns)
    share = np.random.default_rng(root.spawn(1)[0]).uniform(0.8, 1.2, towns)
    per_town = _largest_remainder(share / share.sum() * households)
    cols = math.ceil(math.sqrt(towns))
    rows = math.ceil(towns / cols)
    spacing = 14_000.0  # towns ~10 km wide, a little open country between them
    member_parts, household_parts = [], []
    centres: dict[str, tuple[float, float]] = {}
    for k in range(towns):
        x = (k % cols - (cols - 1) / 2) * spacing
        y = ((rows - 1) / 2 - k // cols) * spacing
        lat, lon = _to_latlon(np.array([x]), np.array([y]), center)
        town = _build_town(
            children[k],
            households=int(per_town[k]),
            center=(float(lat[0]), float(lon[0])),
            famous=k == 0,
            **kw,  # type: ignore[arg-type]
        )
        name = _TOWN_NAMES[k] if k < len(_TOWN_NAMES) else f"第{k + 1}镇"
        prefix = f"T{k + 1}-"
        members, homes = town.members.copy(), town.households.copy()
        members["member_id"] = prefix + members["member_id"]
        members["branch"] = name + members["branch"]
        homes["household_id"] = prefix + homes["household_id"]
        homes["branch"] = name + homes["branch"]
        homes["group_id"] = prefix + homes["group_id"]
        homes["current_member_id"] = prefix + homes["current_member_id"]
        member_parts.append(members)
        household_parts.append(homes)
        centres.update({name + b: c for b, c in town.centres.items()})
    return Town(
        pd.concat(member_parts, ignore_index=True),
        pd.concat(household_parts, ignore_index=True),
        centres,
    )


def with_hours(
    town: Town,
    seed: int = 0,
    *,
    share: float = 0.7,
    hours: tuple[float, float] = (3.0, 12.0),
) -> Town:
    """The same town where a share of members give weekly hours (``hours_per_week``).

    Parameters
    ----------
    town
        Any town.
    seed
        Seed of the choice of members and of their hours.
    share
        Fraction of members with an hour budget; the others stay unlimited (blank).
    hours
        Range of the budgets, in hours per week, drawn uniformly and rounded
        to the half hour. A daily visit costs about 2 h a week, so budgets
        bind for members who would otherwise take critical households.

    Returns
    -------
    Town
        A new town; the input is not changed.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x686F757273]))
    n = len(town.members)
    given = rng.random(n) < share
    value = np.round(rng.uniform(hours[0], hours[1], n) * 2.0) / 2.0
    members = town.members.copy()
    members["hours_per_week"] = np.where(given, value, np.nan)
    return Town(members=members, households=town.households.copy(), centres=dict(town.centres))


def relocate(
    town: Town,
    seed: int = 0,
    *,
    branch: str | None = None,
    ill_fraction: float = 0.05,
    new_households: int = 20,
) -> Town:
    """A relocation and illness event on a town with current contacts: the input of a rebalance.

    The households of one village move into apartment communities 2–5 km
    away and its members become ``mobile`` (移动包户); ``ill_fraction`` of
    all members fall ill (``available`` false); ``new_households`` arrive
    (returnees, a quarter of them quarantined) with no current contact; about
    2 % of the households whose current member can still serve them are
    pinned. ``current_member_id`` is kept as it was.

    Parameters
    ----------
    town
        A town, usually from :func:`make_town` with ``current=True``.
    seed
        Seed of the event's random generator.
    branch
        The village to relocate; by default one village (a branch whose
        name ends in 村 and whose members are not already mobile) drawn
        at random.
    ill_fraction
        Share of all members marked unavailable, drawn among the available.
    new_households
        Households added, with ids continuing the town's numbering.

    Returns
    -------
    Town
        A new town; the input is not modified. Existing households keep
        their ids and row order, new ones are appended.

    Raises
    ------
    ValueError
        When ``branch`` has no households, no village can be relocated, or
        ``ill_fraction`` is outside [0, 1] or ``new_households`` negative.
    """
    if not 0.0 <= ill_fraction <= 1.0:
        raise ValueError(f"ill_fraction must be within [0, 1], got {ill_fraction}")
    if new_households < 0:
        raise ValueError(f"new_households must be >= 0, got {new_households}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    members, homes = _with_event_columns(town)
    centres = dict(town.centres)
    branch = _branch_to_relocate(rng, members, homes, branch)
    chosen = _destinations(rng, branch, homes, centres)
    _move_village(rng, branch, chosen, members, homes)

    # Illness: drawn among the members still available.
    available = members["available"].to_numpy(dtype=bool)
    falling_ill = min(round(ill_fraction * len(members)), int(available.sum()))
    ill = rng.permutation(np.flatnonzero(available))[:falling_ill]
    members.loc[members.index[np.sort(ill)], "available"] = False

    if new_households:
        homes = pd.concat([homes, _arrivals(rng, homes, new_households)], ignore_index=True)

    # Pins: only where the current member can still serve the household.
    homes["pinned"] = False
    fine = _current_still_fine(members, homes, Policy())
    count = min(round(0.02 * len(homes)), len(fine))
    pinned = np.sort(rng.permutation(fine)[:count])
    homes.loc[homes.index[pinned], "pinned"] = True
    homes["pinned"] = homes["pinned"].astype(bool)
    return Town(members.reset_index(drop=True), homes.reset_index(drop=True), centres)


def _with_event_columns(town: Town) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copies of the town's tables with the columns a relocation event writes (defaults where missing)."""
    members = town.members.copy()
    homes = town.households.copy()
    for column, default in (("mobile", False), ("available", True)):
        if column not in members:
            members[column] = default
    for column in ("group_id", "current_member_id"):
        if column not in homes:
            homes[column] = pd.Series(np.nan, index=homes.index, dtype="str")
    if "pinned" not in homes:
        homes["pinned"] = False
    return members, homes


def _branch_to_relocate(
    rng: np.random.Generator, members: pd.DataFrame, homes: pd.DataFrame, branch: str | None
) -> str:
    """The branch given (checked), or a village whose members are not all mobile yet, drawn at random."""
    names = sorted(homes["branch"].unique().tolist())
    if branch is None:
        mobile_all = members.groupby("branch")["mobile"].all()
        villages = [b for b in names if b.endswith("村") and not bool(mobile_all.get(b, False))]
        if not villages:
            raise ValueError("no village branch left to relocate")
        return villages[int(rng.integers(len(villages)))]
    if branch not in names:
        raise ValueError(f"branch {branch!r} has no households; branches are {names}")
    return branch


def _branch_centre(name: str, homes: pd.DataFrame, centres: Mapping[str, tuple[float, float]]) -> tuple[float, float]:
    """The branch's known centre, else the median of its households' coordinates."""
    if name in centres:
        return centres[name]
    rows = homes["branch"] == name
    return float(homes.loc[rows, "lat"].median()), float(homes.loc[rows, "lon"].median())


def _destinations(
    rng: np.random.Generator, branch: str, homes: pd.DataFrame, centres: Mapping[str, tuple[float, float]]
) -> list[tuple[str, tuple[float, float]]]:
    """Up to three communities (name, centre) the village moves into, new ones when none lies at the right distance.

    A community qualifies when its centre lies far enough that the whole
    spread of relocated households stays 2–5 km from the old site.
    """
    names = sorted(homes["branch"].unique().tolist())
    origin = _branch_centre(branch, homes, centres)
    sites = [(name, _branch_centre(name, homes, centres)) for name in names if name.endswith("社区") and name != branch]
    far = [
        (name, c)
        for name, c in sites
        if 2000.0 + 2 * _SITE_RADIUS_M
        <= great_circle_m(origin[0], origin[1], c[0], c[1])
        <= 5000.0 - 2 * _SITE_RADIUS_M
    ]
    if far:
        pick = rng.permutation(len(far))[:3]
        return [far[i] for i in sorted(pick)]
    bearing = rng.uniform(0.0, 2 * np.pi) + np.array([0.0, 0.5, 1.0])
    distance = rng.uniform(3000.0, 4000.0, 3)
    lat, lon = _to_latlon(distance * np.sin(bearing), distance * np.cos(bearing), origin)
    return [(f"新区{_cn(i + 1)}号社区", (float(lat[i]), float(lon[i]))) for i in range(3)]


def _move_village(
    rng: np.random.Generator,
    branch: str,
    chosen: list[tuple[str, tuple[float, float]]],
    members: pd.DataFrame,
    homes: pd.DataFrame,
) -> None:
    """Move the branch's households into the chosen communities (in place) and make its members mobile."""
    moving = np.flatnonzero(homes["branch"].to_numpy(dtype=object) == branch)
    site_of = rng.choice(len(chosen), size=len(moving), p=_site_shares(len(chosen)))
    site_lat = np.array([c[1][0] for c in chosen])[site_of]
    site_lon = np.array([c[1][1] for c in chosen])[site_of]
    dx, dy = _disk(rng, len(moving), _SITE_RADIUS_M)
    lat, lon = _to_latlon(dx, dy, (0.0, 0.0))
    homes.loc[homes.index[moving], "lat"] = np.round(site_lat + lat, 6)
    homes.loc[homes.index[moving], "lon"] = np.round(site_lon + lon / np.cos(np.radians(site_lat)), 6)
    homes.loc[homes.index[moving], "address"] = _flat_addresses(
        rng, np.array([c[0] for c in chosen], dtype=str)[site_of]
    )
    # The stairwell units they lived in are gone with the move.
    homes.loc[homes.index[moving], "group_id"] = np.nan
    members.loc[members["branch"] == branch, "mobile"] = True


# --------------------------------------------------------------------------- building a town


@dataclass
class _Branch:
    name: str
    kind: str  # "village", "apartments", "stairwells" or "relocated"
    weight: float  # households in a town of 12,000
    member_factor: float  # members per household relative to the town's rate
    surname: str | None = None
    clusters: int = 0  # natural villages; 0: drawn
    code: str = ""  # group_id prefix of a stairwell community
    xy: tuple[float, float] | None = None


def _build_town(
    ss: np.random.SeedSequence,
    *,
    households: int,
    branches: int = 32,
    members_per_household: float = 1 / 6,
    stairwells: bool = True,
    relocation: bool = True,
    current: bool = False,
    center: tuple[float, float] = (34.72, 114.0),
    famous: bool = True,
) -> Town:
    if branches < 1:
        raise ValueError(f"branches must be at least 1, got {branches}")
    if households < branches:
        raise ValueError(f"households ({households}) must be at least branches ({branches})")
    if not members_per_household > 0:
        raise ValueError(f"members_per_household must be > 0, got {members_per_household}")
    rng = np.random.default_rng(ss)
    plan = _plan_branches(rng, branches, relocation=relocation, famous=famous)
    counts = _household_counts(plan, households)
    member_counts = _member_counts(rng, plan, counts, members_per_household)
    _place_branches(rng, plan)

    h_parts: list[dict[str, np.ndarray]] = []
    m_parts: list[dict[str, np.ndarray]] = []
    centres: dict[str, tuple[float, float]] = {}
    for spec, n_h, n_m in zip(plan, counts, member_counts, strict=True):
        assert spec.xy is not None
        cx, cy = spec.xy
        if spec.kind == "village":
            hx, hy, address = _village(rng, spec, n_h)
            group = np.full(n_h, None, dtype=object)
        elif spec.kind == "relocated":
            site = rng.choice(len(_SITE_XY), size=n_h, p=_site_shares(len(_SITE_XY)))
            dx, dy = _disk(rng, n_h, _SITE_RADIUS_M)
            hx = np.array([s[0] for s in _SITE_XY])[site] + dx
            hy = np.array([s[1] for s in _SITE_XY])[site] + dy
            address = _flat_addresses(rng, np.array(_site_names(plan, famous), dtype=str)[site])
            group = np.full(n_h, None, dtype=object)
        else:
            hx, hy, address, group = _apartments(rng, spec, n_h, stairwells=stairwells and spec.kind == "stairwells")
        h_parts.append(_household_attributes(rng, spec, hx, hy, address, group))
        m_parts.append(_members_of(rng, spec, n_m, hx, hy))
        lat, lon = _to_latlon(np.array([cx]), np.array([cy]), center)
        centres[spec.name] = (round(float(lat[0]), 6), round(float(lon[0]), 6))

    members = _member_frame(m_parts, center)
    homes = _household_frame(h_parts, center)
    if current:
        homes["current_member_id"] = pd.Series(_assign_current(members, homes, Policy()), dtype="str")
    return Town(members, homes, centres)


def _plan_branches(rng: np.random.Generator, n: int, *, relocation: bool, famous: bool) -> list[_Branch]:
    """The branches in order: the ones the article describes first, then ordinary villages."""
    villages = _name_pool(rng, "村", 4 + n)
    communities = _name_pool(rng, "社区", 4)
    if famous:
        names = {
            "stair": "朱大汉社区",
            "reloc": "李小安村",
            "four": "土寨村",
            "rich": "万胜村",
        }
        sites = ["镇区社区", "绿博二号社区", "绿博三号社区"]
        surnames = {"stair": "朱", "reloc": "李", "four": "张", "rich": "马"}
        code = "ZDH"
    else:
        names = {
            "stair": communities[0],
            "reloc": villages[0],
            "four": villages[1],
            "rich": villages[2],
        }
        sites = communities[1:4]
        surnames = {k: str(_SURNAMES[rng.integers(20)]) for k in ("stair", "reloc", "four", "rich")}
        code = "LY"  # 楼院
    # Member rates from the article: 李小安村 80+ members for 230 households,
    # 土寨村 52 for 416 (short), 万胜村 38 for 170+; a stairwell community has
    # about 1.25 members per unit of 12 households.
    special = [
        _Branch(names["stair"], "stairwells", 1152, 0.625, surnames["stair"], code=code, xy=_STAIRWELL_XY),
    ]
    if relocation:
        special.append(_Branch(names["reloc"], "relocated", 230, 82 / 230 * 6, surnames["reloc"], xy=_RELOCATED_XY))
    special += [
        _Branch(names["four"], "village", 416, 52 / 416 * 6, surnames["four"], clusters=4),
        _Branch(names["rich"], "village", 172, 38 / 172 * 6, surnames["rich"], clusters=1),
    ]
    special += [
        _Branch(s, "apartments", w, 1.0, xy=xy) for s, w, xy in zip(sites, (900, 600, 600), _SITE_XY, strict=True)
    ]
    plan = special[:n]
    taken = {b.name for b in special}
    generic = [v for v in villages[3:] if v not in taken][: n - len(plan)]
    weights = 317.0 * rng.lognormal(0.0, 0.35, len(generic))
    for name, weight in zip(generic, weights, strict=True):
        core = name[1] if name[0] in _VILLAGE_PREFIX else name[0]
        surname = core if core in _SURNAMES else str(_SURNAMES[rng.integers(30)])
        plan.append(_Branch(name, "village", float(weight), float(rng.lognormal(0.0, 0.12)), surname))
    return plan


def _name_pool(rng: np.random.Generator, kind: str, n: int) -> list[str]:
    """``n`` distinct plausible names ending in 村 or 社区, none of the article's."""
    if kind == "村":
        pool = [p + c + s for p in _VILLAGE_PREFIX for c in _VILLAGE_CORE for s in _VILLAGE_SUFFIX]
        pool += [c + s for c in _VILLAGE_CORE for s in _VILLAGE_SUFFIX]
    else:
        pool = [c + "社区" for c in _COMMUNITY_CORE]
    picked = [pool[i] for i in rng.permutation(len(pool))[: min(n, len(pool))]]
    picked += [f"第{i + 1}{kind}" for i in range(n - len(picked))]
    return picked


def _household_counts(plan: list[_Branch], households: int) -> np.ndarray:
    """Households per branch in proportion to the weights; a stairwell community gets whole units."""
    weights = np.array([b.weight for b in plan])
    counts = _largest_remainder(weights / weights.sum() * (households - len(plan))) + 1
    for i, b in enumerate(plan):
        if b.kind != "stairwells" or len(plan) == 1:
            continue
        others = [j for j in range(len(plan)) if j != i]
        biggest = max(others, key=lambda j: (counts[j], -j))
        # In a full town the community keeps its real share (96 units of
        # 12,000 households: 32 buildings, 12 compounds); in a small one its weight.
        wanted = b.weight / 12_000 * households if len(plan) > 7 else counts[i]
        units = max(1, round(wanted / _UNIT_SIZE))
        while units > 1 and counts[biggest] - (units * _UNIT_SIZE - counts[i]) < 1:
            units -= 1
        counts[biggest] -= units * _UNIT_SIZE - counts[i]
        counts[i] = units * _UNIT_SIZE
    return counts


def _member_counts(rng: np.random.Generator, plan: list[_Branch], counts: np.ndarray, rate: float) -> np.ndarray:
    """Members per branch: the article's rates for named branches, the rest scaled to ``rate`` overall."""
    factors = np.array([b.member_factor for b in plan])
    generic = np.array([b.kind == "village" and b.clusters == 0 for b in plan])
    if generic.any():
        # One ordinary village is well short of capacity, as happens in practice.
        factors[np.flatnonzero(generic)[rng.integers(generic.sum())]] = 0.55
        fixed = (counts * factors)[~generic].sum()
        scale = (counts.sum() - fixed) / (counts * factors)[generic].sum()
        factors[generic] *= float(np.clip(scale, 0.7, 1.5))
    return np.maximum(2, np.round(counts * rate * factors)).astype(np.int64)


def _place_branches(rng: np.random.Generator, plan: list[_Branch]) -> None:
    """Centres of the branches without a fixed place, on a jittered grid clear of the fixed ones."""
    loose = [b for b in plan if b.xy is None]
    fixed = np.array([_STAIRWELL_XY, _RELOCATED_XY, *_SITE_XY])
    cell = 1650.0  # ~32 branches over ~10 × 10 km
    side = math.ceil(math.sqrt(len(loose) + 5))
    while True:
        ticks = (np.arange(side) - (side - 1) / 2) * cell
        gx, gy = (a.ravel() for a in np.meshgrid(ticks, ticks))
        near = np.hypot(gx[:, None] - fixed[None, :, 0], gy[:, None] - fixed[None, :, 1]).min(axis=1)
        free = np.flatnonzero(near >= 1400.0)
        if len(free) >= len(loose):
            break
        side += 1
    cells = np.sort(rng.permutation(free)[: len(loose)])
    jitter = rng.uniform(-0.2, 0.2, (len(loose), 2)) * cell
    for b, c, (jx, jy) in zip(loose, cells, jitter, strict=True):
        b.xy = (float(gx[c] + jx), float(gy[c] + jy))


def _village(rng: np.random.Generator, spec: _Branch, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Households around the village centre, in 1–4 natural villages (村民小组)."""
    assert spec.xy is not None
    radius = float(np.clip(180.0 * math.sqrt(n / 100.0) * rng.uniform(0.8, 1.2), 300.0, 700.0))
    k = spec.clusters or (1 if rng.random() < 0.6 else int(rng.integers(2, 5)))
    if k == 1:
        centres = np.array([spec.xy])
        spread = radius
        part = np.zeros(n, dtype=np.int64)
    else:
        angle = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(k) / k + rng.uniform(-0.3, 0.3, k)
        dist = radius * rng.uniform(0.45, 0.7, k)
        centres = np.column_stack((spec.xy[0] + dist * np.cos(angle), spec.xy[1] + dist * np.sin(angle)))
        spread = 0.3 * radius
        part = np.sort(rng.choice(k, size=n, p=rng.dirichlet(np.full(k, 4.0))))
    dx, dy = _disk(rng, n, spread)
    hx, hy = centres[part, 0] + dx, centres[part, 1] + dy
    # House numbers run within each natural village.
    starts = np.searchsorted(part, np.arange(k))
    number = np.arange(n) - starts[part] + 1
    label = np.full(n, spec.name + " ") if k == 1 else np.strings.add(spec.name, _cn_array(part + 1)) + "组 "
    return hx, hy, np.strings.add(np.strings.add(label, number.astype(str)), "号")


def _apartments(
    rng: np.random.Generator, spec: _Branch, n: int, *, stairwells: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Compounds (楼院) of buildings (楼栋) of stairwell units (单元) of 12 flats (6 floors × 2)."""
    assert spec.xy is not None
    units = max(1, math.ceil(n / _UNIT_SIZE))
    buildings = max(1, round(units / 3))  # 朱大汉社区: 96 units in 32 buildings
    compounds = max(1, round(buildings * 12 / 32))  # and 12 compounds
    unit_of = np.arange(n) // _UNIT_SIZE
    slot = np.arange(n) % _UNIT_SIZE
    room = (slot // 2 + 1) * 100 + slot % 2 + 1
    building_of_unit = np.arange(units) * buildings // units
    unit_no = np.arange(units) - np.searchsorted(building_of_unit, building_of_unit) + 1
    compound_of_building = np.arange(buildings) * compounds // buildings
    building_no = np.arange(buildings) - np.searchsorted(compound_of_building, compound_of_building) + 1
    # Compounds on a square grid 160 m apart, buildings in a row 45 m apart,
    # units 15 m apart along the building; a flat is its building ± 2 m.
    side = math.ceil(math.sqrt(compounds))
    cx = spec.xy[0] + (np.arange(compounds) % side - (side - 1) / 2) * 160.0
    cy = spec.xy[1] + (np.arange(compounds) // side - (side - 1) / 2) * 160.0
    bx = cx[compound_of_building] + (building_no - 2) * 45.0 + rng.uniform(-5, 5, buildings)
    by = cy[compound_of_building] + rng.uniform(-20, 20, buildings)
    per_building = np.bincount(building_of_unit, minlength=buildings)
    ux = bx[building_of_unit] + (unit_no - (per_building[building_of_unit] + 1) / 2) * 15.0
    uy = by[building_of_unit]
    hx = ux[unit_of] + rng.uniform(-2, 2, n)
    hy = uy[unit_of] + rng.uniform(-2, 2, n)
    b_of_h = building_of_unit[unit_of]
    c_of_h = compound_of_building[b_of_h]
    # "五区二号院三号楼一单元102室": two yards (compounds) to a district.
    address = _cn_array(c_of_h // 2 + 1)
    parts: list[np.ndarray | str] = [
        "区",
        _cn_array(c_of_h % 2 + 1),
        "号院",
        _cn_array(building_no[b_of_h]),
        "号楼",
        _cn_array(unit_no[unit_of]),
        "单元",
        room.astype(str),
        "室",
    ]
    for piece in parts:
        address = np.strings.add(address, piece)
    if stairwells:
        width = max(2, len(str(buildings)))
        b_text = np.strings.zfill((b_of_h + 1).astype(str), width)
        group = np.strings.add(np.strings.add(spec.code + "-B", b_text), "-U")
        group = np.strings.add(group, unit_no[unit_of].astype(str))
        group = group.astype(object)
    else:
        group = np.full(n, None, dtype=object)
    return hx, hy, address, group


def _flat_addresses(rng: np.random.Generator, community: np.ndarray) -> np.ndarray:
    """Addresses like "绿博二号社区三号楼一单元302室" for households moved into a community."""
    n = len(community)
    address = community
    parts: list[np.ndarray | str] = [
        _cn_array(rng.integers(1, 25, n)),
        "号楼",
        _cn_array(rng.integers(1, 4, n)),
        "单元",
        (rng.integers(1, 7, n) * 100 + rng.integers(1, 3, n)).astype(str),
        "室",
    ]
    for piece in parts:
        address = np.strings.add(address, piece)
    return address


def _site_names(plan: list[_Branch], famous: bool) -> list[str]:
    sites = [b.name for b in plan if b.kind == "apartments"]
    defaults = ["镇区社区", "绿博二号社区", "绿博三号社区"] if famous else ["新城社区", "安居社区", "康宁社区"]
    return (sites + defaults[len(sites) :])[:3]


def _site_shares(k: int) -> np.ndarray:
    shares = np.array([0.45, 0.3, 0.25])[:k]
    return shares / shares.sum()


def _household_attributes(
    rng: np.random.Generator, spec: _Branch, hx: np.ndarray, hy: np.ndarray, address: np.ndarray, group: np.ndarray
) -> dict[str, np.ndarray]:
    n = len(hx)
    u = rng.random(n)
    tier = np.where(u < 0.03, 2, np.where(u < 0.15, 1, 0))
    size = rng.choice(np.arange(1, 7), size=n, p=[0.08, 0.22, 0.25, 0.22, 0.15, 0.08])
    # Two in three critical households are elderly people living alone.
    alone = (tier == 2) & (rng.random(n) < 2 / 3)
    size[alone] = 1
    small = (tier == 1) & (rng.random(n) < 0.5)
    size[small] = rng.integers(1, 3, int(small.sum()))
    explicit = rng.random(n) < 0.03
    # A few offices set their own rhythm: 2–3 visits for a normal household,
    # daily for an elevated one, twice a day for a critical one.
    chosen = np.choose(tier, [rng.choice([2.0, 3.0], n), np.full(n, 7.0), np.full(n, 14.0)])
    visits = np.where(explicit, chosen, np.nan)
    return {
        "x": hx,
        "y": hy,
        "branch": np.full(n, spec.name),
        "head_name": _names(rng, n, spec.surname),
        "size": size,
        "tier": tier,
        "visits": visits,
        "group": group,
        "address": address,
    }


def _members_of(
    rng: np.random.Generator, spec: _Branch, n: int, hx: np.ndarray, hy: np.ndarray
) -> dict[str, np.ndarray]:
    """Members living among the households of their branch."""
    near = rng.integers(len(hx), size=n)
    if spec.kind in ("apartments", "stairwells"):
        mx, my = hx[near] + rng.uniform(-2, 2, n), hy[near] + rng.uniform(-2, 2, n)
    else:
        mx, my = hx[near] + rng.normal(0, 15, n), hy[near] + rng.normal(0, 15, n)
    if spec.kind == "relocated":
        # Some stayed near the old site, the rest moved with the households.
        assert spec.xy is not None
        old = rng.random(n) < 0.4
        dx, dy = _disk(rng, int(old.sum()), 300.0)
        mx[old], my[old] = spec.xy[0] + dx, spec.xy[1] + dy
    band = rng.choice(4, size=n, p=[0.18, 0.30, 0.27, 0.25])
    low, high = np.array([22, 40, 60, 70])[band], np.array([39, 59, 69, 85])[band]
    age = rng.integers(low, high + 1)
    capacity = np.full(n, np.nan)
    explicit = rng.random(n) < 0.045
    capacity[explicit] = rng.choice([3.0, 5.0, 6.0, 8.0, 12.0, 15.0], int(explicit.sum()))
    if spec.kind == "stairwells":
        # "每个党员分包一个单元的12户": every member of the community takes one whole unit.
        capacity[:] = _UNIT_SIZE
    reach = np.where(rng.random(n) < 0.03, rng.choice([1000.0, 1500.0, 2500.0, 3000.0], n), np.nan)
    return {
        "x": mx,
        "y": my,
        "branch": np.full(n, spec.name),
        "name": _names(rng, n, spec.surname),
        "age": age,
        "capacity": capacity,
        "reach": reach,
        "mobile": np.full(n, spec.kind == "relocated"),
        "available": rng.random(n) >= 0.02,
    }


def _member_frame(parts: list[dict[str, np.ndarray]], center: tuple[float, float]) -> pd.DataFrame:
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    lat, lon = _to_latlon(cat["x"], cat["y"], center)
    n = len(lat)
    return pd.DataFrame(
        {
            "member_id": pd.Series(_ids("M", n, 5), dtype="str"),
            "name": pd.Series(cat["name"], dtype="str"),
            "branch": pd.Series(cat["branch"], dtype="str"),
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "age": cat["age"].astype(np.int64),
            "capacity": pd.Series(cat["capacity"]).astype("Int64"),
            "max_distance_m": cat["reach"].astype(np.float64),
            "mobile": cat["mobile"].astype(bool),
            "available": cat["available"].astype(bool),
        }
    )


def _household_frame(parts: list[dict[str, np.ndarray]], center: tuple[float, float]) -> pd.DataFrame:
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    lat, lon = _to_latlon(cat["x"], cat["y"], center)
    n = len(lat)
    return pd.DataFrame(
        {
            "household_id": pd.Series(_ids("H", n, 6), dtype="str"),
            "head_name": pd.Series(cat["head_name"], dtype="str"),
            "branch": pd.Series(cat["branch"], dtype="str"),
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "size": cat["size"].astype(np.int64),
            "priority": pd.Series(np.array(PRIORITIES)[cat["tier"]], dtype="str"),
            "visits_per_week": cat["visits"].astype(np.float64),
            "group_id": pd.Series(cat["group"], dtype="str"),
            "current_member_id": pd.Series(np.full(n, None, dtype=object), dtype="str"),
            "pinned": np.zeros(n, dtype=bool),
            "address": pd.Series(cat["address"], dtype="str"),
        }
    )


def _arrivals(rng: np.random.Generator, homes: pd.DataFrame, n: int) -> pd.DataFrame:
    """New households next to existing ones of a random branch, numbered after the last id."""
    found = homes["household_id"].str.extract(r"^(.*?)(\d+)$")
    if found[1].isna().any() or not len(homes):
        prefix, width, last = "H", 6, 0
    else:
        numbers = found[1].astype(np.int64)
        top = int(numbers.to_numpy().argmax())
        prefix, width, last = str(found.iloc[top, 0]), len(found.iloc[top, 1]), int(numbers.iloc[top])
    ids = np.strings.add(prefix, np.strings.zfill((last + 1 + np.arange(n)).astype(str), width))
    if np.isin(ids, homes["household_id"].to_numpy(dtype=str)).any():
        raise ValueError("cannot number new households after the existing household ids")
    neighbour = rng.integers(len(homes), size=n)
    angle, dist = rng.uniform(0, 2 * np.pi, n), rng.uniform(40.0, 120.0, n)
    base_lat = homes["lat"].to_numpy(dtype=np.float64)[neighbour]
    dlat, dlon = _to_latlon(dist * np.cos(angle), dist * np.sin(angle), (0.0, 0.0))
    branch = homes["branch"].to_numpy(dtype=str)[neighbour]
    # Returnees found by the checks; a quarter of them are quarantined (重点户).
    u = rng.random(n)
    tier = np.where(u < 0.25, 2, np.where(u < 0.35, 1, 0))
    return pd.DataFrame(
        {
            "household_id": pd.Series(ids, dtype="str"),
            "head_name": pd.Series(_names(rng, n, None), dtype="str"),
            "branch": pd.Series(branch, dtype="str"),
            "lat": np.round(base_lat + dlat, 6),
            "lon": np.round(
                homes["lon"].to_numpy(dtype=np.float64)[neighbour] + dlon / np.cos(np.radians(base_lat)), 6
            ),
            "size": rng.integers(1, 5, n).astype(np.int64),
            "priority": pd.Series(np.array(PRIORITIES)[tier], dtype="str"),
            "visits_per_week": np.full(n, np.nan),
            "group_id": pd.Series(np.full(n, None, dtype=object), dtype="str"),
            "current_member_id": pd.Series(np.full(n, None, dtype=object), dtype="str"),
            "pinned": np.zeros(n, dtype=bool),
            "address": pd.Series(
                np.strings.add(np.strings.add(branch, " 新迁入"), (np.arange(n) + 1).astype(str)) + "号", dtype="str"
            ),
        }
    ).reindex(columns=homes.columns)


# --------------------------------------------------------------------------- current contacts


def _capacity(members: pd.DataFrame, policy: Policy) -> np.ndarray:
    """Capacity of every member, the policy's default by age where none is given."""
    given = pd.to_numeric(members["capacity"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    age = pd.to_numeric(members["age"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    default = np.full(len(age), policy.capacity_for_age(None), dtype=np.int64)
    for band in policy.capacity_by_age:  # sorted by min_age: the highest matching band wins
        default[age >= band.min_age] = band.capacity
    return np.where(np.isnan(given), default, np.nan_to_num(given)).astype(np.int64)


def _reach(members: pd.DataFrame, policy: Policy) -> np.ndarray:
    reach = pd.to_numeric(members["max_distance_m"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    reach = np.where(np.isnan(reach), policy.max_distance_m, reach)
    return np.where(members["mobile"].to_numpy(dtype=bool), np.inf, reach)


def _assign_current(members: pd.DataFrame, homes: pd.DataFrame, policy: Policy) -> np.ndarray:
    """Today's contact per household: nearest available member of the branch within reach with room.

    Households of a group travel together as one item. Rounds of proposals:
    every unplaced item asks its nearest member with enough room left; each
    member takes the proposals in order (critical first, then nearest) while
    room lasts. Deterministic, no solver; leaves a household empty when no
    member can take it.
    """
    capacity = _capacity(members, policy)
    # A metre off the reach keeps great-circle rounding from putting a
    # contact just beyond it.
    reach = _reach(members, policy) - 1.0
    serving = members["available"].to_numpy(dtype=bool) & (capacity > 0)
    m_lat, m_lon = members["lat"].to_numpy(np.float64), members["lon"].to_numpy(np.float64)
    h_lat, h_lon = homes["lat"].to_numpy(np.float64), homes["lon"].to_numpy(np.float64)
    tier_of = {p: i for i, p in enumerate(PRIORITIES)}
    h_tier = homes["priority"].map(tier_of).fillna(0).to_numpy(dtype=np.int64)
    branch_codes, branch_names = pd.factorize(
        pd.concat([homes["branch"], members["branch"]], ignore_index=True), sort=True
    )
    h_branch, m_branch = branch_codes[: len(homes)], branch_codes[len(homes) :]
    # Items: a whole group, or a single household.
    grouped = homes["group_id"].notna().to_numpy()
    group_codes, group_keys = pd.factorize((homes["branch"] + "\x1f" + homes["group_id"])[grouped])
    item_of = np.empty(len(homes), dtype=np.int64)
    item_of[grouped] = group_codes
    item_of[~grouped] = len(group_keys) + np.arange(int((~grouped).sum()))
    n_items = len(group_keys) + int((~grouped).sum())
    first = np.full(n_items, len(homes), dtype=np.int64)
    np.minimum.at(first, item_of, np.arange(len(homes)))
    weight = np.bincount(item_of, minlength=n_items)
    tier = np.zeros(n_items, dtype=np.int64)
    np.maximum.at(tier, item_of, h_tier)
    margin = np.where(weight > 1, 10.0, 0.0)  # households of a unit lie within a few metres

    member_of_item = np.full(n_items, -1, dtype=np.int64)
    i_branch = h_branch[first]
    item_order = np.argsort(i_branch, kind="stable")
    item_bounds = np.searchsorted(i_branch[item_order], np.arange(len(branch_names) + 1))
    m_order = np.argsort(m_branch, kind="stable")
    m_bounds = np.searchsorted(m_branch[m_order], np.arange(len(branch_names) + 1))
    for b in range(len(branch_names)):
        items = item_order[item_bounds[b] : item_bounds[b + 1]]
        staff = m_order[m_bounds[b] : m_bounds[b + 1]]
        staff = staff[serving[staff]]
        if not len(items) or not len(staff):
            continue
        rep = first[items]
        dist = np.empty((len(items), len(staff)))
        for lo in range(0, len(items), 2048):  # bounds the temporaries of a big branch
            hi = min(lo + 2048, len(items))
            dist[lo:hi] = great_circle_m(h_lat[rep[lo:hi], None], h_lon[rep[lo:hi], None], m_lat[staff], m_lon[staff])
        dist[dist + margin[items, None] > reach[staff][None, :]] = np.inf
        chosen = _proposal_rounds(dist, weight[items], tier[items], capacity[staff].copy())
        ok = chosen >= 0
        member_of_item[items[ok]] = staff[chosen[ok]]
    ids = members["member_id"].to_numpy(dtype=object)
    out = np.full(len(homes), None, dtype=object)
    placed = member_of_item[item_of] >= 0
    out[placed] = ids[member_of_item[item_of][placed]]
    return out


def _proposal_rounds(dist: np.ndarray, weight: np.ndarray, tier: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Column chosen per row of ``dist`` (-1: none), greedy by rounds of proposals."""
    chosen = np.full(len(dist), -1, dtype=np.int64)
    while True:
        open_rows = np.flatnonzero(chosen < 0)
        if not len(open_rows):
            break
        masked = np.where(room[None, :] >= weight[open_rows, None], dist[open_rows], np.inf)
        best = masked.argmin(axis=1)
        best_d = masked[np.arange(len(open_rows)), best]
        live = np.isfinite(best_d)
        if not live.any():
            break
        rows, cols, d = open_rows[live], best[live], best_d[live]
        order = np.lexsort((rows, d, -tier[rows], cols))
        rows, cols = rows[order], cols[order]
        w = weight[rows]
        run_start = np.r_[True, cols[1:] != cols[:-1]]
        total = np.cumsum(w)
        before = np.maximum.accumulate(np.where(run_start, total - w, 0))
        take = total - before <= room[cols]
        chosen[rows[take]] = cols[take]
        room -= np.bincount(cols[take], weights=w[take], minlength=len(room)).astype(room.dtype)
    return chosen


def _current_still_fine(members: pd.DataFrame, homes: pd.DataFrame, policy: Policy) -> np.ndarray:
    """Rows whose current member is available, of the same branch and within reach (or mobile)."""
    index = pd.Index(members["member_id"].to_numpy(dtype=object))
    current = homes["current_member_id"].to_numpy(dtype=object)
    has = homes["current_member_id"].notna().to_numpy()
    where = np.full(len(homes), -1, dtype=np.int64)
    where[has] = index.get_indexer(current[has])
    rows = np.flatnonzero(where >= 0)
    m = where[rows]
    same = members["branch"].to_numpy(dtype=object)[m] == homes["branch"].to_numpy(dtype=object)[rows]
    available = members["available"].to_numpy(dtype=bool)[m]
    dist = great_circle_m(
        homes["lat"].to_numpy(np.float64)[rows],
        homes["lon"].to_numpy(np.float64)[rows],
        members["lat"].to_numpy(np.float64)[m],
        members["lon"].to_numpy(np.float64)[m],
    )
    ok = same & available & (_capacity(members, policy)[m] > 0) & (dist <= _reach(members, policy)[m])
    return rows[ok]


# --------------------------------------------------------------------------- small utilities


def _as_file_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Booleans as lower-case true/false, the contract's spelling."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = np.where(out[column].to_numpy(), "true", "false")
    return out


def _names(rng: np.random.Generator, n: int, surname: str | None) -> np.ndarray:
    """Surname + given name; a village's own surname is common among its people."""
    family = rng.choice(_SURNAMES, size=n, p=_SURNAME_P)
    if surname is not None:
        family[rng.random(n) < 0.4] = surname
    return np.strings.add(family, _GIVEN[rng.integers(len(_GIVEN), size=n)])


def _ids(letter: str, n: int, width: int) -> np.ndarray:
    digits = np.strings.zfill(np.arange(1, n + 1).astype(str), max(width, len(str(n))))
    return np.strings.add(letter, digits)


def _cn(n: int) -> str:
    """Chinese numeral for 1–99 (三, 十二, 二十五); digits beyond."""
    if n < 10:
        return _CN_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + ("" if ones == 0 else _CN_DIGITS[ones])
    return str(n)


def _cn_array(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64)
    top = int(values.max()) if len(values) else 0
    table = np.array([_cn(i) for i in range(top + 1)])
    return table[values]


def _disk(rng: np.random.Generator, n: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets uniform over a disk of ``radius`` metres."""
    r = radius * np.sqrt(rng.random(n))
    angle = rng.uniform(0, 2 * np.pi, n)
    return r * np.cos(angle), r * np.sin(angle)


def _to_latlon(x: np.ndarray, y: np.ndarray, center: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Local metres east/north of ``center`` → WGS84 degrees (equirectangular; fine over a county)."""
    lat0, lon0 = center
    return lat0 + y / _M_PER_DEG, lon0 + x / (_M_PER_DEG * math.cos(math.radians(lat0)))


def _largest_remainder(quota: np.ndarray) -> np.ndarray:
    """Integers summing to round(sum(quota)), each the floor or ceiling of its quota."""
    floor = np.floor(quota).astype(np.int64)
    short = round(float(quota.sum())) - int(floor.sum())
    order = np.argsort(-(quota - floor), kind="stable")
    floor[order[:short]] += 1
    return floor


# --------------------------------------------------------------------------- a town cut by a river


def make_river_town(
    seed: int = 0,
    *,
    households: int = 12_000,
    branches: int = 24,
    size_m: float = 10_000.0,
    street_spacing_m: float = 100.0,
    bridge_spacing_m: float = 3_000.0,
    members_per_household: float = 1 / 6,
    mobile_share: float = 0.01,
    center: tuple[float, float] = (34.72, 114.0),
) -> tuple[Town, nx.Graph]:
    """A town cut in two by a river, with its street grid: the walking network's test bed.

    A meandering river crosses the square town from west to east; the streets
    form a grid, and the only ways across are bridges every
    ``bridge_spacing_m``. Villages lie on a jittered grid, so those near the
    river have households on both banks: neighbours a few hundred metres
    apart in a straight line can be kilometres apart on foot. Nobody lives
    within 1.5 street spacings of the river, so every home's nearest street
    corner is on its own bank.

    Parameters
    ----------
    seed
        Seed of the only random generator used.
    households
        Number of households, exactly (at least ``branches``).
    branches
        Number of branches (villages), each at least one household.
    size_m
        Side of the square town in metres.
    street_spacing_m
        Distance between parallel streets; 100 m gives about 10,000 street
        corners on 10 × 10 km, 45 m about 50,000.
    bridge_spacing_m
        Distance between bridges along the river.
    members_per_household
        Members per household (1/6 gives about 25 % more capacity than households).
    mobile_share
        Share of members who are mobile (移动包户).
    center
        (lat, lon) of the town centre in WGS84 degrees.

    Returns
    -------
    town : Town
        Members and households as :func:`make_town` gives them (no stairwell
        units, no current contacts).
    network : networkx.Graph
        Undirected street grid in the OSMnx convention: node attributes
        ``x`` (longitude) and ``y`` (latitude), edge attribute ``length``
        (great-circle metres between its ends); ``graph["crs"]`` is
        ``"epsg:4326"``. Write it with :func:`networkx.write_graphml` and read
        it with :meth:`baohu_assign.network.WalkingNetwork.read`.

    Raises
    ------
    ValueError
        When ``branches < 1``, ``households < branches``, or a length is not positive.

    Examples
    --------
    >>> town, streets = make_river_town(0, households=300, branches=4, size_m=3000, street_spacing_m=100)
    >>> len(town.households), streets.number_of_nodes()
    (300, 961)
    """

    if branches < 1:
        raise ValueError(f"branches must be at least 1, got {branches}")
    if households < branches:
        raise ValueError(f"households ({households}) must be at least branches ({branches})")
    if min(size_m, street_spacing_m, bridge_spacing_m, members_per_household) <= 0:
        raise ValueError("size_m, street_spacing_m, bridge_spacing_m and members_per_household must be > 0")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x726976657274]))  # "rivert"
    half = size_m / 2.0
    amplitude, wavelength, phase = 0.06 * size_m, 0.9 * size_m, rng.uniform(0.0, 2.0 * np.pi)

    def river_y(x: np.ndarray) -> np.ndarray:
        return amplitude * np.sin(2.0 * np.pi * x / wavelength + phase)

    band = 1.5 * street_spacing_m

    def ashore(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points inside the town, those too near the river moved back onto their own bank."""
        x = np.clip(x, -half, half)
        offset = y - river_y(x)
        bank = np.where(offset >= 0.0, 1.0, -1.0)
        y = np.where(np.abs(offset) < band, river_y(x) + bank * (band + np.abs(offset)), y)
        return x, np.clip(y, -half, half)

    # Villages on a jittered grid over the town.
    side = math.ceil(math.sqrt(branches))
    cell = size_m / side
    chosen = np.sort(rng.permutation(side * side)[:branches])
    cx = -half + (chosen % side + 0.5) * cell + rng.uniform(-0.2, 0.2, branches) * cell
    cy = -half + (chosen // side + 0.5) * cell + rng.uniform(-0.2, 0.2, branches) * cell
    # Villages near the river sit astride it: their households live on both banks.
    cy = np.where(np.abs(cy - river_y(cx)) < cell / 2, river_y(cx), cy)
    counts = _largest_remainder(_village_shares(rng, branches) * (households - branches)) + 1
    names = _name_pool(rng, "村", branches)
    h_parts: list[dict[str, np.ndarray]] = []
    m_parts: list[dict[str, np.ndarray]] = []
    centres: dict[str, tuple[float, float]] = {}
    for b in range(branches):
        n_h = int(counts[b])
        surname = str(_SURNAMES[rng.integers(30)])
        spec = _Branch(names[b], "village", float(n_h), 1.0, surname, xy=(float(cx[b]), float(cy[b])))
        radius = float(np.clip(180.0 * math.sqrt(n_h / 100.0), 300.0, 0.45 * cell))
        dx, dy = _disk(rng, n_h, radius)
        hx, hy = ashore(cx[b] + dx, cy[b] + dy)
        address = np.strings.add(np.strings.add(spec.name + " ", (np.arange(n_h) + 1).astype(str)), "号")
        h_parts.append(_household_attributes(rng, spec, hx, hy, address, np.full(n_h, None, dtype=object)))
        n_m = max(2, round(n_h * members_per_household))
        people = _members_of(rng, spec, n_m, hx, hy)
        people["x"], people["y"] = ashore(people["x"], people["y"])
        people["mobile"] = rng.random(n_m) < mobile_share
        m_parts.append(people)
        lat, lon = _to_latlon(cx[b : b + 1], cy[b : b + 1], center)
        centres[spec.name] = (round(float(lat[0]), 6), round(float(lon[0]), 6))
    town = Town(_member_frame(m_parts, center), _household_frame(h_parts, center), centres)
    return town, _river_streets(center, half, street_spacing_m, bridge_spacing_m, river_y)


def _village_shares(rng: np.random.Generator, n: int) -> np.ndarray:
    weights = rng.lognormal(0.0, 0.35, n)
    return weights / weights.sum()


def _river_streets(
    center: tuple[float, float],
    half: float,
    spacing: float,
    bridge_spacing: float,
    river_y: Callable[[np.ndarray], np.ndarray],
) -> nx.Graph:
    """Street grid over the town; edges that cross the river exist only at the bridges."""
    import networkx as nx

    ticks = np.arange(-half, half + 1e-6, spacing)
    k = ticks.shape[0]
    gx, gy = np.meshgrid(ticks, ticks)  # node id = row * k + column
    x, y = gx.ravel(), gy.ravel()
    north = y > river_y(x)
    ids = np.arange(k * k).reshape(k, k)
    horizontal = np.column_stack((ids[:, :-1].ravel(), ids[:, 1:].ravel()))
    vertical = np.column_stack((ids[:-1, :].ravel(), ids[1:, :].ravel()))
    count = math.floor(2 * half / bridge_spacing) + 1
    bridges_x = (np.arange(count) - (count - 1) / 2) * bridge_spacing
    bridge_columns = np.unique(np.rint((bridges_x + half) / spacing).astype(np.int64))
    on_bridge = np.isin(vertical[:, 0] % k, bridge_columns)
    keep_h = north[horizontal[:, 0]] == north[horizontal[:, 1]]
    keep_v = (north[vertical[:, 0]] == north[vertical[:, 1]]) | on_bridge
    edges = np.concatenate((horizontal[keep_h], vertical[keep_v]))
    lat, lon = _to_latlon(x, y, center)
    length = great_circle_m(lat[edges[:, 0]], lon[edges[:, 0]], lat[edges[:, 1]], lon[edges[:, 1]])
    graph = nx.Graph(crs="epsg:4326")
    graph.add_nodes_from(
        (int(i), {"x": float(lo), "y": float(la)}) for i, la, lo in zip(range(k * k), lat, lon, strict=True)
    )
    graph.add_edges_from(
        (int(u), int(v), {"length": float(d)}) for (u, v), d in zip(edges.tolist(), length.tolist(), strict=True)
    )
    return graph


# --------------------------------------------------------------------------- a community described by its places


@dataclass(frozen=True, eq=False)
class LocatedCommunity:
    """An apartment community described through ``locations.csv``, and the same people placed explicitly.

    Attributes
    ----------
    locations
        The place tree: one community, its compounds (楼院), buildings (楼栋)
        and stairwell units (单元). The community, compounds and buildings
        have coordinates; units have none (they take their building's).
    members, households
        The tables as an office keeping a place register writes them: most
        rows give only ``location_id``; a few members living outside the
        community give ``lat``/``lon`` instead (their ``location_id`` blank).
        Households give no coordinates and no ``group_id`` at all.
    explicit_members, explicit_households
        The same rows with what the hierarchy implies written out:
        ``lat``/``lon`` from the location (a unit's are its building's) and,
        for households at a unit, ``group_id`` = the unit's id. Solved without
        ``locations`` they give the same plan as the first pair with it.
    """

    locations: pd.DataFrame
    members: pd.DataFrame
    households: pd.DataFrame
    explicit_members: pd.DataFrame
    explicit_households: pd.DataFrame

    def write_csv(self, directory: str | Path, *, explicit: bool = False) -> tuple[Path, Path, Path]:
        """Write ``locations.csv``, ``members.csv`` and ``households.csv`` (UTF-8, booleans as true/false).

        Parameters
        ----------
        directory
            Folder to write into; created when missing.
        explicit
            Write the explicit member and household tables instead of the
            ones that lean on the locations.

        Returns
        -------
        tuple of Path
            The locations, members and households files.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        paths = (folder / "locations.csv", folder / "members.csv", folder / "households.csv")
        frames = (
            self.locations,
            self.explicit_members if explicit else self.members,
            self.explicit_households if explicit else self.households,
        )
        for frame, path in zip(frames, paths, strict=True):
            _as_file_frame(frame).to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        return paths

    def __repr__(self) -> str:
        kinds = self.locations["kind"].value_counts()
        return (
            f"<LocatedCommunity {kinds.get('compound', 0)} compounds, {kinds.get('building', 0)} buildings, "
            f"{kinds.get('unit', 0)} units, {len(self.households):,} households, {len(self.members):,} members>"
        )


def make_community_with_locations(
    seed: int = 0,
    *,
    compounds: int = 3,
    buildings_per_compound: int = 3,
    units_per_building: int = 2,
    households_per_unit: int = _UNIT_SIZE,
    relocated_households: int = 10,
    center: tuple[float, float] = (34.72, 114.0),
) -> LocatedCommunity:
    """A community like 朱大汉社区 described by a place tree, the same for the same arguments.

    Parameters
    ----------
    seed
        Seed of the only random generator used.
    compounds, buildings_per_compound, units_per_building, households_per_unit
        Shape of the tree (all ≥ 1).
    relocated_households
        Households of a demolished village's branch (李小安村) that moved into
        the community's buildings: they live at a building (not a unit, so
        they form no stairwell group) and their branch's mobile members live
        at the old village site, 3 km away.
    center
        (lat, lon) of the community in WGS84 degrees.

    Returns
    -------
    LocatedCommunity
        The community's branch has about one member per unit (each takes one
        unit of 12, the article's rule), a few living outside it, one or two
        unavailable; members with ``role`` = ``cadre`` live in most compounds.

    Examples
    --------
    >>> community = make_community_with_locations(0)
    >>> sorted(community.locations["kind"].unique())
    ['building', 'community', 'compound', 'unit']
    """
    if min(compounds, buildings_per_compound, units_per_building, households_per_unit) < 1:
        raise ValueError("compounds, buildings_per_compound, units_per_building and households_per_unit must be ≥ 1")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    tree = _place_tree(rng, compounds, buildings_per_compound, units_per_building, center)
    households, where = _community_households(rng, tree, households_per_unit, relocated_households)
    members, member_home = _community_members(rng, tree, compounds, households_per_unit, relocated_households, center)
    explicit_households, explicit_members = _spelled_out(tree, households, where, members, member_home)
    return LocatedCommunity(
        locations=tree.locations,
        members=members,
        households=households,
        explicit_members=explicit_members,
        explicit_households=explicit_households,
    )


_COMMUNITY, _COMMUNITY_BRANCH, _RELOCATED_VILLAGE = "SQ", "幸福社区", "李小安村"


@dataclass
class _PlaceTree:
    """The located community's places: the locations table and its buildings and units, in order."""

    locations: pd.DataFrame
    buildings: list[str]
    units: list[str]

    def coordinates(self) -> dict[str, tuple[float, float]]:
        """What each location implies: its own coordinates, or its building's for a unit."""
        table = self.locations
        coordinates = dict(zip(table["location_id"], zip(table["lat"], table["lon"], strict=True), strict=True))
        for unit in self.units:
            coordinates[unit] = coordinates[unit.rsplit("-U", 1)[0]]
        return coordinates


def _place_tree(
    rng: np.random.Generator,
    compounds: int,
    buildings_per_compound: int,
    units_per_building: int,
    center: tuple[float, float],
) -> _PlaceTree:
    """Community → compounds on a grid → buildings in a row (jittered) → units without coordinates."""
    community = _COMMUNITY
    places = [_place(community, None, "community", _COMMUNITY_BRANCH, 0.0, 0.0)]
    side = math.ceil(math.sqrt(compounds))
    buildings: list[str] = []
    units: list[str] = []
    for c in range(compounds):
        cx = (c % side - (side - 1) / 2) * 160.0
        cy = (c // side - (side - 1) / 2) * 160.0
        compound = f"{community}-Y{c + 1}"
        places.append(_place(compound, community, "compound", f"{_cn(c + 1)}号院", cx, cy))
        for b in range(buildings_per_compound):
            building = f"{compound}-B{b + 1}"
            bx = cx + (b - (buildings_per_compound - 1) / 2) * 45.0 + float(rng.uniform(-5, 5))
            by = cy + float(rng.uniform(-20, 20))
            places.append(_place(building, compound, "building", f"{_cn(c + 1)}号院{b + 1}号楼", bx, by))
            buildings.append(building)
            for u in range(units_per_building):
                unit = f"{building}-U{u + 1}"
                places.append(_place(unit, building, "unit", f"{b + 1}号楼{u + 1}单元", np.nan, np.nan))
                units.append(unit)
    tree = pd.DataFrame(places)
    lat, lon = _to_latlon(tree["x"].to_numpy(np.float64), tree["y"].to_numpy(np.float64), center)
    locations = pd.DataFrame(
        {
            "location_id": tree["location_id"].astype("str"),
            "parent_id": tree["parent_id"].astype("str"),
            "kind": tree["kind"].astype("str"),
            "name": tree["name"].astype("str"),
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
        }
    )
    return _PlaceTree(locations, buildings, units)


def _place(location_id: str, parent_id: str | None, kind: str, name: str, x: float, y: float) -> dict[str, object]:
    """One row of the place tree, at metres (x east, y north) from the community's centre."""
    return {"location_id": location_id, "parent_id": parent_id, "kind": kind, "name": name, "x": x, "y": y}


def _community_households(
    rng: np.random.Generator, tree: _PlaceTree, households_per_unit: int, relocated_households: int
) -> tuple[pd.DataFrame, list[str]]:
    """A unit of ``households_per_unit`` each, then the relocated ones at a building; and where each lives."""
    units, buildings = tree.units, tree.buildings
    n_unit = len(units) * households_per_unit
    where = [u for u in units for _ in range(households_per_unit)]
    where += [buildings[i] for i in rng.integers(len(buildings), size=relocated_households)]
    n_h = len(where)
    tier_draw = rng.random(n_h)
    households = pd.DataFrame(
        {
            "household_id": pd.Series(_ids("H", n_h, 4), dtype="str"),
            "head_name": pd.Series(_names(rng, n_h, None), dtype="str"),
            "branch": pd.Series(
                [_COMMUNITY_BRANCH] * n_unit + [_RELOCATED_VILLAGE] * relocated_households, dtype="str"
            ),
            "location_id": pd.Series(where, dtype="str"),
            "size": rng.integers(1, 6, n_h).astype(np.int64),
            "priority": pd.Series(
                np.where(tier_draw < 0.04, "critical", np.where(tier_draw < 0.16, "elevated", "normal")), dtype="str"
            ),
        }
    )
    return households, where


def _community_members(
    rng: np.random.Generator,
    tree: _PlaceTree,
    compounds: int,
    households_per_unit: int,
    relocated_households: int,
    center: tuple[float, float],
) -> tuple[pd.DataFrame, np.ndarray]:
    """The members and the location each lives at (``None``: outside, given by coordinates).

    About one per unit, living in a unit (a few at a building or outside),
    capacity one unit; then the relocated village's mobile members at the old
    village site.
    """
    units = tree.units
    n_own = len(units) + max(1, len(units) // 6)
    home = np.array(units, dtype=object)[rng.integers(len(units), size=n_own)]
    at_building = rng.random(n_own) < 0.1
    home[at_building] = [h.rsplit("-U", 1)[0] for h in home[at_building]]
    outside = rng.random(n_own) < 0.12
    cadre = np.zeros(n_own, dtype=bool)
    compound_ids = [f"{_COMMUNITY}-Y{c + 1}" for c in range(compounds)]
    for c, compound in enumerate(compound_ids):
        inside = np.flatnonzero(~outside & np.array([str(h).startswith(compound + "-") for h in home]))
        if inside.size and (c < compounds - 1 or compounds == 1):  # the last compound has no cadre living in it
            cadre[inside[0]] = True
    unavailable = np.zeros(n_own, dtype=bool)
    unavailable[rng.choice(n_own, size=min(2, n_own), replace=False)] = True
    n_village = max(1, relocated_households // 8)
    n_m = n_own + n_village
    ox, oy = _disk(rng, int(outside.sum()), 150.0)
    vx, vy = _disk(rng, n_village, 200.0)
    away_x = np.concatenate([ox + 500.0, vx + 3000.0])
    away_y = np.concatenate([oy, vy - 400.0])
    away_lat, away_lon = _to_latlon(away_x, away_y, center)
    # numpy's stubs reject None as a branch of np.where, which takes it as an object.
    own_home = np.where(outside, None, home)  # type: ignore[call-overload]
    member_home = np.concatenate([own_home, np.full(n_village, None, dtype=object)])
    member_lat = np.full(n_m, np.nan)
    member_lon = np.full(n_m, np.nan)
    away = np.flatnonzero(member_home == None)  # noqa: E711 - elementwise on an object array
    member_lat[away], member_lon[away] = np.round(away_lat, 6), np.round(away_lon, 6)
    members = pd.DataFrame(
        {
            "member_id": pd.Series(_ids("M", n_m, 3), dtype="str"),
            "name": pd.Series(_names(rng, n_m, None), dtype="str"),
            "branch": pd.Series([_COMMUNITY_BRANCH] * n_own + [_RELOCATED_VILLAGE] * n_village, dtype="str"),
            "lat": member_lat,
            "lon": member_lon,
            "age": rng.integers(25, 75, n_m).astype(np.int64),
            "capacity": np.concatenate([np.full(n_own, households_per_unit), np.full(n_village, 10)]).astype(np.int64),
            "mobile": np.concatenate([np.zeros(n_own, bool), np.ones(n_village, bool)]),
            "available": np.concatenate([~unavailable, np.ones(n_village, bool)]),
            "role": pd.Series(np.concatenate([np.where(cadre, "cadre", ""), np.full(n_village, "")]), dtype="str"),
            "location_id": pd.Series(member_home, dtype="str"),
        }
    )
    return members, member_home


def _spelled_out(
    tree: _PlaceTree, households: pd.DataFrame, where: list[str], members: pd.DataFrame, member_home: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The household and member tables with what the hierarchy implies written out (coordinates, unit groups)."""
    coordinates = tree.coordinates()
    units = set(tree.units)
    explicit_households = households.copy()
    explicit_households["lat"] = [coordinates[w][0] for w in where]
    explicit_households["lon"] = [coordinates[w][1] for w in where]
    explicit_households["group_id"] = pd.Series([w if w in units else None for w in where], dtype="str")
    explicit_members = members.copy()
    placed = np.flatnonzero(member_home != None)  # noqa: E711
    lat_out = members["lat"].to_numpy(dtype=np.float64, copy=True)
    lon_out = members["lon"].to_numpy(dtype=np.float64, copy=True)
    lat_out[placed] = [coordinates[h][0] for h in member_home[placed]]
    lon_out[placed] = [coordinates[h][1] for h in member_home[placed]]
    explicit_members["lat"], explicit_members["lon"] = lat_out, lon_out
    return explicit_households, explicit_members
