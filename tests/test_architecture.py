"""Data flow one way: the package's modules import each other without a cycle, earlier stages never later ones.

Every ``import`` and ``from … import`` of every module counts, wherever it
stands: at the top, inside a function (a lazy import) or under
``if TYPE_CHECKING:`` (a type-only import): each is a dependency a reader
has to follow, and a cycle through any of them is a knot.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

import baohu_assign

PACKAGE = "baohu_assign"
ROOT = Path(baohu_assign.__file__).resolve().parent

STAGES: tuple[str, ...] = ("io", "model", "engines", "solving", "results", "visits", "outputs")
"""The pipeline's stages in the order data flows through them: a stage imports only itself and earlier ones."""
BASE = frozenset({f"{PACKAGE}.errors", f"{PACKAGE}._version"})
"""Importable by every module; they import nothing of the package but each other."""
DATASETS_MAY_IMPORT = frozenset({"io", "model", "engines", "datasets"})
"""Example and benchmark inputs are built from the input and model stages; a GAP instance is solved by an engine."""
ANYTHING = frozenset(
    {
        PACKAGE,
        f"{PACKAGE}.cli",
        f"{PACKAGE}.__main__",
        # From a town's files to its plan folder with the optional outputs: what `solve` and each town
        # of a batch run, shared by the command line and the batch runner.
        f"{PACKAGE}.runner",
        # Batches of towns (`batch`, solve_many): drives runner in worker processes and writes batch.json.
        f"{PACKAGE}.batch",
        # The HTTP job service (`serve`): the web app, its SQLite job store, and what its worker processes run
        # (runner's solve path, events, recommendations).
        f"{PACKAGE}.service",
        f"{PACKAGE}.service.app",
        f"{PACKAGE}.service.store",
        f"{PACKAGE}.service.jobs",
    }
)
"""Entry points: they may import anything, and no stage imports them."""

KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()
"""Edges that break the stage order today, each with why and what removes it. Never a cycle."""


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                # "from package import module" imports the module; "from module import name" the module.
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in modules else source)
    # "import a.b.c" depends on the deepest of its names that is one of our modules.
    resolved = set()
    for target in found:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        graph.add_edges_from((name, target) for target in _imported(name, path, modules))
    return graph


def _group(module: str) -> str:
    """``io`` … ``outputs``, ``datasets``, or the module itself for the top-level ones."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in (*STAGES, "datasets")) else module


def allowed(source: str, target: str) -> bool:
    """Whether module ``source`` may import module ``target`` (both full names)."""
    if source in ANYTHING:
        return True
    if target in BASE:
        return True
    if source in BASE or target in ANYTHING:
        return False
    from_group, to_group = _group(source), _group(target)
    if from_group == "datasets":
        return to_group in DATASETS_MAY_IMPORT
    if to_group == "datasets":
        return False
    return STAGES.index(to_group) <= STAGES.index(from_group)


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    return _graph()


def test_every_module_is_in_the_graph_with_its_imports(graph):
    assert f"{PACKAGE}.results.plan" in graph
    assert graph.has_edge(f"{PACKAGE}.results.plan", f"{PACKAGE}.results.report")
    # A module's own stage package and errors are modules too, found through "from .. import x".
    assert graph.has_edge(f"{PACKAGE}.solving.solve", f"{PACKAGE}.engines")
    assert all(_group(module) in (*STAGES, "datasets") or module in BASE | ANYTHING for module in graph)


def test_no_import_cycle(graph):
    cycles = sorted(nx.simple_cycles(graph), key=len)
    assert not cycles, "import cycles (lazy and type-only imports included):\n" + "\n".join(
        " -> ".join([*cycle, cycle[0]]) for cycle in cycles[:20]
    )


def test_earlier_stages_never_import_later_ones(graph):
    broken = sorted((a, b) for a, b in graph.edges if not allowed(a, b) and (a, b) not in KNOWN_EXCEPTIONS)
    assert not broken, "imports against the stage order io < model < engines < solving < results < outputs:\n" + (
        "\n".join(f"{a} -> {b}" for a, b in broken)
    )


def test_every_known_exception_is_still_needed(graph):
    """An exception whose edge is gone must go too, so the list never hides a new edge."""
    assert all(graph.has_edge(a, b) and not allowed(a, b) for a, b in KNOWN_EXCEPTIONS)


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("io.tables", "model.scenario", False),
        ("model.scenario", "io.tables", True),
        ("model.scenario", "results.diagnose", False),
        ("solving.solve", "results.plan", False),
        ("results.plan", "solving.result", True),
        ("results.plan", "outputs.roster", False),
        ("outputs.roster", "results.plan", True),
        ("io.geocode", "outputs.roster", False),
        ("engines.flow", "engines", True),
        ("engines", "solving.params", False),
        ("datasets.synth", "io.policy", True),
        ("datasets.synth", "model.problem", True),
        ("datasets.gap", "engines", True),
        ("datasets.gap", "solving.params", False),
        ("results.plan", "datasets.synth", False),
        ("results.plan", "errors", True),
        ("errors", "io.tables", False),
        ("cli", "outputs.roster", True),
        ("", "results.plan", True),
        ("results.plan", "", False),
        ("results.plan", "cli", False),
        ("__main__", "cli", True),
        ("batch", "outputs.roster", True),
        ("cli", "batch", True),
        ("results.plan", "runner", False),
        ("solving.solve", "batch", False),
        ("service.jobs", "runner", True),
        ("results.plan", "service.jobs", False),
        ("cli", "service", True),
    ],
)
def test_the_stage_rule(source, target, expected):
    def full(name: str) -> str:
        return f"{PACKAGE}.{name}" if name else PACKAGE

    assert allowed(full(source), full(target)) is expected
