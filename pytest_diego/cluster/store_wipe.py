"""Wiping the BBS's store: Diego's "the database node lost its disk", for SQLite and PostgreSQL."""

from __future__ import annotations

import re
from contextlib import suppress
from pathlib import Path


def wipe_store(dsn: str) -> None:
    """SQLite: delete the database file and its WAL/SHM/journal files. PostgreSQL: drop the BBS's
    tables (those its migrations create, and ``schema_migrations``); nothing else is touched."""
    if dsn.startswith("sqlite:///"):
        path = Path(dsn[len("sqlite:///"):])
        for suffix in ("", "-wal", "-shm", "-journal"):
            with suppress(FileNotFoundError):
                Path(f"{path}{suffix}").unlink()
        return
    _drop_postgres_tables(dsn)


def bbs_tables() -> set[str]:
    """Every table the BBS's migrations create, and the migrations' own."""
    from pytest_diego.cluster.bbs.schema import MIGRATIONS

    tables = {m for _, statements in MIGRATIONS for s in statements
              for m in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", s)}
    return tables | {"schema_migrations"}


def _drop_postgres_tables(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in sorted(bbs_tables()):
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
