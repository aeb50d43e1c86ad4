"""The xdist scheduler of a perf run: every scenario goes to every worker, other tests load-balance.

Workers write the node ids of the scenarios they collected (tests marked ``scenario``, ``slo``
or ``soak``) to the run directory before they report their collection, so by the time the
controller schedules, it knows which ids to fan out. Each initial worker gets all scenarios, in
collection order, first; plain tests then go to whichever worker is free, as with ``--dist load``.
A worker started to replace a crashed one gets only plain tests: the scenarios' shards were
dealt among the initial workers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScheduling
from xdist.workermanage import WorkerController

from pytest_diego.pytest_support.rundir import RunDir


class FanOutScheduling(LoadScheduling):
    def __init__(self, config: pytest.Config, log: Producer | None, run_dir: RunDir) -> None:
        super().__init__(config, log)
        self.run_dir = run_dir
        self.fanout: set[int] = set()

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:
            for node in self.nodes:
                self.check_schedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = next(iter(self.node2collection.values()))
        manifests = [self.run_dir.manifest(node.gateway.id) for node in self.nodes]
        scenario_ids = {nodeid for m in manifests for nodeid in m["scenarios"]}
        fanout = [i for i, nodeid in enumerate(self.collection) if nodeid in scenario_ids]
        self.fanout = set(fanout)
        self.pending[:] = [i for i in range(len(self.collection)) if i not in self.fanout]
        if self.maxschedchunk is None:
            self.maxschedchunk = len(self.collection)
        for node in self.nodes:
            if fanout:
                self.node2pending[node].extend(fanout)
                node.send_runtest_some(fanout)
        for node in self.nodes:
            self.check_schedule(node)

    def remove_node(self, node: WorkerController) -> str | None:
        """Forget a finished or crashed node; hand its unstarted plain tests to the others."""
        pending = self.node2pending.pop(node)
        if not pending:
            return None
        assert self.collection is not None
        crashitem = self.collection[pending.pop(0)]
        self.pending.extend(i for i in pending if i not in self.fanout)
        for other in self.node2pending:
            self.check_schedule(other)
        return crashitem

    def remove_pending_tests_from_node(self, node: WorkerController, indices: Sequence[int]) -> None:
        raise NotImplementedError()
