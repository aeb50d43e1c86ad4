"""One embedded BBS for the strategy tests (module-scoped: Hypothesis runs many examples per test),
and a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_diego.bbs import BBSClient
from pytest_diego.cluster.bbs import BBSConfig, BBSServer

NEVER = 3600.0  # no convergence during a test: records stay as the test left them


@pytest.fixture(scope="module")
def bbs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BBSServer]:
    state_dir: Path = tmp_path_factory.mktemp("bbs")
    server = BBSServer(BBSConfig(state_dir=state_dir, convergence_interval=NEVER)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(bbs_server: BBSServer) -> Iterator[BBSClient]:
    with BBSClient(bbs_server.url) as c:
        yield c
