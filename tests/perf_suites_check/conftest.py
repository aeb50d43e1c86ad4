"""Shared by the checks that run the perf suites in a subprocess: embedded clusters started with
``cluster up --detach`` (so the suites reach them through the real-Diego options), and the plugin
tests' subprocess runner for scenarios written inline."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.plugin.conftest import run  # noqa: F401  (a fixture)

# The clusters run at time scale 0.1: a run that treats one as a real Diego describes its
# intervals as an operator would.
TENTH_SCALE_INTERVALS = ("convergence_interval=3s", "presence_ttl=1.5s", "rep_poll_interval=3s",
                         "route_sync_interval=6s", "crash_backoff_unit=3s", "lock_ttl=1.5s",
                         "lock_retry_interval=0.5s")


def interval_options() -> list[str]:
    """``--diego-interval NAME=DURATION`` for each of ``TENTH_SCALE_INTERVALS``."""
    return [arg for interval in TENTH_SCALE_INTERVALS for arg in ("--diego-interval", interval)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Callable[..., dict]]:
    """Start embedded clusters with ``cluster up --detach``; stop each at the end."""
    started: list[Path] = []

    def up(name: str, *args: str) -> dict:
        state_dir = tmp_path / name
        started.append(state_dir)
        subprocess.run([sys.executable, "-m", "pytest_diego", "cluster", "up", "--detach", "--cells", "2",
                        "--time-scale", "0.1", "--state-dir", str(state_dir), *args],
                       check=True, capture_output=True, timeout=180)
        return json.loads((state_dir / "cluster.json").read_text())

    yield up
    for state_dir in started:
        subprocess.run([sys.executable, "-m", "pytest_diego", "cluster", "down",
                        "--state-dir", str(state_dir)], capture_output=True, timeout=120)
