"""Command line: ``baohu-assign solve | rebalance | apply | demo | batch | compare | geocode | schema | gap | serve``.

The only module that prints.

Exit codes: 0 a plan was written (even with uncovered households), 2 bad
input (the message names file, row and column), 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .engines import STRATEGIES
from .errors import InputError, Issue
from .model.problem import OBJECTIVES
from .results.plan import FOLDER_FILES
from .results.schemas import SCHEMA_NAMES
from .solving.progress import TerminalProgress, terminal_progress

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2
OUTPUT_FILES = FOLDER_FILES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baohu-assign",
        description="Assign party members to the households they look after (党员包户).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_solve_and_rebalance(commands)
    _add_apply(commands)
    _add_demo(commands)
    _add_batch(commands)
    _add_gap(commands)
    _add_compare(commands)
    _add_geocode(commands)
    _add_schema(commands)
    _add_serve(commands)
    return parser


def _add_solve_options(sub: argparse.ArgumentParser, default_objective: str) -> None:
    """The options every solving command shares: objective, strategy, time limit, seed, policy, outputs."""
    sub.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default=default_objective,
        help=f"what to optimise after coverage (default {default_objective})",
    )
    sub.add_argument(
        "--strategy", choices=STRATEGIES, default="auto", help="engine: auto (best per branch), flow, cpsat, greedy"
    )
    sub.add_argument(
        "--time-limit",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="wall-clock budget for the whole solve (best use of the time; a plan found under it may differ"
        " between runs, so leave it out for reproducible plans)",
    )
    sub.add_argument(
        "--seed", type=_seed, default=0, help="seed (without --time-limit: same input and seed, same plan)"
    )
    sub.add_argument(
        "--policy",
        type=Path,
        default=None,
        metavar="POLICY.toml",
        help="policy file overriding defaults (capacities, visits, reach, weights)",
    )
    sub.add_argument(
        "--backup",
        default=None,
        metavar="TIERS",
        help="also give each covered household of these priorities a backup member "
        "(comma-separated, e.g. 'critical' or 'critical,elevated')",
    )
    sub.add_argument(
        "--xlsx",
        action="store_true",
        help="also write roster.xlsx: printable per-branch rosters (联户台账) and a summary",
    )
    sub.add_argument("--map", action="store_true", help="also write map.html: a self-contained map that works offline")
    sub.add_argument(
        "--parquet",
        action="store_true",
        help="also write assignments.parquet and members.parquet: the plan tables, typed, for analysis tools",
    )
    sub.add_argument(
        "--tile-url",
        default=None,
        metavar="URL",
        help="base-map tile URL template for map.html, e.g. an intranet tile server "
        "(implies --map; default: no base map)",
    )
    sub.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing but errors (also hides the progress line shown on a terminal)",
    )
    sub.add_argument("--debug", action="store_true", help="debug logging and tracebacks")


def _add_plan_outputs(sub: argparse.ArgumentParser) -> None:
    """--leaders and --visits: outputs of solve, rebalance and batch."""
    sub.add_argument(
        "--leaders",
        action="store_true",
        help="also choose building leaders (楼栋长) and compound leaders (楼院长, from role=cadre) "
        "and write leaders.csv; needs --locations (batch: a locations file in the town's folder)",
    )
    sub.add_argument(
        "--visits",
        action="store_true",
        help="also plan the week's visit rounds (走访安排): visits.csv and member_days.csv; "
        "with --xlsx a 走访安排 sheet per branch, with --map a layer of the rounds",
    )


def _add_solve_and_rebalance(commands: Any) -> None:
    """The solve and rebalance commands: a town's two tables in, a plan folder out."""
    for name, objective, text in (
        ("solve", "balanced", "assign members to households"),
        (
            "rebalance",
            "min-churn",
            "repair today's assignment (current_member_id, or --current DIR) with fewest changes",
        ),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("members", type=Path, metavar="MEMBERS.csv")
        sub.add_argument("households", type=Path, metavar="HOUSEHOLDS.csv")
        sub.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
        sub.add_argument(
            "--network",
            type=Path,
            default=None,
            metavar="FILE",
            help="walking network to measure distances along: GraphML from OSMnx (.graphml) "
            "or an edge list (.csv: from_lat, from_lon, to_lat, to_lon, length_m); "
            "default: straight-line (great-circle) distance",
        )
        sub.add_argument(
            "--locations",
            type=Path,
            default=None,
            metavar="FILE",
            help="place hierarchy (locations.csv: location_id, parent_id, kind, name, lat, lon); "
            "rows may then give location_id instead of lat/lon, a unit implies the group; "
            "adds rollup_buildings.csv and rollup_compounds.csv",
        )
        _add_plan_outputs(sub)
        if name == "rebalance":
            sub.add_argument(
                "--current",
                type=Path,
                default=None,
                metavar="DIR",
                help="take today's contacts from a previous plan: its output folder (or its "
                "assignments.csv); replaces current_member_id of HOUSEHOLDS.csv",
            )
        _add_solve_options(sub, objective)


def _add_apply(commands: Any) -> None:
    """The apply command: events on the plan in force, only the touched branches re-solved."""
    text = "apply events (events.json) to the plan in force (--current DIR), re-solving only the branches they touch"
    sub = commands.add_parser("apply", help=text, description=text)
    sub.add_argument("members", type=Path, metavar="MEMBERS.csv", help="the members the plan was solved with")
    sub.add_argument("households", type=Path, metavar="HOUSEHOLDS.csv", help="the households the plan was solved with")
    sub.add_argument("events", type=Path, metavar="EVENTS.json", help="a JSON list of events (see data-contract.md)")
    sub.add_argument(
        "--current", type=Path, required=True, metavar="DIR", help="the plan in force: a plan folder written by solve"
    )
    sub.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    sub.add_argument("--policy", type=Path, default=None, metavar="POLICY.toml", help="the plan's policy file")
    sub.add_argument("--network", type=Path, default=None, metavar="FILE", help="the plan's walking network")
    sub.add_argument("--locations", type=Path, default=None, metavar="FILE", help="the plan's place hierarchy")
    sub.add_argument("--quiet", action="store_true", help="print nothing but errors")
    sub.add_argument("--debug", action="store_true", help="debug logging and tracebacks")


def _add_demo(commands: Any) -> None:
    """The demo command: the example town generated, solved and written."""
    demo = commands.add_parser(
        "demo",
        help="solve the embedded example town",
        description="Generate the example town, solve it, write inputs and outputs.",
    )
    demo.add_argument("--out", type=Path, default=Path("out/demo"), metavar="DIR")
    demo.add_argument("--households", type=int, default=12_000, help="town size (default 12000)")
    _add_solve_options(demo, "balanced")


def _add_batch(commands: Any) -> None:
    """The batch command: every town of a folder."""
    batch = commands.add_parser(
        "batch",
        help="solve every town of a folder: one plan folder per town and batch.json",
        description="Solve each sub-folder of TOWNS (members and households .csv/.xlsx, optional policy.toml, "
        "locations, network) with the same options, on a local process pool or a Dask cluster; write "
        "OUT/<town>/ and OUT/batch.json. A rerun reuses the towns whose files and options are unchanged.",
    )
    batch.add_argument("towns", type=Path, metavar="TOWNS", help="folder with one folder per town")
    batch.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (outside TOWNS)")
    batch.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local: a process pool on this machine (default); dask: a Dask LocalCluster "
        "(needs pip install 'baohu-assign[distributed]')",
    )
    batch.add_argument(
        "--workers", type=_workers, default=None, metavar="N", help="worker processes (default: the CPU count)"
    )
    batch.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask; TOWNS and "
        "--out must be under the same path on every worker)",
    )
    _add_plan_outputs(batch)
    _add_solve_options(batch, "balanced")


def _add_gap(commands: Any) -> None:
    """The gap command: one GAP benchmark instance."""
    gap = commands.add_parser(
        "gap",
        help="solve a Generalized Assignment Problem instance (OR-Library / Yagiura format)",
        description="Solve a GAP instance (minimisation) and print one JSON line: objective, status, bound, wall_s.",
    )
    gap.add_argument("instance", type=Path, metavar="FILE")
    gap.add_argument("--time-limit", type=float, default=10.0, metavar="SECONDS")
    gap.add_argument("--seed", type=int, default=0)
    gap.add_argument("--strategy", choices=("cpsat", "greedy"), default="cpsat")
    gap.add_argument("--debug", action="store_true", help="debug logging and tracebacks")


def _add_compare(commands: Any) -> None:
    """The compare command: two plan folders side by side."""
    compare = commands.add_parser(
        "compare",
        help="compare two plan folders: KPIs side by side and the households whose contact differs",
        description="Compare two output folders of solve/rebalance (assignments.csv, members.csv, report.json): "
        "print the KPI table and the number of households whose contact differs.",
    )
    compare.add_argument("plan_a", type=Path, metavar="PLAN_A_DIR", help="first plan folder (e.g. before)")
    compare.add_argument("plan_b", type=Path, metavar="PLAN_B_DIR", help="second plan folder (e.g. after)")
    compare.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE.csv",
        help="write the households whose contact differs, with both members, to this CSV",
    )
    compare.add_argument("--debug", action="store_true", help="debug logging and tracebacks")


def _add_geocode(commands: Any) -> None:
    """The geocode command: coordinates from addresses."""
    geocode = commands.add_parser(
        "geocode",
        help="fill blank lat/lon of a table from its addresses (Baidu Maps and other geocoders)",
        description="Fill blank lat/lon of a CSV or .xlsx table from an address column: from places of "
        "--locations the address names, from the cache beside the input, else from the provider "
        "(rate-limited). Writes TABLE.geocoded.csv/.xlsx and a not-found report; guesses nothing.",
    )
    geocode.add_argument("table", type=Path, metavar="TABLE", help="households (or members) as CSV or .xlsx")
    geocode.add_argument(
        "--address-column",
        default="address",
        metavar="COLUMN",
        help="the column holding the address (default: address)",
    )
    geocode.add_argument(
        "--provider",
        default="baiduv3",
        metavar="NAME",
        help="geopy geocoder: baiduv3 (Baidu Maps, BD-09 coordinates; the default), "
        "baiduv3-gcj02 (Baidu Maps, GCJ-02 as Amap/Tencent), nominatim (OpenStreetMap), ...",
    )
    geocode.add_argument(
        "--key",
        default=None,
        metavar="KEY",
        help="the provider's API key (Baidu: AK); default: environment variable BAOHU_GEOCODE_KEY",
    )
    geocode.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="output table (default TABLE.geocoded.csv or .xlsx beside the input)",
    )
    geocode.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="FILE",
        help="answers kept between runs (default geocode-cache.csv beside the input)",
    )
    geocode.add_argument(
        "--locations",
        type=Path,
        default=None,
        metavar="FILE",
        help="place hierarchy: an address naming a compound, building or unit takes its coordinates without any lookup",
    )
    geocode.add_argument(
        "--overwrite", action="store_true", help="also replace coordinates the table gives (rows with an address)"
    )
    geocode.add_argument(
        "--retry-missing", action="store_true", help="ask again for addresses the cache records as not found"
    )
    geocode.add_argument("--offline", action="store_true", help="ask no provider: only the cache and --locations")
    geocode.add_argument(
        "--min-delay",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="seconds between requests (default 0.34 for Baidu, 1 for others)",
    )
    geocode.add_argument("--quiet", action="store_true", help="print nothing but errors and the not-found rows")
    geocode.add_argument("--debug", action="store_true", help="debug logging and tracebacks")


def _add_schema(commands: Any) -> None:
    """The schema command: the JSON Schemas."""
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of a member or household record, the policy, a plan (to_dict) or events",
        description="Print a JSON Schema (draft 2020-12) to stdout: members (one member record of "
        "Scenario.from_records), households (one household record), policy, plan (Plan.to_dict(), report "
        "included), events (a list for apply_events), or all of them as one object keyed by these names.",
    )
    schema.add_argument("name", nargs="?", choices=(*SCHEMA_NAMES, "all"), default="all", help="default: all")
    schema.add_argument("--debug", action="store_true", help="debug logging and tracebacks")


def _add_serve(commands: Any) -> None:
    """The serve command: the HTTP job service."""
    serve = commands.add_parser(
        "serve",
        help="run the HTTP service: submit plans as jobs, poll, cancel, events, recommendations",
        description="Run the HTTP job service (FastAPI + uvicorn; pip install 'baohu-assign[serve]'). Jobs and "
        "plans are kept under --data, so a restart loses no finished plan. See docs/data-contract.md.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--data",
        type=Path,
        default=Path("baohu-data"),
        metavar="DIR",
        help="job store and plan folders (default ./baohu-data)",
    )
    serve.add_argument(
        "--workers", type=_workers, default=1, metavar="N", help="worker processes that solve (default 1)"
    )
    serve.add_argument(
        "--max-request-mb",
        type=_megabytes,
        default=None,
        metavar="MB",
        help="largest request body in megabytes; larger ones get 413 (default 100)",
    )
    serve.add_argument("--debug", action="store_true", help="debug logging (may show personal data) and tracebacks")


def _seconds(text: str) -> float:
    """--time-limit: seconds, checked by the rule solve() applies (argparse then exits 2 naming the option)."""
    from .solving.params import check_time_limit

    try:
        return check_time_limit(float(text))  # type: ignore[return-value]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}") from None


def _workers(text: str) -> int:
    """--workers: a whole number >= 1 (argparse exits 2 naming the option otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _port(text: str) -> int:
    """--port: 0 to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return int(text)


def _megabytes(text: str) -> float:
    """--max-request-mb: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of megabytes > 0, got {text!r}")
    return value


def _seed(text: str) -> int:
    """--seed: a whole number >= 0 (argparse exits 2 naming the option otherwise)."""
    from .solving.params import check_seed

    try:
        return check_seed(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _run(args)
    except InputError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_INTERNAL


def _run(args: argparse.Namespace) -> int:
    if args.command == "gap":
        return _run_gap(args)
    if args.command == "compare":
        return _run_compare(args)
    if args.command == "geocode":
        return _run_geocode(args)
    if args.command == "schema":
        return _run_schema(args)
    if args.command == "batch":
        return _run_batch(args)
    if args.command == "apply":
        return _run_apply(args)
    if args.command == "serve":
        return _run_serve(args)
    # One updating line on stderr, only when stderr is a terminal (never in pipes or logs).
    progress = terminal_progress(quiet=args.quiet)
    try:
        return _run_plan(args, progress)
    finally:
        if progress is not None:
            progress.close()


def _run_plan(args: argparse.Namespace, progress: TerminalProgress | None) -> int:
    from .runner import RunOptions, TownFiles, check_leaders, run_plan, town_policy

    started = time.perf_counter()
    options = RunOptions.from_args(args)
    policy = town_policy(options)
    check_leaders(options, getattr(args, "locations", None))
    if progress is not None:
        progress("loading", 0, 0)
    if args.command == "demo":
        from .datasets.synth import make_town

        town = make_town(args.seed, households=args.households)
        input_dir = args.out / "input"
        input_dir.mkdir(parents=True, exist_ok=True)
        files = TownFiles(*town.write_csv(input_dir))
    else:
        files = TownFiles(args.members, args.households, locations=args.locations, network=args.network)
    outcome = run_plan(
        files,
        args.out,
        options,
        policy=policy,
        command=args.command,
        current=getattr(args, "current", None),
        progress=progress,
    )
    plan, leaders, paths, visits = outcome.plan, outcome.leaders, outcome.paths, outcome.visits
    if progress is not None:
        progress.close()  # erase the progress line before the summary
    if not args.quiet and args.command == "rebalance":
        from .solving.rebalance import REBALANCE_WARNINGS

        for warning in plan.report.warnings:
            if warning.code in REBALANCE_WARNINGS:
                print(f"warning ({warning.code}): {warning.message}", file=sys.stderr)
    if not args.quiet:
        print(plan.summary())
        if visits is not None:
            print(visits.summary())
        if leaders is not None:
            led = leaders.groupby("level", sort=False)["leader_member_id"].agg(["count", "size"])
            print(
                "  leaders: "
                + ", ".join(f"{row['count']} of {row['size']} {level}s" for level, row in led.iterrows())
                + " (see leaders.csv)"
            )
        print(f"  wrote {', '.join(str(p) for p in paths.values())} ({time.perf_counter() - started:.2f} s in all)")
    return EXIT_OK


def _run_apply(args: argparse.Namespace) -> int:
    """Events on the plan in force: the plan rebuilt from its inputs (checked by plan id), the events applied."""
    from .io.events import parse_events
    from .model.scenario import Scenario
    from .results.events import apply_events
    from .runner import load_policy, plan_in_force

    try:
        raw = json.loads(args.events.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(Issue(str(args.events), None, None, f"cannot read: {exc.strerror}")) from None
    except ValueError as exc:
        raise InputError(Issue(str(args.events), None, None, f"not valid JSON: {exc}")) from None
    events = parse_events(raw)
    scenario = Scenario.from_csv(
        args.members,
        args.households,
        policy=load_policy(args.policy),
        network=args.network,
        locations=args.locations,
    )
    in_force, same = plan_in_force(scenario, args.current)
    if not same and not args.quiet:
        # Not the same plan (other inputs, or a search cut short): its contacts, kept where they can be.
        print(
            "note: the plan folder is not reproduced from these inputs; its contacts are taken "
            "by a min-churn rebalance (--current) before the events",
            file=sys.stderr,
        )
    plan = apply_events(in_force, events)
    paths = plan.write(args.out)
    if not args.quiet:
        print(plan.summary())
        print(f"  wrote {', '.join(str(p) for p in paths.values())}")
    return EXIT_OK


def _run_serve(args: argparse.Namespace) -> int:
    """The HTTP service, until stopped; without the serve extra, how to install it (exit 2)."""
    from .service import INSTALL_HINT, missing_modules

    missing = missing_modules()
    if missing:
        print(
            f"error: baohu-assign serve needs {', '.join(missing)}: {INSTALL_HINT}",
            file=sys.stderr,
        )
        return EXIT_INPUT
    from .service.app import DEFAULT_MAX_REQUEST_MB, run_server

    run_server(
        args.host,
        args.port,
        args.data,
        workers=args.workers,
        max_request_mb=args.max_request_mb or DEFAULT_MAX_REQUEST_MB,
        log_level="debug" if args.debug else "info",
    )
    return EXIT_OK


def _run_batch(args: argparse.Namespace) -> int:
    from .batch import BATCH_FILE, run_batch
    from .runner import RunOptions

    if not args.debug:
        import os

        # Dask logs every scheduler and worker start and stop at INFO; the batch shows its own progress.
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    progress = terminal_progress(quiet=args.quiet)
    try:
        result = run_batch(
            args.towns,
            args.out,
            RunOptions.from_args(args),
            executor="dask" if args.scheduler else args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=progress,
        )
    except ModuleNotFoundError as exc:
        if exc.name != "distributed":
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    finally:
        if progress is not None:
            progress.close()
    for name, record in result.towns.items():
        if record["status"] != "ok":
            for error in record["errors"]:
                issue = Issue(**error)
                print(f"{record['status']} ({name}): {issue}", file=sys.stderr)
    if not args.quiet:
        counts = result.counts
        print(
            f"{len(result.towns)} towns: {counts['ok']} ok ({counts['reused']} reused unchanged), "
            f"{counts['input_error']} with bad input, {counts['failed']} failed"
        )
        print(f"  wrote {args.out}/<town>/ and {args.out / BATCH_FILE} ({result.wall_s:.2f} s in all)")
    return result.exit_code


def _run_gap(args: argparse.Namespace) -> int:
    import json

    from .datasets.gap import solve_file
    from .errors import Issue

    if not args.instance.exists():
        raise InputError(Issue(str(args.instance), None, None, "file not found"))
    try:
        result = solve_file(args.instance, time_limit=args.time_limit, seed=args.seed, strategy=args.strategy)
    except ValueError as exc:  # malformed instance: the reader names the file and the token
        raise InputError(Issue(str(args.instance), None, None, str(exc))) from None
    print(json.dumps(result, sort_keys=True))
    return EXIT_OK


def _run_compare(args: argparse.Namespace) -> int:
    from .results.compare import compare

    comparison = compare(args.plan_a, args.plan_b)
    print(comparison.summary())
    if args.out is not None:
        path = comparison.write_differing(args.out)
        print(f"  wrote {path} ({comparison.num_differing:,} households)")
    return EXIT_OK


def _run_schema(args: argparse.Namespace) -> int:
    import json

    from .results.schemas import json_schema, schema_text

    if args.name == "all":
        every = {name: json_schema(name) for name in SCHEMA_NAMES}
        sys.stdout.write(json.dumps(every, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(schema_text(args.name))
    return EXIT_OK


def _run_geocode(args: argparse.Namespace) -> int:
    import os

    from .io import geocode

    geocoder = None
    if not args.offline:
        geocoder = geocode.make_geocoder(args.provider, args.key or os.environ.get(geocode.KEY_ENV) or None)
    locations = None
    if args.locations is not None:
        from .io.locations import Locations

        locations = Locations.from_csv(args.locations)
    try:
        result = geocode.geocode_file(
            args.table,
            geocoder=geocoder,
            provider=args.provider,
            address_column=args.address_column,
            out=args.out,
            cache=args.cache,
            locations=locations,
            overwrite=args.overwrite,
            retry_missing=args.retry_missing,
            min_delay_seconds=args.min_delay,
        )
    except geocode.GeocoderFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("interrupted: the answers so far are in the cache; run again to go on", file=sys.stderr)
        return EXIT_INTERNAL
    for miss in result.missing:
        print(f"not found: {miss.file}, row {miss.row}: {miss.address!r} ({miss.reason})", file=sys.stderr)
    if not args.quiet:
        counts = result.counts
        total = sum(counts.values())
        print(
            f"{args.table}: {total - counts['']:,} of {total:,} rows have coordinates "
            f"(input {counts['input']:,}, locations {counts['locations']:,}, cache {counts['cache']:,}, "
            f"provider {counts['provider']:,}); {len(result.missing):,} not found; "
            f"{result.lookups:,} requests to {args.provider if geocoder is not None else 'no provider'}"
        )
        if (
            args.provider.startswith("baidu")
            and counts["provider"] + counts["cache"]
            and counts["input"] + counts["locations"]
        ):
            system = "GCJ-02" if args.provider == geocode.BAIDU_GCJ02 else "BD-09"
            print(
                f"  note: Baidu gives {system} coordinates; the coordinates from the table or locations file must "
                f"be {system} too (picked on a map of that system), or points shift by hundreds of metres",
                file=sys.stderr,
            )
        print("  wrote " + ", ".join(str(p) for p in result.paths.values() if p.exists()))
    return EXIT_OK
