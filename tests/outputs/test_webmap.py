"""map.html: self-contained (works offline), every household in it, small, and it renders."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.outputs.webmap import member_colours, write_map

# A headless browser if the machine has one (optional: the screenshot test skips without it).
CHROMIUM = next(
    (
        Path(found)
        for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
        if (found := shutil.which(name))
    ),
    Path("/usr/bin/chromium"),
)
_DATA = re.compile(r'<script type="application/json" id="baohu-data">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def plan(short_plan) -> ba.Plan:
    return short_plan


@pytest.fixture(scope="module")
def page(plan: ba.Plan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_map(plan, tmp_path_factory.mktemp("map") / "map.html")


def _data(text: str) -> dict:
    return json.loads(_DATA.search(text).group(1))


def test_self_contained_no_network_references(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    tags = re.findall(r"<(?:script|link|img|iframe|source|embed|object)\b[^>]*>", text, re.I)
    assert not [t for t in tags if re.search(r"\b(?:src|href|data)\s*=", t, re.I)]
    assert not re.search(r"<link\b", text, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", text, re.I)
    assert "@import" not in text
    assert '"tile":null' in text  # no base map by default


def test_contains_leaflet_and_its_licence(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert 't.version="1.9.4"' in text  # Leaflet's own code, inlined
    assert ".leaflet-container" in text  # and its stylesheet
    assert "BSD 2-Clause License" in text and "Vladimir Agafonkin" in text
    assert "preferCanvas: true" in text
    assert "sourceMappingURL" not in text


def test_data_for_every_household_and_member(plan: ba.Plan, page: Path) -> None:
    data = _data(page.read_text(encoding="utf-8"))
    primary = plan.primary
    assert [h[0] for h in data["h"]] == primary["household_id"].tolist()
    member_ids = [m[0] for m in data["m"]]
    assert member_ids == plan.members["member_id"].tolist()
    for h, member in zip(data["h"], primary["member_id"], strict=True):
        assert (member_ids[h[5]] if h[5] >= 0 else None) == (None if pd.isna(member) else member)
    uncovered = [h for h in data["h"] if h[5] < 0]
    assert len(uncovered) == len(plan.uncovered())
    assert all(h[8] >= 0 for h in uncovered)  # each with its reason
    assert sum(h[9] >= 0 for h in data["h"]) == int((plan.assignments["role"] == "backup").sum())


def test_same_plan_same_bytes_and_tile_url(plan: ba.Plan, page: Path, tmp_path: Path) -> None:
    assert write_map(plan, tmp_path).read_bytes() == page.read_bytes()  # a folder: map.html inside
    nasty = "http://tiles.intranet/{z}/{x}/{y}.png?a=</script><b>"
    text = write_map(plan, tmp_path / "tiles.html", tile_url=nasty).read_text(encoding="utf-8")
    assert _data(text)["tile"] == nasty
    assert text.count("</script>") == 3  # the data cannot close its element early


def test_palette_is_deterministic_and_distinct() -> None:
    colours = member_colours(40)
    assert colours == member_colours(40)
    assert len(set(colours)) == 40
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)


@pytest.mark.slow
def test_twelve_thousand_household_town_stays_small(demo_town, tmp_path: Path) -> None:
    town = demo_town
    plan = ba.solve(ba.Scenario.from_frames(town.members, town.households), strategy="flow", seed=0)
    path = write_map(plan, tmp_path / "map.html")
    assert path.stat().st_size < 40 * 1024 * 1024
    assert len(_data(path.read_text(encoding="utf-8"))["h"]) == 12_000


# -- a real browser, offline ---------------------------------------------------------


def _decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and pixel rows of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, []
    width = height = bpp = 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        pos += 12 + size
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, cur = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):  # undo the row filter (PNG spec, section 9)
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            if kind == 1:
                cur[i] = (cur[i] + a) & 255
            elif kind == 2:
                cur[i] = (cur[i] + b) & 255
            elif kind == 3:
                cur[i] = (cur[i] + ((a + b) >> 1)) & 255
            elif kind == 4:
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(cur))
        prev = cur
    return width, height, bpp, rows


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs chromium (optional system package)")
def test_renders_offline_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "map.png"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,900",
        "--virtual-time-budget=5000",
        page.resolve().as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=180, check=False)
    assert shot.is_file() and shot.stat().st_size > 0
    width, height, bpp, rows = _decode_png(shot.read_bytes())
    assert (width, height) == (1200, 900)
    colours = {row[i : i + 3] for row in rows for i in range(0, len(row), bpp)}
    assert len(colours) > 50  # markers, lines, legend: far from a blank page
    assert bytes.fromhex("ffd400") in colours  # uncovered households are drawn
    assert bytes.fromhex("f2f1ec") in colours  # the plain offline background
