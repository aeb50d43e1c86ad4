"""Task completion callbacks: the BBS POSTs Diego's JSON TaskCallbackResponse, then deletes the
task; a callback that keeps failing is retried by convergence."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from bbs_harness import task_definition

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSError
from tests.support.stub_server import StubServer, answer
from tests.support.waits import wait_until


@pytest.fixture
def receiver() -> Iterator[StubServer]:
    """Where the BBS POSTs Task completion callbacks (fezzik's ``POST /done``)."""
    with StubServer(answer(200), path="/done") as rx:
        yield rx


def _deleted(client: BBSClient, guid: str) -> bool:
    try:
        client.task_by_guid(guid)
    except BBSError as e:
        if e.type != "ResourceNotFound":
            raise
        return True
    return False


def test_callback_then_delete(client, receiver):
    client.desire_task("t1", "d", task_definition(completion_callback_url=receiver.url, annotation="ann"))
    client.start_task("t1", "cell-0")
    client.complete_task("t1", "cell-0", failed=False, result="the result")
    callback = receiver.take()
    assert callback.headers["Content-Type"] == "application/json"
    body = callback.json()
    assert body["task_guid"] == "t1" and body["result"] == "the result" and body["failed"] is False
    assert body["annotation"] == "ann" and body["created_at"] > 0
    wait_until(lambda: _deleted(client, "t1"), 5, "t1 deleted")


def test_failing_callback_is_retried_by_convergence(make_bbs, receiver):
    bbs = make_bbs(time_scale=0.005)  # kick after 0.15 s
    with BBSClient(bbs.url) as client:
        receiver.responder = answer(500)
        client.desire_task("t1", "d", task_definition(completion_callback_url=receiver.url))
        client.start_task("t1", "cell-0")
        client.complete_task("t1", "cell-0", failed=True, failure_reason="oops")
        assert receiver.take().json()["failure_reason"] == "oops"
        wait_until(lambda: client.task_by_guid("t1").state == models.Task.Resolving, 5, "t1 RESOLVING")
        receiver.responder = answer(200)
        time.sleep(0.2)
        bbs.converge()  # stuck RESOLVING -> COMPLETED, callback again
        assert receiver.take().json()["task_guid"] == "t1"
        wait_until(lambda: _deleted(client, "t1"), 5, "t1 deleted")
