"""Raw text frames → typed, normalised member and household frames.

The validators read the all-text frames of :mod:`baohu_assign.load` (or any
frame with the contract's columns), check every rule of the data contract
column by column, and either return a typed frame with the policy's defaults
filled in or raise one :class:`~baohu_assign.errors.InputError` listing every
problem found (the first :data:`MAX_ISSUES` of them in row order, then one
issue counting the rest).

Referential oddities that are normal in practice (a current member who left,
a pin that cannot hold, a branch without members) are not errors: see
:func:`cross_check`.

Rows whose cells are all blank (Excel leaves them behind) are skipped. Row
numbers are the ones a spreadsheet shows: header row 1, first data row 2.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .policy import PRIORITIES, Policy
from .tables import MAX_ISSUES, IssueCollector, missing_mask, normalise_header, row_numbers, text_column

logger = logging.getLogger(__name__)

__all__ = [
    "BOOL_FALSE",
    "BOOL_TRUE",
    "HOUSEHOLD_COLUMNS",
    "HOUSEHOLD_OPTIONAL_COLUMNS",
    "MAX_ISSUES",
    "MEMBER_COLUMNS",
    "PRIORITY_ALIASES",
    "VISIT_WINDOWS",
    "InputWarning",
    "cross_check",
    "validate_households",
    "validate_members",
    "visit_windows",
    "yes_values",
]

BOOL_TRUE: frozenset[str] = frozenset({"true", "1", "yes", "y", "t", "是"})
"""Spellings read as true (compared stripped and lower-cased)."""
BOOL_FALSE: frozenset[str] = frozenset({"false", "0", "no", "n", "f", "否"})
"""Spellings read as false (compared stripped and lower-cased)."""

PRIORITY_ALIASES: Mapping[str, str] = {
    "普通": "normal",
    "普通户": "normal",
    "一般": "normal",
    "关注": "elevated",
    "关注户": "elevated",
    "重点": "critical",
    "重点户": "critical",
}
"""Chinese priority words accepted besides the English names in :data:`PRIORITIES`."""

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
    "hours_per_week",
    "role",
    "location_id",
)
"""Known member columns, in the order of the normalised frame (``role`` and
``location_id`` only when the input has them)."""
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
    "minutes_per_visit",
    "location_id",
)
"""Known household columns, in the order of the normalised frame (``location_id``
only when the input has it)."""

HOUSEHOLD_OPTIONAL_COLUMNS: tuple[str, ...] = ("visit_window", "quarantined")
"""Optional household columns the validator checks but keeps as written (ordinary columns otherwise)."""

VISIT_WINDOWS: Mapping[str, str] = {
    "am": "am",
    "morning": "am",
    "上午": "am",
    "早上": "am",
    "pm": "pm",
    "afternoon": "pm",
    "下午": "pm",
}
"""Spellings of the optional households column ``visit_window`` (compared stripped and
lower-cased): ``am`` = the morning round, ``pm`` = the afternoon round; blank: either."""


def yes_values(values: pd.Series) -> np.ndarray:
    """bool[n]: which values of an optional yes/no column say yes (:data:`BOOL_TRUE`); blank is no.

    Input validation has already rejected values that are neither yes nor no
    for tables read through :func:`validate_households`.
    """
    words = values.astype("string").fillna("").str.strip().str.lower()
    return words.isin(BOOL_TRUE).to_numpy(dtype=bool)


def visit_windows(values: pd.Series) -> np.ndarray:
    """object[n]: ``"am"``, ``"pm"`` or ``""`` for each value of a ``visit_window`` column.

    Values that are no spelling of :data:`VISIT_WINDOWS` give ``""``; input
    validation has already rejected them for tables read through
    :func:`validate_households`.
    """
    words = values.astype("string").fillna("").str.strip().str.lower()
    return words.map(lambda word: VISIT_WINDOWS.get(word, "")).to_numpy(dtype=object)


ROW = "row"
"""Column added to both normalised frames: the spreadsheet row number of the record."""

_MEMBER_REQUIRED = ("member_id", "branch", "lat", "lon")
_HOUSEHOLD_REQUIRED = ("household_id", "branch", "lat", "lon")
_MAX_CAPACITY = 1_000_000  # beyond any town; keeps later int32 arrays safe
_FULLWIDTH = str.maketrans("０１２３４５６７８９．－＋", "0123456789.-+")
_BOOL_SPELLINGS = "true/false, 1/0, yes/no, y/n, t/f, 是/否"


@dataclass(frozen=True, slots=True)
class InputWarning:
    """A referential oddity in valid input: reported, not fatal.

    Attributes
    ----------
    code
        Stable machine-readable kind, e.g. ``"pin_unknown_member"``.
    message
        One sentence for people; names ids, never personal names.
    count
        How many households, groups or branches are concerned.
    examples
        A few of their ids (at most five), in input order.
    """

    code: str
    message: str
    count: int
    examples: list[str] = field(default_factory=list)


# -- column readers -------------------------------------------------------------


class _Table:
    """The raw frame as text, blank rows dropped, with its spreadsheet row numbers."""

    def __init__(self, raw: pd.DataFrame, file: str, required: tuple[str, ...], known: tuple[str, ...]):
        names = [normalise_header(c) for c in raw.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        text = {
            name: text_column(raw.iloc[:, i]) for i, name in enumerate(names) if name not in duplicated and name != ROW
        }
        keep = ~_blank_rows(list(text.values()), len(raw))
        numbers, numbering = row_numbers(raw)
        self.n = int(keep.sum())
        self.rows = numbers[keep]
        self.text = {k: v[keep].reset_index(drop=True) for k, v in text.items()}
        self._stripped: dict[str, pd.Series] = {}
        self._blank: dict[str, np.ndarray] = {}
        self.extras = [n for n in self.text if n not in known]
        self.checks = IssueCollector(file, self.rows, numbering)
        for name in duplicated:
            self.checks.add(None, name, f"duplicate column name {name!r}")
        found = ", ".join(n for n in names if n) or "none"
        for name in required:
            if name not in self.text and name not in duplicated:
                self.checks.add(None, name, f"required column '{name}' is missing (columns found: {found})")

    def has(self, name: str) -> bool:
        return name in self.text

    def get(self, name: str) -> pd.Series:
        """Stripped text of a column; all blank when the column is absent."""
        if name not in self.text:
            return pd.Series([""] * self.n, dtype="str")
        if name not in self._stripped:
            self._stripped[name] = self.text[name].str.strip()
        return self._stripped[name]

    def raw(self, name: str) -> pd.Series:
        return self.text[name] if name in self.text else self.get(name)

    def blank(self, name: str) -> np.ndarray:
        """bool: the cells of a column that are missing (:func:`~baohu_assign.io.tables.missing_mask`)."""
        if name not in self._blank:
            self._blank[name] = missing_mask(self.raw(name))
        return self._blank[name]

    def required_text(self, name: str) -> pd.Series:
        values = self.get(name)
        if self.has(name):
            self.checks.where(self.blank(name), name, "required value is blank")
        return values

    def unique_ids(self, name: str) -> pd.Series:
        ids = self.required_text(name)
        codes, _ = pd.factorize(ids)
        _, first = np.unique(codes, return_index=True)
        first_row = self.rows[first[codes]] if codes.size else np.zeros(0, np.int64)
        duplicate = ids.duplicated(keep="first").to_numpy() & ~self.blank(name)
        first_mention = np.full(first_row.shape, "", dtype=object)
        first_mention[duplicate] = self.checks.mention(first_row[duplicate])
        self.checks.where(duplicate, name, f"duplicate {name}; first given in {{}}", self.raw(name), first_mention)
        return ids

    def number(self, name: str, *, required: bool = False) -> np.ndarray:
        """Float values; NaN where blank or not a number (reported)."""
        raw = self.raw(name)
        # Fast path on the text as given (to_numeric ignores surrounding spaces);
        # only cells that fail are stripped, de-full-widthed and parsed again.
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        blank = self.blank(name)
        values[blank] = np.nan  # whitespace alone is blank, whatever to_numeric makes of it
        bad = np.zeros(self.n, dtype=bool)
        comma = np.zeros(self.n, dtype=bool)
        retry = np.flatnonzero(~np.isfinite(values) & ~blank)
        if retry.size:
            text = raw.iloc[retry].str.strip().str.translate(_FULLWIDTH)
            again = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            parsed = np.isfinite(again)
            values[retry] = np.where(parsed, again, np.nan)
            bad[retry[~parsed]] = True
            comma[retry] = text.str.contains(",", regex=False).to_numpy()
        if required and self.has(name):
            self.checks.where(blank, name, "required value is blank")
        self.checks.where(bad & ~comma, name, "expected a number", raw)
        self.checks.where(bad & comma, name, "expected a number (use '.' for decimals, no thousands separators)", raw)
        return values

    def boolean(self, name: str, default: bool) -> np.ndarray:
        word = self.words(name)
        true = word.isin(BOOL_TRUE).to_numpy()
        false = word.isin(BOOL_FALSE).to_numpy()
        blank = self.blank(name)
        blank_means = "true" if default else "false"
        self.checks.where(
            ~(true | false | blank),
            name,
            f"expected a yes/no value; accepted: {_BOOL_SPELLINGS} (blank means {blank_means})",
            self.raw(name),
        )
        return np.where(blank, default, true)

    def words(self, name: str) -> pd.Series:
        """Stripped, lower-cased text: the form yes/no words and priorities are compared in."""
        return self.get(name).str.lower()

    def optional_text(self, name: str) -> pd.Series:
        values = self.get(name)
        return pd.Series(pd.array(values.to_numpy(dtype=object), dtype="string")).mask(self.blank(name))

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        lat = self.number("lat", required=True)
        lon = self.number("lon", required=True)
        with np.errstate(invalid="ignore"):
            lat_out = np.abs(lat) > 90
            lon_out = np.abs(lon) > 180
            swapped = lat_out & (np.abs(lon) <= 90)
        valid = np.isfinite(lat) & np.isfinite(lon)
        if swapped.any() and swapped.sum() == valid.sum():
            self.checks.add(
                None, "lat", "latitude and longitude look swapped: every lat is outside -90..90 and every lon inside it"
            )
        else:
            self.checks.where(
                swapped,
                "lat",
                "latitude must be between -90 and 90; latitude and longitude look swapped",
                self.raw("lat"),
            )
        self.checks.where(
            lat_out & ~swapped, "lat", "latitude must be between -90 and 90 (WGS84 degrees)", self.raw("lat")
        )
        self.checks.where(lon_out, "lon", "longitude must be between -180 and 180 (WGS84 degrees)", self.raw("lon"))
        return lat, lon

    def finish(self, columns: dict[str, object]) -> pd.DataFrame:
        """Raise the collected issues, or assemble the frame: known columns, extras, ``row``."""
        self.checks.raise_if_any()
        for name in self.extras:
            columns[name] = pd.array(self.text[name].to_numpy(dtype=object), dtype="string")
        columns[ROW] = self.rows
        return pd.DataFrame(columns, index=pd.RangeIndex(self.n))


def _blank_rows(columns: list[pd.Series], n: int) -> np.ndarray:
    """Rows whose every cell is missing; looks only at rows still blank so far."""
    blank = np.ones(n, dtype=bool)
    for series in columns:
        maybe = np.flatnonzero(blank)
        if maybe.size == 0:
            break
        blank[maybe] = missing_mask(series.iloc[maybe])
    return blank


def _string(values: pd.Series) -> pd.arrays.StringArray:
    return pd.array(values.to_numpy(dtype=object), dtype="string")


# -- public validators ------------------------------------------------------------


def validate_members(raw: pd.DataFrame, policy: Policy, *, file: str = "members.csv") -> pd.DataFrame:
    """Check and type the members table.

    Parameters
    ----------
    raw
        Text frame as returned by :func:`baohu_assign.load.read_table`
        (normalised headers, ``""`` for blank). Typed frames are converted to
        text first, as :func:`~baohu_assign.io.tables.text_column` writes cells
        (ids typed as whole floats lose their ``.0``), as
        :meth:`Scenario.from_frames <baohu_assign.Scenario.from_frames>` does.
    policy
        Source of the defaults for ``capacity`` (by age) and ``max_distance_m``.
    file
        Name used in the issues.

    Returns
    -------
    pandas.DataFrame
        ``RangeIndex``, input order, all-blank rows dropped. Columns:
        ``member_id`` (string), ``name`` (string, <NA> when blank), ``branch``
        (string), ``lat``, ``lon`` (float64), ``age`` (float64, NaN when
        blank), ``capacity`` (int64, policy default by age when blank),
        ``max_distance_m`` (float64, policy default when blank), ``mobile``
        (bool, default False), ``available`` (bool, default True),
        ``hours_per_week`` (float64, NaN when blank: no hour budget), ``role``
        and ``location_id`` (string/<NA>, only when the input has them), then the
        unknown columns unchanged (string) in input order, then ``row``
        (int64): the spreadsheet row the record came from, for messages. An
        input column named ``row`` is replaced by it.

    Raises
    ------
    InputError
        With every problem found: missing required column, blank required
        value, duplicate ``member_id``, a value that is not a number, lat/lon
        out of range (or swapped), age outside 0–120, capacity not a whole
        number ≥ 0, ``max_distance_m`` ≤ 0, a yes/no value not understood.
    """
    table = _Table(raw, file, _MEMBER_REQUIRED, MEMBER_COLUMNS)
    member_id = table.unique_ids("member_id")
    branch = table.required_text("branch")
    lat, lon = table.coordinates()

    age = table.number("age")
    with np.errstate(invalid="ignore"):
        bad_age = (age < 0) | (age > 120)
    table.checks.where(bad_age, "age", "age must be between 0 and 120", table.raw("age"))

    capacity = table.number("capacity")
    with np.errstate(invalid="ignore"):
        bad_capacity = (capacity < 0) | (capacity != np.floor(capacity)) | (capacity > _MAX_CAPACITY)
    bad_capacity &= np.isfinite(capacity)
    table.checks.where(
        bad_capacity, "capacity", f"capacity must be a whole number from 0 to {_MAX_CAPACITY}", table.raw("capacity")
    )

    reach = table.number("max_distance_m")
    with np.errstate(invalid="ignore"):
        table.checks.where(
            reach <= 0, "max_distance_m", "max_distance_m must be > 0 (metres)", table.raw("max_distance_m")
        )

    mobile = table.boolean("mobile", False)
    available = table.boolean("available", True)

    hours = table.number("hours_per_week")
    with np.errstate(invalid="ignore"):
        table.checks.where(
            (hours < 0) | (hours > 168),
            "hours_per_week",
            "hours_per_week must be from 0 to 168",
            table.raw("hours_per_week"),
        )

    frame = table.finish(
        {
            "member_id": _string(member_id),
            "name": table.optional_text("name").array,
            "branch": _string(branch),
            "lat": lat,
            "lon": lon,
            "age": age,
            # Non-finite values are already reported; 0 only keeps the cast quiet.
            "capacity": np.nan_to_num(
                np.where(np.isnan(capacity), _default_capacity(age, policy), capacity), posinf=0, neginf=0
            ).astype(np.int64),
            "max_distance_m": np.where(np.isnan(reach), policy.max_distance_m, reach).astype(np.float64),
            "mobile": mobile.astype(bool),
            "available": available.astype(bool),
            "hours_per_week": hours.astype(np.float64),
            # Optional text columns appear only when given, so outputs of other inputs stay as they were.
            **{name: table.optional_text(name).array for name in ("role", "location_id") if table.has(name)},
        }
    )
    logger.debug("%s: %d members valid", file, len(frame))
    return frame


def validate_households(raw: pd.DataFrame, policy: Policy, *, file: str = "households.csv") -> pd.DataFrame:
    """Check and type the households table.

    Parameters
    ----------
    raw
        Text frame as returned by :func:`baohu_assign.load.read_table`.
    policy
        Source of the default ``visits_per_week`` by priority.
    file
        Name used in the issues.

    Returns
    -------
    pandas.DataFrame
        ``RangeIndex``, input order, all-blank rows dropped. Columns:
        ``household_id`` (string), ``head_name`` (string/<NA>), ``branch``
        (string), ``lat``, ``lon`` (float64), ``size`` (Int64, <NA> when
        blank), ``priority`` (string, one of :data:`~baohu_assign.policy.PRIORITIES`;
        blank → ``"normal"``; case-insensitive, Chinese words of
        :data:`PRIORITY_ALIASES` accepted), ``visits_per_week`` (float64,
        policy default by priority when blank), ``group_id`` and
        ``current_member_id`` (string/<NA>), ``pinned`` (bool, default
        False), ``minutes_per_visit`` (float64, policy default when blank),
        ``location_id`` (string/<NA>, only when the input has it), the
        unknown columns unchanged (string) in input order, then
        ``row`` (int64, spreadsheet row number).

    Raises
    ------
    InputError
        With every problem found: missing required column, blank required
        value, duplicate ``household_id``, a value that is not a number,
        lat/lon out of range (or swapped), size not a whole number ≥ 1,
        unknown priority, ``visits_per_week`` ≤ 0, a yes/no value not
        understood, a ``visit_window`` that is none of :data:`VISIT_WINDOWS`.
    """
    table = _Table(raw, file, _HOUSEHOLD_REQUIRED, HOUSEHOLD_COLUMNS)
    household_id = table.unique_ids("household_id")
    branch = table.required_text("branch")
    lat, lon = table.coordinates()

    size = table.number("size")
    with np.errstate(invalid="ignore"):
        bad_size = ((size < 1) | (size != np.floor(size)) | (size > _MAX_CAPACITY)) & np.isfinite(size)
    table.checks.where(bad_size, "size", "size must be a whole number ≥ 1", table.raw("size"))

    lookup = {p: p for p in PRIORITIES} | dict(PRIORITY_ALIASES) | {"": "normal"}
    priority = table.words("priority").map(lookup)
    allowed = ", ".join([*PRIORITIES, *PRIORITY_ALIASES])
    table.checks.where(
        priority.isna(), "priority", f"unknown priority; allowed: {allowed} (blank means normal)", table.raw("priority")
    )

    visits = table.number("visits_per_week")
    with np.errstate(invalid="ignore"):
        table.checks.where(visits <= 0, "visits_per_week", "visits_per_week must be > 0", table.raw("visits_per_week"))

    pinned = table.boolean("pinned", False)

    minutes = table.number("minutes_per_visit")
    with np.errstate(invalid="ignore"):
        table.checks.where(
            minutes <= 0, "minutes_per_visit", "minutes_per_visit must be > 0", table.raw("minutes_per_visit")
        )

    if table.has("visit_window"):
        # Kept as written (an ordinary column); only its spellings are checked here.
        window = table.words("visit_window")
        known = window.isin([*VISIT_WINDOWS, ""]).to_numpy()
        table.checks.where(
            ~known,
            "visit_window",
            f"unknown visit_window; allowed: {', '.join(VISIT_WINDOWS)} (blank means either round)",
            table.raw("visit_window"),
        )

    if table.has("quarantined"):
        # Kept as written (an ordinary column, as visit_window); only its spellings are checked here.
        table.boolean("quarantined", False)

    frame = table.finish(
        {
            "household_id": _string(household_id),
            "head_name": table.optional_text("head_name").array,
            "branch": _string(branch),
            "lat": lat,
            "lon": lon,
            "size": pd.array(size, dtype="Float64").astype("Int64"),
            "priority": _string(priority),
            "visits_per_week": np.where(
                np.isnan(visits), priority.map(policy.visits_per_week).to_numpy(dtype=np.float64), visits
            ),
            "group_id": table.optional_text("group_id").array,
            "current_member_id": table.optional_text("current_member_id").array,
            "pinned": pinned.astype(bool),
            "minutes_per_visit": np.where(np.isnan(minutes), policy.minutes_per_visit, minutes),
            **({"location_id": table.optional_text("location_id").array} if table.has("location_id") else {}),
        }
    )
    logger.debug("%s: %d households valid", file, len(frame))
    return frame


def _default_capacity(age: np.ndarray, policy: Policy) -> np.ndarray:
    """``policy.capacity_for_age`` over a column, calling it once per distinct age."""
    out = np.full(age.shape, policy.capacity_for_age(None), dtype=np.int64)
    known = np.isfinite(age)
    if known.any():
        distinct, inverse = np.unique(age[known], return_inverse=True)
        out[known] = np.array([policy.capacity_for_age(float(a)) for a in distinct], dtype=np.int64)[inverse]
    return out


# -- cross-table warnings -----------------------------------------------------------


def cross_check(members: pd.DataFrame, households: pd.DataFrame) -> list[InputWarning]:
    """Referential oddities between valid tables: normal in practice, worth a look.

    Parameters
    ----------
    members, households
        Normalised frames from :func:`validate_members` and
        :func:`validate_households`.

    Returns
    -------
    list of InputWarning
        In this order, each only when it occurs:

        ``unknown_current_member``
            households whose ``current_member_id`` is not in the members table;
        ``pin_without_member``, ``pin_unknown_member``, ``pin_unavailable_member``
            pinned households whose current member is blank, unknown, or
            unavailable (``available`` false or capacity 0): the pin cannot hold;
        ``group_spans_branches``
            a ``group_id`` used by households of more than one branch;
        ``branch_without_members``, ``branch_without_available_members``
            branches with households but no member, or no available member.
    """
    serving = members["available"].to_numpy(dtype=bool) & (members["capacity"].to_numpy() > 0)
    warnings = [
        *_current_member_warnings(members, households, serving),
        *_group_warnings(households),
        *_branch_warnings(members, households, serving),
    ]
    logger.debug("cross-check: %d warning(s)", len(warnings))
    return warnings


def _among(values: pd.Series, pool: pd.Series) -> np.ndarray:
    """bool per value: whether ``pool`` holds it, as ``values.isin(pool)`` but through a hash index of the pool.

    (``isin`` of text columns walks the pool in Python, seconds for a county's members.)
    """
    present = values.notna().to_numpy(dtype=bool)
    out = np.full(len(values), bool(pool.isna().any()), dtype=bool)  # a blank is among a pool with a blank
    if present.any():
        out[present] = pd.Index(pool.dropna().unique()).get_indexer(values[present]) >= 0
    return out


def _warning(code: str, message: str, mask: np.ndarray, ids: pd.Series) -> list[InputWarning]:
    """The warning for the ``ids`` selected by ``mask`` (``{n}`` in ``message``: how many), or none."""
    count = int(mask.sum())
    if not count:
        return []
    examples = [str(v) for v in ids.to_numpy(dtype=object)[mask][:5]]
    return [InputWarning(code, message.format(n=count), count, examples)]


def _current_member_warnings(
    members: pd.DataFrame, households: pd.DataFrame, serving: np.ndarray
) -> list[InputWarning]:
    """Unknown current members, and pins that cannot hold (no, an unknown or an unavailable current member)."""
    household_id = households["household_id"]
    current = households.get("current_member_id", pd.Series(pd.NA, index=households.index, dtype="string"))
    pinned = households.get("pinned", pd.Series(False, index=households.index)).to_numpy(dtype=bool)
    has_current = current.notna().to_numpy()
    known = _among(current, members["member_id"]) & has_current
    unknown = has_current & ~known
    current_serves = _among(current, members["member_id"][serving]) & has_current
    return [
        *_warning(
            "unknown_current_member",
            "{n} household(s) name a current_member_id that is not in the members table; "
            "they lost that contact and count as changed",
            unknown,
            household_id,
        ),
        *_warning(
            "pin_without_member",
            "{n} pinned household(s) have no current_member_id; the pin cannot hold",
            pinned & ~has_current,
            household_id,
        ),
        *_warning(
            "pin_unknown_member",
            "{n} pinned household(s) name a current_member_id that is not in the members table; the pin cannot hold",
            pinned & unknown,
            household_id,
        ),
        *_warning(
            "pin_unavailable_member",
            "{n} pinned household(s) have a current member who is unavailable (available=false or capacity 0); "
            "the pin cannot hold",
            pinned & known & ~current_serves,
            household_id,
        ),
    ]


def _group_warnings(households: pd.DataFrame) -> list[InputWarning]:
    """Groups (``group_id``) with households in more than one branch."""
    if "group_id" not in households:
        return []
    pairs = households[["group_id", "branch"]].dropna().drop_duplicates()
    per_group = pairs["group_id"].value_counts(sort=False)
    spanning = pd.Series(pairs["group_id"].drop_duplicates().to_numpy(dtype=object))
    spans = spanning.map(per_group).to_numpy() > 1
    return _warning(
        "group_spans_branches",
        "{n} group(s) have households in more than one branch; a group goes whole to one member",
        spans,
        spanning,
    )


def _branch_warnings(members: pd.DataFrame, households: pd.DataFrame, serving: np.ndarray) -> list[InputWarning]:
    """Branches with households but no member, or no member who can serve."""
    branches = pd.Series(households["branch"].drop_duplicates().to_numpy(dtype=object))
    with_members = _among(branches, members["branch"])
    with_serving = _among(branches, members["branch"][serving])
    return [
        *_warning(
            "branch_without_members",
            "{n} branch(es) have households but no members; their households stay uncovered",
            ~with_members,
            branches,
        ),
        *_warning(
            "branch_without_available_members",
            "{n} branch(es) have households but no available member with capacity; their households stay uncovered",
            with_members & ~with_serving,
            branches,
        ),
    ]
