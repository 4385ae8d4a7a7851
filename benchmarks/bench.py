"""Benchmark runner: every engine of the library and the peers a user would pick, as whole processes.

Run::

    .venv/bin/python benchmarks/bench.py --quick        # towns up to 12k, three GAP instances (≤ 10 min)
    .venv/bin/python benchmarks/bench.py                # everything: several hours (GAP alone up to 27 × 4 × 71 s)
    .venv/bin/python benchmarks/report.py               # results → docs/benchmarks.md and docs/img/
    .venv/bin/python benchmarks/bench.py phases county_1m --repeats 1   # where the time goes, printed

Protocol
--------
Cases are synthetic towns from :mod:`baohu_assign.datasets.synth` (seed 0), written
once per case to CSV (not timed). Every (case, strategy, repeat) is a fresh
process: our strategies are ``python -m baohu_assign solve|rebalance ...
--strategy S --time-limit T --quiet``; the peers are ``benchmarks/peer_run.py``
(HiGHS through scipy.optimize.milp, CP-SAT written the obvious way, CBC
through PuLP), which reads the same CSVs, builds the same arcs and integer
costs with the library's compile step, solves branch by branch and writes
the same output files. ``wall_s`` is the whole process (start-up, reading,
arcs, solving, writing), the median over the runs; ``peak_mb`` the largest
resident set of the process or of any child it waited for (``wait4``). Each strategy gets
the case's time limit; a peer that ends without a complete plan is recorded
with its status and the time it spent. A run whose first execution took
longer than ``--repeat-under`` seconds, or stopped at the time limit, is not
repeated (its time is set by the solver's work or by the limit; ``runs`` says
how many were made).

``gap_pct`` is the integer objective (uncovered penalties + travel in
decimetre-visits, the same for every strategy) against the best plan of the
case in this run; ``gap_reference`` says whether that plan was proven
optimal. GAP instances run :mod:`gap_bench`'s solvers, each run in its own
process, one run per (instance, solver, limit).

Writes ``--out`` (default ``benchmarks/results/latest.csv``) and next to it
``*_gap.csv``, ``*_phases.csv`` (where the time goes: medians of ``--repeats``
extra untimed in-process runs of ``auto`` per case, in quick only on the size
curve, and of the peers' own timings) and
``*_machine.csv`` (machine, versions, load before and after).
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = HERE / "results" / "latest.csv"
DEFAULT_WORK = ROOT / "build" / "bench"

OURS = ("greedy", "flow", "cpsat", "auto")
PEERS = ("highs", "cpsat_plain", "cbc")
STRATEGIES = OURS + PEERS
PHASE_STRATEGY = "auto"  # the strategy whose time is broken into phases per case

COLUMNS = [
    "case",
    "strategy",
    "kind",
    "households",
    "members",
    "arcs",
    "time_limit_s",
    "runs",
    "wall_s",
    "wall_min_s",
    "wall_max_s",
    "peak_mb",
    "travel",
    "objective",
    "bound",
    "gap_pct",
    "gap_reference",
    "travel_vs_best_pct",
    "uncovered",
    "uncovered_critical",
    "uncovered_elevated",
    "uncovered_normal",
    "util_std",
    "util_range",
    "changed",
    "engines",
    "status",
    "run_statuses",
]
GAP_COLUMNS = [
    "instance",
    "family",
    "agents",
    "jobs",
    "limit_s",
    "solver",
    "objective",
    "best_known",
    "gap_pct",
    "status",
    "wall_s",
    "bound",
    "process_wall_s",
    "peak_mb",
]
PHASE_COLUMNS = ["case", "strategy", "households", "phase", "seconds", "runs"]

# Statuses without a complete plan: no figures are reported for them.
NO_PLAN = {"no_solution", "infeasible", "invalid", "unsupported", "error", "killed", "not_installed"}


# -- cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A synthetic scenario, how it is solved, and its time limits (quick, full)."""

    name: str
    build: Callable[[], object]
    quick_limit: float
    full_limit: float
    command: str = "solve"  # "rebalance" for the relocation event
    scale: bool = False  # part of the time and memory curve over sizes
    peers: bool = True  # whether the peers run it too

    @property
    def objective(self) -> str:
        return "min-churn" if self.command == "rebalance" else "distance"


def _town(households: int, **kw):
    from baohu_assign import synth

    return synth.make_town(0, households=households, **kw)


def _county(households: int, towns: int, **kw):
    from baohu_assign import synth

    return synth.make_county(0, towns=towns, households=households, **kw)


def _hours(households: int):
    from baohu_assign import synth

    return synth.with_hours(_town(households, stairwells=False))


def _relocation(households: int):
    from baohu_assign import synth

    return synth.relocate(_town(households, stairwells=False, current=True), seed=1)


CASES = {
    c.name: c
    for c in [
        Case("town_60", lambda: _town(60, branches=3, stairwells=False), 10, 10, scale=True),  # smoke test
        Case("town_1k", lambda: _town(1_000, stairwells=False), 60, 120, scale=True),
        # The variants at 1k keep `make bench-quick` within 10 minutes; the full run adds them at 12k.
        Case("town_1k_units", lambda: _town(1_000, stairwells=True), 10, 60),
        Case("town_1k_hours", lambda: _hours(1_000), 10, 60),
        Case("town_1k_relocation", lambda: _relocation(1_000), 10, 60, command="rebalance"),
        # 60 s is enough for HiGHS to prove the 12k optimum; the headline comparison needs it.
        Case("town_12k", lambda: _town(12_000, stairwells=False), 60, 120, scale=True),
        Case("town_12k_units", lambda: _town(12_000, stairwells=True), 60, 60),
        Case("town_12k_hours", lambda: _hours(12_000), 60, 60),
        Case("town_12k_relocation", lambda: _relocation(12_000), 120, 120, command="rebalance"),
        # Six towns side by side (synth's county); 250k is twenty towns of ~12.5k households.
        Case("county_74k", lambda: _county(74_000, 6, stairwells=False), 300, 300, scale=True),
        Case("county_74k_units", lambda: _county(74_000, 6, stairwells=True), 120, 120),
        Case("county_250k", lambda: _county(250_000, 20, stairwells=False), 600, 600, scale=True),
        # Eighty towns: the size the library is built to reach within a minute on 2 cores. Only our
        # strategies: the peers need most of an hour each here (over 200 s at 250k without a plan).
        Case("county_1m", lambda: _county(1_000_000, 80, stairwells=False), 1200, 1200, scale=True, peers=False),
    ]
}
QUICK_CASES = ["town_1k", "town_1k_units", "town_1k_hours", "town_1k_relocation", "town_12k"]
FULL_CASES = [
    *QUICK_CASES,
    "town_12k_units",
    "town_12k_hours",
    "town_12k_relocation",
    "county_74k",
    "county_74k_units",
    "county_250k",
    "county_1m",
]

# GAP: one instance per family in quick; in full all 27 C/D/E instances of gap_bench.
QUICK_GAP = ["c10200", "d10200", "e10200"]
QUICK_GAP_LIMITS = [1.0, 10.0]
FULL_GAP_LIMITS = [1.0, 10.0, 60.0]


def write_case(case: Case, folder: Path) -> tuple[Path, Path, int, int]:
    """The case's members.csv and households.csv (deterministic; rewritten each run)."""
    town = case.build()
    members, households = town.write_csv(folder)
    return members, households, len(town.households), len(town.members)


# -- one measured process ------------------------------------------------------------------------


@dataclass
class Measured:
    wall_s: float
    peak_mb: float
    returncode: int
    killed: bool
    stderr: str
    cpu_s: float = 0.0  # user + system seconds of the process and the children it waited for


def measure(cmd: list[str], cap_s: float, log: Path, stdout: Path | None = None) -> Measured:
    """Run ``cmd`` to completion: wall seconds, peak RSS (MB) of it and its children, exit code.

    ``wait4`` gives the rusage of exactly this child (its ``ru_maxrss`` is the
    largest of the process and the children it waited for, e.g. CBC). The
    process group is killed after ``cap_s`` seconds.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as err, open(stdout or os.devnull, "w", encoding="utf-8") as std:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=std, stderr=err, start_new_session=True, cwd=ROOT)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(cap_s, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes on macOS, KiB on Linux
    return Measured(
        wall,
        usage.ru_maxrss / scale,
        proc.returncode,
        killed.is_set(),
        log.read_text(encoding="utf-8", errors="replace"),
        usage.ru_utime + usage.ru_stime,
    )


def strategy_command(
    strategy: str, case: Case, members: Path, households: Path, out: Path, limit: float, seed: int
) -> list[str]:
    if strategy in OURS:
        return [
            sys.executable,
            "-m",
            "baohu_assign",
            case.command,
            str(members),
            str(households),
            "--out",
            str(out),
            "--strategy",
            strategy,
            "--objective",
            case.objective,
            "--time-limit",
            f"{limit:g}",
            "--seed",
            str(seed),
            "--quiet",
        ]
    return [
        sys.executable,
        str(HERE / "peer_run.py"),
        strategy,
        str(members),
        str(households),
        "--out",
        str(out),
        "--objective",
        case.objective,
        "--time-limit",
        f"{limit:g}",
        "--seed",
        str(seed),
    ]


def read_figures(out: Path) -> dict[str, object]:
    """Figures of one finished run from the files it wrote (the same files for every strategy)."""
    figures: dict[str, object] = {}
    peer = out / "peer.json"
    if peer.exists():
        summary = json.loads(peer.read_text(encoding="utf-8"))
        figures["status"] = summary["status"]
        figures["phases"] = summary.get("phases", {})
        if summary["status"] == "not_installed":
            return figures
    report_path = out / "report.json"
    if not report_path.exists():
        figures.setdefault("status", "error")
        return figures
    report = json.loads(report_path.read_text(encoding="utf-8"))
    figures.setdefault("status", report["status"])
    parts = report["components"]
    figures.update(
        members=report["counts"]["members"],
        arcs=report["counts"]["arcs"],
        travel=round(parts["travel_m_per_week"], 1),
        objective=report["objective_value"],
        bound=report["bound"],
        uncovered=report["counts"]["uncovered"],
        uncovered_critical=parts["uncovered"]["critical"],
        uncovered_elevated=parts["uncovered"]["elevated"],
        uncovered_normal=parts["uncovered"]["normal"],
        changed=parts["changed"],
        engines=" ".join(f"{k}:{v}" for k, v in report["engines"].items()),
    )
    figures.update(load_spread(out / "members.csv"))
    return figures


def load_spread(members_csv: Path) -> dict[str, float]:
    """Standard deviation and range (max − min) of utilisation (load / capacity) over members with capacity."""
    values: list[float] = []
    with open(members_csv, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if int(row["capacity"] or 0) > 0 and row["utilisation"] not in ("", "nan"):
                values.append(float(row["utilisation"]))
    if not values:
        return {}
    return {"util_std": round(statistics.pstdev(values), 4), "util_range": round(max(values) - min(values), 4)}


def run_strategy(
    case: Case, strategy: str, files: tuple[Path, Path], limit: float, args, work: Path
) -> tuple[dict[str, object], list[dict[str, float]]]:
    """All runs of one (case, strategy): the CSV row (without gap figures) and the peers' phase timings."""
    members, households = files
    walls: list[float] = []
    peaks: list[float] = []
    figures: dict[str, object] = {}
    statuses: list[str] = []
    phases: list[dict[str, float]] = []
    cap = limit * 1.5 + 120.0  # a run that ignores its limit this long is killed and recorded as such
    for repeat in range(args.repeats):
        out = work / "runs" / case.name / strategy / str(repeat)
        shutil.rmtree(out, ignore_errors=True)
        cmd = strategy_command(strategy, case, members, households, out, limit, args.seed)
        result = measure(cmd, cap, out.parent / f"{repeat}.stderr")
        walls.append(result.wall_s)
        peaks.append(result.peak_mb)
        if result.killed:
            run_figures: dict[str, object] = {"status": "killed"}
        elif result.returncode != 0:
            run_figures = {"status": "error"}
            print(f"  {case.name} {strategy}: exit {result.returncode}: {result.stderr[-400:]}", file=sys.stderr)
        else:
            run_figures = read_figures(out)
        shutil.rmtree(out, ignore_errors=True)
        if run_figures.get("phases"):
            phases.append(run_figures.pop("phases"))  # type: ignore[arg-type]
        statuses.append(str(run_figures.get("status")))
        if repeat == 0:
            figures = run_figures  # figures of the first run; repeats only add times
        print(
            f"  {case.name:22s} {strategy:12s} run {repeat + 1}: {result.wall_s:7.2f} s "
            f"{result.peak_mb:7.0f} MB {run_figures.get('status')}",
            file=sys.stderr,
            flush=True,
        )
        if figures.get("status") == "not_installed":
            walls, peaks = [], []
            break
        stopped_at_limit = result.wall_s >= 0.9 * limit or figures.get("status") in NO_PLAN | {"time_limit"}
        if repeat == 0 and (stopped_at_limit or result.wall_s > args.repeat_under):
            break
    row: dict[str, object] = {
        "case": case.name,
        "strategy": strategy,
        "kind": "ours" if strategy in OURS else "peer",
        "time_limit_s": limit,
        "runs": len(walls),
        "wall_s": round(statistics.median(walls), 3) if walls else "",
        "wall_min_s": round(min(walls), 3) if walls else "",
        "wall_max_s": round(max(walls), 3) if walls else "",
        "peak_mb": round(max(peaks), 1) if peaks else "",
    }
    status = str(figures.get("status", "error"))
    row["status"] = status
    row["run_statuses"] = " ".join(statuses)
    if status not in NO_PLAN:
        for key in (
            "members",
            "arcs",
            "travel",
            "objective",
            "bound",
            "uncovered",
            "uncovered_critical",
            "uncovered_elevated",
            "uncovered_normal",
            "util_std",
            "util_range",
            "changed",
            "engines",
        ):
            value = figures.get(key)
            row[key] = "" if value is None else value
        if case.command != "rebalance":
            row["changed"] = ""  # no current contacts: nothing to change
    return row, phases


def add_gaps(rows: list[dict[str, object]]) -> None:
    """gap_pct and travel_vs_best_pct against the best plan of each case in this run."""
    for case in {r["case"] for r in rows}:
        mine = [r for r in rows if r["case"] == case and r.get("objective") not in ("", None)]
        if not mine:
            continue
        best = min(mine, key=lambda r: int(r["objective"]))  # type: ignore[arg-type]
        best_value = int(best["objective"])  # type: ignore[arg-type]
        proven = any(int(r["objective"]) == best_value and r["status"] == "optimal" for r in mine)  # type: ignore[arg-type]
        for r in mine:
            value = int(r["objective"])  # type: ignore[arg-type]
            r["gap_pct"] = round(100.0 * (value - best_value) / best_value, 6) + 0.0 if best_value else 0.0
            r["gap_reference"] = "proven_optimum" if proven else "best_found"
            travel = float(best["travel"])  # type: ignore[arg-type]
            r["travel_vs_best_pct"] = round(100.0 * (float(r["travel"]) / travel - 1.0), 4) + 0.0 if travel else ""  # type: ignore[arg-type]


# -- phases: one untimed in-process run ----------------------------------------------------------


def phases_main(argv: list[str]) -> int:
    """``bench.py _phases MEMBERS HOUSEHOLDS COMMAND OBJECTIVE STRATEGY LIMIT OUT``: JSON of phase seconds.

    The same steps as the CLI, timed one by one. Engine time is measured by
    wrapping each engine's ``solve`` (in this process only; the report's
    what-if solves included), the arcs by wrapping the compile step where
    ``solve`` calls it; "checks" is the rest of the solve call (engine
    choice, plan verification, the report's tables and bookkeeping).
    """
    members, households, command, objective, strategy, limit, out = argv
    import baohu_assign as ba
    import baohu_assign.engines.flow
    import baohu_assign.solving.solve as solving
    from baohu_assign import engines

    phases = {"import": time.perf_counter() - PROCESS_START}
    engine_seconds = [0.0]
    depth = [0]  # CP-SAT calls flow for its bound: count outermost engine calls only
    for name in ("flow", "cpsat", "greedy"):
        engine = engines.load(name)
        original = engine.solve

        def timed(*args, _original=original, **kwargs):
            depth[0] += 1
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    engine_seconds[0] += time.perf_counter() - start

        engine.solve = timed  # type: ignore[method-assign]
    # The arcs are timed where solve builds them (once, as in the CLI).
    compile_seconds = [0.0]
    compile_scenario = solving.compile_scenario

    def timed_compile(*args, **kwargs):
        start = time.perf_counter()
        try:
            return compile_scenario(*args, **kwargs)
        finally:
            compile_seconds[0] += time.perf_counter() - start

    solving.compile_scenario = timed_compile  # type: ignore[assignment]
    mark = time.perf_counter()
    scenario = ba.Scenario.from_csv(members, households)
    phases["read"] = time.perf_counter() - mark
    run = ba.rebalance if command == "rebalance" else ba.solve
    mark = time.perf_counter()
    plan = run(scenario, objective=objective, strategy=strategy, time_limit=float(limit), seed=0)
    solve_s = time.perf_counter() - mark
    phases["arcs"] = compile_seconds[0]
    phases["engines"] = engine_seconds[0]
    phases["checks"] = max(solve_s - phases["arcs"] - engine_seconds[0], 0.0)
    mark = time.perf_counter()
    plan.write(out)
    phases["write"] = time.perf_counter() - mark
    print(json.dumps(phases))
    return 0


def median_phases(case: str, strategy: str, households: int, runs: list[dict[str, float]]) -> list[dict[str, object]]:
    """One row per phase: the median seconds over the runs that reported it."""
    if not runs:
        return []
    return [
        {
            "case": case,
            "strategy": strategy,
            "households": households,
            "phase": phase.removesuffix("_s"),
            "seconds": round(statistics.median(r[phase] for r in runs if phase in r), 4),
            "runs": len(runs),
        }
        for phase in runs[0]
    ]


def measure_phases(case: Case, files: tuple[Path, Path], limit: float, work: Path) -> dict[str, float]:
    out = work / "runs" / case.name / "_phases"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_phases",
        str(files[0]),
        str(files[1]),
        case.command,
        case.objective,
        PHASE_STRATEGY,
        f"{limit:g}",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=limit * 1.5 + 300)
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        print(f"  phases of {case.name} failed: {proc.stderr[-400:]}", file=sys.stderr)
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- GAP -----------------------------------------------------------------------------------------


def gap_one_main(argv: list[str]) -> int:
    """``bench.py _gap_one INSTANCE SOLVER LIMIT SEED``: one gap_bench run, as a JSON line."""
    name, solver, limit, seed = argv
    sys.path.insert(0, str(HERE))
    from gap_bench import RUNNERS, instance_path

    objective, status, wall, bound = RUNNERS[solver](instance_path(name), float(limit), int(seed))
    print(json.dumps({"objective": objective, "status": status, "wall_s": wall, "bound": bound}))
    return 0


def run_gap(
    names: list[str], solvers: list[str], limits: list[float], seed: int, path: Path, work: Path
) -> list[dict[str, object]]:
    sys.path.insert(0, str(HERE))
    from gap_bench import best_known, instance_path

    best = best_known()
    rows: list[dict[str, object]] = []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=GAP_COLUMNS)
        writer.writeheader()
        for limit in limits:
            for name in names:
                agents, jobs = _gap_size(instance_path(name))
                for solver in solvers:
                    row: dict[str, object] = {
                        "instance": name,
                        "family": name[0].upper() if name[0] in "cde" else name.split("-")[0],
                        "agents": agents,
                        "jobs": jobs,
                        "limit_s": limit,
                        "solver": solver,
                        "best_known": best[name],
                        "objective": "",
                        "gap_pct": "",
                        "bound": "",
                    }
                    if solver == "cbc" and not cbc_available():
                        row.update(status="not_installed", wall_s="", process_wall_s="", peak_mb="")
                    else:
                        log = work / "gap" / f"{name}-{solver}-{limit:g}.stderr"
                        cmd = [
                            sys.executable,
                            str(Path(__file__).resolve()),
                            "_gap_one",
                            name,
                            solver,
                            f"{limit:g}",
                            str(seed),
                        ]
                        out_file = log.with_suffix(".json")
                        result = measure(cmd, limit * 2 + 60, log, stdout=out_file)
                        row.update(process_wall_s=round(result.wall_s, 3), peak_mb=round(result.peak_mb, 1))
                        if result.killed or result.returncode != 0 or not out_file.exists():
                            row.update(status="killed" if result.killed else "error", wall_s=round(result.wall_s, 3))
                        else:
                            got = json.loads(out_file.read_text(encoding="utf-8").strip().splitlines()[-1])
                            row.update(
                                status=got["status"],
                                wall_s=round(got["wall_s"], 3),
                                bound="" if got["bound"] is None else got["bound"],
                            )
                            if got["objective"] is not None:
                                row["objective"] = got["objective"]
                                row["gap_pct"] = round(100.0 * (got["objective"] - best[name]) / best[name], 4)
                    writer.writerow(row)
                    handle.flush()
                    rows.append(row)
                    print(
                        f"  GAP {name} {limit:g}s {solver:6s}: gap {row['gap_pct']!s:>8}% {row['status']}",
                        file=sys.stderr,
                        flush=True,
                    )
    return rows


def _gap_size(path: Path) -> tuple[int, int]:
    with open(path, encoding="utf-8") as handle:
        tokens = handle.read(200).split()
    return int(tokens[0]), int(tokens[1])


def cbc_available() -> bool:
    """PuLP importable and its bundled CBC binary runnable here."""
    try:
        import pulp
    except ImportError:
        return False
    return bool(pulp.PULP_CBC_CMD(msg=False).available())


# -- machine -------------------------------------------------------------------------------------


def cbc_version() -> str:
    """Version line of the CBC binary PuLP bundles, or "not installed"."""
    if not cbc_available():
        return "not installed"
    import pulp

    try:
        text = subprocess.run(
            [pulp.PULP_CBC_CMD(msg=False).path, "-quit"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "bundled with pulp"
    return next(
        (line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Version")), "bundled with pulp"
    )


def machine_info() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        info["cpu"] = next(
            line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")
        )
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or platform.machine()
    info["cores"] = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    try:
        kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        info["ram_gb"] = f"{kb / 1024 / 1024:.1f}"
    except (OSError, StopIteration):
        info["ram_gb"] = ""
    info["os"] = platform.platform()
    info["python"] = platform.python_version()
    for package in ("baohu-assign", "ortools", "scipy", "numpy", "pandas", "pulp"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    try:
        from scipy.optimize._highspy import _core

        info["highs"] = f"{_core.HIGHS_VERSION_MAJOR}.{_core.HIGHS_VERSION_MINOR}.{_core.HIGHS_VERSION_PATCH}"
    except ImportError:
        info["highs"] = "bundled with scipy"
    info["cbc"] = cbc_version()
    info["commit"] = _git("rev-parse", "--short", "HEAD")
    info["uncommitted_changes"] = "yes" if _git("status", "--porcelain", "--untracked-files=no") else "no"
    return info


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return ""


# -- main ----------------------------------------------------------------------------------------


def sibling(out: Path, suffix: str) -> Path:
    return out.with_name(f"{out.stem}_{suffix}.csv")


def phase_table_main(argv: list[str]) -> int:
    """``bench.py phases CASE... [--repeats N]``: the table of where the time of ``auto`` goes, printed.

    Per case: the whole CLI process (``solve --strategy auto``) timed
    ``--repeats`` times (median wall and CPU seconds, largest peak RSS),
    and as many in-process runs with their steps timed (:func:`phases_main`,
    medians). Each figure is printed with the load average before it: other
    work on the machine shows in wall time, much less in CPU time.
    """
    parser = argparse.ArgumentParser(prog="bench.py phases", description=phase_table_main.__doc__)
    parser.add_argument("cases", nargs="*", metavar="CASE", help="cases of this file: " + ", ".join(CASES))
    parser.add_argument(
        "--county",
        type=int,
        action="append",
        default=[],
        metavar="HOUSEHOLDS",
        help="also a synthetic county of this many households (towns of about 12,500), e.g. 300000",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    args = parser.parse_args(argv)
    if set(args.cases) - set(CASES):
        parser.error(f"unknown cases: {sorted(set(args.cases) - set(CASES))}")
    for households in args.county:
        name = f"county_{households}"
        towns = max(round(households / 12_500), 1)
        CASES[name] = Case(
            name, lambda h=households, t=towns: _county(h, t, stairwells=False), 1200, 1200, scale=True, peers=False
        )
        args.cases.append(name)
    phases = ("import", "read", "arcs", "engines", "checks", "write")
    print("| households | " + " | ".join(phases) + " | sum s | wall s | CPU s | peak MB | runs | load |")
    print("|---|" + "---|" * (len(phases) + 6))
    for name in args.cases:
        case = CASES[name]
        files = write_case(case, args.work / "cases" / name)
        walls, cpus, peaks, loads, runs = [], [], [], [], []
        for repeat in range(args.repeats):
            loads.append(_load().split()[0] if _load() else "?")
            out = args.work / "runs" / name / "phases_auto"
            shutil.rmtree(out, ignore_errors=True)
            cmd = strategy_command("auto", case, files[0], files[1], out, case.full_limit, 0)
            measured = measure(cmd, case.full_limit * 2 + 300, args.work / "runs" / name / f"phases_{repeat}.log")
            if measured.returncode != 0:
                print(f"{name}: the CLI failed: {measured.stderr[-400:]}", file=sys.stderr)
                return 1
            walls.append(measured.wall_s)
            cpus.append(measured.cpu_s)
            peaks.append(measured.peak_mb)
            shutil.rmtree(out, ignore_errors=True)
            runs.append(measure_phases(case, files[:2], case.full_limit, args.work))
        timed = [r for r in runs if r]
        medians = {p: statistics.median(r[p] for r in timed) for p in phases if timed}
        print(
            f"| {files[2]:,} | "
            + " | ".join(f"{medians.get(p, float('nan')):.2f}" for p in phases)
            + f" | {sum(medians.values()):.2f} | {statistics.median(walls):.2f} | {statistics.median(cpus):.2f}"
            + f" | {max(peaks):,.0f} | {len(walls)} | {' '.join(loads)} |",
            flush=True,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_phases":
        return phases_main(argv[1:])
    if argv and argv[0] == "phases":
        return phase_table_main(argv[1:])
    if argv and argv[0] == "_gap_one":
        return gap_one_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="towns up to 12k and three GAP instances at 1 s and 10 s")
    parser.add_argument("--cases", help=f"comma-separated, from {', '.join(CASES)} (default: quick or full set)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated: " + ",".join(STRATEGIES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--repeat-under",
        type=float,
        default=None,
        metavar="S",
        help="repeat only runs whose first run took at most S seconds (default 15 quick, 120 full)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="one time limit for every case (default: each case's own, quick or full)",
    )
    parser.add_argument(
        "--gap-instances",
        default=None,
        help="comma-separated GAP instances, 'none' to skip (default: 3 in quick, all 27 in full)",
    )
    parser.add_argument("--gap-limits", default=None, help="comma-separated seconds (default 1,10 quick; 1,10,60 full)")
    parser.add_argument("--gap-solvers", default="ours,cpsat,highs,cbc")
    parser.add_argument(
        "--no-phases",
        action="store_true",
        help="skip the untimed phase-timing run per case (quick: only on the size curve)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="case CSVs and run outputs (scratch)")
    args = parser.parse_args(argv)
    if args.repeat_under is None:
        args.repeat_under = 15.0 if args.quick else 120.0
    names = args.cases.split(",") if args.cases else (QUICK_CASES if args.quick else FULL_CASES)
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = (set(names) - set(CASES)) | (set(strategies) - set(STRATEGIES))
    if unknown:
        parser.error(f"unknown cases or strategies: {sorted(unknown)}")
    sys.path.insert(0, str(HERE))
    import gap_bench

    if args.gap_instances == "none":
        gap_names: list[str] = []
    elif args.gap_instances:
        gap_names = args.gap_instances.split(",")
    else:
        gap_names = QUICK_GAP if args.quick else list(gap_bench.INSTANCES)
    gap_limits = (
        [float(x) for x in args.gap_limits.split(",")]
        if args.gap_limits
        else (QUICK_GAP_LIMITS if args.quick else FULL_GAP_LIMITS)
    )
    gap_solvers = [s for s in args.gap_solvers.split(",") if s]
    if set(gap_solvers) - set(gap_bench.RUNNERS):
        parser.error(f"unknown GAP solvers; choose from {list(gap_bench.RUNNERS)}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    info = machine_info()
    custom = (
        any((args.cases, args.time_limit, args.gap_instances, args.gap_limits))
        or args.strategies != ",".join(STRATEGIES)
        or args.gap_solvers != "ours,cpsat,highs,cbc"
    )
    mode = "custom" if custom else ("quick" if args.quick else "full")
    info.update(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        mode=mode,
        command="bench.py " + " ".join(argv),
        load_before=_load(),
        repeats=str(args.repeats),
        repeat_under_s=f"{args.repeat_under:g}",
    )
    rows: list[dict[str, object]] = []
    phase_rows: list[dict[str, object]] = []
    for name in names:
        case = CASES[name]
        limit = args.time_limit or (case.quick_limit if args.quick else case.full_limit)
        print(f"case {name} (time limit {limit:g} s)", file=sys.stderr, flush=True)
        members, households, num_households, num_members = write_case(case, args.work / "cases" / name)
        case_rows = []
        for strategy in strategies:
            if strategy in PEERS and not case.peers:
                continue
            if strategy == "cbc" and not cbc_available():
                row = {
                    "case": name,
                    "strategy": strategy,
                    "kind": "peer",
                    "time_limit_s": limit,
                    "runs": 0,
                    "status": "not_installed",
                }
                phases: list[dict[str, float]] = []
            else:
                row, phases = run_strategy(case, strategy, (members, households), limit, args, args.work)
            row["households"] = num_households
            row.setdefault("members", num_members)
            case_rows.append(row)
            phase_rows.extend(median_phases(name, strategy, num_households, phases))
        if not args.no_phases and PHASE_STRATEGY in strategies and (case.scale or not args.quick):
            runs = [measure_phases(case, (members, households), limit, args.work) for _ in range(args.repeats)]
            phase_rows.extend(median_phases(name, PHASE_STRATEGY, num_households, [r for r in runs if r]))
        rows.extend(case_rows)
        add_gaps(rows)
        _write(args.out, COLUMNS, rows)  # after every case, so a long run leaves its results behind
        _write(sibling(args.out, "phases"), PHASE_COLUMNS, phase_rows)
    gap_path = sibling(args.out, "gap")
    if gap_names:
        print(f"GAP: {len(gap_names)} instances × {gap_solvers} × {gap_limits} s", file=sys.stderr, flush=True)
        run_gap(gap_names, gap_solvers, gap_limits, args.seed, gap_path, args.work)
    elif gap_path.exists():
        gap_path.unlink()  # a stale GAP table must not be reported as part of this run
    info.update(load_after=_load(), total_s=f"{time.perf_counter() - started:.0f}")
    _write(sibling(args.out, "machine"), ["key", "value"], [{"key": k, "value": v} for k, v in info.items()])
    print(f"wrote {args.out} and its siblings in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


def _write(path: Path, columns: list[str], rows: list[dict[str, object]]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    tmp.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
