"""The house's floors: every import in the package, checked against one table of layers.

Each package (or module) of the project stands on one layer; code may import from its own layer and the layers
below it, never from a layer above, and no two files may import each other in a loop. Every import counts: at
module level, inside functions, under ``TYPE_CHECKING`` and through ``importlib.import_module``/``__import__`` with
a literal name. The same table stands in the README's layout section (docs/architecture.md explains it); the last
test holds the two together.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (layer, name, modules): a module belongs to the longest prefix listed. Layer numbers grow upwards.
LAYERS: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "backbone", ("fastvit_backbone",)),
    (
        2,
        "foundations",
        (
            "handmesh._version",
            "handmesh.errors",
            "handmesh.utils",
            "handmesh.config",
            "handmesh.frames",
            "handmesh.geometry",
            "handmesh.render",
        ),
    ),
    (3, "hand model", ("handmesh.hand_model",)),
    (4, "detection, crop, tracking", ("handmesh.detection", "handmesh.crop", "handmesh.tracking")),
    (5, "network, losses", ("handmesh.network", "handmesh.losses")),
    (6, "data", ("handmesh.datasets", "handmesh.synth", "handmesh.testing")),
    (7, "metrics", ("handmesh.metrics",)),
    (8, "artefact contract", ("handmesh.artefact",)),
    (9, "export, runtime", ("handmesh.export", "handmesh.runtime")),
    (10, "landmark fit", ("handmesh.fitting",)),
    (11, "training, evaluation", ("handmesh.train", "handmesh.evaluation")),
    (12, "api, estimator", ("handmesh.api", "handmesh.pipeline")),
    (
        13,
        "app, stream, bench, cli, tools",
        (
            "handmesh.app",
            "handmesh.stream",
            "handmesh.bench",
            "handmesh.cli",
            "handmesh.open_hand",
            "handmesh.__init__",
            "demo",
        ),
    ),
]
# The package face (``handmesh/__init__.py``) serves ``handmesh.load`` lazily: only the top floor may import it.
FACE = "handmesh.__init__"
# Packages that load their modules on first use name them in a table of this name; its entries are imports too.
LAZY_TABLES = ("_WHERE", "_LAZY")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__" and parts[:-1] != ["handmesh"]:
        parts = parts[:-1]
    return ".".join(parts)


def _source_files() -> list[Path]:
    files = [
        *sorted((ROOT / "handmesh").rglob("*.py")),
        *sorted((ROOT / "fastvit_backbone").rglob("*.py")),
        *sorted((ROOT / "demo").rglob("*.py")),
    ]
    return [f for f in files if "__pycache__" not in f.parts]


FILES = {_module_name(f): f for f in _source_files()}


def layer_of(module: str) -> tuple[int, str] | None:
    if module == "handmesh":
        module = FACE
    best = None
    for number, name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), (number, name))
    return None if best is None else best[1]


def _resolve(module: str) -> str | None:
    """The project module a dotted name lands in (a name imported from a module resolves to that module)."""
    if module == "handmesh":
        return FACE
    while module:
        if module in FILES:
            return module
        module = module.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, source: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, imported project module) for every import in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source, filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if module == FACE:
        package = "handmesh"
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Dict)
            and any(isinstance(t, ast.Name) and t.id in LAZY_TABLES for t in node.targets)
        ):
            # A package's lazy table (PEP 562): name -> the module that serves it, whole or relative to the package.
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    text = value.value
                    names.append(text if text.startswith(("handmesh", "fastvit_backbone")) else f"{package}.{text}")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        seen = set()
        for name in names:
            target = _resolve(name)
            if target is not None and target != module and target not in seen:
                seen.add(target)
                yield node.lineno, target


GRAPH: dict[str, list[tuple[int, str]]] = {m: list(imports_of(m, p)) for m, p in FILES.items()}


def test_every_module_has_a_layer():
    assert [m for m in FILES if layer_of(m) is None] == []


def test_no_import_runs_up_a_layer():
    wrong = []
    for module, edges in GRAPH.items():
        here = layer_of(module)
        for line, target in edges:
            there = layer_of(target)
            if there[0] > here[0]:
                wrong.append(f"{FILES[module].relative_to(ROOT)}:{line} ({here[1]}) imports {target} ({there[1]})")
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle():
    # A package's __init__ only hands its modules' names on; an import of it stands for the module named.
    graph = {m: {t for _, t in edges if FILES[t].name != "__init__.py" or t == FACE} for m, edges in GRAPH.items()}
    assert _cycles(graph) == []


def test_the_checker_sees_what_it_must():
    """The walk finds function-level, relative and importlib imports (so an empty list above means something)."""
    source = (
        "def f():\n    from handmesh.api import load\n"
        "import importlib\nimportlib.import_module('handmesh.pipeline.estimator')\n"
        "from ..network import build\n"
        "_WHERE = {'x': 'handmesh.crop', 'y': 'rotations'}\n"
    )
    probe = ROOT / "handmesh" / "geometry" / "probe.py"
    tree_targets = [t for _, t in imports_of("handmesh.geometry.probe", probe, source)]
    assert "handmesh.api" in tree_targets
    assert "handmesh.pipeline.estimator" in tree_targets
    assert "handmesh.network.build" in tree_targets
    assert "handmesh.crop" in tree_targets and "handmesh.geometry.rotations" in tree_targets
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_readme_layout_table_matches():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[-1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*$", section, flags=re.MULTILINE)
    table = [(int(n), name, tuple(sorted(x.strip(" `") for x in mods.split(",")))) for n, name, mods in rows]
    expected = [(n, name, tuple(sorted(mods))) for n, name, mods in LAYERS]
    if not table:
        pytest.fail("README.md's '## Layout' section has no layer table (| layer | name | modules |)")
    assert table == expected
