"""Fixtures for the embedded BBS: in-process servers, the project's client, a fake auctioneer,
BBS processes, event collectors, and a fresh database on the session's PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bbs_harness import NEVER, CellsInLocket, EventCollector, FakeAuctioneer

from pytest_diego.bbs.client import BBSClient
from pytest_diego.cluster.bbs import BBSConfig, BBSServer
from pytest_diego.cluster.bbs.server import LOCK_WAIT
from pytest_diego.cluster.postgres import PostgresServer
from tests.support.components import Starter
from tests.support.postgres import fresh_database


@pytest.fixture
def auctioneer() -> Iterator[FakeAuctioneer]:
    fake = FakeAuctioneer()
    yield fake
    fake.close()


@pytest.fixture
def make_bbs(tmp_path: Path) -> Iterator:
    """Start in-process BBS servers; each is stopped at teardown. With a ``locket_address`` the
    server is returned once it holds its lock (``start_wait`` seconds at most; None: at once)."""
    started: list[BBSServer] = []

    def make(start_wait: float | None = LOCK_WAIT, **overrides) -> BBSServer:
        settings = {"state_dir": tmp_path / f"bbs{len(started)}", "convergence_interval": NEVER}
        settings.update(overrides)
        server = BBSServer(BBSConfig(**settings)).start(lock_wait=start_wait)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def make_locket(tmp_path: Path) -> Iterator:
    """Start in-process Lockets that hold cell presences (``CellsInLocket``); stopped at teardown."""
    started: list[CellsInLocket] = []

    def make(time_scale: float = 1.0) -> CellsInLocket:
        locket = CellsInLocket(tmp_path / f"locket{len(started)}", time_scale)
        started.append(locket)
        return locket

    yield make
    for locket in started:
        locket.stop()


@pytest.fixture
def bbs(make_bbs) -> BBSServer:
    return make_bbs()


@pytest.fixture
def client(bbs: BBSServer) -> Iterator[BBSClient]:
    with BBSClient(bbs.url) as c:
        yield c


@pytest.fixture
def bbs_process(tmp_path: Path) -> Iterator[Starter]:
    """Starts ``python -m pytest_diego.cluster.bbs`` processes; each is killed at teardown."""
    start = Starter("bbs", tmp_path / "bbs")
    yield start
    start.kill_all()


@pytest.fixture
def collect() -> Iterator:
    collectors: list[EventCollector] = []

    def make(stream) -> EventCollector:
        collector = EventCollector(stream)
        collectors.append(collector)
        return collector

    yield make
    for collector in collectors:
        collector.close()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer, request) -> str:
    """A fresh database on the session's PostgreSQL server, for one test."""
    return fresh_database(postgres_server, "bbs_" + request.node.name)
