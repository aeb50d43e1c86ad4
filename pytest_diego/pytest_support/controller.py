"""xdist's controller as the run's owner: the workers' channels, the fan-out scheduler, dead workers.

pytest-xdist keeps its controller (``DSession``) apart from its workers (``WorkerInteractor``);
so does pytest-diego. The controller opens a channel on every worker's gateway before the
worker starts and hands it over in ``workerinput``; the worker's ``ChannelCoordinator`` talks to
the hub over it. Once a worker's collection is in, the controller knows its scenarios (they came
over the channel first) and starts the embedded cluster if a test needs it; scenarios go to
every worker (``FanOutScheduling``).
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from xdist.remote import Producer
from xdist.workermanage import WorkerController

from pytest_diego.pytest_support.coordination import serve_channel
from pytest_diego.pytest_support.embedded import ClusterUnavailable
from pytest_diego.pytest_support.owner import RunOwner
from pytest_diego.pytest_support.scheduler import FanOutScheduling

FANOUT_DIST = ("load", "each")
CHANNEL = "diego_channel"


class XdistController(RunOwner):
    def __init__(self, config: pytest.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.dist = config.getoption("dist", "no")
        self.workers = int(config.getoption("numprocesses", 0) or 0)

    def start(self) -> None:
        super().start()
        if self.dist not in FANOUT_DIST:
            self.config.issue_config_time_warning(pytest.PytestConfigWarning(
                f"--dist {self.dist}: Diego scenarios will each run whole on one worker instead of as "
                "shards on every worker; use the default --dist load to fan them out"), stacklevel=2)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: WorkerController) -> None:
        channel = node.gateway.newchannel()
        channel.setcallback(serve_channel(self.hub, node.gateway.id, channel))
        node.workerinput[CHANNEL] = channel
        node.workerinput["diego_fanout"] = self.dist in FANOUT_DIST

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Producer) -> FanOutScheduling | None:
        return FanOutScheduling(config, log, self.hub.scenario_ids) if self.dist == "load" else None

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: WorkerController, ids: list[str]) -> None:
        """Before any test is scheduled: start the cluster if a collected test needs one."""
        if self.cluster is not None and self.hub.needs_cluster():
            with contextlib.suppress(ClusterUnavailable):  # remembered: the tests that need it fail
                self.cluster.start()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: WorkerController, error: object) -> None:
        if error is not None:
            self.hub.worker_died(node.gateway.id, str(error).strip() or "crashed")
