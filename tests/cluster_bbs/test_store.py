"""The SQLite store: versioned migrations bring an older store forward without losing records."""

from __future__ import annotations

import sqlite3

from bbs_harness import desired_lrp

from pytest_diego.bbs.client import BBSClient
from pytest_diego.cluster.bbs.db import Database
from pytest_diego.cluster.bbs.schema import MIGRATIONS


def test_an_older_store_is_migrated_forward(make_bbs, tmp_path):
    path = tmp_path / "old.sqlite3"
    db = Database(f"sqlite:///{path}")
    conn = db.connect()
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for statement in MIGRATIONS[0][1]:  # a store written by version 1 of the schema
        conn.execute(statement.format(blob="BLOB"))
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'then')")
    conn.close()

    bbs = make_bbs(db=f"sqlite:///{path}")
    with BBSClient(bbs.url) as client:
        client.desire_lrp(desired_lrp("web", instances=2))
    bbs.stop()
    again = make_bbs(db=f"sqlite:///{path}")
    with BBSClient(again.url) as client:
        assert len(client.actual_lrps(process_guid="web")) == 2
    with sqlite3.connect(path) as check:
        versions = [v for (v,) in check.execute("SELECT version FROM schema_migrations ORDER BY version")]
        indexes = [n for (n,) in check.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'")]
    assert versions == [version for version, _ in MIGRATIONS]
    assert indexes == []
