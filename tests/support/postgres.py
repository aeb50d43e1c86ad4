"""The tests' PostgreSQL server, run by the embedded cluster's own PostgreSQL component
(``pytest_diego.cluster.postgres``): ``initdb``, the postmaster on a free loopback port, the role
``diego`` with a password. ``postgres_server`` is one per session (per xdist worker); a test that
kills the server, or must leave nothing running behind it (the hardening checks), uses
``running_postgres`` for its own. Both skip when PostgreSQL is not installed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pytest_diego.cluster import postgres
from pytest_diego.cluster.postgres import PostgresServer
from pytest_diego.cluster.process import Child, ProcessInfo, Spawner, create_time_of

START_TIMEOUT = 60.0


class RunningPostgres:
    """A server a test started: ``kill`` it as its VM would die, ``start`` it again."""

    def __init__(self, server: PostgresServer, output: Path) -> None:
        self.server = server
        self.output = output
        self._spawner = Spawner()
        self._proc: Child | None = None

    def start(self) -> None:
        self._proc = self._spawner.spawn(self.server.command(), self.output)
        self.server.wait_ready(self._proc, self.output, START_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL of the postmaster (its backends exit by themselves, waited for)."""
        assert postgres.kill(self._info(), self._proc), "the server was not running"

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            postgres.stop(self._info(), self._proc)

    def _info(self) -> ProcessInfo:
        assert self._proc is not None
        return ProcessInfo(self._proc.pid, create_time_of(self._proc.pid))


@contextmanager
def running_postgres() -> Iterator[RunningPostgres]:
    """A started server whose database ``diego`` exists; stopped (fast shutdown) and removed after."""
    try:
        postgres.find_binary("initdb")
        postgres.find_binary("postgres")
    except postgres.PostgresError as exc:
        pytest.skip(str(exc))
    root = Path(tempfile.mkdtemp(prefix="pytest-diego-tests-pg-"))
    running = RunningPostgres(PostgresServer.create(root), root / "postgres.out")
    try:
        running.start()
        running.server.ensure_database()
        yield running
    finally:
        running.stop()
        running.server.remove_scratch()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """This session's PostgreSQL server (``.dsn(database)``, ``.password``)."""
    with running_postgres() as running:
        yield running.server


def fresh_database(server: PostgresServer, name: str) -> str:
    """A new, empty database ``name`` on ``server`` (dropped first if there); its DSN."""
    import psycopg

    name = "".join(c if c.isalnum() else "_" for c in name)[:60].lower()
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.dsn(name)
