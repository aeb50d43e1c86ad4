"""Helpers for the embedded BBS tests: record builders, a fake auctioneer that records what the
BBS hands it, and an event collector."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.cluster.locket import LocketConfig, LocketServer
from pytest_diego.locket import LocketClient, marshal_cell_presence
from pytest_diego.locket import models as locket_models
from tests.support.stub_server import Answer, Recorded, StubServer

NEVER = 3600.0  # a convergence interval tests never reach: they call server.converge() themselves


def desired_lrp(guid: str, instances: int = 1, domain: str = "cf-apps", **fields) -> models.DesiredLRP:
    lrp = models.DesiredLRP(**{"process_guid": guid, "domain": domain, "root_fs": "preloaded:cflinuxfs4",
                               "instances": instances, "memory_mb": 64, "disk_mb": 64, **fields})
    lrp.action.run_action.path = "/bin/sleep"
    lrp.metric_tags["source_id"].static = guid
    return lrp


def task_definition(**fields) -> models.TaskDefinition:
    definition = models.TaskDefinition(**{"root_fs": "preloaded:cflinuxfs4", "memory_mb": 32, "disk_mb": 32,
                                          **fields})
    definition.action.run_action.path = "/bin/true"
    return definition


def instance_key(cell: str = "cell-0", guid: str = "ig-0") -> models.ActualLRPInstanceKey:
    return models.ActualLRPInstanceKey(instance_guid=guid, cell_id=cell)


def lrp_key(guid: str, index: int = 0, domain: str = "cf-apps") -> models.ActualLRPKey:
    return models.ActualLRPKey(process_guid=guid, index=index, domain=domain)


def net_info(address: str = "127.1.0.1") -> models.ActualLRPNetInfo:
    info = models.ActualLRPNetInfo(address=address)
    info.ports.add(container_port=8080, host_port=61001)
    return info


def presence(cell: str = "cell-0") -> models.CellPresence:
    return models.CellPresence(cell_id=cell, rep_address="http://127.1.0.1:1801", zone="z0",
                               rep_url=f"http://127.0.0.1:9/{cell}")


def by_index(client: BBSClient, guid: str) -> dict[tuple[int, int], models.ActualLRP]:
    return {(a.actual_lrp_key.index, a.presence): a for a in client.actual_lrps(process_guid=guid)}


class CellsInLocket:
    """An in-process Locket holding cell presences the way reps keep them (key: the cell id,
    value: the presence as the rep marshals it, TTL 15 s x the Locket's time scale)."""

    def __init__(self, state_dir: Path, time_scale: float = 1.0, listen: str = "127.0.0.1:0") -> None:
        config = LocketConfig(state_dir=state_dir, time_scale=time_scale, listen=listen)
        self.server = LocketServer(config).start()
        self.address = self.server.address
        self.client = LocketClient(self.address)

    def register(self, cell: models.CellPresence,
                 ttl_in_seconds: int = locket_models.DEFAULT_SESSION_TTL) -> None:
        """Register or refresh ``cell``'s presence, as its rep does every 5 s (a shorter TTL makes
        a cell that is lost soon)."""
        self.client.lock(cell.cell_id, f"rep-{cell.cell_id}", value=marshal_cell_presence(cell),
                         type_code=locket_models.PRESENCE, ttl_in_seconds=ttl_in_seconds)

    def stop(self) -> None:
        self.client.close()
        self.server.stop()


class FakeAuctioneer:
    """Records the LRP and Task start batches the BBS POSTs, answering 202 like Diego's."""

    def __init__(self) -> None:
        self.lrps: queue.Queue = queue.Queue()
        self.tasks: queue.Queue = queue.Queue()
        self.server = StubServer(self._receive)
        self.url = self.server.url

    def _receive(self, request: Recorded, handler: object) -> Answer:
        {"/v1/lrps/auctions": self.lrps, "/v1/tasks/auctions": self.tasks}[request.path].put(request.json())
        return 202, {}, b""

    def lrp_indices(self, timeout: float = 5.0) -> list[tuple[str, int]]:
        """The (process_guid, index) pairs of the next LRP batch."""
        batch = self.lrps.get(timeout=timeout)
        return [(start["process_guid"], i) for start in batch for i in start["indices"]]

    def drain(self) -> None:
        for q in (self.lrps, self.tasks):
            while not q.empty():
                q.get_nowait()

    def close(self) -> None:
        self.server.close()


class EventCollector:
    """Reads an event stream on a thread so tests can wait for events with a timeout."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.events: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                self.events.put(event)
        except Exception as e:  # surfaced to the test through next_events
            self.events.put(e)

    def take(self, n: int, timeout: float = 5.0) -> list:
        out = []
        for _ in range(n):
            item = self.events.get(timeout=timeout)
            if isinstance(item, Exception):
                raise item
            out.append(item)
        return out

    def close(self) -> None:
        self.stream.close()
        self._thread.join(timeout=5)
