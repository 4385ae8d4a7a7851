"""The notebooks are up to date with their scripts and run end to end on small towns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]


def _build_module():
    spec = importlib.util.spec_from_file_location("notebooks_build", ROOT / "notebooks" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()


def test_committed_notebooks_match_their_scripts():
    stale = build.write_notebooks(check=True)
    assert not stale, f"run `python notebooks/build.py`: {stale} out of date"
    import nbformat

    for name in build.NOTEBOOKS:
        notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), name


@pytest.mark.slow
@pytest.mark.parametrize("name", build.NOTEBOOKS)
def test_notebook_runs_and_shows_a_figure_or_html(name, tmp_path, monkeypatch):
    monkeypatch.setenv("BAOHU_NOTEBOOK_HOUSEHOLDS", "600")
    notebook = build.execute(name, tmp_path, timeout=120)
    rich = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if {"image/png", "text/html"} & set(output.get("data", {}))
    ]
    assert rich, f"{name} produced no image or HTML output"
    assert any("image/png" in output["data"] for output in rich), f"{name} drew no figure"
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert (tmp_path / f"{name}.ipynb").exists()
