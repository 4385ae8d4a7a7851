"""``baohu-assign serve`` without its extra, and the core package without the web framework."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from baohu_assign import cli


def test_serve_without_the_extra_says_how_to_install_it_and_exits_2(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    assert cli.main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "fastapi" in err and "pip install 'baohu-assign[serve]'" in err


def test_the_core_package_and_the_worker_side_do_not_import_the_web_framework():
    code = (
        "import sys, baohu_assign, baohu_assign.cli, baohu_assign.service.jobs, baohu_assign.service.store;"
        "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_serve_options_are_checked(capsys):
    for argv in (["serve", "--port", "70000"], ["serve", "--workers", "0"], ["serve", "--max-request-mb", "0"]):
        try:
            cli.main(argv)
        except SystemExit as exc:
            assert exc.code == 2
        else:
            raise AssertionError(f"{argv} was accepted")


def test_serve_listens_on_this_machine_only_unless_told():
    args = cli._parser().parse_args(["serve"])
    assert (args.host, args.port, args.workers, str(args.data)) == ("127.0.0.1", 8000, 1, "baohu-data")
    assert cli._parser().parse_args(["serve", "--host", "0.0.0.0"]).host == "0.0.0.0"
