"""The perf suites' own option: how long the fill-capacity scenario holds the full cluster."""

from __future__ import annotations

import pytest

from pytest_diego.pytest_support.diego import Diego
from pytest_diego.pytest_support.values import duration

SOAK_DIEGO_SECONDS = 200.0  # the default hold, in Diego's time: 20 s at time scale 0.1


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak-duration", default=None, metavar="DURATION",
                     help="perf_suites: how long the fill-capacity scenario holds the full cluster "
                          "(e.g. 30s, 10m, 2h; default 200 s of Diego's time, 20 s at time scale 0.1)")


@pytest.fixture
def soak_seconds(request: pytest.FixtureRequest, diego: Diego) -> float:
    """``--soak-duration``, else 200 s of the target's time."""
    given = request.config.getoption("soak_duration")
    return duration(given, "--soak-duration", 0.0) if given else diego.timing.scaled(SOAK_DIEGO_SECONDS)
