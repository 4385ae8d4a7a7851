"""roster.xlsx on paper: a member's block never splits across pages; every input column is printed.
map.html: the legend leaves the data visible."""

from __future__ import annotations

import io
import itertools
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

openpyxl = pytest.importorskip("openpyxl")

import baohu_assign as ba  # noqa: E402
from baohu_assign.datasets.synth import make_town  # noqa: E402
from baohu_assign.outputs.roster import ROWS_PER_PAGE, _keep_together, roster_bytes  # noqa: E402
from baohu_assign.outputs.webmap import map_html  # noqa: E402

FIRST_DATA_ROW = 4  # rows 1-3 are the title rows repeated on every page


@pytest.fixture(scope="module")
def plan() -> ba.Plan:
    town = make_town(3, households=900, branches=2)
    households = town.households.copy()
    households["电话"] = [f"0371-{i:07d}" for i in range(len(households))]
    households["备注"] = ["独居" if i % 5 == 0 else "" for i in range(len(households))]
    return ba.solve(ba.Scenario.from_frames(town.members, households), objective="distance")


@pytest.fixture(scope="module")
def book(plan: ba.Plan):
    return openpyxl.load_workbook(io.BytesIO(roster_bytes(plan)))


def _blocks(ws) -> list[tuple[int, int]]:
    """(first row, rows) of each member block: the shaded member row and its household rows."""
    blocks = []
    row = FIRST_DATA_ROW
    while row <= ws.max_row:
        value = ws.cell(row, 1).value
        if isinstance(value, str) and value.startswith("党员："):
            size = 1
            while ws.cell(row + size, 2).value is not None:
                size += 1
            blocks.append((row, size))
            row += size
        else:
            row += 1
    return blocks


def _pages_keep_blocks_whole(blocks: list[tuple[int, int]], breaks: list[int]) -> None:
    """The oracle: breaks fall between blocks, and between two breaks there is at most a page or one block."""
    starts = {start for start, _ in blocks}
    assert all(after + 1 in starts for after in breaks), "a break inside a member's block"
    edges = [FIRST_DATA_ROW - 1, *sorted(breaks), blocks[-1][0] + blocks[-1][1] - 1]
    for low, high in itertools.pairwise(edges):
        inside = [(s, n) for s, n in blocks if low < s <= high]
        rows = sum(n for _, n in inside)
        assert rows <= ROWS_PER_PAGE or len(inside) == 1, f"rows {low + 1}-{high} do not fit one page"


def test_page_breaks_fall_between_members_and_never_split_a_block(book) -> None:
    sheets = [ws for ws in book.worksheets[1:]]
    assert sheets
    for ws in sheets:
        blocks = _blocks(ws)
        assert sum(n for _, n in blocks) > 2 * ROWS_PER_PAGE, "the test needs branches of several pages"
        breaks = [b.id for b in ws.row_breaks.brk]
        assert breaks, "a branch of several pages needs page breaks"
        _pages_keep_blocks_whole(blocks, breaks)


@given(st.lists(st.integers(min_value=1, max_value=2 * ROWS_PER_PAGE + 5), min_size=1, max_size=60))
def test_keep_together_on_any_block_sizes(sizes: list[int]) -> None:
    ws = SimpleNamespace(row_breaks=[])
    row, used, blocks = FIRST_DATA_ROW, 0, []
    for size in sizes:
        used = _keep_together(ws, row, size, used)
        blocks.append((row, size))
        row += size
    _pages_keep_blocks_whole(blocks, [b.id for b in ws.row_breaks])
    # No break is wasted: each one is needed because the next block would not fit.
    for brk in ws.row_breaks:
        before = [(s, n) for s, n in blocks if s <= brk.id]
        previous = max((b.id for b in ws.row_breaks if b.id < brk.id), default=FIRST_DATA_ROW - 1)
        on_page = sum(n for s, n in before if s > previous)
        following = next(n for s, n in blocks if s == brk.id + 1)
        assert on_page + following > ROWS_PER_PAGE


def test_extra_input_columns_are_printed_under_their_own_headers(plan: ba.Plan, book) -> None:
    ws = book.worksheets[1]
    headers = [c.value for c in ws[3] if c.value is not None]
    assert "电话" in headers and "备注（原表）" in headers and headers[-1] == "备注"
    phone, note = headers.index("电话") + 1, headers.index("备注（原表）") + 1
    primary = plan.primary.set_index("household_id")
    seen = 0
    for row in range(FIRST_DATA_ROW, ws.max_row + 1):
        household = ws.cell(row, 2).value
        if household is None or household not in primary.index:
            continue
        assert ws.cell(row, phone).value == primary.loc[household, "电话"]
        assert (ws.cell(row, note).value or "") == primary.loc[household, "备注"]
        seen += 1
    assert seen > 100


def test_the_map_legend_sits_bottom_right_folds_and_the_first_view_keeps_data_above_it(plan: ba.Plan) -> None:
    page = map_html(plan)
    script = page[page.index("var legend = L.control(") :]
    assert script.startswith('var legend = L.control({position: "bottomright"})')
    assert 'position: "bottomleft"' not in page  # the scale bar keeps the bottom left
    assert 'classList.toggle("folded")' in script and ".baohu-legend.folded .legend-body { display: none; }" in page
    # The first view is fitted after the legend exists, with its height kept free at the bottom.
    fit = script.index("map.fitBounds(")
    assert script.index("legend.addTo(map)") < fit
    assert "paddingBottomRight: [20, legendHeight + 30]" in script[fit : fit + 120]
