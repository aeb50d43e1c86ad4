"""Calls the BBS makes to cells: stopping instances of removed or scaled-down LRPs (Diego's rep
stop route) and cancelling running tasks; a cell that cannot stop an instance has it removed."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bbs_harness import by_index, desired_lrp, instance_key, lrp_key, net_info, task_definition

from pytest_diego.bbs import models


class FakeRep:
    def __init__(self) -> None:
        self.calls: queue.Queue = queue.Queue()
        self.status = 202
        self.url = ""


@pytest.fixture
def rep() -> Iterator[FakeRep]:
    fake = FakeRep()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fake.calls.put(self.path)
            self.send_response(fake.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield fake
    server.shutdown()
    server.server_close()


def _register(client, rep: FakeRep) -> None:
    client.upsert_cell_presence(models.CellPresence(cell_id="cell-0", rep_url=rep.url, zone="z0"))


def _run(client, index: int, guid: str) -> None:
    client.claim_actual_lrp("web", index, instance_key("cell-0", guid))
    client.start_actual_lrp(lrp_key("web", index), instance_key("cell-0", guid), net_info())


def test_remove_desired_asks_the_cell_to_stop_running_instances(client, rep):
    _register(client, rep)
    client.desire_lrp(desired_lrp("web", instances=2))
    _run(client, 0, "ig-0")
    client.remove_desired_lrp("web")
    assert rep.calls.get(timeout=5) == "/v1/lrps/web/instances/ig-0/stop"
    # the instance stays until the cell reports it stopped, as in Diego
    assert list(by_index(client, "web")) == [(0, 0)]
    client.remove_actual_lrp("web", 0, instance_key("cell-0", "ig-0"))
    assert client.actual_lrps() == []


def test_scale_down_stops_the_extra_instances(client, rep):
    _register(client, rep)
    client.desire_lrp(desired_lrp("web", instances=3))
    _run(client, 2, "ig-2")
    client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=1))
    assert rep.calls.get(timeout=5) == "/v1/lrps/web/instances/ig-2/stop"
    assert sorted(by_index(client, "web")) == [(0, 0), (2, 0)]


def test_an_instance_the_cell_cannot_stop_is_removed(client, rep):
    rep.status = 404
    _register(client, rep)
    client.desire_lrp(desired_lrp("web"))
    _run(client, 0, "ig-0")
    client.retire_actual_lrp(lrp_key("web"))
    assert rep.calls.get(timeout=5).endswith("/stop")
    deadline = time.monotonic() + 5
    while client.actual_lrps() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.actual_lrps() == []


def test_cancel_tells_the_cell_running_the_task(client, rep):
    _register(client, rep)
    client.desire_task("t1", "d", task_definition())
    client.start_task("t1", "cell-0")
    client.cancel_task("t1")
    assert rep.calls.get(timeout=5) == "/v1/tasks/t1/cancel"
