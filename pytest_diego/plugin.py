"""pytest glue for pytest-diego: options, markers, fixtures and which roles this process plays.

Like pytest-xdist's controller and worker, the roles are separate classes
(``pytest_diego.pytest_support``):

- the **single process** (no xdist) is the run's owner (``RunOwner``: the cluster, judging,
  results, the SLO table) and runs the scenarios (``ScenarioRunner``);
- **xdist's controller** is the owner only (``XdistController``);
- an **xdist worker** runs its shard of every scenario (``ScenarioRunner``) and reaches the owner
  over the channel the controller handed it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pytest_diego.bbs import BBSClient
from pytest_diego.measure.measurements import Measurements
from pytest_diego.nemesis import Nemesis
from pytest_diego.pytest_support.controller import CHANNEL, XdistController
from pytest_diego.pytest_support.coordination import ChannelCoordinator, LocalCoordinator
from pytest_diego.pytest_support.diego import Diego
from pytest_diego.pytest_support.embedded import ClusterLink, LocalLink, RemoteLink
from pytest_diego.pytest_support.options import add_options, read_settings
from pytest_diego.pytest_support.owner import RunOwner
from pytest_diego.pytest_support.runner import ScenarioRunner
from pytest_diego.pytest_support.target import Embedded
from pytest_diego.pytest_support.workload_api import Workload

OWNER = pytest.StashKey[RunOwner]()
RUNNER = pytest.StashKey[ScenarioRunner]()

MARKERS = (
    "slo(metric, *expressions): judge this scenario on metric with k6-style thresholds, e.g. "
    "@pytest.mark.slo('RequestLatency.DesireTask', 'p(99) < 1s', 'rate >= 0.999'); an expression may "
    "be a callable of the target's Timing; repeatable; judged on the measurements of every xdist "
    "worker merged; --diego-slo overrides per environment",
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
    settings = read_settings(config, dict(os.environ))
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        me = workerinput["workerid"]
        coordinator = ChannelCoordinator(workerinput[CHANNEL], me, settings.barrier_timeout)
        fanout = workerinput["diego_fanout"]
        members = [f"gw{i}" for i in range(workerinput["workercount"])] if fanout else [me]
        link: ClusterLink | None = RemoteLink(coordinator) if isinstance(settings.target, Embedded) else None
        _register(config, RUNNER, ScenarioRunner(config, settings, coordinator, link, members))
        return
    distributed = config.getoption("dist", "no") != "no" and not config.getoption("collectonly")
    if distributed:
        owner: RunOwner = XdistController(config, settings, capture_aware=False)
    else:
        owner = RunOwner(config, settings, capture_aware=True)
    _register(config, OWNER, owner)
    owner.start()
    if not distributed:
        link = LocalLink(owner.cluster) if owner.cluster is not None else None
        runner = ScenarioRunner(config, settings, LocalCoordinator(owner.hub), link, ["main"])
        _register(config, RUNNER, runner)


def _register(config: pytest.Config, key: pytest.StashKey, plugin: object) -> None:
    config.stash[key] = plugin
    config.pluginmanager.register(plugin, f"diego-{type(plugin).__name__}")


def pytest_unconfigure(config: pytest.Config) -> None:
    owner = config.stash.get(OWNER, None)
    if owner is not None:
        owner.stop()
    runner = config.stash.get(RUNNER, None)
    if runner is not None:
        runner.close()


def _runner(request: pytest.FixtureRequest) -> ScenarioRunner:
    return request.config.stash[RUNNER]


@pytest.fixture(scope="session")
def diego(request: pytest.FixtureRequest) -> Diego:
    """The Diego under test (the embedded cluster by default, or --diego-bbs-url): .client(),
    .bbs_url, .router_url, .apps_domain, .cells, .timing, .metrics_urls, .nemesis(), .cluster."""
    return _runner(request).diego()


@pytest.fixture
def measurements(request: pytest.FixtureRequest) -> Measurements:
    """What this test recorded (pytest_diego.measure.Measurements); for a scenario, this
    worker's shard, merged with the other workers' shards before the SLOs are judged."""
    return _runner(request).measurements_for(request.node)


@pytest.fixture
def bbs(request: pytest.FixtureRequest) -> Iterator[BBSClient]:
    """A BBSClient for the target whose every request is recorded into `measurements`
    (RequestLatency and RequestLatency.<Route>)."""
    client = _runner(request).client_for(request.node)
    yield client
    client.close()


@pytest.fixture
def workload(request: pytest.FixtureRequest) -> Workload:
    """This worker's shard of the scenario's load: .share(n), .shard(items), .indices(n),
    .scaled(n), .size, .duration, .index/.count, .leader, .barrier(name), .status(...)."""
    return _runner(request).workload_for(request.node)


@pytest.fixture
def nemesis(request: pytest.FixtureRequest) -> Nemesis:
    """Faults: kill_cell(id), kill_cells(fraction=|count=), restart_cell, kill_bbs, restart_bbs,
    wipe_store, pause/resume. Delivered once per scenario (by shard 0), logged with their time;
    on a real Diego runs the diego_*_command ini options, skipping when one is not set."""
    return _runner(request).nemesis_for(request.node)
