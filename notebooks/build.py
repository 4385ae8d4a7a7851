"""Build and run the notebooks.

The notebooks are written as Python scripts in ``notebooks/scripts/``
(percent format: ``# %%`` starts a code cell, ``# %% [markdown]`` a
Markdown cell whose lines start with ``# ``), so they review and diff like
code. This script turns them into ``notebooks/*.ipynb`` without outputs
(what is committed) and, with ``--execute``, runs them with nbclient into
an output folder.

    python notebooks/build.py                      # scripts -> notebooks/*.ipynb
    python notebooks/build.py --check              # fail if an .ipynb is out of date
    python notebooks/build.py --execute --out build/notebooks

The notebooks read ``BAOHU_NOTEBOOK_HOUSEHOLDS`` (default 12000) for their
town size; set it small for a quick run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
NOTEBOOKS = ("01-quickstart", "02-relocation-rebalance", "03-strategies")
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def convert(script: Path) -> nbformat.NotebookNode:
    """The notebook (no outputs) of one percent-format script."""
    cells: list[nbformat.NotebookNode] = []
    kind: str | None = None
    lines: list[str] = []

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if kind is not None and text:
            # Stable ids keep the committed files identical from one build to the next.
            cell_id = f"cell-{len(cells):02d}"
            if kind == "markdown":
                cells.append(nbformat.v4.new_markdown_cell(text, id=cell_id))
            else:
                cells.append(nbformat.v4.new_code_cell(text, id=cell_id))

    for line in script.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind is not None:
            lines.append(line)
    flush()
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = KERNEL
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def write_notebooks(check: bool = False) -> list[Path]:
    """Write (or, with ``check``, compare) every ``notebooks/NAME.ipynb``; returns the stale ones."""
    stale = []
    for name in NOTEBOOKS:
        target = HERE / f"{name}.ipynb"
        text = nbformat.writes(convert(SCRIPTS / f"{name}.py")) + "\n"
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            target.write_text(text, encoding="utf-8")
    return stale


def execute(name: str, out: Path, *, timeout: int = 900) -> nbformat.NotebookNode:
    """Run ``notebooks/NAME.ipynb`` with the current Python's kernel; write it, with outputs, to ``out``.

    The notebook runs with ``out`` as working directory, so the files it
    writes (``out/…``) and the map it shows stay beside the executed copy.
    """
    from nbclient import NotebookClient

    out.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.read(HERE / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(out)}},
        # The kernel's start-up notice about local TCP transport is noise here; errors still show.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    client.execute()
    nbformat.write(notebook, out / f"{name}.ipynb")
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the .ipynb files are up to date")
    parser.add_argument("--execute", action="store_true", help="also run every notebook")
    parser.add_argument("--out", type=Path, default=Path("build/notebooks"), help="folder for executed notebooks")
    parser.add_argument("names", nargs="*", default=list(NOTEBOOKS), help="notebooks to run (default all)")
    args = parser.parse_args(argv)
    stale = write_notebooks(check=args.check)
    if args.check:
        for path in stale:
            print(f"out of date: {path} (run python notebooks/build.py)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        print(f"wrote {path}")
    if args.execute:
        for name in args.names:
            started = time.perf_counter()
            execute(name, args.out.resolve())
            print(f"ran {name} in {time.perf_counter() - started:.1f} s -> {args.out / (name + '.ipynb')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
