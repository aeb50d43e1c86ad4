"""Fixtures for the embedded Locket: in-process servers, clients, a PKI, Locket processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_diego import tlsutil
from pytest_diego.cluster.locket import LocketConfig, LocketServer
from pytest_diego.locket import LocketClient
from tests.support.components import Starter


@pytest.fixture
def make_locket(tmp_path: Path) -> Iterator[Callable[..., LocketServer]]:
    """Start in-process Locket servers; each is stopped at teardown."""
    started: list[LocketServer] = []

    def make(**overrides: object) -> LocketServer:
        settings: dict[str, object] = {"state_dir": tmp_path / f"locket{len(started)}"}
        settings.update(overrides)
        server = LocketServer(LocketConfig(**settings)).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def locket(make_locket: Callable[..., LocketServer]) -> LocketServer:
    return make_locket()


@pytest.fixture
def client(locket: LocketServer) -> Iterator[LocketClient]:
    with LocketClient(locket.address, timeout=5) as c:
        yield c


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The cluster's CA with a Locket server and a client certificate, and a stranger's CA."""
    base = tmp_path_factory.mktemp("pki")
    ca = tlsutil.generate_ca(base / "ca")
    other_ca = tlsutil.generate_ca(base / "other", name="other CA")
    return SimpleNamespace(
        ca=ca, other_ca=other_ca,
        server=tlsutil.issue_cert(ca, base / "certs", "locket.service.cf.internal"),
        client=tlsutil.issue_cert(ca, base / "certs", "rep", client=True),
        stranger=tlsutil.issue_cert(other_ca, base / "other", "stranger", client=True),
    )


@pytest.fixture
def locket_process(tmp_path: Path) -> Iterator[Starter]:
    """Starts ``python -m pytest_diego.cluster.locket`` processes; each is killed at teardown."""
    start = Starter("locket", tmp_path / "state")
    yield start
    start.kill_all()
