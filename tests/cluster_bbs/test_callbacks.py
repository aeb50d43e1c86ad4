"""Task completion callbacks: the BBS POSTs Diego's JSON TaskCallbackResponse, then deletes the
task; a callback that keeps failing is retried by convergence."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bbs_harness import task_definition

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSError


class Receiver:
    def __init__(self) -> None:
        self.calls: queue.Queue = queue.Queue()
        self.status = 200
        self.url = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            rx.calls.put((self.headers["Content-Type"], body))
            self.send_response(rx.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rx.url = f"http://127.0.0.1:{server.server_address[1]}/done"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield rx
    server.shutdown()
    server.server_close()


def _gone(client: BBSClient, guid: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.task_by_guid(guid)
        except BBSError as e:
            return e.type == "ResourceNotFound"
        time.sleep(0.02)
    return False


def test_callback_then_delete(client, receiver):
    client.desire_task("t1", "d", task_definition(completion_callback_url=receiver.url, annotation="ann"))
    client.start_task("t1", "cell-0")
    client.complete_task("t1", "cell-0", failed=False, result="the result")
    content_type, body = receiver.calls.get(timeout=5)
    assert content_type == "application/json"
    assert body["task_guid"] == "t1" and body["result"] == "the result" and body["failed"] is False
    assert body["annotation"] == "ann" and body["created_at"] > 0
    assert _gone(client, "t1")


def test_failing_callback_is_retried_by_convergence(make_bbs, receiver):
    bbs = make_bbs(time_scale=0.005)  # kick after 0.15 s
    with BBSClient(bbs.url) as client:
        receiver.status = 500
        client.desire_task("t1", "d", task_definition(completion_callback_url=receiver.url))
        client.start_task("t1", "cell-0")
        client.complete_task("t1", "cell-0", failed=True, failure_reason="oops")
        assert receiver.calls.get(timeout=5)[1]["failure_reason"] == "oops"
        deadline = time.monotonic() + 5
        while client.task_by_guid("t1").state != models.Task.Resolving and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.task_by_guid("t1").state == models.Task.Resolving
        receiver.status = 200
        time.sleep(0.2)
        bbs.converge()  # stuck RESOLVING -> COMPLETED, callback again
        assert receiver.calls.get(timeout=5)[1]["task_guid"] == "t1"
        assert _gone(client, "t1")
