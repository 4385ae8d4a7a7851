"""Merge several benchmark runs into one set of ``latest*.csv`` files for the report.

Run::

    .venv/bin/python benchmarks/merge.py --out benchmarks/results/latest.csv \\
        QUICK.csv TOWNS.csv PEERS.csv --gap GAP_1S.csv GAP_10S.csv GAP_60S.csv

A full run (``make bench``) takes longer than some machines can give at
once; this joins runs made separately, e.g. the quick set, the large towns
and a GAP run of ``gap_bench.py``. Rows are copied, never changed, except
``gap_pct`` and ``travel_vs_best_pct``, which are recomputed against the
best plan of each case over all merged runs (as ``bench.py`` does within
one run). A later file's row replaces an earlier one for the same (case,
strategy) or (instance, solver, limit). The machine file lists every part
with its command, date and load, so the report can say how each number
was measured. GAP rows from ``gap_bench.py`` were solved in one process
one after the other, so they carry no process time or peak memory.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import COLUMNS, GAP_COLUMNS, PHASE_COLUMNS, _write, add_gaps, sibling  # noqa: E402


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _merge(groups: list[list[dict[str, str]]], key: tuple[str, ...]) -> list[dict[str, object]]:
    """Rows of every group in order; a later row replaces an earlier one with the same key."""
    merged: dict[tuple[str, ...], dict[str, object]] = {}
    for rows in groups:
        for row in rows:
            merged[tuple(row.get(k, "") for k in key)] = dict(row)
    return list(merged.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="results CSVs of bench.py (siblings are read too)")
    parser.add_argument("--gap", nargs="*", type=Path, default=[], help="CSVs written by gap_bench.py --out")
    parser.add_argument(
        "--gap-note",
        default="benchmarks/gap_bench.py, all solvers in one process",
        help="how the --gap files were produced (shown in the report)",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    missing = [p for p in [*args.runs, *args.gap] if not p.exists()]
    if missing:
        parser.error(f"not found: {', '.join(map(str, missing))}")

    rows = _merge([_read(p) for p in args.runs], ("case", "strategy"))
    # Only a case's own plans are compared; stale gaps from a single part must not survive.
    for row in rows:
        row["gap_pct"] = row["travel_vs_best_pct"] = row["gap_reference"] = ""
    add_gaps(rows)
    phases = _merge([_read(sibling(p, "phases")) for p in args.runs], ("case", "strategy", "phase"))
    gap = _merge(
        [*(_read(sibling(p, "gap")) for p in args.runs), *(_read(p) for p in args.gap)],
        ("instance", "solver", "limit_s"),
    )

    info: dict[str, str] = {}
    parts = []
    for path in args.runs:
        part = {r["key"]: r["value"] for r in _read(sibling(path, "machine"))}
        info = {**part, **info}  # machine and versions from the first part that has them
        if part.get("mode") == "merged" and part.get("parts"):
            parts.extend(part["parts"].split(" | "))  # an earlier merge: list the runs it was made of
            continue
        parts.append(
            f"{part.get('command', path.name)} at {part.get('date', '?')}, commit {part.get('commit', '?')}"
            f"{' with uncommitted changes' if part.get('uncommitted_changes') == 'yes' else ''}, "
            f"load {part.get('load_before', '?')} before and {part.get('load_after', '?')} after, "
            f"{part.get('total_s', '?')} s"
        )
    if args.gap:
        parts.append(f"{args.gap_note}: {', '.join(p.name for p in args.gap)}")
    info.update(mode="merged", command="merge.py of " + str(len(parts)) + " parts", parts=" | ".join(parts))
    for key in ("load_before", "load_after", "total_s"):
        info.pop(key, None)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    _write(args.out, COLUMNS, rows)
    _write(sibling(args.out, "phases"), PHASE_COLUMNS, phases)
    _write(sibling(args.out, "gap"), GAP_COLUMNS, gap)
    _write(sibling(args.out, "machine"), ["key", "value"], [{"key": k, "value": v} for k, v in info.items()])
    print(
        f"merged {len(rows)} case rows, {len(gap)} GAP rows and {len(phases)} phase rows into {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
