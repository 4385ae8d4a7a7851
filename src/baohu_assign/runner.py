"""One town's input files and the solve options in, its plan folder out: what ``solve`` and every town of ``batch`` do.

The command line (:mod:`baohu_assign.cli`) and the batch runner
(:mod:`baohu_assign.batch`) share this one path, so a town solved on its own
and the same town solved in a batch give the same plan folder. Everything
here is plain data (paths, strings, numbers, a :class:`~baohu_assign.Policy`)
so a batch can send it to another process or machine.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, Issue
from .io.policy import Policy
from .results.plan import FOLDER_FILES

if TYPE_CHECKING:
    import pandas as pd

    from .model.scenario import Scenario
    from .results.plan import Plan
    from .visits import VisitPlan

__all__ = [
    "RunOptions",
    "RunOutcome",
    "TownFiles",
    "load_policy",
    "plan_in_force",
    "run_plan",
    "run_scenario",
    "town_policy",
]

TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")
"""Suffixes a town folder's tables may have (read alike, see ``read_table``)."""
NETWORK_SUFFIXES = (".graphml", ".csv")
"""Suffixes of a town folder's walking network (``--network``)."""


@dataclass(frozen=True, slots=True)
class TownFiles:
    """A town's input files: the two tables and the optional policy, place hierarchy and walking network."""

    members: Path
    households: Path
    locations: Path | None = None
    network: Path | None = None
    policy: Path | None = None

    @classmethod
    def from_folder(cls, folder: str | Path) -> TownFiles:
        """The files of a town folder, by name: ``members``, ``households`` (``.csv``, ``.xlsx`` or ``.parquet``),
        optional ``locations`` (``.csv``/``.xlsx``/``.parquet``), ``network`` (``.graphml``/``.csv``), ``policy.toml``.

        Raises
        ------
        InputError
            ``members`` or ``households`` is missing, or a name is there with two suffixes.
        """
        base = Path(folder)
        members = _one_of(base, "members", TABLE_SUFFIXES, required=True)
        households = _one_of(base, "households", TABLE_SUFFIXES, required=True)
        assert members is not None and households is not None
        policy = base / "policy.toml"
        return cls(
            members=members,
            households=households,
            locations=_one_of(base, "locations", TABLE_SUFFIXES, required=False),
            network=_one_of(base, "network", NETWORK_SUFFIXES, required=False),
            policy=policy if policy.is_file() else None,
        )

    def paths(self) -> list[Path]:
        """Every file given, in the order of the fields."""
        return [value for value in (getattr(self, f.name) for f in fields(self)) if value is not None]


def _one_of(folder: Path, stem: str, suffixes: tuple[str, ...], *, required: bool) -> Path | None:
    found = [folder / f"{stem}{suffix}" for suffix in suffixes if (folder / f"{stem}{suffix}").is_file()]
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise InputError(Issue(str(folder), None, None, f"holds both {names}: keep one of them"))
    if not found and required:
        names = " or ".join(f"{stem}{suffix}" for suffix in suffixes)
        raise InputError(Issue(str(folder), None, None, f"no {names} in this town folder"))
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The options of ``solve`` (and ``rebalance``, ``demo``, ``batch``) that decide a plan folder.

    Attributes
    ----------
    objective, strategy, time_limit, seed
        As for :func:`~baohu_assign.solve`.
    policy
        A :class:`~baohu_assign.Policy`, a ``policy.toml`` path, or ``None``
        (defaults). A town folder's own ``policy.toml`` takes its place.
    backup
        Priorities that also get a backup member, comma-separated
        (``--backup``); ``None``: as the policy says.
    xlsx, map, tile_url, visits, leaders
        The optional outputs (``--xlsx``, ``--map``, ``--tile-url``, ``--visits``, ``--leaders``).
    parquet
        Also write the plan tables as Parquet (``--parquet``; :meth:`Plan.write <baohu_assign.Plan.write>`).
    num_workers
        Threads CP-SAT may use (:attr:`SolveParams.num_workers <baohu_assign.SolveParams.num_workers>`);
        ``None``: its default. Without a time limit the plan does not depend on it.
    """

    objective: str = "balanced"
    strategy: str = "auto"
    time_limit: float | None = None
    seed: int = 0
    policy: Policy | Path | None = None
    backup: str | None = None
    xlsx: bool = False
    map: bool = False
    tile_url: str | None = None
    visits: bool = False
    leaders: bool = False
    num_workers: int | None = None
    parquet: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunOptions:
        """The options a parsed command line gives (options a command lacks keep their defaults)."""
        given = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        return cls(**given)

    def fingerprint(self, *, paths: bool = True) -> dict[str, Any]:
        """The options that decide a plan, as JSON-ready values: a policy file by its text (and its path
        unless ``paths`` is false, so that a moved policy file with the same text fingerprints the same)."""
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "num_workers"}
        if not self.parquet:
            del values["parquet"]  # an option added later: runs without it fingerprint as before
        if isinstance(self.policy, Policy):
            values["policy"] = self.policy.model_dump(mode="json")
        elif isinstance(self.policy, Path):
            values["policy"] = {"text": _file_text(self.policy), **({"file": str(self.policy)} if paths else {})}
        return values


def _file_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None


@dataclass(frozen=True, slots=True, eq=False)
class RunOutcome:
    """What :func:`run_plan` made: the plan, the leaders (``--leaders``), the week (``--visits``) and the files."""

    plan: Plan
    leaders: pd.DataFrame | None
    paths: dict[str, Path]
    visits: VisitPlan | None = None


def load_policy(path: Path | None) -> Policy:
    """The policy of a ``policy.toml`` (defaults for ``None``); InputError naming file and key when it is bad."""
    if path is None:
        return Policy()
    from pydantic import ValidationError

    from .io.policy import policy_issues

    try:
        return Policy.from_toml(path)
    except FileNotFoundError:
        raise InputError(Issue(str(path), None, None, "policy file not found")) from None
    except ValidationError as exc:
        raise InputError(policy_issues(exc, str(path))) from None
    except ValueError as exc:  # TOML syntax
        raise InputError(Issue(str(path), None, None, f"not a valid TOML file: {exc}")) from None


def town_policy(options: RunOptions, policy_file: Path | None = None) -> Policy:
    """The policy a run uses: ``policy_file`` (a town's own), else ``options.policy``, with ``--backup`` applied.

    Raises
    ------
    InputError
        The policy file is bad, or ``backup`` names an unknown priority.
    """
    if policy_file is not None or not isinstance(options.policy, Policy):
        policy = load_policy(policy_file if policy_file is not None else options.policy)  # type: ignore[arg-type]
    else:
        policy = options.policy
    if options.backup:
        tiers = tuple(t.strip() for t in options.backup.split(",") if t.strip())
        from pydantic import ValidationError

        try:
            policy = Policy.model_validate({**policy.model_dump(), "backup_tiers": tiers})
        except ValidationError as exc:
            message = "; ".join(err["msg"] for err in exc.errors())
            raise InputError(Issue("--backup", None, None, message)) from None
    return policy


def check_leaders(options: RunOptions, locations: Path | None) -> None:
    """``--leaders`` needs a place hierarchy: InputError without one."""
    if options.leaders and locations is None:
        raise InputError(
            Issue(
                "--leaders",
                None,
                None,
                "needs --locations FILE: leaders are chosen per building and compound of the place hierarchy",
            )
        )


def run_plan(
    files: TownFiles,
    out: Path,
    options: RunOptions,
    *,
    policy: Policy,
    command: str = "solve",
    current: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Read a town, solve (or rebalance) it, and write its plan folder as one unit (:meth:`Plan.write`).

    ``policy`` is what :func:`town_policy` gives; ``command`` ``"rebalance"``
    repairs today's assignment (from ``current``, a plan folder, when given);
    ``cancel`` as :attr:`SolveParams.cancel <baohu_assign.SolveParams.cancel>`.
    """
    from .model.scenario import Scenario

    check_leaders(options, files.locations)
    refuse_overwrite(
        out,
        [files.members, files.households, *([files.network] if files.network else [])]
        + ([files.locations] if files.locations else []),
    )
    scenario = Scenario.from_csv(
        files.members, files.households, policy=policy, network=files.network, locations=files.locations
    )
    return run_scenario(scenario, out, options, command=command, current=current, progress=progress, cancel=cancel)


def run_scenario(
    scenario: Scenario,
    out: Path,
    options: RunOptions,
    *,
    command: str = "solve",
    current: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Solve (or rebalance) a validated scenario and write its plan folder with the optional outputs.

    What :func:`run_plan` does once the town is read; the service calls it
    with a scenario of JSON records. ``options.policy`` is not used (the
    scenario carries its policy).
    """
    from .results.planning import rebalance, solve
    from .solving.params import SolveParams

    params = None
    if options.num_workers is not None or cancel is not None:
        params = SolveParams(
            **({} if options.num_workers is None else {"num_workers": options.num_workers}), cancel=cancel
        )
    solver = rebalance if command == "rebalance" else solve
    extra_args: dict[str, Any] = {"current": current} if command == "rebalance" else {}
    plan = solver(
        scenario,
        objective=options.objective,
        strategy=options.strategy,
        time_limit=options.time_limit,
        seed=options.seed,
        params=params,
        progress=progress,
        **extra_args,
    )
    if progress is not None:
        progress("writing", 0, 0)
    # Every file of the run goes into the folder in one unit (Plan.write): never half old, half new.
    extra: dict[str, str | bytes] = {}
    leaders = None
    visits = None
    if options.visits:
        from .visits import plan_visits

        visits = plan_visits(plan)
        extra.update(visits.files())
    if options.leaders:
        from .outputs.leaders import choose_leaders, leaders_csv

        leaders = choose_leaders(scenario)
        extra["leaders.csv"] = leaders_csv(leaders)
    if options.xlsx:
        from .outputs.roster import roster_bytes

        extra["roster.xlsx"] = roster_bytes(plan, leaders=leaders, visits=visits)
    if options.map or options.tile_url:
        from .outputs.webmap import map_html

        extra["map.html"] = map_html(plan, tile_url=options.tile_url, visits=visits)
    paths = plan.write(out, extra=extra, parquet=options.parquet)
    return RunOutcome(plan=plan, leaders=leaders, paths=paths, visits=visits)


def plan_in_force(scenario: Scenario, current: Path) -> tuple[Plan, bool]:
    """The plan of the plan folder ``current``, rebuilt on ``scenario`` (the inputs it was solved with).

    The folder's objective, strategy and seed (report.json) are solved again;
    when that does not give the folder's plan (other inputs, or a search cut
    short by a time limit or a cancel), its contacts are taken by a min-churn
    :func:`~baohu_assign.rebalance` with ``current`` instead.

    Returns
    -------
    tuple
        The plan, and whether it is the folder's own plan (same plan id).

    Raises
    ------
    InputError
        ``current`` is not a readable plan folder.
    """
    from .results.plan import read_plan_folder
    from .results.planning import rebalance, solve

    folder = read_plan_folder(current)
    report = folder.report
    seed = int(report.get("seed", 0))
    plan = solve(
        scenario,
        objective=str(report.get("objective", "balanced")),
        strategy=str(report.get("strategy", "auto")),
        seed=seed,
    )
    if folder.plan_id is not None and plan.plan_id == folder.plan_id:
        return plan, True
    return rebalance(scenario, current=current, objective="min-churn", seed=seed), False


def refuse_overwrite(out: Path, inputs: list[Path]) -> None:
    """InputError when the plan folder ``out`` would replace an input file."""
    targets = {(out / name).resolve() for name in FOLDER_FILES} | {out.resolve()}
    for path in inputs:
        if path.resolve() in targets:
            raise InputError(
                Issue(str(out), None, None, f"--out would overwrite the input file {path}; choose another folder")
            )
