"""The BBS when its SQL store fails: Diego's in-band ``UnknownError`` while the store is down, a
reconnect without a restart once it is back, no acknowledgement for a change whose commit failed,
memory that holds exactly what the store committed, and no answer resting on a change the store
then refused. Each check also runs against a BBS with a planted fault, which it must catch.

The store fails for real: PostgreSQL's postmaster SIGKILLed and started again, or SQLite
connections whose COMMIT raises (or blocks, then raises) while the test says so.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bbs_harness import task_definition

from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSError
from pytest_diego.cluster.bbs import BBSServer
from pytest_diego.cluster.bbs.db import Database, Writer, _Pending
from pytest_diego.cluster.bbs.recovery import StoreRecovery
from pytest_diego.cluster.bbs.state import State
from tests.support.postgres import RunningPostgres, running_postgres

DOMAIN = "outage"


@pytest.fixture
def own_postgres() -> Iterator[RunningPostgres]:
    """A PostgreSQL server of this test's own, which it kills."""
    with running_postgres() as running:
        yield running


class FailingCommits:
    """Every store connection the BBS opens, with a COMMIT that fails (a planted I/O error) while
    ``failing`` is set; with ``hold`` set too, it first waits for ``release``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.failing = threading.Event()
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()
        real = Database.connect
        monkeypatch.setattr(Database, "connect", lambda db: _Connection(real(db), self))


class _Connection:
    def __init__(self, conn: Any, faults: FailingCommits) -> None:
        self._conn = conn
        self._faults = faults

    def execute(self, statement: str, *args: Any) -> Any:
        if statement == "COMMIT" and self._faults.failing.is_set():
            self._faults.entered.set()
            if self._faults.hold:
                self._faults.release.wait(10)
            raise sqlite3.OperationalError("disk I/O error (planted)")
        return self._conn.execute(statement, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> FailingCommits:
    return FailingCommits(monkeypatch)


def desire_until_served(client: BBSClient, task_guid: str, timeout: float) -> float:
    """Seconds until a DesireTask is acknowledged again; AssertionError if it never is."""
    started = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - started < timeout:
        try:
            client.desire_task(task_guid, DOMAIN, task_definition())
            return time.monotonic() - started
        except BBSError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"the BBS did not serve again within {timeout} s of its store's return: {last}")


def task_guids(client: BBSClient) -> set[str]:
    return {t.task_guid for t in client.tasks(domain=DOMAIN)}


def error_of(call: Any) -> BBSError:
    with pytest.raises(BBSError) as caught:
        call()
    return caught.value


# -- PostgreSQL dies and comes back --------------------------------------------------------------
def postgres_outage(bbs: BBSServer, postgres: RunningPostgres) -> dict[str, Any]:
    """Desire, kill the database, ask the BBS during the outage, start the database again on its
    port and data directory, desire until the same BBS (no restart) serves again."""
    with BBSClient(bbs.url, timeout=10) as client:
        client.desire_task("before", DOMAIN, task_definition())
        postgres.kill()
        during = [error_of(lambda: client.desire_task("during", DOMAIN, task_definition())),
                  error_of(lambda: client.tasks(domain=DOMAIN))]
        pinged = client.ping()
        postgres.start()
        took = desire_until_served(client, "after", 15)
        listed = task_guids(client)
    with psycopg.connect(postgres.server.dsn()) as conn:
        stored = {guid for (guid,) in conn.execute("SELECT task_guid FROM tasks")}
    return {"during": during, "pinged": pinged, "took": took, "listed": listed, "stored": stored}


def test_the_bbs_answers_diegos_error_while_postgres_is_down_and_reconnects_when_it_is_back(
        make_bbs, own_postgres):
    bbs = make_bbs(db=own_postgres.server.dsn())
    seen = postgres_outage(bbs, own_postgres)
    assert [e.type for e in seen["during"]] == ["UnknownError", "UnknownError"], seen["during"]
    assert seen["pinged"]  # Ping does not touch the store, as in Diego
    assert seen["took"] < 5.0
    assert seen["listed"] == seen["stored"] == {"before", "after"}


def test_a_bbs_that_never_reconnects_is_caught(make_bbs, own_postgres, monkeypatch):
    monkeypatch.setattr(StoreRecovery, "recover_once", lambda self: False)  # the planted fault
    bbs = make_bbs(db=own_postgres.server.dsn())
    with pytest.raises(AssertionError, match="did not serve again"):
        postgres_outage(bbs, own_postgres)


# -- a commit fails --------------------------------------------------------------------------------
def commit_failure(bbs: BBSServer, faults: FailingCommits) -> None:
    """A desire whose commit fails is answered UnknownError, not acknowledged; once the store
    works again the BBS serves, and what it lists is what the store holds: the desires before and
    after, not the refused one."""
    with BBSClient(bbs.url, timeout=10) as client:
        client.desire_task("kept", DOMAIN, task_definition())
        faults.failing.set()
        try:
            client.desire_task("refused", DOMAIN, task_definition())
        except BBSError as exc:
            assert exc.type == "UnknownError", exc
        else:
            raise AssertionError("a Task whose commit failed was acknowledged")
        faults.failing.clear()
        desire_until_served(client, "after", 10)
        listed = task_guids(client)
    with sqlite3.connect(Path(bbs.config.state_dir) / "bbs.sqlite3") as conn:
        stored = {guid for (guid,) in conn.execute("SELECT task_guid FROM tasks")}
    assert listed == stored == {"kept", "after"}, \
        f"the BBS lists {sorted(listed)}, its store holds {sorted(stored)}"


def test_a_failed_commit_is_not_acknowledged_and_not_kept(make_bbs, faults):
    commit_failure(make_bbs(), faults)


def test_a_bbs_that_acknowledges_before_its_commit_is_caught(make_bbs, faults, monkeypatch):
    # the planted fault: answers without waiting for any commit (its own, or what it read)
    monkeypatch.setattr(_Pending, "wait", lambda self: None)
    monkeypatch.setattr(Writer, "settle", lambda self, seen, generation: None)
    with pytest.raises(AssertionError, match="was acknowledged"):
        commit_failure(make_bbs(), faults)


def test_a_bbs_that_keeps_a_change_its_store_refused_is_caught(make_bbs, faults, monkeypatch):
    monkeypatch.setattr(State, "reload", lambda self, db, conn: None)  # the planted fault
    with pytest.raises(AssertionError, match="'refused'"):
        commit_failure(make_bbs(), faults)


# -- an answer that saw a change whose commit then fails -------------------------------------------
def read_during_a_failing_commit(bbs: BBSServer, faults: FailingCommits) -> set[str]:
    """A reader lists the Tasks while a desire's commit is under way and then fails; what the
    reader was told (UnknownError is an answer too: nothing)."""
    faults.hold = True
    faults.failing.set()
    with ThreadPoolExecutor(2) as pool, BBSClient(bbs.url, timeout=15) as writer, \
            BBSClient(bbs.url, timeout=15) as reader:
        desire = pool.submit(writer.desire_task, "dirty", DOMAIN, task_definition())
        assert faults.entered.wait(5), "the desire's commit never started"
        listing = pool.submit(task_guids, reader)
        time.sleep(0.3)  # the reader has read memory; a BBS that does not wait answers now
        faults.release.set()
        assert error_of(desire.result).type == "UnknownError"
        try:
            return listing.result(15)
        except BBSError as exc:
            assert exc.type == "UnknownError", exc
            return set()


def test_no_answer_rests_on_a_change_whose_commit_fails(make_bbs, faults):
    assert "dirty" not in read_during_a_failing_commit(make_bbs(), faults)


def test_a_bbs_that_answers_before_what_it_read_is_committed_is_caught(make_bbs, faults, monkeypatch):
    monkeypatch.setattr(Writer, "settle", lambda self, seen, generation: None)  # the planted fault
    assert "dirty" in read_during_a_failing_commit(make_bbs(), faults)
