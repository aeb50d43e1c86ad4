"""The package declares exactly what it imports at run time, and every other part of the repository
declares what it imports beyond that.

- Every runtime dependency in ``pyproject.toml`` is imported somewhere in ``pytest_diego/`` (by its
  import name): a library only the tests or the benchmarks use belongs in their extra, not in
  every user's install.
- Every third-party module ``pytest_diego/`` imports is a runtime dependency, or belongs to an
  optional feature's extra (``postgres``) and is imported only inside a function, so the package
  still imports without it.
- The tests and the root conftest import only runtime dependencies and the ``test`` extra; the
  benchmarks only runtime dependencies and the ``bench`` extra; the perf suites only runtime
  dependencies (they are what a user runs).

A planted fault of each kind (an unused dependency, an undeclared import, an optional one at
module level) fails these checks; see the ``test_a_planted_...`` tests.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "pytest_diego"
OPTIONAL_FEATURES = ("postgres",)
"""Extras that switch on a feature of the package itself (not tools for developing it)."""
IMPORT_NAMES = {"hdrhistogram": {"hdrh"}, "prometheus-client": {"prometheus_client"},
                "pytest-xdist": {"xdist"}, "grpcio": {"grpc"}, "protobuf": {"google"},
                "psycopg-binary": set(), "py-spy": set()}
"""Import names of distributions that may not be installed here (an extra not installed), where
they differ from the distribution's name; installed ones are read from their metadata."""


@dataclass(frozen=True)
class Import:
    module: str  # the top-level name: ``google`` for ``google.protobuf.message``
    where: str  # file:line
    in_function: bool


def normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def requirement_name(requirement: str) -> str:
    """``psycopg[binary]>=3.1`` -> ``psycopg`` (PEP 508: the name comes first)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise AssertionError(f"pyproject.toml: {requirement!r} is not a requirement")
    return normalize(match.group(1))


def declared(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, set[str]]:
    """``{"runtime": {names}, <extra>: {names}}`` from pyproject.toml."""
    project = tomllib.loads(pyproject.read_text())["project"]
    groups = {"runtime": project["dependencies"], **project.get("optional-dependencies", {})}
    return {group: {requirement_name(r) for r in requirements} for group, requirements in groups.items()}


def providers() -> dict[str, set[str]]:
    """Top-level import name -> the installed distributions that provide it."""
    return {name: {normalize(d) for d in dists}
            for name, dists in importlib.metadata.packages_distributions().items()}


def import_names(distribution: str, installed: dict[str, set[str]]) -> set[str]:
    names = {name for name, dists in installed.items() if distribution in dists}
    return names or IMPORT_NAMES.get(distribution, {distribution.replace("-", "_")})


def imports(path: Path) -> list[Import]:
    """The absolute imports of one file, each with whether it sits inside a function body."""
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            where = f"{path.relative_to(ROOT)}:{getattr(child, 'lineno', 0)}"
            if isinstance(child, ast.Import):
                found.extend(Import(a.name.split(".")[0], where, inside) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append(Import(child.module.split(".")[0], where, inside))
            visit(child, inside)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def python_files(*parts: str) -> list[Path]:
    files: list[Path] = []
    for part in parts:
        path = ROOT / part
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def local_names() -> set[str]:
    """Modules of this repository that tests import by their own name (helpers on sys.path)."""
    names = {"tests", "benchmarks", "perf_suites", PACKAGE}
    for top in ("tests", "benchmarks", "perf_suites"):
        names |= {p.stem for p in (ROOT / top).rglob("*.py")}
        names |= {p.name for p in (ROOT / top).rglob("*") if p.is_dir()}
    return names


def third_party(files: list[Path], local: set[str] = frozenset()) -> list[Import]:
    return [i for i in (i for f in files for i in imports(f))
            if i.module not in sys.stdlib_module_names and i.module != "__future__"
            and i.module != PACKAGE and i.module not in local]


def undeclared(found: list[Import], allowed: set[str], installed: dict[str, set[str]]) -> list[str]:
    """The imports no allowed distribution provides, each with where it is."""
    wrong = []
    for i in found:
        if not any(i.module in import_names(d, installed) for d in allowed):
            providing = ", ".join(sorted(installed.get(i.module, ()))) or "no installed distribution"
            wrong.append(f"{i.where} imports {i.module} ({providing}), which is not declared")
    return wrong


def unused(runtime: set[str], found: list[Import], installed: dict[str, set[str]]) -> list[str]:
    """The runtime dependencies the package never imports."""
    modules = {i.module for i in found}
    return sorted(f"{d} is a runtime dependency but {PACKAGE}/ never imports "
                  f"{' or '.join(sorted(import_names(d, installed)))}: move it to the extra that uses it"
                  for d in runtime if not modules & import_names(d, installed))


def optional_at_module_level(found: list[Import], optional: set[str],
                             installed: dict[str, set[str]]) -> list[str]:
    """Imports of an optional feature's library outside a function: the package would not import
    without that extra."""
    names = {n for d in optional for n in import_names(d, installed)}
    return [f"{i.where} imports {i.module} at module level; it comes with an optional extra, so import it "
            f"inside the function that needs it" for i in found if i.module in names and not i.in_function]


@pytest.fixture(scope="module")
def groups() -> dict[str, set[str]]:
    return declared()


@pytest.fixture(scope="module")
def installed() -> dict[str, set[str]]:
    return providers()


@pytest.fixture(scope="module")
def package_imports() -> list[Import]:
    return third_party(python_files(PACKAGE))


def optional(groups: dict[str, set[str]]) -> set[str]:
    return set().union(*(groups[g] for g in OPTIONAL_FEATURES))


def test_every_runtime_dependency_is_imported_by_the_package(groups, installed, package_imports):
    missing = groups["runtime"] - set().union(*installed.values())
    assert not missing, f"runtime dependencies not installed (pip install -e .): {sorted(missing)}"
    assert unused(groups["runtime"], package_imports, installed) == []


def test_every_module_the_package_imports_is_declared(groups, installed, package_imports):
    assert undeclared(package_imports, groups["runtime"] | optional(groups), installed) == []
    assert optional_at_module_level(package_imports, optional(groups) - groups["runtime"], installed) == []


@pytest.mark.parametrize(("parts", "extra"), [(("tests", "conftest.py"), "test"), (("benchmarks",), "bench"),
                                              (("perf_suites",), None)])
def test_tests_benchmarks_and_suites_declare_what_they_import(groups, installed, parts, extra):
    allowed = groups["runtime"] | (groups[extra] if extra else set())
    assert undeclared(third_party(python_files(*parts), local_names()), allowed, installed) == []


# -- planted faults ---------------------------------------------------------------------------------

def planted(tmp_path: Path, name: str, code: str) -> list[Path]:
    path = tmp_path / name
    path.write_text(code)
    return [path]


def test_a_planted_unused_runtime_dependency_is_caught(groups, installed, package_imports):
    [problem] = unused(groups["runtime"] | {"hdrhistogram"}, package_imports, installed)
    assert problem.startswith("hdrhistogram is a runtime dependency but pytest_diego/ never imports hdrh")


def test_a_planted_undeclared_import_is_caught(groups, installed, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    code = "import numpy\nfrom hdrh.histogram import HdrHistogram\n"
    found = third_party(planted(tmp_path, "planted.py", code))
    problems = undeclared(found, groups["runtime"], installed)
    assert [p.split(" (")[0] for p in problems] == ["planted.py:1 imports numpy", "planted.py:2 imports hdrh"]


def test_a_planted_optional_import_at_module_level_is_caught(groups, installed, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    code = "import psycopg\n\n\ndef connect():\n    import psycopg\n    return psycopg\n"
    found = third_party(planted(tmp_path, "store.py", code))
    assert optional_at_module_level(found, optional(groups), installed) == [
        "store.py:1 imports psycopg at module level; it comes with an optional extra, so import it inside "
        "the function that needs it"]


def test_requirement_names_are_read_as_pep_508_names():
    assert requirement_name("psycopg[binary]>=3.1") == "psycopg"
    assert requirement_name("gevent>=22.10.2; sys_platform != 'win32'") == "gevent"
    assert requirement_name("Prometheus_Client>=0.20") == "prometheus-client"
