"""Figures of a plan with matplotlib: loads, distances, and a rebalance before/after.

matplotlib is an optional dependency (``pip install 'baohu-assign[plots]'``)
and is imported only when a function here is called, so the core library
never needs it.

Every function draws on the ``ax`` given or on a new
:class:`matplotlib.figure.Figure` (created without pyplot: no GUI backend,
no global figure list to leak, safe under Agg on servers) and returns the
figure. Nothing is shown; in Jupyter the returned figure displays itself,
elsewhere call ``fig.savefig("loads.png")``.

Branch names are Chinese. The ``plots`` extra installs the Noto Sans CJK
font (package ``noto-cjk-sans-otc``, SIL Open Font License 1.1), which is
registered with matplotlib on first use, so Chinese is drawn on a machine
without any system font. Without that package an installed CJK font (Noto
Sans CJK, Source Han Sans, WenQuanYi, SimHei, Microsoft YaHei, PingFang, …)
is used, including one installed after matplotlib cached its font list. The
font is a fallback after DejaVu Sans for the figure's text. With no CJK font
at all, branch names are replaced by ``branch 1``, ``branch 2``, … (in
sorted order) and a single warning says which font to install, rather than
a stream of missing-glyph warnings and empty boxes.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..io.tables import missing_mask

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure
    from matplotlib.font_manager import FontManager

    from ..results.plan import Plan

logger = logging.getLogger(__name__)

__all__ = ["cjk_font", "plot_distances", "plot_loads", "plot_rebalance"]

CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "STHeiti",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "Arial Unicode MS",
)
"""Fonts tried, in order, for Chinese text."""

TIER_LABELS = {"critical": ("critical", "重点"), "elevated": ("elevated", "关注"), "normal": ("normal", "普通")}
TIER_COLOURS = {"critical": "#d62728", "elevated": "#ff7f0e", "normal": "#1f77b4"}
REASON_LABELS = {
    "member_unavailable": "member unavailable",
    "out_of_reach": "out of reach",
    "over_capacity": "over capacity",
    "new_household": "new household",
    "coverage": "coverage",
    "balance": "balance",
    "travel": "travel",
    "capacity_exhausted": "now uncovered: capacity",
    "no_member_in_branch": "now uncovered: no member",
    "hour_budget_exhausted": "now uncovered: hours",
}
_BASE_FONT = "DejaVu Sans"  # bundled with matplotlib, so always present


# --------------------------------------------------------------------------- fonts


@functools.cache
def cjk_font() -> str | None:
    """The name of a font that can draw Chinese, or ``None``.

    The first of :data:`CJK_FONTS` that matplotlib knows, after registering
    the Noto Sans CJK font of the ``noto-cjk-sans-otc`` package (installed
    with the ``plots`` extra) when it is installed. If none is known, system
    fonts missing from matplotlib's font cache (installed after the cache
    was written) are added and the list is tried again. The answer is kept
    for the rest of the process.

    Returns
    -------
    str or None
        A font family name for matplotlib, or ``None`` when no CJK font is
        available.
    """
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    packaged = _packaged_cjk_font_path()
    if packaged is not None:
        _add_fonts(manager, [packaged])
    found = _known_cjk_font(manager)
    if found is None:
        added = _add_fonts(manager, font_manager.findSystemFonts())
        found = _known_cjk_font(manager)
        if found is not None:
            logger.info(
                "matplotlib's font cache predates %d installed font(s), %s among them; they are added for this "
                "process (delete fontlist-*.json in %s to rebuild the cache)",
                len(added),
                found,
                matplotlib.get_cachedir(),
            )
    return found


def _packaged_cjk_font_path() -> Path | None:
    """The Noto Sans CJK font file of the ``noto-cjk-sans-otc`` package, or ``None`` if it is not installed."""
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:
        return None
    path = Path(str(FONT_PATH))
    return path if path.is_file() else None


def _known_cjk_font(manager: FontManager) -> str | None:
    known = {entry.name for entry in manager.ttflist}
    return next((name for name in CJK_FONTS if name in known), None)


def _add_fonts(manager: FontManager, paths: Iterable[str | Path]) -> list[str]:
    """Register the font files matplotlib does not know yet; the paths added."""
    known = {entry.fname for entry in manager.ttflist}
    added: list[str] = []
    for path in sorted(str(p) for p in paths):
        if path in known:
            continue
        try:
            manager.addfont(path)
        except (OSError, RuntimeError, ValueError) as error:  # a broken or unsupported font file: skip it
            logger.debug("font %s not added: %s", path, error)
            continue
        added.append(path)
    return added


@functools.cache
def _warn_no_cjk_font() -> None:
    # Cached: one warning per process, however many figures are drawn.
    warnings.warn(
        "no CJK font found: Chinese branch names are shown as 'branch 1', 'branch 2', … "
        "(install the plots extra, pip install 'baohu-assign[plots]', which brings the Noto Sans CJK font, "
        "or a system font such as fonts-noto-cjk)",
        UserWarning,
        stacklevel=4,
    )


def _labeller(names: Sequence[str]) -> dict[str, str]:
    """Display label of each name: itself when it can be drawn, else a numbered stand-in."""
    ordered = sorted(set(names))
    if cjk_font() is not None or all(n.isascii() for n in ordered):
        return {n: n for n in ordered}
    _warn_no_cjk_font()
    return {n: (n if n.isascii() else f"branch {k}") for k, n in enumerate(ordered, start=1)}


def _tier_label(tier: str) -> str:
    english, chinese = TIER_LABELS.get(tier, (tier, ""))
    return f"{english} {chinese}" if chinese and cjk_font() is not None else english


def _use_fonts(fig: Figure | SubFigure) -> None:
    """Give every text of the figure DejaVu Sans with the CJK font as glyph fallback."""
    font = cjk_font()
    if font is None:
        return
    from matplotlib.text import Text

    families = [_BASE_FONT, font]
    for text in fig.findobj(Text):
        text.set_fontfamily(families)
    for ax in fig.axes:
        # Tick labels are re-created on every draw from these settings.
        ax.tick_params(axis="both", labelfontfamily=families)


# --------------------------------------------------------------------------- helpers


@functools.cache
def _figure_class() -> type[Figure]:
    from matplotlib.figure import Figure

    class PlanFigure(Figure):
        """A Figure that renders itself as PNG in Jupyter even when pyplot was never imported."""

        def _repr_png_(self) -> bytes:
            import io

            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()

    # Reachable as baohu_assign.plots.PlanFigure (see __getattr__), so figures pickle.
    PlanFigure.__module__, PlanFigure.__qualname__ = __name__, "PlanFigure"
    return PlanFigure


def __getattr__(name: str) -> Any:
    # Built on first use so that importing this module does not import matplotlib.
    if name == "PlanFigure":
        return _figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _new_figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    # No pyplot: nothing registered globally, no GUI backend, no "too many figures" warnings.
    fig = _figure_class()(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _horizontal() -> dict[str, Any]:
    """Keyword for horizontal boxes: ``orientation`` from matplotlib 3.10, ``vert`` before."""
    import matplotlib

    major, minor = (int(part) for part in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _members_table(plan: Plan | pd.DataFrame) -> pd.DataFrame:
    return plan if isinstance(plan, pd.DataFrame) else plan.members


def _primary(plan: Plan) -> pd.DataFrame:
    return plan.primary


# --------------------------------------------------------------------------- plots


def plot_loads(plan: Plan | pd.DataFrame, ax: Axes | None = None, *, max_branches: int = 40) -> Figure | SubFigure:
    """Utilisation of each member (households / capacity), one row per branch.

    Parameters
    ----------
    plan
        A plan, or its ``members`` table (``branch``, ``capacity``,
        ``utilisation``).
    ax
        Axes to draw on; default a new figure sized to the branches.
    max_branches
        Most branches drawn; with more, the branches with the highest
        median utilisation are kept (the ones under pressure) and the title
        says how many were left out.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.figure.SubFigure
        The figure holding the plot. Each row shows a box of the branch's
        member utilisations and every member as a dot; unavailable members
        (capacity 0) are left out.
    """
    members = _members_table(plan)
    frame = members[pd.to_numeric(members["capacity"], errors="coerce") > 0]
    util = 100.0 * pd.to_numeric(frame["utilisation"], errors="coerce")
    data = pd.DataFrame({"branch": frame["branch"].astype(str).to_numpy(), "util": util.to_numpy()}).dropna()
    medians = data.groupby("branch")["util"].median()
    order = sorted(medians.index, key=lambda b: (-medians[b], b))
    left_out = max(len(order) - max_branches, 0)
    order = order[:max_branches]
    labels = _labeller(list(medians.index))
    fig: Figure | SubFigure
    if ax is None:
        fig, (ax,) = _new_figure(9.0, 1.4 + 0.28 * max(len(order), 3))
    else:
        fig = ax.figure
    groups = [data.loc[data["branch"] == b, "util"].to_numpy() for b in order]
    positions = np.arange(len(order))[::-1]  # highest median at the top
    if groups:
        ax.boxplot(
            groups,
            positions=positions,
            widths=0.6,
            showfliers=False,
            **_horizontal(),
            medianprops={"color": "black"},
            boxprops={"color": "#555555"},
            whiskerprops={"color": "#555555"},
            capprops={"color": "#555555"},
        )
        rng = np.random.default_rng(0)  # fixed jitter: the same plan draws the same figure
        for pos, values in zip(positions, groups, strict=True):
            jitter = rng.uniform(-0.22, 0.22, len(values))
            ax.scatter(values, pos + jitter, s=6, alpha=0.35, color="#1f77b4", linewidths=0)
    ax.set_yticks(positions, [labels[b] for b in order])
    ax.axvline(100.0, color="#d62728", linewidth=0.8, linestyle="--")
    ax.set_xlabel("utilisation: households / capacity (%)")
    count = len(data)
    title = f"Utilisation per member by branch ({count:,} members, {len(medians)} branches)"
    if left_out:
        title += f"; {left_out} branches with lower loads not shown"
    ax.set_title(title, fontsize=10)
    ax.set_xlim(left=-2.0, right=max(105.0, float(data["util"].max()) + 5.0) if count else 105.0)
    _use_fonts(fig)
    return fig


def plot_distances(plan: Plan, ax: Axes | None = None) -> Figure | SubFigure:
    """Distance from each covered household to its contact, per priority tier (cumulative).

    Parameters
    ----------
    plan
        A plan.
    ax
        Axes to draw on; default a new figure.

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.figure.SubFigure
        One cumulative curve per tier (share of the tier's covered
        households within a distance; log scale, distances below 1 m drawn
        at 1 m), with each tier's median marked. Critical households should
        lie to the left: their contact is the nearest.
    """
    primary = _primary(plan)
    covered = ~missing_mask(primary["member_id"])
    fig: Figure | SubFigure
    if ax is None:
        fig, (ax,) = _new_figure(8.0, 4.5)
    else:
        fig = ax.figure
    drawn = 0
    for tier in ("critical", "elevated", "normal"):
        in_tier = (primary["priority"].astype(str) == tier).to_numpy()
        dist = primary.loc[covered & in_tier, "distance_m"].to_numpy(dtype=float)
        dist = np.sort(np.maximum(dist[np.isfinite(dist)], 1.0))
        if dist.size == 0:
            continue
        share = np.arange(1, dist.size + 1) / dist.size
        median = float(np.median(dist))
        uncovered = int((~covered & in_tier).sum())
        label = f"{_tier_label(tier)}: {dist.size:,} households, median {median:,.0f} m"
        if uncovered:
            label += f" ({uncovered:,} uncovered)"
        colour = TIER_COLOURS[tier]
        ax.step(dist, share, where="post", color=colour, label=label)
        ax.plot([median], [0.5], marker="o", color=colour)
        drawn += 1
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("distance to the contact (m, log scale)")
    ax.set_ylabel("share of covered households within")
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title("Distance to the contact by priority", fontsize=10)
    if drawn:
        ax.legend(loc="lower right", fontsize=8)
    _use_fonts(fig)
    return fig


def plot_rebalance(
    before: Plan,
    after: Plan,
    ax: Axes | Sequence[Axes] | None = None,
    *,
    top: int = 15,
) -> Figure | SubFigure:
    """Before and after a rebalance: member loads, and the changed contacts by branch and reason.

    Parameters
    ----------
    before, after
        The plan in force and the rebalanced plan (e.g. ``after =
        rebalance(moved, current=before)``).
    ax
        ``None`` (a new figure with both panels), two Axes (loads, changes),
        or one Axes: then only the load panel is drawn and the number of
        changed contacts goes into its title.
    top
        Most branches shown in the changes panel (those with the most changes).

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.figure.SubFigure
        Left: how many members carry 0, 1, 2, … households, before and
        after. Right: households whose contact differs, per branch, stacked
        by the reason the new plan gives.
    """
    from ..results.compare import compare_plans

    differing = compare_plans(before, after, labels=("before", "after")).differing
    from matplotlib.axes import Axes

    fig: Figure | SubFigure
    change_ax: Axes | None
    if ax is None:
        fig, axes = _new_figure(13.0, 5.0, ncols=2)
        load_ax, change_ax = axes
    elif isinstance(ax, Axes):  # one Axes
        load_ax, change_ax, fig = ax, None, ax.figure
    else:  # a pair: list, tuple or the array plt.subplots returns
        load_ax, change_ax = ax[0], ax[1]
        fig = load_ax.figure

    loads_before = before.members["households"].to_numpy(dtype=np.int64)
    loads_after = after.members["households"].to_numpy(dtype=np.int64)
    top_load = int(max(loads_before.max(initial=0), loads_after.max(initial=0)))
    bins = np.arange(top_load + 1)
    width = 0.4
    load_ax.bar(
        bins - width / 2,
        np.bincount(loads_before, minlength=top_load + 1),
        width,
        label=f"before (mean {_mean_util(before):.0%} of capacity)",
        color="#9ecae1",
    )
    load_ax.bar(
        bins + width / 2,
        np.bincount(loads_after, minlength=top_load + 1),
        width,
        label=f"after (mean {_mean_util(after):.0%} of capacity)",
        color="#08519c",
    )
    load_ax.set_xticks(bins)
    load_ax.set_xlabel("households per member")
    load_ax.set_ylabel("members")
    load_ax.legend(fontsize=8)
    title = "Member loads before and after"
    if change_ax is None:
        title += f" ({len(differing):,} households changed contact)"
    load_ax.set_title(title, fontsize=10)

    if change_ax is not None:
        _draw_changes(change_ax, differing, top)
    _use_fonts(fig)
    return fig


def _mean_util(plan: Plan) -> float:
    members = plan.members
    capacity = members["capacity"].to_numpy(dtype=float)
    load = members["households"].to_numpy(dtype=float)
    return float(load.sum() / capacity.sum()) if capacity.sum() > 0 else 0.0


def _draw_changes(ax: Axes, differing: pd.DataFrame, top: int) -> None:
    if differing.empty:
        ax.text(0.5, 0.5, "no household changed contact", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    reason = differing["reason_b"].astype(str)
    reason = reason.where(reason != "", differing["change"].astype(str))
    frame = pd.DataFrame({"branch": differing["branch"].astype(str), "reason": reason.map(_reason_label)})
    table = frame.groupby(["branch", "reason"]).size().unstack(fill_value=0)
    totals = table.sum(axis=1).sort_values(ascending=False, kind="stable")
    shown = totals.index[:top]
    table = table.loc[shown[::-1]]  # most changes at the top
    table = table[table.sum().sort_values(ascending=False).index]
    labels = _labeller(list(totals.index))
    positions = np.arange(len(table))
    left = np.zeros(len(table))
    colours = _palette(len(table.columns))
    for colour, column in zip(colours, table.columns, strict=True):
        values = table[column].to_numpy(dtype=float)
        ax.barh(positions, values, left=left, color=colour, label=str(column), height=0.7)
        left += values
    ax.set_yticks(positions, [labels[b] for b in table.index])
    ax.set_xlabel("households whose contact changed")
    title = f"Changed contacts: {len(differing):,} households"
    if len(totals) > top:
        title += f" (top {top} of {len(totals)} branches)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right", title="reason (after)", title_fontsize=8)


def _reason_label(reason: str) -> str:
    if reason.startswith("pin_kept") or "pin broken" in reason:
        return "pin broken" if "pin broken" in reason else "pin kept"
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def _palette(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]
