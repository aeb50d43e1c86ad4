"""The xdist scheduler of a perf run: every scenario goes to every worker, other tests load-balance.

Workers send the node ids of the scenarios they collected (tests marked ``scenario``, ``slo``
or ``soak``) over the run's channel before they report their collection, so by the time the
controller schedules, it knows which ids to fan out. Each initial worker gets all scenarios, in
collection order, first; plain tests then go to whichever worker is free, as with ``--dist load``.
A worker started to replace a crashed one gets only plain tests: the scenarios' shards were
dealt among the initial workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScheduling
from xdist.workermanage import WorkerController


class FanOutScheduling(LoadScheduling):
    collection: list[str] | None  # as LoadScheduling sets them
    maxschedchunk: int | None
    def __init__(self, config: pytest.Config, log: Producer | None,
                 scenario_ids: Callable[[], list[str]]) -> None:
        super().__init__(config, log)
        self.scenario_ids = scenario_ids
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
        collection: list[str] = next(iter(self.node2collection.values()))
        self.collection = collection
        scenario_ids = set(self.scenario_ids())
        fanout = [i for i, nodeid in enumerate(collection) if nodeid in scenario_ids]
        self.fanout = set(fanout)
        self.pending[:] = [i for i in range(len(collection)) if i not in self.fanout]
        if self.maxschedchunk is None:
            self.maxschedchunk = len(collection)
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
