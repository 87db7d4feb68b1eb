"""The house by layer: imports only point down, no cycles, torch only behind the [train] extra.

The graph is read from the source (every import statement, also those inside functions, which
is where the lazy imports live), so a lazy `import torch` in the service fails here too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "prettymeter"
TORCH = {"torch", "torchvision", "facenet_pytorch", "safetensors", "onnxscript"}
MAX_LINES = 420


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, module: str | None = None) -> set[str]:
    """Every module name an import statement in the file names, relative imports resolved.

    `module` is the file's dotted name (from `module_name` when not given); a relative import
    `from ..data import tables` inside `prettymeter.core_thing` counts as `prettymeter.data.tables`.
    """
    module = module if module is not None else module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            if source:
                found.add(source)
            # `from prettymeter.data import tables` names the module prettymeter.data.tables
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the modules of ours it imports and the top-level names of others it imports."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        named = imports_of(path, name)
        edges[name] = {m for m in named if m in modules and m != name} | {
            m.split(".")[0] for m in named if not m.startswith("prettymeter")
        }
    return edges


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("data", "training", "serve", "cli"):
        return parts[1]
    if parts[-1] == "demo":
        return "demo"
    if parts[-1] == "__main__":
        return "cli"
    return "core"


def test_the_folder_tree_shows_the_layers() -> None:
    for package in ("data", "training", "serve", "cli", "faces"):
        assert (PACKAGE / package / "__init__.py").is_file(), package


def test_the_core_data_and_serve_never_import_training_or_torch(graph: dict) -> None:
    for module, imported in graph.items():
        if layer(module) in ("core", "data", "serve"):
            training = {m for m in imported if m.startswith("prettymeter.training")}
            assert not training, f"{module} imports {sorted(training)}"
            assert not imported & TORCH, f"{module} imports {sorted(imported & TORCH)}"


# Which layer may import which. The core (file formats `tables`, `labels`, `photo` included)
# sits below `data/`: nothing in the core — `batch/` and `predict` among it — or in `serve/`
# imports a data stage; only training, the demo and the CLI drive the stages.
ALLOWED = {
    "core": {"core"},
    "data": {"core", "data"},
    "training": {"core", "data", "training"},
    "serve": {"core", "serve"},
    "demo": {"core", "data", "training", "demo"},
    "cli": {"core", "data", "training", "serve", "demo", "cli"},
}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every `module → target` edge whose target's layer the module's layer may not import."""
    return [
        f"{module} → {target}"
        for module, imported in sorted(graph.items())
        for target in sorted(imported)
        if target.startswith("prettymeter.") and layer(target) not in ALLOWED[layer(module)]
    ]


def test_imports_only_point_down(graph: dict) -> None:
    assert not upward_imports(graph)
    # and the torch-free core below data never reaches up into it
    low = ("prettymeter.errors", "prettymeter.console", "prettymeter.io", "prettymeter.imaging")
    for module in low:
        assert not {m for m in graph[module] if layer(m) != "core"}, module


def test_the_layer_check_catches_a_planted_core_to_data_import(tmp_path: Path) -> None:
    """A tiny fake package with one absolute and one relative core → data import, one lazy."""
    package = tmp_path / "prettymeter"
    (package / "data").mkdir(parents=True)
    (package / "batch").mkdir()
    for init in (package, package / "data", package / "batch"):
        (init / "__init__.py").write_text("", encoding="utf-8")
    (package / "data" / "ingest.py").write_text("from prettymeter import tables\n", "utf-8")
    (package / "tables.py").write_text("import json\n", encoding="utf-8")
    (package / "verification.py").write_text(
        "def f():\n    from prettymeter.data.ingest import x\n", encoding="utf-8"
    )
    (package / "batch" / "sources.py").write_text("from ..data import ingest\n", "utf-8")
    found = upward_imports(import_graph(package))
    assert found == [
        "prettymeter.batch.sources → prettymeter.data",
        "prettymeter.batch.sources → prettymeter.data.ingest",
        "prettymeter.verification → prettymeter.data.ingest",
    ], found


# The core from the bottom up: a core module imports only core modules of its own rank or below.
# `contract` (the facts training and inference share) sits lowest; the loaded model
# (`rating_model`) sits on the photo path pieces (`inference`) and the engines (`scoring`), and
# everything that scores wraps it: `predict` and `batch` here, `serve` and `training` above.
CORE_RANKS: list[tuple[str, ...]] = [
    ("errors", "contract", "console", "hardware", "memory"),
    ("io", "imaging", "tables"),
    ("card", "faces", "probes", "labels", "photo", "parts"),
    ("scoring",),
    ("inference", "every_face", "explain"),
    ("rating_model", "verification"),
    ("predict", "batch"),
]


def core_rank(module: str) -> int:
    top = module.split(".")[1]
    ranks = [i for i, names in enumerate(CORE_RANKS) if top in names]
    assert ranks, f"{module} has no place in CORE_RANKS; add it where it belongs"
    return ranks[0]


def test_the_core_imports_only_point_down(graph: dict) -> None:
    for module, imported in graph.items():
        if layer(module) != "core" or module == "prettymeter":  # the package: its lazy API
            continue
        for target in imported:
            if target.startswith("prettymeter.") and layer(target) == "core":
                assert core_rank(target) <= core_rank(module), f"{module} → {target}"


def test_the_contract_imports_nothing_of_ours_but_the_errors(graph: dict) -> None:
    ours = {m for m in graph["prettymeter.contract"] if m.startswith("prettymeter")}
    assert ours <= {"prettymeter.errors"}, ours


def test_there_are_no_import_cycles(graph: dict) -> None:
    package_inits = {m for m in graph if (PACKAGE.parent / m.replace(".", "/")).is_dir()}
    edges = {
        m: {t for t in targets if t in graph and t not in package_inits}
        for m, targets in graph.items()
        if m not in package_inits
    }
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycle = [*trail[trail.index(target) :], target] if target in trail else [target]
                pytest.fail("import cycle: " + " → ".join([*cycle]))
            if target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


def test_no_module_is_over_the_size_a_reader_takes_in_at_once() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
