"""RouteEmitter's loops against a real in-process router, with a scripted BBS snapshot source:
events during a sync are applied after it, and a BBS outage keeps (and re-registers) the table."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from test_route_table import actual_lrp, desired_lrp

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSConnectionError
from pytest_diego.cluster.route_emitter import RouteEmitter
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger


@dataclass
class Event:
    type: str
    message: object


class ScriptedBBS:
    """Answers the three sync calls from fixed lists; ``hold`` blocks a sync mid-snapshot."""

    def __init__(self) -> None:
        self.desired = [desired_lrp("pg-1")]
        self.actual = [actual_lrp("pg-1")]
        self.domains_list = ["cf-apps"]
        self.down = False
        self.hold = threading.Event()
        self.hold.set()
        self.in_snapshot = threading.Event()

    def _check(self) -> None:
        if self.down:
            raise BBSConnectionError("connection refused", url="http://127.0.0.1:1")

    def actual_lrps(self) -> list[models.ActualLRP]:
        self._check()
        self.in_snapshot.set()
        self.hold.wait(10)
        return list(self.actual)

    def desired_lrp_routing_infos(self) -> list[models.DesiredLRP]:
        self._check()
        return list(self.desired)

    def domains(self) -> list[str]:
        self._check()
        return list(self.domains_list)


@pytest.fixture
def bbs() -> ScriptedBBS:
    return ScriptedBBS()


@pytest.fixture
def emitter(bbs: ScriptedBBS, router, tmp_path: Path) -> Iterator[RouteEmitter]:
    logger = Logger("route-emitter", tmp_path / "route_emitter.log")
    e = RouteEmitter(bbs, router.admin_url, Timing(1.0), logger)  # type: ignore[arg-type]
    yield e
    e.close()
    logger.close()


def table(router) -> dict:
    return requests.get(f"{router.status_url}/routes", timeout=5).json()


def test_sync_registers_the_snapshot(emitter, router):
    assert emitter.sync()
    assert emitter.sender.flush()
    assert [e["address"] for e in table(router)["pg-1.example.com"]] == ["127.1.0.1:61001"]
    assert emitter.metrics.routes_total._value.get() == 1


def test_events_arriving_during_a_sync_are_applied_after_it(emitter, bbs, router):
    bbs.hold.clear()
    syncing = threading.Thread(target=emitter.sync)
    syncing.start()
    assert bbs.in_snapshot.wait(5)
    removed = models.DesiredLRPRemovedEvent(desired_lrp=desired_lrp("pg-1"))
    emitter.handle_event(Event("desired_lrp_removed", removed))  # queued, the snapshot still has pg-1
    assert emitter.table.desired == {}  # not applied while the sync runs
    bbs.hold.set()
    syncing.join(5)
    assert emitter.sender.flush()
    assert "pg-1" not in emitter.table.desired  # replayed after the swap
    assert table(router) == {}


def test_bbs_outage_keeps_the_table_and_keeps_re_registering(emitter, bbs, router):
    assert emitter.sync()
    bbs.down = True
    assert not emitter.sync()
    assert emitter.table.route_count() == 1
    requests.post(f"{router.admin_url}/unregister", json={"host": "127.1.0.1", "port": 61001,
                                                           "uris": ["pg-1.example.com"]}, timeout=5)
    assert emitter.emit_all() == 1
    assert emitter.sender.flush()
    assert "pg-1.example.com" in table(router)


def test_unreachable_router_is_logged_and_the_next_emission_recovers(bbs, router, tmp_path):
    logger = Logger("route-emitter", tmp_path / "re.log")
    e = RouteEmitter(bbs, "http://127.0.0.1:9", Timing(1.0), logger)  # type: ignore[arg-type]
    try:
        assert e.sync()
        assert e.sender.flush()
        assert "emit.register-failed" in (tmp_path / "re.log").read_text()
    finally:
        e.close()
        logger.close()


def test_queued_messages_are_coalesced_in_order(router, tmp_path):
    from pytest_diego.cluster.route_emitter.emitter import RouterSender

    sent: list[int] = []
    logger = Logger("route-emitter", tmp_path / "sender.log")
    sender = RouterSender(router.admin_url, logger, sent.append)
    try:
        reg = {"host": "127.1.0.1", "port": 61001, "uris": ["c.example.com"]}
        for i in range(200):
            sender.send("register", [{**reg, "port": 61001 + i}])
        sender.send("unregister", [reg])
        assert sender.flush()
        assert sum(sent) == 201  # however they were batched, nothing was lost
        addresses = [e["address"] for e in table(router)["c.example.com"]]
        assert len(addresses) == 199 and "127.1.0.1:61001" not in addresses  # unregister came last
    finally:
        sender.close()
        logger.close()
