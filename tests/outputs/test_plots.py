"""plots: every figure is drawn from the plan's data, offline, without pyplot, with and without a CJK font."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import baohu_assign as ba

pytest.importorskip("matplotlib")

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text

from baohu_assign.outputs import plots


def _render(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


@pytest.fixture
def fresh_font_lookup():
    """cjk_font() and its warning start afresh, and nothing this test changed outlives it."""

    def clear() -> None:
        plots.cjk_font.cache_clear()
        plots._warn_no_cjk_font.cache_clear()
        font_manager.fontManager._findfont_cached.cache_clear()

    clear()
    yield
    clear()


@pytest.fixture
def bare_machine(monkeypatch, fresh_font_lookup):
    """matplotlib knows no CJK font and finds none on the system (the font package stays importable)."""
    manager = font_manager.fontManager
    cjk_files = {e.fname for e in manager.ttflist if e.name in plots.CJK_FONTS}
    monkeypatch.setattr(manager, "ttflist", [e for e in manager.ttflist if e.fname not in cjk_files])
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *args, **kwargs: [])


def _chinese_branches(plan) -> list[str]:
    branches = sorted(plan.members.loc[plan.members["capacity"] > 0, "branch"].unique())
    assert not any(b.isascii() for b in branches)  # the stand-ins below are for names a font must draw
    return branches


@pytest.mark.filterwarnings("ignore:no CJK font found")
@pytest.mark.parametrize("font", ["cjk", "none"])
def test_plot_loads_has_a_dot_per_serving_member(relocation_plans, font, monkeypatch):
    if font == "none":
        monkeypatch.setattr(plots, "cjk_font", lambda: None)
    elif plots.cjk_font() is None:
        pytest.skip("no CJK font: neither the plots extra's noto-cjk-sans-otc nor a system font")
    plan = relocation_plans[0]
    fig = plots.plot_loads(plan)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    serving = plan.members[plan.members["capacity"] > 0]
    dots = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections])
    assert len(dots) == len(serving)
    assert sorted(np.round(dots, 6)) == sorted(np.round(100 * serving["utilisation"].to_numpy(), 6))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    branches = _chinese_branches(plan)
    expected = branches if font == "cjk" else [f"branch {k}" for k in range(1, len(branches) + 1)]
    assert sorted(labels) == sorted(expected)
    assert _render(fig).startswith(b"\x89PNG")


def test_plot_loads_limits_the_branches(relocation_plans):
    fig = plots.plot_loads(relocation_plans[0], max_branches=2)
    (ax,) = fig.axes
    assert len(ax.get_yticklabels()) == 2
    assert "not shown" in ax.get_title()


def test_plot_distances_has_a_curve_per_tier(relocation_plans):
    plan = relocation_plans[1]
    fig = plots.plot_distances(plan)
    (ax,) = fig.axes
    primary = plan.primary
    covered = primary[primary["member_id"].notna()]
    steps = [line for line in ax.get_lines() if line.get_marker() in ("None", None, "")]
    tiers = [t for t in ("critical", "elevated", "normal") if (covered["priority"] == t).any()]
    assert len(steps) == len(tiers)
    for line, tier in zip(steps, tiers, strict=True):
        expected = np.sort(np.maximum(covered.loc[covered["priority"] == tier, "distance_m"].to_numpy(), 1.0))
        assert np.allclose(line.get_xdata(), expected)
        assert line.get_ydata()[-1] == pytest.approx(1.0)
    assert ax.get_xscale() == "log"
    _render(fig)


def test_plot_rebalance_counts_members_and_changes(relocation_plans):
    before, after = relocation_plans
    fig = plots.plot_rebalance(before, after, top=100)
    load_ax, change_ax = fig.axes
    heights = [p.get_height() for p in load_ax.patches]
    assert sum(heights) == len(before.members) + len(after.members)
    widths = sum(p.get_width() for p in change_ax.patches)
    assert widths == ba.compare_plans(before, after).num_differing > 0
    _render(fig)


def test_plot_rebalance_without_changes(relocation_plans):
    before = relocation_plans[0]
    fig = plots.plot_rebalance(before, before)
    assert any("no household changed contact" in t.get_text() for t in fig.axes[1].texts)
    _render(fig)


def test_plots_draw_on_given_axes(relocation_plans):
    before, after = relocation_plans
    fig = Figure()
    axes = fig.subplots(1, 4)
    assert plots.plot_loads(before, ax=axes[0]) is fig
    assert plots.plot_distances(before, ax=axes[1]) is fig
    assert plots.plot_rebalance(before, after, ax=axes[2:]) is fig
    single = Figure().subplots()
    assert isinstance(single, Axes)
    plots.plot_rebalance(before, after, ax=single)
    assert "changed contact" in single.get_title()
    for ax in axes:
        assert ax.has_data() or ax.patches
    _render(fig)


def test_the_packaged_font_draws_chinese_on_a_bare_machine(relocation_plans, bare_machine):
    packaged = pytest.importorskip("noto_cjk_sans_otc", reason="the plots extra's font package is not installed")
    name = plots.cjk_font()
    assert name in plots.CJK_FONTS
    found = font_manager.fontManager.findfont(FontProperties(family=name), fallback_to_default=False)
    assert Path(found) == Path(str(packaged.FONT_PATH))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plots.plot_loads(relocation_plans[0])
        _render(fig)
    assert not [w for w in caught if "missing from font" in str(w.message) or "CJK" in str(w.message)]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == _chinese_branches(relocation_plans[0])


def test_no_cjk_font_anywhere_is_found_as_none(bare_machine, monkeypatch):
    monkeypatch.setitem(sys.modules, "noto_cjk_sans_otc", None)  # the font package not installed
    assert plots.cjk_font() is None


def test_a_font_installed_after_matplotlib_cached_its_list_is_found(tmp_path):
    """matplotlib's font cache does not see a font installed later; the lookup still does."""
    packaged = pytest.importorskip("noto_cjk_sans_otc", reason="a CJK font file to install is needed")
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "MPLCONFIGDIR": str(tmp_path / "mpl"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    env["PYTHONPATH"] = os.pathsep.join([str(Path(plots.__file__).parents[2]), env.get("PYTHONPATH", "")])
    # The font package hidden: the font must come from the system folder, as after an OS package install.
    code = (
        "import sys; sys.modules['noto_cjk_sans_otc'] = None\n"
        "from baohu_assign.outputs import plots\n"
        "print(plots.cjk_font())\n"
    )

    def lookup() -> str:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    if lookup() != "None":  # also writes matplotlib's font cache, without the font
        pytest.skip("this machine has a CJK system font")
    fonts = tmp_path / "data" / "fonts"
    fonts.mkdir(parents=True)
    (fonts / "NotoSansCJK-Regular.ttc").symlink_to(Path(str(packaged.FONT_PATH)))
    assert list((tmp_path / "mpl").glob("fontlist-*.json"))  # the cache is there, and stale
    assert lookup() in plots.CJK_FONTS


def test_no_cjk_font_means_numbered_branches_and_one_warning(relocation_plans, bare_machine, monkeypatch):
    monkeypatch.setitem(sys.modules, "noto_cjk_sans_otc", None)  # the font package not installed
    before, after = relocation_plans
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = [
            plots.plot_loads(before),
            plots.plot_distances(before),
            plots.plot_rebalance(before, after),
            plots.plot_loads(after),
        ]
        for fig in figs:
            _render(fig)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "no CJK font" in messages[0], messages
    labels = [t.get_text() for t in figs[0].axes[0].get_yticklabels()]
    assert all(label.startswith("branch ") for label in labels)
    drawn = "".join(t.get_text() for fig in figs for t in fig.findobj(Text))
    assert not [c for c in drawn if "\u3400" <= c <= "\u9fff"], drawn  # no Chinese character without a font for it


def test_with_a_cjk_font_no_glyph_is_missing(relocation_plans):
    if plots.cjk_font() is None:
        pytest.skip("no CJK font installed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _render(plots.plot_rebalance(*relocation_plans))
        _render(plots.plot_loads(relocation_plans[0]))
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_figures_display_and_pickle(relocation_plans):
    fig = plots.plot_distances(relocation_plans[0])
    assert fig._repr_png_().startswith(b"\x89PNG")
    again = pickle.loads(pickle.dumps(fig))
    assert isinstance(again, Figure)


def test_the_core_never_imports_matplotlib(tmp_path):
    code = (
        "import sys, baohu_assign as ba\n"
        "t = ba.synth.make_town(0, households=200, branches=3)\n"
        "p = ba.solve(ba.Scenario.from_frames(t.members, t.households))\n"
        "ba.compare_plans(p, p)\n"
        "import baohu_assign.outputs.plots\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
