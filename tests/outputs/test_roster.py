"""roster.xlsx: a printable sheet per branch, every household once, Chinese, A4."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")

import baohu_assign as ba  # noqa: E402
from baohu_assign.datasets.synth import make_town  # noqa: E402
from baohu_assign.outputs.roster import (  # noqa: E402
    CHANGE_REASON_ZH,
    REASON_ZH,
    SUMMARY_SHEET,
    reason_zh,
    sheet_names,
    write_roster,
)


@pytest.fixture(scope="module")
def plan(short_plan) -> ba.Plan:
    return short_plan


@pytest.fixture(scope="module")
def roster(plan: ba.Plan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_roster(plan, tmp_path_factory.mktemp("roster") / "roster.xlsx")


def _branch_rows(ws) -> tuple[list[str], list[tuple]]:
    """Header (row 3) and the data rows below it."""
    rows = list(ws.iter_rows(values_only=True))
    return [h for h in rows[2] if h is not None], rows[3:]


def test_a_sheet_per_branch_after_the_summary(plan: ba.Plan, roster: Path) -> None:
    book = openpyxl.load_workbook(roster)
    branches = sorted(plan.scenario.households["branch"].astype(str).unique())
    assert book.sheetnames == [SUMMARY_SHEET, *branches]


def test_every_household_exactly_once_as_primary_or_uncovered(plan: ba.Plan, roster: Path) -> None:
    book = openpyxl.load_workbook(roster)
    seen: Counter[str] = Counter()
    branch_of = dict(zip(plan.primary["household_id"], plan.primary["branch"].astype(str), strict=True))
    for name in book.sheetnames[1:]:
        header, rows = _branch_rows(book[name])
        hid, role = header.index("户编号"), header.index("联系类型")
        for row in rows:
            if row[role] in ("包户", "未覆盖"):
                seen[row[hid]] += 1
                assert branch_of[row[hid]] == name  # on its own branch's sheet
    assert set(seen) == set(plan.primary["household_id"])
    assert set(seen.values()) == {1}


def test_members_are_header_rows_with_name_id_capacity_and_load(plan: ba.Plan, roster: Path) -> None:
    book = openpyxl.load_workbook(roster)
    members = plan.members[plan.members["households"] > 0]
    texts = [
        row[0]
        for name in book.sheetnames[1:]
        for row in book[name].iter_rows(values_only=True)
        if isinstance(row[0], str) and row[0].startswith("党员：")
    ]
    for record in members.head(20).to_dict("records"):
        line = next(t for t in texts if f"编号：{record['member_id']}　" in t)
        assert record["name"] in line
        assert f"包户上限：{record['capacity']} 户" in line
        assert f"已包：{record['households']} 户" in line


def test_uncovered_section_lists_households_with_reasons_in_chinese(plan: ba.Plan, roster: Path) -> None:
    book = openpyxl.load_workbook(roster)
    uncovered = plan.uncovered()
    for branch, group in uncovered.groupby(uncovered["branch"].astype(str)):
        header, rows = _branch_rows(book[branch])
        marker = next(i for i, r in enumerate(rows) if isinstance(r[0], str) and r[0].startswith("未覆盖"))
        assert f"{len(group)} 户" in rows[marker][0]
        listed = {
            r[header.index("户编号")]: r[header.index("备注")]
            for r in rows[marker + 1 :]
            if r[header.index("联系类型")] == "未覆盖"
        }
        assert set(listed) == set(group["household_id"])
        assert set(listed.values()) <= set(REASON_ZH.values())


def test_backups_are_marked(plan: ba.Plan, roster: Path) -> None:
    book = openpyxl.load_workbook(roster)
    backups = plan.assignments[plan.assignments["role"] == "backup"]
    assert len(backups) > 0
    marked = []
    for name in book.sheetnames[1:]:
        header, rows = _branch_rows(book[name])
        assert "备用联系人" in header
        marked += [r[header.index("户编号")] for r in rows if r[header.index("联系类型")] == "备用联系人"]
    assert sorted(marked) == sorted(backups["household_id"])


def test_headers_are_chinese_and_only_input_columns(roster: Path) -> None:
    book = openpyxl.load_workbook(roster)
    summary = [c for c in next(book[SUMMARY_SHEET].iter_rows(min_row=3, max_row=3, values_only=True))]
    assert summary[:4] == ["支部", "党员", "可用党员", "联系户"]
    assert {"重点户覆盖", "关注户覆盖", "普通户覆盖", "平均负荷率", "最高负荷率", "未覆盖", "未覆盖原因"} <= set(
        summary
    )
    header, _ = _branch_rows(book[book.sheetnames[1]])
    assert header[:3] == ["序号", "户编号", "户主"]
    assert {"类别", "每周走访", "距离（米）", "联系类型", "地址", "人数", "备注"} <= set(header)
    assert not any("电话" in h or "phone" in h.lower() for h in header)
    assert all(not h.isascii() for h in header)


def test_priorities_are_printed_in_chinese(roster: Path) -> None:
    book = openpyxl.load_workbook(roster)
    values = set()
    for name in book.sheetnames[1:]:
        header, rows = _branch_rows(book[name])
        values |= {r[header.index("类别")] for r in rows if r[header.index("联系类型")] in ("包户", "未覆盖")}
    assert values == {"普通", "关注", "重点"}


def test_print_setup_a4_portrait_fit_to_width(roster: Path) -> None:
    book = openpyxl.load_workbook(roster)
    for ws in book.worksheets:
        assert int(ws.page_setup.paperSize) == 9  # A4 in the OOXML paper-size list
        assert ws.page_setup.orientation == "portrait"
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
        assert ws.print_title_rows.replace("$", "") == "1:3"
        assert ws.print_options.gridLines
        assert ws.freeze_panes == "A4"
        assert ws.column_dimensions["B"].width > 0


def test_same_plan_same_bytes(plan: ba.Plan, roster: Path, tmp_path: Path) -> None:
    again = write_roster(plan, tmp_path)  # a folder: roster.xlsx inside
    assert again == tmp_path / "roster.xlsx"
    assert again.read_bytes() == roster.read_bytes()


def test_no_address_column_when_input_has_none_and_text_never_becomes_a_formula(tmp_path: Path) -> None:
    town = make_town(2, households=80, branches=2, stairwells=False, relocation=False)
    households = town.households.drop(columns=["address"])
    households.loc[0, "head_name"] = '=HYPERLINK("x")'
    plan = ba.solve(ba.Scenario.from_frames(town.members, households), seed=0)
    book = openpyxl.load_workbook(write_roster(plan, tmp_path / "r.xlsx"))
    header, _rows = _branch_rows(book[str(households.loc[0, "branch"])])
    assert "地址" not in header and "备用联系人" not in header
    cells = [
        c for row in book[str(households.loc[0, "branch"])].iter_rows() for c in row if c.value == '=HYPERLINK("x")'
    ]
    assert len(cells) == 1 and cells[0].data_type == "s"


def test_sheet_names_are_valid_and_unique() -> None:
    names = sheet_names(["a/b", "a:b", "A/B", "x" * 40, "x" * 40, "[*?]", "'quoted'", "汇总", "History"])
    assert len(set(n.casefold() for n in names)) == len(names)
    for name in names:
        assert 0 < len(name) <= 31
        assert not set(name) & set("[]:*?/\\")
        assert not name.startswith("'") and not name.endswith("'")
        assert name.casefold() not in ("汇总", "history")


def test_reason_codes_have_chinese_texts() -> None:
    for code in (
        "no_member_in_branch",
        "out_of_reach",
        "group_too_large",
        "no_member_for_group",
        "capacity_exhausted",
        "hour_budget_exhausted",
    ):
        assert reason_zh(code, covered=False) == REASON_ZH[code]
    for code in (
        "new_household",
        "member_unavailable",
        "out_of_reach",
        "over_capacity",
        "coverage",
        "balance",
        "travel",
        "pin_kept",
    ):
        assert reason_zh(code, covered=True) == CHANGE_REASON_ZH[code]
    text = reason_zh("coverage; pin broken: member unavailable", covered=True)
    assert text == "为覆盖更多户而调整；固定联系人未能保持：原联系人不可用"
    assert reason_zh(None, covered=False) == ""
