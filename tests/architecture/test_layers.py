"""Data flows one way: no module of the package imports from a layer above its own.

workload → client → measure → slo → report, with the cluster and the nemesis beside them, and the
pytest plugin on top. The layers, lowest first; a module may import its own package and anything
in a lower layer, never a higher one (a planted upward import fails this test).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_diego"
LAYERS = [
    {"pytest_diego", "atomic_file", "client_error", "lager", "tlsutil", "cluster.timing"},  # shared base
    {"bbs", "locket", "rep"},  # Diego's APIs: models and clients
    {"measure", "cluster"},  # what happened; the embedded Diego
    {"workload", "slo"},  # what to ask for; was it good enough
    {"strategies", "baseline", "nemesis", "report"},
    {"pytest_support"},  # the plugin's roles
    {"scenario"},  # the public building blocks of scenarios
    {"plugin", "__main__"},
]


def unit(module: str) -> str:
    """The layer unit of a dotted module name: its subpackage (``cluster.timing`` on its own)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "pytest_diego"
    if parts[1:3] == ["cluster", "timing"]:
        return "cluster.timing"
    return parts[1]


def layer_of(name: str) -> int:
    for index, units in enumerate(LAYERS):
        if name in units:
            return index
    raise AssertionError(f"pytest_diego.{name} is in no layer: add it to LAYERS in {__file__}")


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found
            if name == "pytest_diego" or name.startswith("pytest_diego.")]


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_pb" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def upward_imports(files: list[Path]) -> list[str]:
    wrong = []
    for path in files:
        own = unit(module_name(path))
        for line, name in imports(path):
            target = unit(name)
            if target != own and layer_of(target) > layer_of(own):
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} "
                             f"(layer {layer_of(target)}) from layer {layer_of(own)}")
    return wrong


def test_no_module_imports_from_a_layer_above_it():
    assert upward_imports(modules()) == []


def test_an_upward_import_is_caught(tmp_path):
    planted = tmp_path / "pytest_diego" / "measure" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("from pytest_diego.report.results import summarize\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "pytest_diego"
    try:
        [problem] = upward_imports([planted])
    finally:
        PACKAGE = saved
    assert "imports pytest_diego.report.results (layer 4) from layer 2" in problem


@pytest.mark.parametrize("name", sorted({unit(module_name(p)) for p in modules()}))
def test_every_part_of_the_package_has_a_layer(name):
    layer_of(name)
