"""Hardening fixtures: nothing a test starts may outlive it (processes or listening ports), and
the figures each test measures are printed at the end of the run (and written to
``$DIEGO_HARDENING_FIGURES`` as JSON when set)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import contextlib

from hardening_support import FIGURES, descendants, listening_ports, strays

LINGER = 15.0
"""Seconds a stopped process may take to exit before it counts as left behind."""


def _check_clean(before_pids: set[int], before_ports: set[tuple[str, int]], base: Path, what: str) -> None:
    deadline = time.monotonic() + LINGER
    while True:
        left = strays(before_pids, base)
        ports = listening_ports() - before_ports
        if not left and not ports:
            return
        if time.monotonic() > deadline:
            for proc in left:  # do not let one test's leak break the next
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            detail = ", ".join(f"{p.pid} {_cmd(p)}" for p in left)
            pytest.fail(f"{what} left processes behind: {detail or 'none'}; listening ports: "
                        f"{sorted(ports) or 'none'}", pytrace=False)
        time.sleep(0.1)


def _cmd(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:160]
    except psutil.Error:
        return "?"


@pytest.fixture(autouse=True, scope="module")
def no_strays_after_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module-scoped resources (a shared cluster) are gone once the module is done."""
    before, ports = {p.pid for p in descendants()}, listening_ports()
    yield
    _check_clean(before, ports, tmp_path_factory.getbasetemp(), "the module")


@pytest.fixture(autouse=True)
def no_strays(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every process and port a test starts is gone when it ends. Tests marked ``shared_cluster``
    restart components of their module's cluster; the module-level check covers them."""
    if request.node.get_closest_marker("shared_cluster"):
        yield
        return
    before, ports = {p.pid for p in descendants()}, listening_ports()
    yield
    _check_clean(before, ports, tmp_path_factory.getbasetemp(), request.node.nodeid)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A dict for this test's measured figures; reported at the end of the run."""
    found: dict[str, Any] = {}
    FIGURES[request.node.name] = found
    return found


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared_cluster: the test restarts processes of a module-scoped "
                            "cluster (checked for strays when the module ends)")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("hardening figures")
    for test, values in FIGURES.items():
        if values:
            shown = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
            terminalreporter.write_line(f"{test}: {shown}")
    target = os.environ.get("DIEGO_HARDENING_FIGURES")
    if target:
        Path(target).write_text(json.dumps(FIGURES, indent=2, default=str) + "\n")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
