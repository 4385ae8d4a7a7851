"""The same town as UTF-8, UTF-8 with BOM and GBK gives the same plan, names intact."""

from __future__ import annotations

import pandas as pd
import pytest

import baohu_assign as ba
from baohu_assign.cli import main


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "gb18030"])
def test_same_plan_whatever_the_encoding(tmp_path, encoding):
    town = ba.synth.make_town(8, households=500, branches=4)
    members, households = town.write_csv(tmp_path / "utf8")
    encoded = tmp_path / encoding
    encoded.mkdir()
    for path in (members, households):
        (encoded / path.name).write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    outputs = {}
    for name, folder in (("utf8", tmp_path / "utf8"), (encoding, encoded)):
        out = tmp_path / f"out-{name}"
        assert (
            main(
                [
                    "solve",
                    str(folder / "members.csv"),
                    str(folder / "households.csv"),
                    "--out",
                    str(out),
                    "--quiet",
                    "--objective",
                    "distance",
                ]
            )
            == 0
        )
        outputs[name] = (out / "assignments.csv").read_bytes()
    assert outputs["utf8"] == outputs[encoding]
    frame = pd.read_csv(tmp_path / "out-utf8" / "assignments.csv", encoding="utf-8-sig", dtype=str)
    assert frame["head_name"].str.contains("[\u4e00-\u9fff]").all()
    assert set(frame["household_id"]) == set(town.households["household_id"])
