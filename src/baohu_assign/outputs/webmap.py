"""Self-contained map of a plan: ``map.html`` that opens offline in any browser.

Town offices often work on government intranets without internet, so the
file carries everything it needs: Leaflet's JavaScript and CSS are inlined
(vendored under ``static/leaflet/``: Leaflet 1.9.4, the official ``dist``
files from the npm registry, ``npm pack leaflet@1.9.4``, BSD-2-Clause; its
licence text is inlined with it), and the plan is embedded once as compact
JSON and drawn on a canvas, so a 12,000-household town stays small and fast.
There is no base map unless a tile URL (for example an intranet tile server)
is given.

What the map shows: members as large dots, households as small dots in their
member's colour with a line to the member, critical households with a red
ring, uncovered households in yellow with a black edge, backups as dashed
lines; one layer per branch, a layer switcher, a scale and a bilingual legend
(bottom right, folded by a click on its title; the first view keeps the data above it).
"""

from __future__ import annotations

import colorsys
import html
import json
import logging
import math
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io.atomic import atomic_write_text
from ..io.tables import is_missing
from .roster import PRIORITY_ZH, reason_zh

if TYPE_CHECKING:
    from ..results.plan import Plan
    from ..visits import VisitPlan

logger = logging.getLogger(__name__)

__all__ = ["map_html", "member_colours", "write_map"]

LEAFLET_VERSION = "1.9.4"
_TIER = {"normal": 0, "elevated": 1, "critical": 2}
_GOLDEN_ANGLE = 137.508  # degrees: consecutive members get well separated hues
# Leaflet's stylesheet points at marker and layer-switcher images next to it;
# those would be failed file lookups offline, and this map uses neither.
_CSS_IMAGE = re.compile(r"url\(images/[^)]*\)")
_END_TAG = re.compile(r"</(script|style)", re.IGNORECASE)


def member_colours(count: int) -> list[str]:
    """A deterministic palette: ``count`` distinct-looking ``#rrggbb`` colours.

    Hues step by the golden angle so neighbouring indices differ strongly;
    lightness alternates so that equal hues after many steps still differ.

    Parameters
    ----------
    count
        Number of colours.

    Returns
    -------
    list of str
        Colours, the same for the same ``count`` (a prefix of any longer palette).

    Examples
    --------
    >>> member_colours(2)
    ['#1f75b2', '#da2f61']
    """
    colours = []
    for i in range(count):
        hue = ((205.0 + i * _GOLDEN_ANGLE) % 360.0) / 360.0
        lightness = (0.41, 0.52, 0.33)[i % 3]
        r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.70)
        colours.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return colours


def write_map(plan: Plan, path: str | Path, *, tile_url: str | None = None, visits: VisitPlan | None = None) -> Path:
    """Write a self-contained interactive map ``map.html`` of a plan.

    Parameters
    ----------
    plan
        The plan from :func:`~baohu_assign.solve` or :func:`~baohu_assign.rebalance`.
    path
        The file to write, or an existing folder (``map.html`` is written into it).
    tile_url
        A Leaflet tile URL template such as ``http://tiles.intranet/{z}/{x}/{y}.png``
        for a base map. ``None`` (default): a plain background, so the map
        needs no network at all.
    visits
        The week's rounds from :func:`baohu_assign.plan_visits` of this plan;
        when given, a layer 走访路线 draws each member's rounds (home → stops
        → home, morning solid, afternoon dashed; the popup names the days).

    Returns
    -------
    pathlib.Path
        The file written. The same plan and arguments give the same bytes.

    Notes
    -----
    Leaflet (JS and CSS) and the data are inlined; the file loads nothing
    from the network except the tiles of ``tile_url`` when given. Clicking a
    dot shows the member or household (id, name, priority, distance, reason
    when uncovered).
    """
    target = Path(path)
    if target.is_dir():
        target = target / "map.html"
    page = map_html(plan, tile_url=tile_url, visits=visits)
    atomic_write_text(target, page)
    logger.info("wrote %s: %d bytes", target, len(page.encode("utf-8")))
    return target


def map_html(plan: Plan, *, tile_url: str | None = None, visits: VisitPlan | None = None) -> str:
    """The self-contained map ``map.html`` of a plan, as text (see :func:`write_map`).

    To write it as part of a plan folder, in one unit with the plan's other
    files, pass it to :meth:`~baohu_assign.plan.Plan.write`
    (``extra={"map.html": map_html(plan)}``).
    """
    data = _map_data(plan, tile_url)
    if visits is not None:
        data["v"] = _rounds(plan, visits)
        data["vd"] = visits.days
    page = _page(data)
    logger.info("map: %d households, %d members", len(data["h"]), len(data["m"]))
    return page


# -- data ----------------------------------------------------------------------------


def _map_data(plan: Plan, tile_url: str | None) -> dict[str, Any]:
    """The plan as compact arrays: members, households, branches, reasons."""
    members = plan.members
    branches = sorted(set(plan.primary["branch"].astype(str)) | set(members["branch"].astype(str)))
    branch_index = {b: i for i, b in enumerate(branches)}
    member_rows = _member_rows(plan, branch_index)
    member_index = {m: i for i, m in enumerate(members["member_id"].astype(str).tolist())}
    household_rows, reasons = _household_rows(plan, branch_index, member_index)
    return {
        "b": branches,
        "m": member_rows,
        "h": household_rows,
        "r": reasons,
        "p": [PRIORITY_ZH[t] for t in ("normal", "elevated", "critical")],
        "tile": tile_url,
    }


def _member_rows(plan: Plan, branch_index: dict[str, int]) -> list[list[Any]]:
    """Per member: id, name, lat, lon, branch index, households, capacity, colour."""
    members = plan.members
    ids = members["member_id"].astype(str).tolist()
    names = members["name"].tolist() if "name" in members else [None] * len(ids)
    # Colours by position within the branch: each branch gets the full palette.
    position = members.groupby("branch", sort=False).cumcount().to_numpy()
    palette = member_colours(int(position.max()) + 1 if len(position) else 0)
    lat = plan.scenario.members["lat"].to_numpy(dtype=np.float64)
    lon = plan.scenario.members["lon"].to_numpy(dtype=np.float64)
    member_rows = []
    for i, mid in enumerate(ids):
        member_rows.append(
            [
                mid,
                _text(names[i]),
                _coord(lat[i]),
                _coord(lon[i]),
                branch_index[str(members["branch"].iat[i])],
                int(members["households"].iat[i]),
                int(members["capacity"].iat[i]),
                palette[int(position[i])],
            ]
        )
    return member_rows


def _household_rows(
    plan: Plan, branch_index: dict[str, int], member_index: dict[str, int]
) -> tuple[list[list[Any]], list[str]]:
    """Per household: id, head, lat, lon, branch, member, tier, distance, reason, backup (-1: none); and the reasons.

    Reasons are numbered in order of first use.
    """
    primary = plan.primary
    assignments = plan.assignments
    reasons: list[str] = []
    reason_index: dict[str, int] = {}
    backup_rows = assignments[assignments["role"] == "backup"]
    backup_of = dict(zip(backup_rows["household_id"].astype(str), backup_rows["member_id"].astype(str), strict=True))
    household_rows = []
    h_lat = primary["lat"].to_numpy(dtype=np.float64)
    h_lon = primary["lon"].to_numpy(dtype=np.float64)
    heads = primary["head_name"].tolist() if "head_name" in primary else [None] * len(primary)
    for i, record in enumerate(
        primary[["household_id", "member_id", "branch", "priority", "distance_m", "reason"]].itertuples(
            index=False, name=None
        )
    ):
        hid, member, branch, priority, distance, reason = record
        covered = _present(member)
        text = reason_zh(reason, covered=covered)
        if text and text not in reason_index:
            reason_index[text] = len(reasons)
            reasons.append(text)
        backup = backup_of.get(str(hid))
        household_rows.append(
            [
                str(hid),
                _text(heads[i]),
                _coord(h_lat[i]),
                _coord(h_lon[i]),
                branch_index[str(branch)],
                member_index[str(member)] if covered else -1,
                _TIER.get(str(priority), 0),
                round(float(distance)) if covered and _present(distance) else -1,
                reason_index[text] if text else -1,
                -1 if backup is None else member_index.get(backup, -1),
            ]
        )
    return household_rows, reasons


def _rounds(plan: Plan, visits: VisitPlan) -> list[list[Any]]:
    """Each member's distinct rounds: [member, round, days (1-based), household indices in walking order].

    A round walked on several days (a daily round) is drawn once, with its days.
    """
    member_index = {m: i for i, m in enumerate(plan.members["member_id"].astype(str))}
    household_index = {h: i for i, h in enumerate(plan.primary["household_id"].astype(str))}
    table = visits.visits
    walks: dict[tuple[int, int, tuple[int, ...]], list[int]] = {}
    keys = zip(table["member_id"].astype(str), table["day"], table["round"], strict=True)
    stops = table["household_id"].astype(str).map(household_index).tolist()
    current: tuple[str, int, int] | None = None
    path: list[int] = []

    def close() -> None:
        if current is not None:
            key = (member_index[current[0]], current[2], tuple(path))
            walks.setdefault(key, []).append(current[1])

    for key, stop in zip(keys, stops, strict=True):
        this = (key[0], int(key[1]), int(key[2]))
        if this != current:
            close()
            current, path = this, []
        path.append(int(stop))
    close()
    return [[member, round_no, days, list(path)] for (member, round_no, path), days in walks.items()]


def _coord(value: float) -> float | None:
    # Six decimals is about 0.1 m: more would only make the file bigger.
    return round(float(value), 6) if math.isfinite(value) else None


def _present(value: Any) -> bool:
    return not is_missing(value)


def _text(value: Any) -> str:
    return str(value) if _present(value) else ""


# -- page ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _leaflet() -> tuple[str, str, str]:
    """Leaflet's JS, CSS and licence, ready to inline."""
    folder = resources.files("baohu_assign.outputs") / "static" / "leaflet"
    js = (folder / "leaflet.js").read_text(encoding="utf-8")
    css = (folder / "leaflet.css").read_text(encoding="utf-8")
    licence = (folder / "LICENSE").read_text(encoding="utf-8")
    # The source map is not shipped; without the comment devtools do not look for it.
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    css = _CSS_IMAGE.sub("none", css)
    return js, css, licence


def _script_safe(text: str) -> str:
    """Text that cannot end the <script> or <style> element it sits in."""
    # Only "</script" and "</style" close the element; "<\/" reads the same inside JS strings.
    return _END_TAG.sub(r"<\\/\1", text)


def _json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # Inside <script type="application/json">: '</' must not appear; U+2028/9 break old parsers.
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _page(data: dict[str, Any]) -> str:
    js, css, licence = _leaflet()
    covered = sum(1 for h in data["h"] if h[5] >= 0)
    title = f"联户地图 Assignment map — {covered}/{len(data['h'])} 户已覆盖"
    return _TEMPLATE.format(
        title=html.escape(title),
        leaflet_version=LEAFLET_VERSION,
        licence=html.escape(licence.strip()).replace("--", "&#45;&#45;"),
        leaflet_css=_script_safe(css),
        page_css=_PAGE_CSS,
        leaflet_js=_script_safe(js),
        data=_json(data),
        app_js=_app_js(data),
    )


def _app_js(data: dict[str, Any]) -> str:
    """The page's script; with visit rounds (``"v"``), the rounds layer joins the overlays."""
    if "v" not in data:
        return _APP_JS
    return _APP_JS.replace(_OVERLAYS_ANCHOR, _OVERLAYS_ANCHOR + _ROUNDS_JS, 1)


_PAGE_CSS = """
html, body { height: 100%; margin: 0; font: 13px/1.4 "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", sans-serif; }
#map { position: absolute; inset: 0; background: #f2f1ec; }
.baohu-legend { background: rgba(255,255,255,0.94); padding: 8px 10px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.3); line-height: 1.6; max-width: 290px; }
.baohu-legend h4 { margin: 0 0 4px; font-size: 14px; cursor: pointer; user-select: none; }
.baohu-legend .fold::after { content: "▾"; }
.baohu-legend.folded .fold::after { content: "▸"; }
.baohu-legend.folded h4 { margin: 0; }
.baohu-legend.folded .legend-body { display: none; }
.baohu-legend svg { vertical-align: middle; margin-right: 6px; }
.baohu-legend .count { color: #555; }
.leaflet-control-layers-list { max-height: 60vh; overflow-y: auto; }
.leaflet-popup-content table td { padding: 0 6px 0 0; }
"""

# Plain ES5 so that older intranet browsers run it; layers are built once.
_OVERLAYS_ANCHOR = "  var overlays = {};\n"
"""Where the rounds layer's script goes: before the layer control is built."""
_ROUNDS_JS = r"""
  if (D.v) {
    // The week's rounds: home → stops → home; morning solid, afternoon dashed. Off until chosen.
    var roundLayer = L.featureGroup();
    var dayNames = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
    D.v.forEach(function (w) {
      var m = M[w[0]];
      if (!ok(m[2], m[3])) { return; }
      var pts = [[m[2], m[3]]];
      w[3].forEach(function (i) { if (ok(H[i][2], H[i][3])) { pts.push([H[i][2], H[i][3]]); } });
      pts.push([m[2], m[3]]);
      var days = w[2].map(function (d) { return D.vd === 7 ? dayNames[d - 1] : "第" + d + "天"; });
      L.polyline(pts, {renderer: renderer, color: m[7], weight: 2, opacity: 0.8,
        dashArray: w[1] === 2 ? "6 4" : null})
        .bindPopup("<b>走访路线 Round</b> " + memberLabel(w[0]) + "<br>" + (w[1] === 2 ? "下午 pm" : "上午 am") +
          "：" + esc(days.join("、")) + "<br>" + w[3].length + " 户 stops")
        .addTo(roundLayer);
    });
    overlays['走访路线 Visit rounds <span class="count">' + D.v.length + "</span>"] = roundLayer;
  }
"""

_APP_JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("baohu-data").textContent);
  var B = D.b, M = D.m, H = D.h, R = D.r, P = D.p;
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function ok(lat, lon) { return lat !== null && lon !== null; }
  var map = L.map("map", {preferCanvas: true, zoomSnap: 0.25});
  var renderer = L.canvas({padding: 0.3});
  if (D.tile) { L.tileLayer(D.tile, {maxZoom: 19}).addTo(map); }
  var groups = B.map(function () { return L.featureGroup(); });
  var counts = B.map(function () { return {h: 0, u: 0}; });
  var lines = {}, backupLines = {};
  var bounds = L.latLngBounds([]);

  function memberLabel(j) {
    var m = M[j];
    return m[1] ? esc(m[1]) + "（" + esc(m[0]) + "）" : esc(m[0]);
  }
  function householdPopup(layer) {
    var h = H[layer.options.idx], rows = [];
    rows.push(["户 Household", esc(h[0]) + (h[1] ? " " + esc(h[1]) : "")]);
    rows.push(["支部 Branch", esc(B[h[4]])]);
    rows.push(["类别 Priority", esc(P[h[6]])]);
    if (h[5] >= 0) {
      rows.push(["党员 Member", memberLabel(h[5])]);
      rows.push(["距离 Distance", h[7] + " 米 m"]);
    } else {
      rows.push(["党员 Member", "<b>未覆盖 uncovered</b>"]);
    }
    if (h[9] >= 0) { rows.push(["备用 Backup", memberLabel(h[9])]); }
    if (h[8] >= 0) { rows.push(["原因 Reason", esc(R[h[8]])]); }
    return "<table>" + rows.map(function (r) {
      return "<tr><td>" + r[0] + "</td><td>" + r[1] + "</td></tr>";
    }).join("") + "</table>";
  }
  function memberPopup(layer) {
    var m = M[layer.options.idx];
    return "<b>党员 Member</b> " + memberLabel(layer.options.idx) + "<br>支部 Branch " + esc(B[m[4]]) +
      "<br>包户 Load " + m[5] + " / " + m[6] + (m[6] === 0 ? "（不可用 unavailable）" : "");
  }

  // Canvas draws in insertion order: lines, covered households, members, then the
  // uncovered households on top so that none is hidden under a member.
  H.forEach(function (h) {
    if (!ok(h[2], h[3])) { return; }
    var to = [h[2], h[3]];
    if (h[5] >= 0 && ok(M[h[5]][2], M[h[5]][3])) {
      (lines[h[5]] = lines[h[5]] || []).push([[M[h[5]][2], M[h[5]][3]], to]);
    }
    if (h[9] >= 0 && ok(M[h[9]][2], M[h[9]][3])) {
      (backupLines[h[9]] = backupLines[h[9]] || []).push([[M[h[9]][2], M[h[9]][3]], to]);
    }
  });
  Object.keys(lines).sort(function (a, b) { return a - b; }).forEach(function (j) {
    L.polyline(lines[j], {renderer: renderer, color: M[j][7], weight: 1, opacity: 0.65,
      interactive: false}).addTo(groups[M[j][4]]);
  });
  Object.keys(backupLines).sort(function (a, b) { return a - b; }).forEach(function (j) {
    L.polyline(backupLines[j], {renderer: renderer, color: "#444", weight: 1, opacity: 0.8,
      dashArray: "4 4", interactive: false}).addTo(groups[M[j][4]]);
  });
  function addHousehold(h, i) {
    var critical = h[6] === 2, style;
    if (h[5] < 0) {
      style = {radius: critical ? 7 : 6, fillColor: "#ffd400", fillOpacity: 1,
        color: critical ? "#e00000" : "#000", weight: critical ? 3 : 2};
    } else {
      var c = M[h[5]][7];
      style = critical ? {radius: 5, fillColor: c, fillOpacity: 1, color: "#e00000", weight: 2.5}
        : {radius: h[6] === 1 ? 4 : 3.5, fillColor: c, fillOpacity: 0.9, color: c, weight: 1};
    }
    style.renderer = renderer;
    style.idx = i;
    L.circleMarker([h[2], h[3]], style).bindPopup(householdPopup).addTo(groups[h[4]]);
    bounds.extend([h[2], h[3]]);
  }
  H.forEach(function (h, i) {
    counts[h[4]].h += 1;
    if (h[5] < 0) { counts[h[4]].u += 1; }
    if (h[5] >= 0 && ok(h[2], h[3])) { addHousehold(h, i); }
  });
  var memberDots = [];
  function memberRadius() {
    // Smaller at town scale, where full-size member dots would hide their households.
    var z = map.getZoom();
    return z >= 16 ? 7 : z >= 14 ? 5.5 : z >= 13 ? 4 : 3;
  }
  M.forEach(function (m, j) {
    if (!ok(m[2], m[3])) { return; }
    var available = m[6] > 0;
    memberDots.push(L.circleMarker([m[2], m[3]], {renderer: renderer, idx: j, radius: 7,
      fillColor: available ? m[7] : "#bbbbbb", fillOpacity: 1, color: available ? "#111" : "#777",
      weight: available ? 2 : 1.5, dashArray: available ? null : "2 2"})
      .bindPopup(memberPopup).addTo(groups[m[4]]));
    bounds.extend([m[2], m[3]]);
  });
  H.forEach(function (h, i) {
    if (h[5] < 0 && ok(h[2], h[3])) { addHousehold(h, i); }
  });
  map.on("zoomend", function () {
    var r = memberRadius();
    memberDots.forEach(function (d) { d.setRadius(r); });
  });

  var overlays = {};
  groups.forEach(function (g, k) {
    g.addTo(map);
    var label = esc(B[k]) + ' <span class="count">' + counts[k].h + " 户" +
      (counts[k].u ? "，未覆盖 " + counts[k].u : "") + "</span>";
    overlays[label] = g;
  });
  L.control.layers(null, overlays, {collapsed: false, position: "topright"}).addTo(map);
  L.control.scale({imperial: false}).addTo(map);

  function dot(fill, stroke, width, r, dash) {
    var s = 2 * (r + width);
    return '<svg width="' + s + '" height="' + s + '"><circle cx="' + s / 2 + '" cy="' + s / 2 +
      '" r="' + r + '" fill="' + fill + '" stroke="' + stroke + '" stroke-width="' + width + '"' +
      (dash ? ' stroke-dasharray="2 2"' : "") + "/></svg>";
  }
  function line(dash) {
    return '<svg width="22" height="10"><line x1="1" y1="5" x2="21" y2="5" stroke="#444" stroke-width="1.5"' +
      (dash ? ' stroke-dasharray="4 3"' : "") + "/></svg>";
  }
  var uncovered = counts.reduce(function (a, c) { return a + c.u; }, 0);
  // The legend sits bottom right, folds away on a click on its title, and the first view keeps
  // the data above it (the scale bar has the bottom left).
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "baohu-legend");
    div.innerHTML = '<h4 title="点击收起或展开 Click to fold or unfold">联户地图 Assignment map ' +
      '<span class="fold"></span></h4><div class="legend-body">' +
      '<div class="count">' + H.length + " 户 households · " + M.length + " 名党员 members · " +
      uncovered + " 户未覆盖 uncovered</div>" +
      "<div>" + dot("#1f77b4", "#111", 2, 6) + "党员 Party member</div>" +
      "<div>" + dot("#bbbbbb", "#777", 2, 5, true) + "不可用党员 Unavailable member</div>" +
      "<div>" + dot("#1f77b4", "#1f77b4", 1, 3.5) + "群众户（颜色同其党员）Household, in its member's colour</div>" +
      "<div>" + dot("#1f77b4", "#e00000", 2.5, 5) + "重点户 Critical household</div>" +
      "<div>" + dot("#ffd400", "#000", 2, 6) + "未覆盖户 Uncovered household</div>" +
      "<div>" + line(false) + "党员 → 联系户 Member → household</div>" +
      (Object.keys(backupLines).length ? "<div>" + line(true) + "备用联系人 Backup contact</div>" : "") +
      "</div>";
    div.querySelector("h4").addEventListener("click", function () { div.classList.toggle("folded"); });
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  legend.addTo(map);
  var legendHeight = legend.getContainer().offsetHeight;
  if (bounds.isValid()) {
    map.fitBounds(bounds, {paddingTopLeft: [60, 20], paddingBottomRight: [20, legendHeight + 30]});
  } else {
    map.setView([0, 0], 2);
  }
  var r0 = memberRadius();
  memberDots.forEach(function (d) { d.setRadius(r0); });
})();
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="baohu_assign">
<title>{title}</title>
<!-- Leaflet {leaflet_version} (https://leafletjs.com), inlined from its npm dist files.
{licence}
-->
<style>
{leaflet_css}
</style>
<style>
{page_css}
</style>
</head>
<body>
<div id="map"></div>
<script>
{leaflet_js}
</script>
<script type="application/json" id="baohu-data">{data}</script>
<script>
{app_js}
</script>
</body>
</html>
"""
