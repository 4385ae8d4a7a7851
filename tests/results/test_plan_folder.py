"""A plan folder is written whole or not at all, checked on reading, and its files follow the umask."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import baohu_assign as ba
import baohu_assign.io.atomic as atomic_module
from baohu_assign.cli import main
from baohu_assign.results.plan import FOLDER_FILES, read_plan_folder

POSIX = os.name == "posix"


@pytest.fixture(scope="module")
def two_plans():
    """Two different plans of one town (another objective and seed): A written first, then B over it."""
    town = ba.synth.make_town(5, households=400, branches=3)
    scenario = ba.Scenario.from_frames(town.members, town.households)
    first = ba.solve(scenario, objective="distance", seed=1)
    second = ba.solve(scenario, objective="balanced", seed=2)
    assert first.plan_id != second.plan_id
    return first, second


def _snapshot(folder: Path) -> dict[str, bytes] | None:
    """Every file under ``folder`` (relative path -> bytes); None when the folder is absent."""
    if not folder.exists():
        return None
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _user_files(folder: Path) -> None:
    """Files the writer does not own: a note and a sub-folder (like `demo`'s input/)."""
    (folder / "notes.txt").write_text("电话簿在柜子里", encoding="utf-8")
    (folder / "input").mkdir()
    (folder / "input" / "households.csv").write_text("household_id\n1\n", encoding="utf-8")


def _write_a(first: ba.Plan, folder: Path) -> None:
    first.write(folder, extra={"map.html": "<html>map of plan A</html>"})
    _user_files(folder)


# Every step of the writer that changes the file system; a kill can come before or after each.
STEPS = ("_write_new", "_carry_entry", "_swap", "_remove_tree", "_fsync_dir")


def _count_steps(monkeypatch, target: Path, second: ba.Plan) -> int:
    calls = []
    for name in STEPS:
        real = getattr(atomic_module, name)

        def counted(*args, _real=real, **kwargs):
            calls.append(1)
            return _real(*args, **kwargs)

        monkeypatch.setattr(atomic_module, name, counted)
    second.write(target)
    monkeypatch.undo()
    return len(calls)


def _killed_child(folder: Path, second: ba.Plan, kill_at: int, after: bool, exchange: bool) -> int:
    """Fork; the child writes ``second`` into ``folder`` and dies (os._exit, no clean-up) at step ``kill_at``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            count = [0]
            for name in STEPS:
                real = getattr(atomic_module, name)

                def step(*args, _real=real, **kwargs):
                    count[0] += 1
                    if count[0] == kill_at and not after:
                        os._exit(9)
                    result = _real(*args, **kwargs)
                    if count[0] == kill_at and after:
                        os._exit(9)
                    return result

                setattr(atomic_module, name, step)
            if not exchange:
                atomic_module._exchange = lambda a, b: False
                real_rename = os.rename

                def rename(a, b):  # the swap without exchange renames three times: kill between them too
                    count[0] += 1
                    if count[0] == kill_at:
                        os._exit(9)
                    real_rename(a, b)

                atomic_module.os.rename = rename
            second.write(folder)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(not POSIX or not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "rename-aside"])
def test_killed_at_every_step_the_folder_is_the_old_plan_or_the_new_one(two_plans, tmp_path, monkeypatch, exchange):
    first, second = two_plans
    # What "the new plan, whole" looks like: B written over A with the user's files carried.
    reference = tmp_path / "reference"
    _write_a(first, reference)
    old_state = _snapshot(reference)
    steps = _count_steps(monkeypatch, reference, second)
    new_state = _snapshot(reference)
    assert "map.html" in old_state and "map.html" not in new_state, "B does not write a map: A's must go"
    assert new_state["notes.txt"] == old_state["notes.txt"]
    assert new_state["input/households.csv"] == old_state["input/households.csv"]
    assert steps >= 6
    outcomes = set()
    for kill_at in range(1, steps + 4):
        for after in (False, True):
            root = tmp_path / f"k{kill_at}{'a' if after else 'b'}"
            root.mkdir()
            folder = root / "plan"
            _write_a(first, folder)
            code = _killed_child(folder, second, kill_at, after, exchange)
            state = _snapshot(folder)
            if state is None:
                # Only between the two renames of a swap without exchange: the old plan waits aside,
                # and the next write puts it back before replacing it.
                assert not exchange
                aside = list(root.glob(".plan.writing-*-old"))
                assert len(aside) == 1 and _snapshot(aside[0]) == old_state
                outcomes.add("absent")
            else:
                assert state in (old_state, new_state), f"mixed folder after a kill at step {kill_at}"
                outcomes.add("old" if state == old_state else "new")
                assert read_plan_folder(folder).plan_id in (first.plan_id, second.plan_id)
            if code == 9:
                outcomes.add("killed")
            # The next write recovers: leftovers gone, the new plan whole.
            second.write(folder)
            assert _snapshot(folder) == new_state
            assert sorted(p.name for p in root.iterdir()) == ["plan"]
    assert {"old", "new", "killed"} <= outcomes


@pytest.mark.skipif(not POSIX, reason="kill -9 is POSIX")
def test_kill_9_while_writing_a_plan_leaves_one_whole_plan(tmp_path):
    """A real `kill -9` of `baohu-assign solve --xlsx --map` while it writes over an earlier plan."""
    inputs = [
        ba.synth.make_town(seed, households=1_500, branches=6).write_csv(tmp_path / f"town{seed}") for seed in (7, 8)
    ]
    folder = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(atomic_module.__file__).parents[2])}

    def command(town: int) -> list[str]:
        members, households = inputs[town]
        return [
            sys.executable,
            "-m",
            "baohu_assign",
            "solve",
            str(members),
            str(households),
            "--out",
            str(folder),
            "--objective",
            "distance",
            "--strategy",
            "flow",
            "--xlsx",
            "--map",
            "--quiet",
        ]

    subprocess.run(command(0), check=True, env=env, timeout=600)
    assert read_plan_folder(folder).plan_id is not None
    (folder / "notes.txt").write_text("kept", encoding="utf-8")
    killed = False
    for attempt in range(4):
        proc = subprocess.Popen(command((attempt + 1) % 2), env=env)
        while proc.poll() is None:
            if any(tmp_path.glob(".out.writing-*")):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.0002)
        proc.wait(timeout=600)
        killed = proc.returncode == -signal.SIGKILL
        plan = read_plan_folder(folder)  # refuses a folder whose files disagree
        owned = {p.name for p in folder.iterdir() if p.name in FOLDER_FILES}
        assert owned == {"report.json", *plan.report["files"]}, "an owned file outside the plan"
        assert {"roster.xlsx", "map.html"} <= owned
        assert (folder / "notes.txt").read_text(encoding="utf-8") == "kept"
        if killed:
            break  # otherwise the write won the race: try again over it
    assert killed, "the writer was never caught writing"


def test_a_stale_owned_file_goes_with_the_old_plan_and_user_files_stay(two_plans, tmp_path):
    first, second = two_plans
    folder = tmp_path / "plan"
    _write_a(first, folder)
    paths = second.write(folder)
    assert not (folder / "map.html").exists()
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "电话簿在柜子里"
    assert (folder / "input" / "households.csv").exists()
    assert set(paths) == {"assignments", "members", "report"}
    assert paths["assignments"] == folder / "assignments.csv"


def test_report_carries_the_plan_id_and_the_digest_of_every_file(two_plans, tmp_path):
    first, _ = two_plans
    first.write(tmp_path / "a", extra={"roster.xlsx": b"xlsx bytes"})
    report = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
    assert report["plan_id"] == first.plan_id and len(first.plan_id) == 16
    assert set(report["files"]) == {"assignments.csv", "members.csv", "roster.xlsx"}
    folder = read_plan_folder(tmp_path / "a")
    assert folder.plan_id == first.plan_id
    assert len(folder.assignments) == len(first.assignments)


def test_the_same_input_and_seed_give_the_same_plan_id_and_bytes(tmp_path):
    town = ba.synth.make_town(5, households=300, branches=3)
    plans = [ba.solve(ba.Scenario.from_frames(town.members, town.households), seed=4) for _ in range(2)]
    assert plans[0].plan_id == plans[1].plan_id
    for index, plan in enumerate(plans):
        plan.write(tmp_path / str(index))
    for name in ("assignments.csv", "members.csv"):
        assert (tmp_path / "0" / name).read_bytes() == (tmp_path / "1" / name).read_bytes()


@pytest.mark.parametrize("foreign", ["assignments.csv", "members.csv", "report.json", "roster.xlsx"])
def test_compare_refuses_a_folder_whose_files_come_from_two_plans(two_plans, tmp_path, capsys, foreign):
    first, second = two_plans
    roster = {"roster.xlsx": b"roster of A"}
    first.write(tmp_path / "a", extra=roster)
    second.write(tmp_path / "b", extra={"roster.xlsx": b"roster of B"})
    mixed = tmp_path / "mixed"
    shutil.copytree(tmp_path / "a", mixed)
    shutil.copy(tmp_path / "b" / foreign, mixed / foreign)
    assert main(["compare", str(tmp_path / "a"), str(mixed)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "do not belong to one plan" in err
    with pytest.raises(ba.InputError, match="one plan"):
        read_plan_folder(mixed)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0


def test_a_file_listed_in_the_report_but_missing_is_refused(two_plans, tmp_path):
    first, _ = two_plans
    first.write(tmp_path / "a", extra={"map.html": "<html></html>"})
    (tmp_path / "a" / "map.html").unlink()
    with pytest.raises(ba.InputError, match=r"map\.html"):
        read_plan_folder(tmp_path / "a")


def test_extra_files_must_be_plan_folder_files(two_plans, tmp_path):
    first, _ = two_plans
    for name in ("report.json", "../escape.csv", "notes.txt"):
        with pytest.raises(ValueError, match="extra"):
            first.write(tmp_path / "a", extra={name: "x"})
    assert not (tmp_path / "a").exists()


def test_the_current_folder_is_refused(two_plans, tmp_path, monkeypatch):
    first, _ = two_plans
    (tmp_path / "inside").mkdir()
    monkeypatch.chdir(tmp_path / "inside")
    for target in (".", ".."):
        with pytest.raises(ba.InputError, match="current folder"):
            first.write(target)
    assert list((tmp_path / "inside").iterdir()) == []


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_and_the_folder_follow_the_umask(two_plans, tmp_path, umask):
    from baohu_assign.outputs.roster import write_roster

    first, _ = two_plans
    previous = os.umask(umask)
    try:
        first.write(tmp_path / "plan", extra={"map.html": "<html></html>"})
        write_roster(first, tmp_path / "alone.xlsx")
    finally:
        os.umask(previous)
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "plan") == 0o777 & ~umask
    for name in ("assignments.csv", "members.csv", "report.json", "map.html"):
        assert mode(tmp_path / "plan" / name) == 0o666 & ~umask, name
    assert mode(tmp_path / "alone.xlsx") == 0o666 & ~umask


@pytest.mark.skipif(not POSIX, reason="POSIX file modes")
def test_replacing_a_folder_keeps_its_mode(two_plans, tmp_path):
    first, second = two_plans
    first.write(tmp_path / "plan")
    os.chmod(tmp_path / "plan", 0o750)
    second.write(tmp_path / "plan")
    assert stat.S_IMODE((tmp_path / "plan").stat().st_mode) == 0o750


def test_the_command_writes_roster_and_map_in_the_same_unit(tmp_path, capsys):
    town = ba.synth.make_town(6, households=300, branches=3)
    members, households = town.write_csv(tmp_path / "input")
    out = tmp_path / "out"
    argv = ["solve", str(members), str(households), "--out", str(out), "--quiet", "--objective", "distance"]
    assert main([*argv, "--xlsx", "--map"]) == 0
    files = read_plan_folder(out).report["files"]
    assert {"roster.xlsx", "map.html"} <= set(files)
    assert main(argv) == 0  # again without them: the old roster and map go with the old plan
    assert not (out / "roster.xlsx").exists() and not (out / "map.html").exists()


@pytest.mark.parametrize(
    "option", [["--time-limit", "-1"], ["--time-limit", "nan"], ["--seed", "-3"], ["--seed", "1.5"]]
)
def test_the_command_refuses_bad_seeds_and_time_limits_with_exit_2(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as exit_info:
        main(["solve", "m.csv", "h.csv", "--out", str(tmp_path / "out"), *option])
    assert exit_info.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_a_parent_that_cannot_be_written_is_a_clear_input_error(two_plans, tmp_path, monkeypatch):
    first, _ = two_plans
    real_mkdir = os.mkdir

    def denied(path, mode=0o777):  # as in a parent folder without write permission (root ignores chmod)
        if ".writing-" in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        real_mkdir(path, mode)

    monkeypatch.setattr(atomic_module.os, "mkdir", denied)
    with pytest.raises(ba.InputError, match="permission denied"):
        first.write(tmp_path / "plan")
