"""Calls the BBS makes to cells: stopping instances of removed or scaled-down LRPs (Diego's rep
stop route) and cancelling running tasks; a cell that cannot stop an instance has it removed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bbs_harness import by_index, desired_lrp, instance_key, lrp_key, net_info, task_definition

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from tests.support.stub_server import StubServer, answer
from tests.support.waits import wait_until


@pytest.fixture
def rep() -> Iterator[StubServer]:
    """A cell's rep API: records the stop and cancel calls, answering 202 like Diego's rep."""
    with StubServer(answer(202)) as fake:
        yield fake


@pytest.fixture
def locket(make_locket):
    return make_locket()


@pytest.fixture
def client(make_bbs, locket) -> Iterator[BBSClient]:
    with BBSClient(make_bbs(locket_address=locket.address).url) as c:
        yield c


def _register(locket, rep: StubServer) -> None:
    locket.register(models.CellPresence(cell_id="cell-0", rep_url=rep.url, zone="z0"))


def _run(client, index: int, guid: str) -> None:
    client.claim_actual_lrp("web", index, instance_key("cell-0", guid))
    client.start_actual_lrp(lrp_key("web", index), instance_key("cell-0", guid), net_info())


def test_remove_desired_asks_the_cell_to_stop_running_instances(client, rep, locket):
    _register(locket, rep)
    client.desire_lrp(desired_lrp("web", instances=2))
    _run(client, 0, "ig-0")
    client.remove_desired_lrp("web")
    assert rep.take().path == "/v1/lrps/web/instances/ig-0/stop"
    # the instance stays until the cell reports it stopped, as in Diego
    assert list(by_index(client, "web")) == [(0, 0)]
    client.remove_actual_lrp("web", 0, instance_key("cell-0", "ig-0"))
    assert client.actual_lrps() == []


def test_scale_down_stops_the_extra_instances(client, rep, locket):
    _register(locket, rep)
    client.desire_lrp(desired_lrp("web", instances=3))
    _run(client, 2, "ig-2")
    client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=1))
    assert rep.take().path == "/v1/lrps/web/instances/ig-2/stop"
    assert sorted(by_index(client, "web")) == [(0, 0), (2, 0)]


def test_an_instance_the_cell_cannot_stop_is_removed(client, rep, locket):
    rep.responder = answer(404)
    _register(locket, rep)
    client.desire_lrp(desired_lrp("web"))
    _run(client, 0, "ig-0")
    client.retire_actual_lrp(lrp_key("web"))
    assert rep.take().path.endswith("/stop")
    wait_until(lambda: client.actual_lrps() == [], 5, "the instance removed")


def test_cancel_tells_the_cell_running_the_task(client, rep, locket):
    _register(locket, rep)
    client.desire_task("t1", "d", task_definition())
    client.start_task("t1", "cell-0")
    client.cancel_task("t1")
    assert rep.take().path == "/v1/tasks/t1/cancel"
