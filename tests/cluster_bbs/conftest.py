"""Fixtures for the embedded BBS: in-process servers, the project's client, a fake auctioneer,
BBS processes, event collectors and a throwaway PostgreSQL server."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from bbs_harness import NEVER, BBSProcess, EventCollector, FakeAuctioneer, as_postgres, pg_binary

from pytest_diego.bbs.client import BBSClient
from pytest_diego.cluster.bbs import BBSConfig, BBSServer


@pytest.fixture
def auctioneer() -> Iterator[FakeAuctioneer]:
    fake = FakeAuctioneer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            {"/v1/lrps/auctions": fake.lrps, "/v1/tasks/auctions": fake.tasks}[self.path].put(body)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_bbs(tmp_path: Path) -> Iterator:
    """Start in-process BBS servers; each is stopped at teardown."""
    started: list[BBSServer] = []

    def make(**overrides) -> BBSServer:
        settings = {"state_dir": tmp_path / f"bbs{len(started)}", "convergence_interval": NEVER}
        settings.update(overrides)
        server = BBSServer(BBSConfig(**settings)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def bbs(make_bbs) -> BBSServer:
    return make_bbs()


@pytest.fixture
def client(bbs: BBSServer) -> Iterator[BBSClient]:
    with BBSClient(bbs.url) as c:
        yield c


@pytest.fixture
def bbs_process(tmp_path: Path) -> Iterator:
    procs: list[BBSProcess] = []

    def start(*args: str, state_dir: Path | None = None) -> BBSProcess:
        proc = BBSProcess(state_dir or tmp_path / "bbs", *args)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 (initdb + pg_ctl); yields its base DSN."""
    import pwd
    import shutil
    import socket
    import tempfile

    initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/15/bin or PATH")
    root = Path(tempfile.mkdtemp(prefix="bbs-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data, sockets, log = root / "data", root / "sockets", root / "postgres.log"
    subprocess.run(as_postgres(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"),
                   check=True, capture_output=True)
    subprocess.run(as_postgres("mkdir", str(sockets)), check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=50"
    subprocess.run(as_postgres(pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: str, request) -> str:
    """A fresh database on the session's PostgreSQL server, for one test."""
    import psycopg

    name = "bbs_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"
