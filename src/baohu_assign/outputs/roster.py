"""Printable roster (联户台账): ``roster.xlsx``, one sheet per branch plus a summary.

The workbook is what a branch secretary prints and hands out: a summary sheet
汇总 with coverage and loads per branch, then one sheet per branch listing
each member with the households they look after, backups marked, and the
households left without a contact (未覆盖) with the reason in Chinese.

Only columns the input had are printed (an address when the households gave
one); nothing is invented. The same plan gives the same bytes: workbook
times and zip entry times are fixed.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..io.atomic import atomic_write_bytes
from ..io.tables import is_missing
from ..io.xlsx import stable_xlsx_bytes
from ..results.explain import PIN_REASONS
from ..results.tables import ASSIGNMENT_COLUMNS, HOUSEHOLD_COLUMNS

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

    from ..results.plan import Plan
    from ..visits import VisitPlan

logger = logging.getLogger(__name__)

__all__ = ["PRIORITY_ZH", "REASON_ZH", "reason_zh", "roster_bytes", "sheet_names", "write_roster"]

PRIORITY_ZH: dict[str, str] = {"normal": "普通", "elevated": "关注", "critical": "重点"}
"""Priority tier → the word printed in the roster."""

REASON_ZH: dict[str, str] = {
    "no_member_in_branch": "本支部无可用党员",
    "out_of_reach": "附近无本支部党员",
    "group_too_large": "单元户数超过党员包户上限",
    "no_member_for_group": "无党员能包下整个单元",
    "capacity_exhausted": "附近党员已满额",
    "hour_budget_exhausted": "附近党员每周时间已用完",
    "unreachable_on_network": "路网上无法到达（无路可通）",
}
"""Why a household is uncovered (codes of :mod:`baohu_assign.explain`) → short Chinese text."""

CHANGE_REASON_ZH: dict[str, str] = {
    "new_household": "新增户",
    "out_of_reach": "原联系人已不能联系（跨支部或距离过远）",
    "member_unavailable": "原联系人不在或不可用",
    "over_capacity": "原联系人超出包户上限",
    "coverage": "为覆盖更多户而调整",
    "balance": "为均衡负担而调整",
    "travel": "调整为更近的党员",
    "pin_kept": "固定联系人不变",
}
"""Why a covered household's contact changed (same code list) → short Chinese text.
``out_of_reach`` means something else for a covered household, hence two tables."""

PIN_REASON_ZH: dict[str, str] = {
    "pin_without_member": "无原联系人可固定",
    "member_unknown": "原联系人不存在",
    "member_other_branch": "原联系人属其他支部",
    "member_unavailable": "原联系人不可用",
    "out_of_reach": "原联系人距离过远",
    "over_capacity": "固定户数超过原联系人上限",
    "over_hour_budget": "固定户超出原联系人每周时间",
    "group_pinned_elsewhere": "所在单元固定给了其他党员",
}
# The plan writes a broken pin as English text (PIN_REASONS values); map it back.
_PIN_TEXT_ZH = {text: PIN_REASON_ZH.get(code, text) for code, text in PIN_REASONS.items()}

SUMMARY_SHEET = "汇总"
VISITS_SHEET_SUFFIX = "走访安排"
"""The week's rounds of a branch go on a sheet named after it with this suffix."""
LEADERS_SHEET = "楼院楼栋长"
OVER_CAPACITY_UNIT_ZH = "整单元包户（超出上限）"
"""Marks a member who carries one whole stairwell unit larger than their capacity."""
_STATUS_ZH = {"optimal": "最优", "feasible": "可行", "fallback": "备用算法", "infeasible": "无可行解"}
_OBJECTIVE_ZH = {"balanced": "均衡负担", "distance": "路程最短", "min-churn": "变动最少"}
_ROLE_PRIMARY, _ROLE_BACKUP, _ROLE_UNCOVERED = "包户", "备用联系人", "未覆盖"
_TIER_ORDER = {"critical": 0, "elevated": 1, "normal": 2}
_ADDRESS_COLUMNS = ("address", "地址", "住址", "家庭住址")
ROWS_PER_PAGE = 40
"""Household rows a printed page of a branch sheet surely holds below its repeated title rows
(A4 portrait, 15-point rows, before fitting to the width, which only shrinks them)."""
_FIXED_TIME = _dt.datetime(2020, 1, 1)  # stable bytes: no clock in the file
_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

# Print styling: light fills so the sheet reads in black-and-white print too.
_TITLE_FILL = "DDEBF7"
_MEMBER_FILL = "E2EFDA"
_UNCOVERED_FILL = "F8CBAD"
_HEADER_FILL = "D9D9D9"


def reason_zh(reason: object, *, covered: bool) -> str:
    """The ``reason`` text of assignments.csv in short Chinese.

    Parameters
    ----------
    reason
        A reason code, possibly followed by ``; pin broken: <why>``; empty or
        missing gives ``""``.
    covered
        Whether the household has a contact: ``out_of_reach`` means "no member
        reaches it" for an uncovered household and "its old contact may no
        longer serve it" for a covered one.

    Returns
    -------
    str
        The Chinese text; unknown codes are returned unchanged.

    Examples
    --------
    >>> reason_zh("capacity_exhausted", covered=False)
    '附近党员已满额'
    """
    if is_missing(reason):
        return ""
    table = CHANGE_REASON_ZH if covered else REASON_ZH
    parts = []
    for part in str(reason).split(";"):
        part = part.strip()
        if not part:
            continue
        if part.startswith("pin broken:"):
            why = part.removeprefix("pin broken:").strip()
            parts.append(f"固定联系人未能保持：{_PIN_TEXT_ZH.get(why, why)}")
        else:
            parts.append(table.get(part, REASON_ZH.get(part, part)))
    return "；".join(parts)


def sheet_names(branches: Sequence[str], reserved: Iterable[str] = (SUMMARY_SHEET,)) -> list[str]:
    """Valid, unique Excel sheet names for ``branches``, in the same order.

    Excel refuses ``[]:*?/\\``, names longer than 31 characters, names
    starting or ending with an apostrophe, the name ``History`` and two names
    equal up to case.

    Parameters
    ----------
    branches
        Branch names.
    reserved
        Names already taken in the workbook.

    Returns
    -------
    list of str
        One sheet name per branch.

    Examples
    --------
    >>> sheet_names(["a/b", "a:b", "x" * 40])
    ['a_b', 'a_b~2', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx']
    """
    taken = {name.casefold() for name in reserved} | {"history"}
    names: list[str] = []
    for branch in branches:
        base = _INVALID_SHEET_CHARS.sub("_", _ILLEGAL_XML.sub("", str(branch))).strip().strip("'")
        base = base[:31].strip("'") or "支部"
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            suffix = f"~{n}"
            name = base[: 31 - len(suffix)].rstrip("'") + suffix
        taken.add(name.casefold())
        names.append(name)
    return names


@dataclass(frozen=True, slots=True)
class _Columns:
    """Optional household columns the input had."""

    head: bool
    size: bool
    address: str | None
    backups: bool
    extra: tuple[tuple[str, str], ...] = ()  # other input columns: (column, header as in the input)


def write_roster(
    plan: Plan, path: str | Path, *, leaders: pd.DataFrame | None = None, visits: VisitPlan | None = None
) -> Path:
    """Write the printable roster ``roster.xlsx`` of a plan (:func:`roster_bytes`).

    Parameters
    ----------
    plan
        The plan from :func:`~baohu_assign.solve` or :func:`~baohu_assign.rebalance`.
    path
        The file to write, or an existing folder (``roster.xlsx`` is written
        into it). Written atomically: a reader never sees half a file. To
        write it as part of a plan folder, in one unit with the plan's other
        files, pass ``roster_bytes(plan)`` to :meth:`~baohu_assign.plan.Plan.write`
        instead (``extra={"roster.xlsx": ...}``).
    leaders, visits
        As for :func:`roster_bytes`.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    target = Path(path)
    if target.is_dir():
        target = target / "roster.xlsx"
    data = roster_bytes(plan, leaders=leaders, visits=visits)
    atomic_write_bytes(target, data)
    logger.info("wrote %s: %d bytes", target, len(data))
    return target


def roster_bytes(plan: Plan, *, leaders: pd.DataFrame | None = None, visits: VisitPlan | None = None) -> bytes:
    """The printable roster ``roster.xlsx`` of a plan, as the bytes of the workbook.

    Parameters
    ----------
    plan
        The plan from :func:`~baohu_assign.solve` or :func:`~baohu_assign.rebalance`.
    leaders
        Building and compound leaders from
        :func:`baohu_assign.leaders.choose_leaders`; when given (and not
        empty), a sheet 楼院楼栋长 follows 汇总.
    visits
        The week's rounds from :func:`baohu_assign.plan_visits` of this plan;
        when given, each branch sheet is followed by a sheet ``<branch>走访安排``.

    Returns
    -------
    bytes
        The workbook; the same plan gives the same bytes.

    Notes
    -----
    Sheet 汇总: per branch, members (available), households, coverage per
    priority (covered/total), mean and highest load ratio, uncovered households
    and their reasons. Then one sheet per branch (sorted by name): each member
    as a shaded row (name, id, capacity, load) followed by their households
    (id, head, priority 普通/关注/重点, visits per week, distance, the backup
    contact when there is one, size and address when the input had them, then
    every other input column, such as 电话, under its own header), the
    households they back up marked 备用联系人, and a section 未覆盖 with the
    households left without a contact and why; one that just lost its contact
    (``changed``) names it in 备注: 原联系人. With current members, 汇总 and
    each branch sheet count the changed households (联系人变动): the same set
    as the ``changed`` column of assignments.csv. Every household is printed once
    as 包户 or 未覆盖. Pages are A4 portrait, fitted to the width, with the title
    rows repeated and gridlines printed; a page break comes before a member
    whose block would not fit on the rest of the page, so a block of at most
    :data:`ROWS_PER_PAGE` rows is never split.

    A 走访安排 sheet prints one week per member, each on a page of its own:
    the member's totals beside their hour budget, then every visit by day,
    round (上午/下午) and walking order, with the household, its address,
    the minutes after the round's start and the walk from the previous stop;
    visits to households that get the daily 四个一 service
    (:func:`baohu_assign.visits.week.needs_four_ones`) carry its checklist.
    """
    try:
        from openpyxl import Workbook
    except ImportError:  # a declared dependency, but say what to do if it is missing
        raise ImportError("writing roster.xlsx needs openpyxl (pip install openpyxl)") from None

    primary = plan.primary
    assignments = plan.assignments
    members = plan.members
    hh = plan.scenario.households
    branches = sorted(set(hh["branch"].astype(str)) | set(members["branch"].astype(str)))

    backup_rows = assignments[assignments["role"] == "backup"]
    backup_of = dict(zip(backup_rows["household_id"].astype(str), backup_rows["member_id"].astype(str), strict=True))
    input_columns = set(plan.scenario.household_columns) or set(hh.columns)
    address = next((c for c in _ADDRESS_COLUMNS if c in input_columns and c in primary.columns), None)
    known = {*ASSIGNMENT_COLUMNS, *HOUSEHOLD_COLUMNS, address}
    columns = _Columns(
        head="head_name" in input_columns and "head_name" in primary.columns,
        size="size" in input_columns and "size" in primary.columns,
        address=address,
        backups=bool(backup_of),
        extra=tuple(
            (c, str(plan.scenario.household_columns.get(c, c)))
            for c in primary.columns
            if c in input_columns and c not in known
        ),
    )
    display = _member_names(members)

    book = Workbook()
    summary = book.active
    summary.title = SUMMARY_SHEET
    with_leaders = leaders is not None and len(leaders) > 0
    names = sheet_names(branches, (SUMMARY_SHEET, LEADERS_SHEET) if with_leaders else (SUMMARY_SHEET,))
    visit_names = (
        sheet_names([f"{b}{VISITS_SHEET_SUFFIX}" for b in branches], (SUMMARY_SHEET, LEADERS_SHEET, *names))
        if visits is not None
        else [None] * len(branches)
    )
    _write_summary(summary, plan, branches, names)
    if with_leaders:
        _write_leaders(book.create_sheet(LEADERS_SHEET), leaders)
    for branch, name, visit_name in zip(branches, names, visit_names, strict=True):
        sheet = book.create_sheet(name)
        _write_branch(sheet, branch, primary, members, backup_of, display, columns)
        if visits is not None and visit_name is not None:
            _write_visits(book.create_sheet(visit_name), branch, visits, primary, members, display, columns.address)

    book.properties.creator = "baohu_assign"
    book.properties.title = "联户台账"
    book.properties.created = _FIXED_TIME
    book.properties.modified = _FIXED_TIME
    data = stable_xlsx_bytes(book)
    logger.info("roster: %d branch sheets, %d bytes", len(branches), len(data))
    return data


# -- summary -------------------------------------------------------------------------


_SUMMARY_HEADERS = (
    "支部",
    "党员",
    "可用党员",
    "联系户",
    "已覆盖",
    "重点户覆盖",
    "关注户覆盖",
    "普通户覆盖",
    "平均负荷率",
    "最高负荷率",
    "联系人变动",
    "未覆盖",
    "未覆盖原因",
)


def _write_summary(ws: Worksheet, plan: Plan, branches: Sequence[str], sheets: Sequence[str]) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.hyperlink import Hyperlink

    primary = plan.primary
    members = plan.members
    report = plan.report
    width = len(_SUMMARY_HEADERS)
    _title(ws, "联户汇总", width)
    counts = report.counts
    _put_banner(
        ws,
        2,
        width,
        f"党员 {counts.members} 人（可用 {counts.available_members} 人），"
        f"联系户 {counts.households} 户，已覆盖 {counts.covered} 户，未覆盖 {counts.uncovered} 户；"
        f"求解状态：{_STATUS_ZH.get(report.status.value, report.status.value)}，"
        f"优化目标：{_OBJECTIVE_ZH.get(report.objective, report.objective)}",
    )
    _header(ws, 3, _SUMMARY_HEADERS)

    tally = _SummaryTally.of(plan)
    branch_of_household = primary["branch"].astype(str).to_numpy()
    member_branch = members["branch"].astype(str).to_numpy()
    row = 4
    for branch, sheet in zip(branches, sheets, strict=True):
        values = tally.row(branch_of_household == branch, member_branch == branch, branch)
        _put_row(ws, row, values)
        # A click on the branch name opens its sheet (an in-book link, no relationship part).
        quoted = sheet.replace("'", "''")
        ws.cell(row, 1).hyperlink = Hyperlink(ref=ws.cell(row, 1).coordinate, location=f"'{quoted}'!A1")
        ws.cell(row, 1).font = Font(color="0563C1", underline="single")
        row += 1
    total = tally.row(np.ones(len(primary), dtype=bool), np.ones(len(members), dtype=bool), "合计")
    _put_row(ws, row, total)
    for col in range(1, width + 1):
        ws.cell(row, col).font = Font(bold=True)
    for r in range(4, row + 1):
        for col in (9, 10):
            ws.cell(r, col).number_format = "0%"
        ws.cell(r, width).alignment = Alignment(wrap_text=True, vertical="top")
    _finish_sheet(ws, width, widths={1: 16, width: 36}, title_rows=3, header="联户汇总")


@dataclass(frozen=True, eq=False)
class _SummaryTally:
    """The plan's households and members as arrays, to count a row of the summary (:data:`_SUMMARY_HEADERS`)."""

    covered: np.ndarray
    priority: np.ndarray
    reasons: np.ndarray
    available: np.ndarray
    utilisation: np.ndarray
    changed: np.ndarray
    current_given: bool  # some household had a current member: the change column is filled

    @classmethod
    def of(cls, plan: Plan) -> _SummaryTally:
        primary, members = plan.primary, plan.members
        return cls(
            covered=primary["member_id"].notna().to_numpy(),
            priority=primary["priority"].astype(str).to_numpy(),
            reasons=primary["reason"].astype(object).to_numpy(),
            available=members["capacity"].to_numpy() > 0,
            utilisation=members["utilisation"].to_numpy(dtype=np.float64),
            # The plan's changed flags (explain.changed_mask); blank when nobody had a current member.
            changed=primary["changed"].fillna(False).to_numpy(dtype=bool),
            current_given=bool(primary["changed"].notna().any()),
        )

    def row(self, mask_h: np.ndarray, mask_m: np.ndarray, label: str) -> list[Any]:
        """The summary row of the households and members selected by the masks."""
        covered = self.covered
        tiers = []
        for tier in ("critical", "elevated", "normal"):
            in_tier = mask_h & (self.priority == tier)
            tiers.append(f"{int((in_tier & covered).sum())}/{int(in_tier.sum())}")
        util = self.utilisation[mask_m & self.available]
        util = util[~np.isnan(util)]
        missing = mask_h & ~covered
        why: dict[str, int] = {}
        for r in self.reasons[missing]:
            text = reason_zh(r, covered=False) or "未说明"
            why[text] = why.get(text, 0) + 1
        return [
            label,
            int(mask_m.sum()),
            int((mask_m & self.available).sum()),
            int(mask_h.sum()),
            int((mask_h & covered).sum()),
            *tiers,
            round(float(util.mean()), 4) if util.size else None,
            round(float(util.max()), 4) if util.size else None,
            int((mask_h & self.changed).sum()) if self.current_given else None,
            int(missing.sum()),
            "；".join(f"{text} {n} 户" for text, n in sorted(why.items(), key=lambda kv: (-kv[1], kv[0]))),
        ]


# -- one branch ------------------------------------------------------------------------


def _branch_headers(columns: _Columns) -> list[str]:
    headers = ["序号", "户编号", *(["户主"] if columns.head else []), "类别", "每周走访", "距离（米）", "联系类型"]
    if columns.backups:
        headers.append("备用联系人")
    if columns.size:
        headers.append("人数")
    if columns.address:
        headers.append("地址")
    for _, header in columns.extra:
        # An input column named like one of ours (say 备注) keeps its name, marked as the input's.
        headers.append(header if header not in headers and header != "备注" else f"{header}（原表）")
    headers.append("备注")
    return headers


def _write_branch(
    ws: Worksheet,
    branch: str,
    primary: pd.DataFrame,
    members: pd.DataFrame,
    backup_of: dict[str, str],
    display: dict[str, str],
    columns: _Columns,
) -> None:
    sheet = _BranchSheet(ws, _branch_headers(columns), backup_of, display, columns)
    households = primary[primary["branch"].astype(str) == branch].copy()
    households["_tier"] = households["priority"].astype(str).map(_TIER_ORDER).fillna(2).to_numpy()
    households["_order"] = np.arange(len(households))
    households = households.sort_values(["_tier", "_order"], kind="stable")
    mine = members[members["branch"].astype(str) == branch]
    uncovered = households[households["member_id"].isna()]

    _title(ws, f"{branch} 联户台账", sheet.width)
    available = int((mine["capacity"] > 0).sum())
    changes = ""
    if households["changed"].notna().any():
        changes = f"，联系人变动 {int(households['changed'].fillna(False).sum())} 户"
    _put_banner(
        ws,
        2,
        sheet.width,
        f"党员 {len(mine)} 人（可用 {available} 人），联系户 {len(households)} 户，"
        f"已覆盖 {len(households) - len(uncovered)} 户，未覆盖 {len(uncovered)} 户{changes}",
    )
    _header(ws, 3, sheet.headers)
    idle = _write_member_blocks(sheet, households, mine)
    if idle:
        _write_idle_members(sheet, idle, mine)
    _write_uncovered(sheet, uncovered)
    _finish_sheet(ws, sheet.width, widths=_branch_widths(sheet.headers), title_rows=3, header=f"{branch} 联户台账")


@dataclass(eq=False)
class _BranchSheet:
    """A branch sheet being written: its columns and lookups, the next row and the last household number."""

    ws: Worksheet
    headers: list[str]
    backup_of: dict[str, str]
    display: dict[str, str]
    columns: _Columns
    row: int = 4  # below the title, summary and header rows
    number: int = 0  # primary and uncovered households are numbered 1, 2, … down the sheet

    @property
    def width(self) -> int:
        return len(self.headers)

    def banner(self, text: str) -> Any:
        """A line of text across the sheet's width at the next row; returns its cell."""
        cell = _put_banner(self.ws, self.row, self.width, text)
        self.row += 1
        return cell

    def household(self, household: dict[str, Any], role: str, critical_font: Any) -> None:
        """A household's row; critical ones in ``critical_font``, backups' role in italics."""
        from openpyxl.styles import Font

        if role != _ROLE_BACKUP:
            self.number += 1
        number = None if role == _ROLE_BACKUP else self.number
        _put_row(self.ws, self.row, _household_row(household, role, number, self.backup_of, self.display, self.columns))
        if str(_get(household, "priority")) == "critical":
            self.ws.cell(self.row, self.headers.index("类别") + 1).font = critical_font
        if role == _ROLE_BACKUP:
            self.ws.cell(self.row, self.headers.index("联系类型") + 1).font = Font(italic=True)
        self.row += 1


def _write_member_blocks(sheet: _BranchSheet, households: pd.DataFrame, mine: pd.DataFrame) -> list[str]:
    """Each member of the branch with households: a heading line, their households, then those they back up.

    A block is kept on one printed page where it fits. Returns the members
    with no household and no backup, in table order.
    """
    from openpyxl.styles import Border, Font, PatternFill, Side

    covered = households[households["member_id"].notna()]
    backed = households[households["household_id"].astype(str).isin(sheet.backup_of)]
    by_member = {m: g for m, g in covered.groupby(covered["member_id"].astype(str), sort=False)}
    backed_records = backed.to_dict("records")
    backups_by_member: dict[str, list[int]] = {}
    for position, hid in enumerate(backed["household_id"].astype(str)):
        backups_by_member.setdefault(sheet.backup_of[hid], []).append(position)

    member_fill = PatternFill("solid", fgColor=_MEMBER_FILL)
    bold = Font(bold=True)
    critical_font = Font(bold=True, color="C00000")
    thin = Side(style="thin", color="808080")
    page_rows = 0  # rows on the current printed page below the title rows
    idle: list[str] = []
    for record in mine.to_dict("records"):
        mid = str(record["member_id"])
        own = by_member.get(mid)
        extra = backups_by_member.get(mid, [])
        if own is None and not extra:
            idle.append(mid)
            continue
        page_rows = _keep_together(sheet.ws, sheet.row, 1 + (0 if own is None else len(own)) + len(extra), page_rows)
        text = (
            f"党员：{sheet.display[mid]}　编号：{mid}　"
            f"包户上限：{int(record['capacity'])} 户　已包：{int(record['households'])} 户"
        )
        if extra:
            text += f"　备用：{len(extra)} 户"
        if bool(record.get("over_capacity_unit", False)):
            text += f"　{OVER_CAPACITY_UNIT_ZH}"
        cell = sheet.banner(text)
        cell.fill, cell.font = member_fill, bold
        cell.border = Border(top=thin)
        rows_out = [] if own is None else [(h, _ROLE_PRIMARY) for h in own.to_dict("records")]
        rows_out += [(backed_records[i], _ROLE_BACKUP) for i in extra]
        for household, role in rows_out:
            sheet.household(household, role, critical_font)
    return idle


def _write_idle_members(sheet: _BranchSheet, idle: list[str], mine: pd.DataFrame) -> None:
    """One wrapped line naming the members without households (and which of them are unavailable)."""
    from openpyxl.styles import Alignment

    active = set(mine.loc[mine["capacity"] > 0, "member_id"].astype(str))
    sheet.row += 1
    names = "、".join(f"{sheet.display[m]}（{m}{'' if m in active else '，不可用'}）" for m in idle)
    row = sheet.row
    cell = sheet.banner(f"未包户的党员（{len(idle)} 人）：{names}")
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    # Merged cells do not grow by themselves: give the row room for the wrapped text.
    sheet.ws.row_dimensions[row].height = 15 * (1 + len(names) // 60)


def _write_uncovered(sheet: _BranchSheet, uncovered: pd.DataFrame) -> None:
    """The uncovered households under their own heading, numbered on from the covered ones; （无） if none."""
    from openpyxl.styles import Font, PatternFill

    sheet.row += 1
    lost = int(uncovered["changed"].fillna(False).sum())
    lost_text = f"，其中 {lost} 户刚失去原联系人（见备注）" if lost else ""
    cell = sheet.banner(f"{_ROLE_UNCOVERED}（无联系人）：{len(uncovered)} 户{lost_text}")
    cell.fill, cell.font = PatternFill("solid", fgColor=_UNCOVERED_FILL), Font(bold=True)
    critical_font = Font(bold=True, color="C00000")
    for household in uncovered.to_dict("records"):
        sheet.household(household, _ROLE_UNCOVERED, critical_font)
    if uncovered.empty:
        _put(sheet.ws, sheet.row, 1, "（无）")


_VISIT_HEADERS = (
    "日期",
    "轮次",
    "顺序",
    "户编号",
    "户主",
    "类别",
    "地址",
    "到达（分钟）",
    "步行（米）",
    "四个一",
    "签到/备注",
)


def _write_visits(
    ws: Worksheet,
    branch: str,
    visits: VisitPlan,
    primary: pd.DataFrame,
    members: pd.DataFrame,
    display: dict[str, str],
    address: str | None,
) -> None:
    """One printable week per member of ``branch``: their rounds, stop by stop."""
    from openpyxl.worksheet.pagebreak import Break

    width = len(_VISIT_HEADERS)
    title = f"{branch} {VISITS_SHEET_SUFFIX}"
    _title(ws, title, width)
    mine = members[members["branch"].astype(str) == branch]
    weeks = visits.member_weeks.set_index("member_id")
    table = visits.visits
    table = table[table["member_id"].astype(str).isin(set(mine["member_id"].astype(str)))]
    _put_banner(
        ws,
        2,
        width,
        f"{visits.days} 天，党员 {int(mine['member_id'].astype(str).isin(weeks.index).sum())} 人，走访 {len(table)} 次",
    )
    _header(ws, 3, _VISIT_HEADERS)

    stops = _VisitStops.of(visits, primary, address)
    by_member = {m: g for m, g in table.groupby(table["member_id"].astype(str), sort=False)}
    row = 4
    first = True
    for mid in mine["member_id"].astype(str):
        own = by_member.get(mid)
        if own is None:
            continue
        if not first:
            ws.row_breaks.append(Break(id=row - 1))  # one member's week per page
        first = False
        row = _write_member_week(ws, row, width, mid, display.get(mid, mid), weeks.loc[mid], own, stops)
    if first:
        _put(ws, row, 1, "（无走访）")
    widths: dict[int, float] = {1: 6, 2: 6, 3: 5, 4: 12, 5: 10, 6: 6, 7: 22, 8: 9, 9: 9, 10: 19, 11: 14}
    _finish_sheet(ws, width, widths=widths, title_rows=3, header=title)


@dataclass(frozen=True, eq=False)
class _VisitStops:
    """What a visit's row shows of its household: the household's record and whether it gets the 四个一 checklist."""

    days: int
    info: dict[str, dict[str, Any]]
    four: dict[str, bool]
    address: str | None

    @classmethod
    def of(cls, visits: VisitPlan, primary: pd.DataFrame, address: str | None) -> _VisitStops:
        from ..visits.week import needs_four_ones

        ids = primary["household_id"].astype(str).tolist()
        return cls(
            days=visits.days,
            info=dict(zip(ids, primary.to_dict("records"), strict=True)),
            four=dict(zip(ids, needs_four_ones(primary, visits.days), strict=True)),
            address=address,
        )


def _write_member_week(
    ws: Worksheet,
    row: int,
    width: int,
    mid: str,
    name: str,
    week: pd.Series,
    own: pd.DataFrame,
    stops: _VisitStops,
) -> int:
    """A member's heading line with the period's totals, then a row per visit; returns the next free row."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    from ..visits.week import FOUR_ONES_ZH, ROUND_NAMES_ZH, day_name_zh

    # Two items a line, so the column stays narrow enough for A4 portrait.
    checklist = "\n".join(" ".join(f"□{item}" for item in FOUR_ONES_ZH[i : i + 2]) for i in range(0, 4, 2))
    critical_font = Font(bold=True, color="C00000")
    wrap = Alignment(wrap_text=True, vertical="top")
    budget = week["hours_per_week"]
    budget_text = f"{float(budget):g} 小时" if _present(budget) else "未设定"
    cell = _put_banner(
        ws,
        row,
        width,
        f"党员：{name}　编号：{mid}　联系户 {int(week['households'])} 户　"
        f"本周走访 {int(week['visits'])} 次　步行 {float(week['walk_m']):.0f} 米　"
        f"用时约 {float(week['hours']):.1f} 小时（时间预算：{budget_text}）",
    )
    cell.fill = PatternFill("solid", fgColor=_MEMBER_FILL)
    cell.font, cell.border = Font(bold=True), Border(top=Side(style="thin", color="808080"))
    row += 1
    for record in own.to_dict("records"):
        hid = str(record["household_id"])
        household = stops.info[hid]
        priority = str(_get(household, "priority"))
        four = stops.four.get(hid, False)
        _put_row(
            ws,
            row,
            [
                day_name_zh(int(record["day"]), stops.days),
                ROUND_NAMES_ZH.get(int(record["round"]), str(record["round"])),
                int(record["stop"]),
                hid,
                _text(_get(household, "head_name")),
                PRIORITY_ZH.get(priority, priority),
                _text(_get(household, stops.address)) if stops.address else None,
                _number(record["arrive_min"]),
                _whole(record["walk_m"]),
                checklist if four else None,
                None,
            ],
        )
        if priority == "critical":
            ws.cell(row, 6).font = critical_font
        if four:
            ws.cell(row, 10).alignment = wrap
        row += 1
    return row


def _household_row(
    household: dict[str, Any],
    role: str,
    number: int | None,
    backup_of: dict[str, str],
    display: dict[str, str],
    columns: _Columns,
) -> list[Any]:
    hid = str(_get(household, "household_id"))
    priority = str(_get(household, "priority"))
    member = _get(household, "member_id")
    distance = _get(household, "distance_m")
    visits = _get(household, "visits_per_week")
    values: list[Any] = [number, hid]
    if columns.head:
        values.append(_text(_get(household, "head_name")))
    values += [
        PRIORITY_ZH.get(priority, priority),
        _number(visits),
        None if role != _ROLE_PRIMARY else _whole(distance),
        role,
    ]
    if columns.backups:
        backup = backup_of.get(hid) if role == _ROLE_PRIMARY else None
        values.append(display.get(backup, backup) if backup else None)
    if columns.size:
        values.append(_number(_get(household, "size")))
    if columns.address:
        values.append(_text(_get(household, columns.address)))
    for column, _ in columns.extra:
        value = _get(household, column)
        values.append(value if isinstance(value, (int, float)) and _present(value) else _text(value))
    if role == _ROLE_BACKUP:
        note = f"主联系人：{display.get(str(member), str(member))}" if _present(member) else ""
    else:
        note = reason_zh(_get(household, "reason"), covered=role == _ROLE_PRIMARY)
        if role == _ROLE_UNCOVERED and _get(household, "changed") is True:
            # Uncovered and changed: it had a contact until this plan.
            former = str(_get(household, "current_member_id"))
            who = f"{display[former]}（{former}）" if display.get(former, former) != former else former
            if former not in display:
                who += "，已不在党员名单"
            note = "；".join(part for part in (f"原联系人：{who}", note) if part)
    values.append(note or None)
    return values


def _keep_together(ws: Worksheet, row: int, block: int, used: int) -> int:
    """Break the page before ``row`` when a block of ``block`` rows would not fit on the rest of it.

    ``used``: rows since the last break; returns them after the block. A
    block longer than a page starts on a page of its own and the next block
    on a new one, so between two breaks there is never more than a page or
    a single block.
    """
    from openpyxl.worksheet.pagebreak import Break

    if used and used + block > ROWS_PER_PAGE:
        ws.row_breaks.append(Break(id=row - 1))  # the break follows row - 1
        used = 0
    return used + block


def _branch_widths(headers: Sequence[str]) -> dict[int, float]:
    preferred = {
        "序号": 6,
        "户编号": 12,
        "户主": 10,
        "类别": 6,
        "每周走访": 9,
        "距离（米）": 10,
        "联系类型": 11,
        "备用联系人": 11,
        "人数": 6,
        "地址": 30,
        "备注": 24,
    }
    return {i + 1: preferred.get(h, 12) for i, h in enumerate(headers)}


# -- shared sheet helpers ---------------------------------------------------------------


def _title(ws: Worksheet, text: str, width: int) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    _put(ws, 1, 1, text)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    cell = ws.cell(1, 1)
    cell.font = Font(bold=True, size=14)
    cell.alignment = Alignment(horizontal="center")
    cell.fill = PatternFill("solid", fgColor=_TITLE_FILL)
    ws.row_dimensions[1].height = 22


def _header(ws: Worksheet, row: int, headers: Sequence[str]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    fill = PatternFill("solid", fgColor=_HEADER_FILL)
    for col, text in enumerate(headers, start=1):
        cell = _put(ws, row, col, text)
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _finish_sheet(ws: Worksheet, width: int, *, widths: dict[int, float], title_rows: int, header: str) -> None:
    """Column widths, frozen header, A4 portrait fitted to the width, repeated titles, gridlines."""
    from openpyxl.utils import get_column_letter

    for col in range(1, width + 1):
        ws.column_dimensions[get_column_letter(col)].width = widths.get(col, 12)
    ws.freeze_panes = ws.cell(title_rows + 1, 1)
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_PORTRAIT
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as needed
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"1:{title_rows}"
    ws.print_options.gridLines = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.oddHeader.center.text = _header_text(header)


def _header_text(text: str) -> str:
    # '&' starts a code in Excel page headers; double it to print it.
    return text.replace("&", "&&")[:200]


def _put(ws: Worksheet, row: int, col: int, value: Any) -> Any:
    """Set a cell; text is always stored as text (never read as a formula)."""
    cell = ws.cell(row, col)
    if isinstance(value, str):
        cell.value = _ILLEGAL_XML.sub("", value)
        cell.data_type = "s"  # '=SUM(…)' in a name must stay a name, not a formula
    else:
        cell.value = value
    return cell


def _put_banner(ws: Worksheet, row: int, width: int, text: str) -> Any:
    """A line of text across the first ``width`` columns of ``row`` (one merged cell); returns the cell."""
    cell = _put(ws, row, 1, text)
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    return cell


def _put_row(ws: Worksheet, row: int, values: Sequence[Any]) -> None:
    for col, value in enumerate(values, start=1):
        if value is not None:
            _put(ws, row, col, value)


def _member_names(members: pd.DataFrame) -> dict[str, str]:
    ids = members["member_id"].astype(str).tolist()
    if "name" not in members:
        return dict(zip(ids, ids, strict=True))
    names = [_text(n) for n in members["name"].tolist()]
    return {mid: name or mid for mid, name in zip(ids, names, strict=True)}


def _get(record: dict[str, Any], name: str) -> Any:
    return record.get(name)


def _present(value: Any) -> bool:
    return not is_missing(value)


def _text(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def _number(value: Any) -> int | float | None:
    if not _present(value):
        return None
    number = float(value)
    return int(number) if number.is_integer() else round(number, 2)


def _whole(value: Any) -> int | None:
    return round(float(value)) if _present(value) else None


# -- leaders ------------------------------------------------------------------------------------


LEADER_LEVEL_ZH: dict[str, str] = {"compound": "楼院", "building": "楼栋"}
"""Level of leaders.csv → the word printed in the roster."""

LEADER_REASON_ZH: dict[str, str] = {
    "no_branch": "无住户和党员，无法确定所属支部",
    "no_member_in_branch": "本支部无党员",
    "no_cadre_in_branch": "本支部无干部党员",
    "no_coordinates": "无坐标，且无候选党员住在这里",
    "unreachable_on_network": "路网上无候选党员可到达",
    "candidates_lead_elsewhere": "本支部候选党员已分别负责其他楼院（楼栋）",
}
"""Why a building or compound has no leader (codes of :mod:`baohu_assign.leaders`) → Chinese text."""

_LEADER_HEADERS = ("层级", "编号", "名称", "支部", "负责人", "党员编号", "距离（米）", "居住党员", "户数", "备注")


def _write_leaders(ws: Worksheet, leaders: pd.DataFrame) -> None:
    """The sheet 楼院楼栋长: one row per compound and building with its leader, or why it has none."""
    width = len(_LEADER_HEADERS)
    _title(ws, "楼院长、楼栋长", width)
    led = int(leaders["leader_member_id"].notna().sum())
    _put_banner(
        ws,
        2,
        width,
        f"楼院 {int((leaders['level'] == 'compound').sum())} 个，楼栋 "
        f"{int((leaders['level'] == 'building').sum())} 个，已确定负责人 {led} 个",
    )
    _header(ws, 3, _LEADER_HEADERS)
    row = 4
    for record in leaders.to_dict("records"):
        reason = _text(record.get("reason"))
        _put_row(
            ws,
            row,
            [
                LEADER_LEVEL_ZH.get(str(record["level"]), str(record["level"])),
                _text(record.get("location_id")),
                _text(record.get("location_name")),
                _text(record.get("branch")),
                _text(record.get("leader_name")),
                _text(record.get("leader_member_id")),
                _number(record.get("distance_m")),
                _whole(record.get("members_under")),
                _whole(record.get("households_under")),
                LEADER_REASON_ZH.get(reason, reason) if reason else None,
            ],
        )
        row += 1
    _finish_sheet(ws, width, widths={2: 16, 3: 16, 4: 14, width: 30}, title_rows=3, header="楼院长、楼栋长")
