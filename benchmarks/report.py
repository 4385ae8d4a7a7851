"""Benchmark report: results of bench.py → tables and plots in docs/benchmarks.md and docs/img/.

Run: ``.venv/bin/python benchmarks/report.py [--results benchmarks/results/latest.csv]``.

Reads ``latest.csv`` and its siblings (``_gap``, ``_phases``, ``_machine``)
and rewrites only the block between ``<!-- bench:begin -->`` and
``<!-- bench:end -->`` of the document (inserted before the first ``##``
heading when the markers are missing); everything else in the file is left
as it is. Numbers are copied from the results, never computed from
anything else: ratios and fits are labelled as such.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench import CASES, NO_PLAN, OURS, PEERS, PHASE_STRATEGY, STRATEGIES, sibling  # noqa: E402

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
PHASE_ORDER = ("import", "read", "arcs", "model", "engines", "solve", "checks", "write")
PHASE_TEXT = {
    "import": "start-up (imports of pandas, SciPy, OR-Tools)",
    "read": "reading and validating the CSVs",
    "arcs": "building the candidate arcs",
    "model": "building the solver's model",
    "engines": "the engines",
    "solve": "the solver",
    "checks": "checking the plans and bookkeeping",
    "write": "building and writing the outputs",
}
LABEL = {
    "greedy": "greedy",
    "flow": "flow",
    "cpsat": "cpsat",
    "auto": "auto",
    "highs": "HiGHS (scipy.milp)",
    "cpsat_plain": "plain CP-SAT",
    "cbc": "CBC (PuLP)",
}
GAP_LABEL = {
    "ours": "ours (CP-SAT engine)",
    "cpsat": "plain CP-SAT",
    "highs": "HiGHS (scipy.milp)",
    "cbc": "CBC (PuLP)",
}


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def num(value: str | None) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def fmt(value: str | None, digits: int = 2, thousands: bool = False) -> str:
    x = num(value)
    if x is None:
        return "–"
    if thousands:
        return f"{x:,.0f}"
    return f"{x + 0.0:.{digits}f}".replace("-0." + "0" * digits, "0." + "0" * digits)  # no "-0.000"


# -- plots ---------------------------------------------------------------------------------------


def scale_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["case"] in CASES and CASES[r["case"]].scale and num(r["wall_s"]) is not None]


def plot_scale(rows: list[dict[str, str]], column: str, ylabel: str, title: str, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = scale_rows(rows)
    if not points:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy in STRATEGIES:
        mine = sorted((r for r in points if r["strategy"] == strategy), key=lambda r: int(r["households"]))
        if not mine:
            continue
        xs = [int(r["households"]) for r in mine]
        ys = [num(r[column]) for r in mine]
        style = "-" if strategy in OURS else "--"
        (line,) = ax.plot(xs, ys, style, label=LABEL[strategy], linewidth=1.5)
        for x, y, r in zip(xs, ys, mine, strict=True):
            failed = r["status"] in NO_PLAN or r["status"] == "time_limit"
            ax.plot([x], [y], "x" if failed else "o", color=line.get_color(), markersize=8 if failed else 5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("households")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, "× = stopped at the time limit (no proof or no complete plan)", fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_gap(gap_rows: list[dict[str, str]], path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One set of instances at every plotted limit, so that a line's points differ only by time: the
    # instances of the limit run on the most, at the limits that ran all of them (the others, such as
    # large instances run at one limit only, stay in the table).
    at_limit: dict[str, set[str]] = defaultdict(set)
    for r in gap_rows:
        at_limit[r["limit_s"]].add(r["instance"])
    common = max(at_limit.values(), key=len) if at_limit else set()
    plotted = {limit for limit, names in at_limit.items() if names >= common}
    usable = [
        r for r in gap_rows if num(r["gap_pct"]) is not None and r["instance"] in common and r["limit_s"] in plotted
    ]
    if not usable:
        return False
    families = sorted({r["family"] for r in gap_rows})
    fig, axes = plt.subplots(1, len(families), figsize=(4 * len(families), 4), squeeze=False, sharey=True)
    for ax, family in zip(axes[0], families, strict=True):
        for solver in GAP_LABEL:
            by_limit: dict[float, list[float]] = defaultdict(list)
            for r in usable:
                if r["family"] == family and r["solver"] == solver:
                    by_limit[float(r["limit_s"])].append(float(r["gap_pct"]))
            if by_limit:
                limits = sorted(by_limit)
                ax.plot(limits, [sum(by_limit[t]) / len(by_limit[t]) for t in limits], "o-", label=GAP_LABEL[solver])
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_ylim(bottom=0)
        ax.set_title(f"GAP type {family}")
        ax.set_xlabel("time limit (s)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("mean gap to best known (%)")
    axes[0][-1].legend(fontsize=8)
    fig.text(
        0.01,
        0.01,
        "mean over the instances run at every limit shown that have a solution; the table has all runs",
        fontsize=7,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# -- text ----------------------------------------------------------------------------------------


def machine_text(info: dict[str, str]) -> list[str]:
    commit = info.get("commit") or "unknown"
    if info.get("uncommitted_changes") == "yes":
        commit += " with uncommitted changes"
    load_before = info.get("load_before", "")
    first = num(load_before.split()[0]) if load_before else None
    contention = ""
    if first is not None and first > 0.5:
        contention = (
            " Other work was running on the machine when the run started (load above 0.5), so times are pessimistic."
        )
    total = num(info.get("total_s"))
    machine = (
        f"Machine: {info.get('cpu', '?')}, {info.get('cores', '?')} cores, {info.get('ram_gb', '?')} GB RAM, "
        f"{info.get('os', '?')}; Python {info.get('python', '?')}, OR-Tools {info.get('ortools', '?')}, "
        f"SciPy {info.get('scipy', '?')} (HiGHS {info.get('highs', '?')}), NumPy {info.get('numpy', '?')}, "
        f"pandas {info.get('pandas', '?')}, PuLP {info.get('pulp', '?')} (CBC {info.get('cbc', '?')})."
    )
    if info.get("parts"):
        # Merged by merge.py: each part says when and under what load it ran.
        parts = [f"{i}. {part.strip()}" for i, part in enumerate(info["parts"].split(" | "), 1)]
        return [
            "Merged from separate runs on the same machine (`benchmarks/merge.py`):",
            "",
            *parts,
            "",
            machine,
            "A load average above 0.5 before a part means other work shared the 2 cores, so its times are"
            " pessimistic; a case whose strategies come from different parts ran under different loads.",
        ]
    return [
        f"Run: `{info.get('command', 'bench.py')}` ({info.get('mode', '?')}), {info.get('date', '?')}, "
        f"commit `{commit}`" + (f", {total / 60:.0f} min in all." if total is not None else "."),
        f"Machine: {info.get('cpu', '?')}, {info.get('cores', '?')} cores, {info.get('ram_gb', '?')} GB RAM, "
        f"{info.get('os', '?')}; Python {info.get('python', '?')}, OR-Tools {info.get('ortools', '?')}, "
        f"SciPy {info.get('scipy', '?')} (HiGHS {info.get('highs', '?')}), NumPy {info.get('numpy', '?')}, "
        f"pandas {info.get('pandas', '?')}, PuLP {info.get('pulp', '?')} (CBC {info.get('cbc', '?')}).",
        f"Load average (1, 5, 15 min) before the run: {load_before or '?'}; after: {info.get('load_after', '?')}."
        + contention,
    ]


def headline(rows: list[dict[str, str]]) -> list[str]:
    """The 12k distance comparison: our fastest strategy at the optimum vs HiGHS, both whole processes."""
    case = [r for r in rows if r["case"] == "town_12k"]
    if not case:
        return []
    optimal = [r for r in case if r["strategy"] in OURS and num(r["gap_pct"]) == 0.0 and r["status"] == "optimal"]
    highs = next((r for r in case if r["strategy"] == "highs"), None)
    if not optimal or highs is None:
        return ["The 12k comparison needs a proven-optimal strategy of ours and a HiGHS row; one is missing."]
    best = min(optimal, key=lambda r: float(r["wall_s"]))
    lines = ["### 12k town, distance objective: our fastest strategy against HiGHS", ""]
    if highs["status"] != "optimal" or num(highs["objective"]) != num(best["objective"]):
        lines.append(
            f"HiGHS did not reach the same proven optimum in this run (status {highs['status']}, "
            f"{fmt(highs['wall_s'])} s); `{best['strategy']}` took {fmt(best['wall_s'])} s. The 4× comparison "
            "at the same optimum cannot be made from this run."
        )
        return lines
    ratio = float(highs["wall_s"]) / float(best["wall_s"])
    verdict = "meets" if ratio >= 4.0 else "does not meet"
    lines.append(
        f"`{best['strategy']}`: {fmt(best['wall_s'])} s, peak {fmt(best['peak_mb'], 0)} MB; HiGHS (scipy.milp, same "
        f"arcs and costs, per branch): {fmt(highs['wall_s'])} s, peak {fmt(highs['peak_mb'], 0)} MB; both whole "
        f"processes, medians of {best['runs']} and {highs['runs']} runs, same objective "
        f"{int(float(best['objective'])):,} (proven optimal by both). Ratio {ratio:.1f}× — {verdict} the target "
        "of at least 4×."
    )
    return lines


def case_tables(rows: list[dict[str, str]]) -> list[str]:
    lines: list[str] = []
    for case in dict.fromkeys(r["case"] for r in rows):
        mine = [r for r in rows if r["case"] == case]
        first = mine[0]
        reference = next((r["gap_reference"] for r in mine if r.get("gap_reference")), "")
        what = {"proven_optimum": "the proven optimum", "best_found": "the best plan found (no proof)"}.get(
            reference, "–"
        )
        command = CASES[case].command if case in CASES else "solve"
        lines += [
            f"#### {case}: {int(first['households']):,} households, {int(float(first['members'])):,} members"
            + (
                f", {int(float(next(r['arcs'] for r in mine if r['arcs']))):,} arcs"
                if any(r["arcs"] for r in mine)
                else ""
            )
            + f"; {command}, objective {'min-churn' if command == 'rebalance' else 'distance'}, "
            f"time limit {fmt(first['time_limit_s'], 0)} s; gap to {what}",
            "",
            "| strategy | wall s (runs) | peak MB | weekly travel m | gap % | travel vs best % "
            "| uncovered crit / elev / normal"
            " | utilisation std / range | changed contacts | engines | status |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in mine:
            runs = r["runs"] or "0"
            uncovered = (
                f"{r['uncovered_critical']} / {r['uncovered_elevated']} / {r['uncovered_normal']}"
                if r["uncovered"]
                else "–"
            )
            spread = f"{fmt(r['util_std'], 3)} / {fmt(r['util_range'], 3)}" if r["util_std"] else "–"
            status = r["status"]
            if len(set(r.get("run_statuses", "").split())) > 1:
                status += f" (runs: {r['run_statuses']})"
            lines.append(
                f"| {LABEL.get(r['strategy'], r['strategy'])} | {fmt(r['wall_s'])} ({runs}) | {fmt(r['peak_mb'], 0)} "
                f"| {fmt(r['travel'], thousands=True)} | {fmt(r['gap_pct'], 4)} | {fmt(r['travel_vs_best_pct'], 3)} "
                f"| {uncovered} | {spread} | {r['changed'] or '–'} | {r['engines'] or '–'} | {status} |"
            )
        lines.append("")
    return lines


def scale_table(rows: list[dict[str, str]]) -> list[str]:
    points = scale_rows(rows)
    if not points:
        return []
    sizes = sorted({int(r["households"]) for r in points})
    present = [s for s in STRATEGIES if any(r["strategy"] == s for r in points)]
    lines = [
        "| households | " + " | ".join(f"{LABEL[s]} s / MB" for s in present) + " |",
        "|---|" + "---|" * len(present),
    ]
    for size in sizes:
        cells = []
        for s in present:
            r = next((r for r in points if r["strategy"] == s and int(r["households"]) == size), None)
            if r is None:
                cells.append("–")
                continue
            mark = "" if r["status"] not in NO_PLAN and r["status"] != "time_limit" else f" ({r['status']})"
            cells.append(f"{fmt(r['wall_s'])} / {fmt(r['peak_mb'], 0)}{mark}")
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    return lines


def phase_text(phase_rows: list[dict[str, str]], rows: list[dict[str, str]], ram_gb: float | None) -> list[str]:
    """Table of phases of ``auto`` per scale case and one sentence per size naming what dominates."""
    by_case: dict[str, dict[str, float]] = defaultdict(dict)
    households: dict[str, int] = {}
    runs: set[str] = set()
    for p in phase_rows:
        if p["strategy"] == PHASE_STRATEGY and p["case"] in CASES and CASES[p["case"]].scale:
            by_case[p["case"]][p["phase"]] = float(p["seconds"])
            households[p["case"]] = int(p["households"])
            runs.add(p.get("runs") or "1")
    if not by_case:
        return []
    order = sorted(by_case, key=households.__getitem__)
    phases = [p for p in PHASE_ORDER if any(p in by_case[c] for c in order)]
    lines = [
        f"Where the time of `{PHASE_STRATEGY}` goes (median of {' or '.join(sorted(runs))} extra untimed in-process"
        " run(s) per case, the CLI's steps timed one by one, the engines timed inside `solve`; the sum is"
        " below `wall s` by the interpreter's start and by any contention during the timed runs):",
        "",
        "| households | " + " | ".join(phases) + " | sum s |",
        "|---|" + "---|" * (len(phases) + 1),
    ]
    sentences = []
    for case in order:
        values = by_case[case]
        total = sum(values.values())
        lines.append(
            f"| {households[case]:,} | " + " | ".join(f"{values.get(p, 0.0):.2f}" for p in phases) + f" | {total:.2f} |"
        )
        top = max(values, key=values.__getitem__)
        second = sorted(values, key=values.__getitem__, reverse=True)[1] if len(values) > 1 else None
        verb = "dominate" if top == "engines" else "dominates"
        sentence = (
            f"at {households[case]:,} households {PHASE_TEXT.get(top, top)} {verb} "
            f"({values[top]:.2f} of {total:.2f} s, {100 * values[top] / total:.0f} %)"
        )
        if second:
            sentence += f", then {PHASE_TEXT.get(second, second)} ({values[second]:.2f} s)"
        sentences.append(sentence)
    lines += ["", "Measured: " + "; ".join(sentences) + "."]
    lines += ["", *limit_text(rows, ram_gb)]
    return lines


def limit_text(rows: list[dict[str, str]], ram_gb: float | None) -> list[str]:
    """Largest size measured and a labelled linear extrapolation of memory to the machine's RAM."""
    mine = sorted(
        (r for r in scale_rows(rows) if r["strategy"] == PHASE_STRATEGY and r["status"] not in NO_PLAN),
        key=lambda r: int(r["households"]),
    )
    if len(mine) < 2:
        return []
    xs = [int(r["households"]) for r in mine]
    peaks = [float(r["peak_mb"]) for r in mine]
    walls = [float(r["wall_s"]) for r in mine]
    largest = mine[-1]
    slope_mb = (peaks[-1] - peaks[0]) / (xs[-1] - xs[0])
    slope_s = (walls[-1] - walls[0]) / (xs[-1] - xs[0])
    text = (
        f"Largest case measured: {xs[-1]:,} households, `{PHASE_STRATEGY}` {fmt(largest['wall_s'])} s and "
        f"{fmt(largest['peak_mb'], 0)} MB peak. Between the smallest and the largest size, peak memory grew by "
        f"{slope_mb * 1000:.1f} MB and wall time by {slope_s * 1000:.3f} s per 1,000 households."
    )
    if ram_gb and slope_mb > 0:
        limit = (ram_gb * 1024 * 0.8 - peaks[-1]) / slope_mb + xs[-1]
        text += (
            f" Extrapolated linearly (not measured), 80 % of this machine's {ram_gb:.0f} GB would be reached "
            f"near {limit / 1e6:.1f} million households, at roughly {walls[-1] + slope_s * (limit - xs[-1]):.0f} s"
            " (the arcs of every branch are built before the first branch is solved, so memory follows the"
            " total number of arcs)."
        )
    return [text]


def peer_phase_table(phase_rows: list[dict[str, str]]) -> list[str]:
    """Peers' own phase timings (median over runs) on the largest scale case they ran."""
    peers = [p for p in phase_rows if p["strategy"] in PEERS and p["case"] in CASES and CASES[p["case"]].scale]
    if not peers:
        return []
    size = max(int(p["households"]) for p in peers)
    case = next(p["case"] for p in peers if int(p["households"]) == size)
    phases = [p for p in PHASE_ORDER if any(q["phase"] == p for q in peers)]
    lines = [
        f"Peers' time by phase on {case} (their own timings, median over runs):",
        "",
        "| peer | " + " | ".join(phases) + " |",
        "|---|" + "---|" * len(phases),
    ]
    for strategy in PEERS:
        values = {p["phase"]: float(p["seconds"]) for p in peers if p["case"] == case and p["strategy"] == strategy}
        if values:
            lines.append(f"| {LABEL[strategy]} | " + " | ".join(f"{values.get(p, 0.0):.2f}" for p in phases) + " |")
    return lines


def gap_section(gap_rows: list[dict[str, str]], image: str | None) -> list[str]:
    if not gap_rows:
        return []
    from gap_bench import summarise

    limits = sorted({float(r["limit_s"]) for r in gap_rows})
    lines = [
        "### GAP instances (`benchmarks/data/gap/`)",
        "",
        f"{len({r['instance'] for r in gap_rows})} instance(s), "
        f"time limits {', '.join(f'{x:g}' for x in limits)} s, one "
        "run per (instance, solver, limit), "
        + (
            "each in its own process"
            if all(r.get("process_wall_s") for r in gap_rows)
            else "the solvers one after the other in one process (`gap_bench.py`) where no process time is recorded"
        )
        + "; gap to the best known value (minimisation). "
        "`ours` is `baohu_assign.datasets.gap.solve_file` (CP-SAT engine), `cpsat` CP-SAT written the obvious way, "
        "`highs` "
        "scipy.optimize.milp and `cbc` PuLP's CBC, all from `benchmarks/gap_bench.py`. Cells are mean / worst gap %;"
        " bold rows pool a family.",
        "",
    ]
    if image:
        lines += [f"![Mean gap to best known against the time limit, per family]({image})", ""]
    lines.append(summarise(gap_rows))  # type: ignore[arg-type]
    return [*lines, ""]


def build_block(results: Path, img_dir: Path, doc: Path) -> str:
    rows = read_csv(results)
    gap_rows = read_csv(sibling(results, "gap"))
    phase_rows = read_csv(sibling(results, "phases"))
    info = {r["key"]: r["value"] for r in read_csv(sibling(results, "machine"))}
    rel = Path(os.path.relpath(img_dir, doc.parent))
    images = {
        "time": plot_scale(
            rows,
            "wall_s",
            "wall s (whole process, median)",
            "Time against households (distance objective)",
            img_dir / "bench_time.png",
        ),
        "memory": plot_scale(
            rows,
            "peak_mb",
            "peak resident memory (MB)",
            "Peak memory against households (distance objective)",
            img_dir / "bench_memory.png",
        ),
        "gap": plot_gap(gap_rows, img_dir / "bench_gap.png"),
    }
    lines = [
        BEGIN,
        "<!-- Generated by benchmarks/report.py from benchmarks/results/latest*.csv;"
        " edit the scripts, not this block. -->",
        "",
        "## Harness results (`make bench-quick`, `make bench`)",
        "",
        *machine_text(info),
        "",
        "Every number in this section was measured by `benchmarks/bench.py` in the run above; `benchmarks/report.py`"
        " only formats them. Each (case, strategy) runs as fresh processes: ours through the CLI, the peers through"
        " `benchmarks/peer_run.py`, which reads the same CSVs, builds the same arcs and integer costs with the"
        " library's compile step and writes the same files, so whole process is compared with whole process. The"
        " peers solve one model per branch (the obvious model: a binary per arc, one per uncovered household), the"
        " same decomposition the library uses, with the case's time limit shared between branches by their arcs,"
        " as the library shares its own. `wall s` is the median of the runs in brackets (a run longer than"
        f" {info.get('repeat_under_s', '?')} s, or stopped by the time limit, is not repeated); `peak MB` is the"
        " largest resident set of the process or of any child it ran (CBC is such a child; the two are not added);"
        " `gap %` compares the integer objective (coverage"
        " penalties, then weekly travel) with the best plan of the case; a run without a complete plan shows its"
        " status and the time it spent.",
        "",
        *headline(rows),
        "",
    ]
    if rows:
        lines += ["### Scale: time and memory against households", ""]
        if images["time"]:
            lines += [f"![Wall time against households, log-log]({(rel / 'bench_time.png').as_posix()})", ""]
        if images["memory"]:
            lines += [f"![Peak memory against households, log-log]({(rel / 'bench_memory.png').as_posix()})", ""]
        lines += [
            *scale_table(rows),
            "",
            *phase_text(phase_rows, rows, num(info.get("ram_gb"))),
            "",
            *peer_phase_table(phase_rows),
            "",
        ]
        lines += ["### Every case", "", *case_tables(rows)]
    lines += gap_section(gap_rows, (rel / "bench_gap.png").as_posix() if images["gap"] else None)
    lines.append(END)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def replace_block(text: str, block: str) -> str:
    """``text`` with the marked block replaced, or inserted before the first level-2 heading."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + block.rstrip("\n") + tail
    lines = text.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    return "".join(lines[:at]) + block + "\n" + "".join(lines[at:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results" / "latest.csv")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--img", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args(argv)
    if not args.results.exists():
        parser.error(f"{args.results} not found; run benchmarks/bench.py first")
    block = build_block(args.results, args.img, args.doc)
    text = args.doc.read_text(encoding="utf-8") if args.doc.exists() else "# Benchmarks\n"
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(replace_block(text, block), encoding="utf-8")
    print(f"wrote the generated block of {args.doc} and the plots in {args.img}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
