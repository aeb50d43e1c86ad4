"""The auctioneer's loop against fake cells (HTTP servers in this test) and a recording fake BBS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_diego import rep
from pytest_diego.bbs import models
from pytest_diego.cluster.auctioneer.batch import Batch, lrp_starts
from pytest_diego.cluster.auctioneer.metrics import AuctioneerMetrics
from pytest_diego.cluster.auctioneer.runner import FETCH_ATTEMPTS, AuctionRunner
from pytest_diego.cluster.auctioneer.scoring import DEFAULT_ROOTFS_PROVIDERS, ERR_CELL_COMMUNICATION
from pytest_diego.cluster.auctioneer.server import make_handler
from pytest_diego.cluster.component import serve_in_thread, server_url
from pytest_diego.lager import Logger
from pytest_diego.measure.prometheus_text import exposition_values
from tests.support.lager_logs import log_records
from tests.support.ports import free_url
from tests.support.waits import wait_until


class FakeCell:
    """A rep answering /state from its totals minus accepted work, recording every /work body.

    ``gate`` (when set) holds ``/work`` until the test releases it; ``refuse_tasks`` makes
    ``/work`` hand every task back; ``evacuating`` and ``claims_to_be`` (another cell_id) change
    what ``/state`` says.
    """

    def __init__(self, cell_id: str, zone: str, memory_mb: int = 4096, refuse_tasks: bool = False) -> None:
        self.cell_id, self.zone = cell_id, zone
        self.evacuating = False
        self.claims_to_be: str | None = None
        self.memory_mb = memory_mb
        self.refuse_tasks = refuse_tasks
        self.works: list[dict[str, Any]] = []
        self.gate: threading.Event | None = None
        self.work_requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _json(self, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._json(fake.state())

            def do_POST(self) -> None:
                work = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.work_requests += 1
                if fake.gate is not None:
                    fake.gate.wait(10)
                fake.works.append(work)
                refused = rep.Work.from_json(work).tasks if fake.refuse_tasks else None
                self._json(rep.Work(tasks=refused).to_json())  # the rep hands work back without a reason

        self.server = serve_in_thread(Handler)
        self.url = server_url(self.server)

    def accepted_lrps(self) -> list[dict[str, Any]]:
        return [lrp for w in self.works for lrp in w["LRPs"] or ()]

    def state(self) -> dict[str, Any]:
        lrps = self.accepted_lrps()
        used = sum(lrp["MemoryMB"] for lrp in lrps)
        index = int(self.cell_id.rsplit("-", 1)[1])
        return rep.CellState(
            rep_url=self.url, cell_id=self.claims_to_be or self.cell_id, cell_index=index,
            rootfs_providers=DEFAULT_ROOTFS_PROVIDERS, total=rep.Resources(self.memory_mb, 8192, 100),
            available=rep.Resources(self.memory_mb - used, 8192, 100 - len(lrps)),
            lrps=tuple(rep.LRP.from_json(lrp) for lrp in lrps), zone=self.zone,
            evacuating=self.evacuating).to_json()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RecordingBBS:
    """The BBS side the auctioneer talks to: present cells, and the hand-backs it receives."""

    def __init__(self, cells: list[models.CellPresence]) -> None:
        self.presences = cells
        self.failed_lrps: list[tuple[str, int, str]] = []
        self.rejected_tasks: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def cells(self) -> list[models.CellPresence]:
        return list(self.presences)

    def fail_actual_lrp(self, key: models.ActualLRPKey, error_message: str) -> None:
        with self.lock:
            self.failed_lrps.append((key.process_guid, key.index, error_message))

    def reject_task(self, task_guid: str, rejection_reason: str) -> None:
        with self.lock:
            self.rejected_tasks.append((task_guid, rejection_reason))


def presence(cell_id: str, rep_url: str, zone: str) -> models.CellPresence:
    return models.CellPresence(cell_id=cell_id, rep_url=rep_url, rep_address=rep_url, zone=zone)


def lrp_request(guid: str, indices: list[int], memory_mb: int = 128) -> dict[str, Any]:
    return {"process_guid": guid, "domain": "d", "indices": indices, "memory_mb": memory_mb, "disk_mb": 64,
            "max_pids": 0, "root_fs": "preloaded:cflinuxfs4", "placement_tags": []}


def task_request(guid: str) -> dict[str, Any]:
    return {"task_guid": guid, "domain": "d", "memory_mb": 64, "disk_mb": 64, "max_pids": 0,
            "root_fs": "preloaded:cflinuxfs4", "placement_tags": []}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[list[FakeCell], RecordingBBS, AuctioneerMetrics, str]]:
    cells = [FakeCell("cell-0", "z0"), FakeCell("cell-1", "z1", refuse_tasks=True)]
    bbs = RecordingBBS([presence(c.cell_id, c.url, c.zone) for c in cells]
                       + [presence("cell-2", free_url(), "z2")])
    logger = Logger("auctioneer", tmp_path / "auctioneer.log")
    metrics = AuctioneerMetrics()
    runner = AuctionRunner(bbs, logger, cell_state_timeout=2.0, observer=metrics.observer())
    runner.start()
    server = serve_in_thread(make_handler(runner, metrics, logger))
    yield cells, bbs, metrics, server_url(server)
    server.shutdown()
    server.server_close()
    runner.stop()
    for c in cells:
        c.close()
    logger.close()


def auction_logs(tmp_path: Path, event: str) -> list[dict[str, Any]]:
    return log_records(tmp_path / "auctioneer.log", f"auctioneer.auction.{event}")


def test_work_arriving_during_an_auction_goes_to_the_next_one(cluster, tmp_path):
    cells, _, metrics, url = cluster
    gate = threading.Event()
    for c in cells:
        c.gate = gate
    r = requests.post(f"{url}/v1/lrps/auctions", json=[lrp_request("first", [0])], timeout=5)
    assert r.status_code == 202
    # the first auction has drained its batch and is now sending its work
    wait_until(lambda: sum(c.work_requests for c in cells) >= 1, 10, "a /work request")
    for n in range(5):
        r = requests.post(f"{url}/v1/lrps/auctions", json=[lrp_request(f"later-{n}", [0, 1])], timeout=5)
        assert r.status_code == 202
    requests.post(f"{url}/v1/tasks/auctions", json=[task_request("t-1")], timeout=5)
    gate.set()
    wait_until(lambda: len(auction_logs(tmp_path, "scheduled")) >= 2, 10, "two auctions scheduled")
    scheduling = auction_logs(tmp_path, "scheduling")
    assert [(r["data"]["lrp_start_auctions"], r["data"]["task_auctions"]) for r in scheduling[:2]] == [
        (1, 0), (10, 1)]
    placed = [(lrp["process_guid"], lrp["index"]) for c in cells for lrp in c.accepted_lrps()]
    assert sorted(placed) == sorted([("first", 0)] + [(f"later-{n}", i) for n in range(5) for i in (0, 1)])
    # both instances of each process landed on different cells (and zones)
    for n in range(5):
        cells_of_n = {c.cell_id for c in cells for lrp in c.accepted_lrps()
                      if lrp["process_guid"] == f"later-{n}"}
        assert cells_of_n == {"cell-0", "cell-1"}
    # the dead cell's /state failed in each auction and was counted
    assert metrics.failed_cell_states._value.get() == 2


def test_unplaceable_and_refused_work_is_handed_back_to_the_bbs(cluster):
    cells, bbs, _, url = cluster
    requests.post(f"{url}/v1/lrps/auctions", json=[lrp_request("huge", [0, 1], memory_mb=10_000)], timeout=5)
    wait_until(lambda: len(bbs.failed_lrps) == 2, 10, "two LRP starts handed back")
    assert sorted(bbs.failed_lrps) == [("huge", 0, "insufficient resources: memory"),
                                       ("huge", 1, "insufficient resources: memory")]
    # tasks spread one per cell; cell-1 refuses its task, which goes back through RejectTask
    requests.post(f"{url}/v1/tasks/auctions", json=[task_request("t-a"), task_request("t-b")], timeout=5)
    wait_until(lambda: len(bbs.rejected_tasks) == 1, 10, "one Task rejected")
    refused = [t["TaskGuid"] for w in cells[1].works for t in w["Tasks"]]
    assert bbs.rejected_tasks == [(refused[0], "insufficient resources")]
    text = requests.get(f"{url}/metrics", timeout=5).text
    values = exposition_values(text, ["AuctioneerLRPAuctionsFailed", "AuctioneerTaskAuctionsStarted",
                                      "AuctioneerTaskAuctionsFailed", "AuctioneerFetchStatesDuration",
                                      "RequestCount"])
    assert {k: v for k, v in values.items() if k != "AuctioneerFetchStatesDuration"} == {
        "AuctioneerLRPAuctionsFailed": 2, "AuctioneerTaskAuctionsStarted": 1,
        "AuctioneerTaskAuctionsFailed": 1, "RequestCount": 2}
    assert 0 < values["AuctioneerFetchStatesDuration"] < 5  # seconds, published in nanos
    assert 'source_id="auctioneer"' in text and 'unit="nanos"' in text


def test_malformed_requests_are_refused_with_a_reason(cluster):
    _, _, _, url = cluster
    r = requests.post(f"{url}/v1/lrps/auctions", json=[{"process_guid": "x"}], timeout=5)
    assert r.status_code == 400 and "invalid LRP start request" in r.json()["error"]
    assert requests.post(f"{url}/v1/tasks/auctions", data=b"{", timeout=5).status_code == 400
    assert requests.post(f"{url}/v1/nope", json=[], timeout=5).status_code == 404


def test_duplicates_in_a_batch_keep_the_first_request():
    batch = Batch()
    batch.add(lrps=lrp_starts(lrp_request("app", [0, 1], memory_mb=128)))
    batch.add(lrps=lrp_starts(lrp_request("app", [1, 2], memory_mb=512)))
    lrps, _ = batch.drain()
    assert [(x.identifier, x.memory_mb) for x in lrps] == [("app.0", 128), ("app.1", 128), ("app.2", 512)]


@pytest.fixture
def runner_for(tmp_path: Path) -> Iterator[Any]:
    """``runner_for(cells, presences)``: an AuctionRunner (not started) and its BBS and metrics."""
    made: list[tuple[AuctionRunner, Logger]] = []

    def make(presences: list[models.CellPresence]) -> tuple[AuctionRunner, RecordingBBS, AuctioneerMetrics]:
        bbs = RecordingBBS(presences)
        logger = Logger("auctioneer", tmp_path / "auctioneer.log")
        metrics = AuctioneerMetrics()
        runner = AuctionRunner(bbs, logger, cell_state_timeout=2.0, observer=metrics.observer())
        made.append((runner, logger))
        return runner, bbs, metrics

    yield make
    for runner, logger in made:
        runner.stop()
        logger.close()


def test_evacuating_cells_and_cells_answering_as_another_are_left_out(runner_for, tmp_path):
    good, evacuating, impostor = FakeCell("cell-0", "z0"), FakeCell("cell-1", "z0"), FakeCell("cell-2", "z0")
    evacuating.evacuating = True
    impostor.claims_to_be = "cell-0"
    cells = [good, evacuating, impostor]
    try:
        runner, _, _ = runner_for([presence(c.cell_id, c.url, c.zone) for c in cells])
        runner.batch.add(lrps=lrp_starts(lrp_request("app", [0, 1, 2])))
        results = runner.run_auction()
        assert {cell_id: len(v) for cell_id, v in results.lrps_by_cell.items()} == {"cell-0": 3}
        assert [len(c.accepted_lrps()) for c in cells] == [3, 0, 0]
        assert [r["data"]["cell_id"] for r in auction_logs(tmp_path, "ignored-evacuating-cell")] == ["cell-1"]
        mismatch = auction_logs(tmp_path, "cell-id-mismatch")
        assert [(r["data"]["cell_id"], r["data"]["state_cell_id"]) for r in mismatch] == [
            ("cell-2", "cell-0")]
    finally:
        for c in cells:
            c.close()


def test_no_answering_cell_is_retried_then_the_batch_fails(runner_for, tmp_path):
    runner, bbs, metrics = runner_for([presence("cell-0", free_url(), "z0")])
    runner.batch.add(lrps=lrp_starts(lrp_request("app", [0])))
    results = runner.run_auction()
    assert [(x.identifier, e) for x, e in results.failed_lrps] == [("app.0", ERR_CELL_COMMUNICATION)]
    assert bbs.failed_lrps == [("app", 0, ERR_CELL_COMMUNICATION)]
    assert metrics.failed_cell_states._value.get() == FETCH_ATTEMPTS == 4
    assert len(auction_logs(tmp_path, "failed-to-communicate-to-cells-retry")) == 3
    assert len(auction_logs(tmp_path, "failed-to-communicate-to-cells-abort")) == 1
