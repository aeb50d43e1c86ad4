"""pytest glue for pytest-diego: options, markers, fixtures and hook wiring only.

The machinery lives in ``pytest_diego.pytest_support``; ``DiegoSession`` is registered as a
plugin and implements the run's hooks (xdist fan-out, scenario barriers, verdicts, results).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_diego.measure.measurements import Measurements
from pytest_diego.pytest_support.options import add_options, read_settings
from pytest_diego.pytest_support.session import DiegoSession
from pytest_diego.pytest_support.workload_api import Workload

SESSION = pytest.StashKey[DiegoSession]()

MARKERS = (
    "slo(metric, *expressions): judge this scenario on metric with k6-style thresholds, e.g. "
    "@pytest.mark.slo('RequestLatency.DesireTask', 'p(99) < 1s', 'rate >= 0.999'); repeatable; "
    "judged on the measurements of every xdist worker merged; --diego-slo overrides per environment",
    "scenario(name, size=None): a Diego load scenario; under xdist it runs on every worker at once "
    "as shards of one load; size (scaled by --diego-scale) is workload.size",
    "soak(duration): a long-running scenario lasting duration (seconds or '90s', '10m', '2h'), "
    "available as workload.duration",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    session = DiegoSession(config, read_settings(config, dict(os.environ)))
    config.stash[SESSION] = session
    config.pluginmanager.register(session, "diego-session")
    session.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None:
        session.stop()


def _session(request: pytest.FixtureRequest) -> DiegoSession:
    return request.config.stash[SESSION]


@pytest.fixture(scope="session")
def diego(request: pytest.FixtureRequest) -> Any:
    """The Diego under test (embedded cluster by default, or --diego-bbs-url): .client(),
    .bbs_url, .router_url, .apps_domain, .cells, .metrics_urls, .nemesis(), .cluster."""
    return _session(request).handle


@pytest.fixture
def measurements(request: pytest.FixtureRequest) -> Measurements:
    """What this test recorded (pytest_diego.measure.Measurements); for a scenario, this
    worker's shard, merged with the other workers' shards before the SLOs are judged."""
    return _session(request).measurements_for(request.node)


@pytest.fixture
def bbs(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A BBSClient for the target whose every request is recorded into `measurements`
    (RequestLatency and RequestLatency.<Route>)."""
    client = _session(request).client_for(request.node)
    yield client
    client.close()


@pytest.fixture
def workload(request: pytest.FixtureRequest) -> Workload:
    """This worker's shard of the scenario's load: .share(n), .shard(items), .indices(n),
    .scaled(n), .size, .duration, .index/.count, .leader, .status(desired=, running=, ...)."""
    return _session(request).workload_for(request.node)


@pytest.fixture
def nemesis(request: pytest.FixtureRequest) -> Any:
    """Faults: kill_cell(id), kill_cells(fraction=|count=), restart_cell, kill_bbs, restart_bbs,
    wipe_store, pause/resume. Delivered once per scenario (by shard 0), logged with their time;
    on a real Diego runs the diego_*_command ini options, skipping when one is not set."""
    return _session(request).nemesis_for(request.node)
