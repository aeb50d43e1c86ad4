"""The BBS store schema as versioned migrations, one list for SQLite and PostgreSQL.

Each record is kept whole as its protobuf blob (``data``); the columns beside it (guids, index,
presence, domain, state, cell_id, times) make the store queryable by hand. ``{blob}`` is the
dialect's binary type. A migration runs once, in its own transaction, and is recorded in
``schema_migrations``.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE desired_lrps (
                process_guid TEXT PRIMARY KEY,
                domain TEXT NOT NULL,
                instances INTEGER NOT NULL,
                data {blob} NOT NULL)""",
            "CREATE INDEX desired_lrps_domain ON desired_lrps (domain)",
            """CREATE TABLE actual_lrps (
                process_guid TEXT NOT NULL,
                instance_index INTEGER NOT NULL,
                presence INTEGER NOT NULL,
                domain TEXT NOT NULL,
                state TEXT NOT NULL,
                cell_id TEXT NOT NULL,
                since BIGINT NOT NULL,
                data {blob} NOT NULL,
                PRIMARY KEY (process_guid, instance_index, presence))""",
            "CREATE INDEX actual_lrps_cell_id ON actual_lrps (cell_id)",
            "CREATE INDEX actual_lrps_state ON actual_lrps (state)",
            "CREATE INDEX actual_lrps_domain ON actual_lrps (domain)",
            """CREATE TABLE tasks (
                task_guid TEXT PRIMARY KEY,
                domain TEXT NOT NULL,
                state INTEGER NOT NULL,
                cell_id TEXT NOT NULL,
                updated_at BIGINT NOT NULL,
                data {blob} NOT NULL)""",
            "CREATE INDEX tasks_state ON tasks (state)",
            "CREATE INDEX tasks_cell_id ON tasks (cell_id)",
            "CREATE INDEX tasks_domain ON tasks (domain)",
            "CREATE TABLE domains (name TEXT PRIMARY KEY, expires_at DOUBLE PRECISION)",
            """CREATE TABLE cell_presences (
                cell_id TEXT PRIMARY KEY,
                expires_at DOUBLE PRECISION NOT NULL,
                data {blob} NOT NULL)""",
        ],
    ),
    (
        # Every lookup is served from memory (the store is read whole at start), so secondary
        # indexes only slowed writes: an ActualLRP upsert cost twice as much with them. The
        # columns stay for operators' queries; the primary keys stay indexed.
        2,
        [f"DROP INDEX IF EXISTS {name}" for name in (
            "desired_lrps_domain", "actual_lrps_cell_id", "actual_lrps_state", "actual_lrps_domain",
            "tasks_state", "tasks_cell_id", "tasks_domain")],
    ),
    # Cell presences live in Locket, as in Diego; the BBS no longer keeps them.
    (3, ["DROP TABLE IF EXISTS cell_presences"]),
]

UPSERT_DESIRED = (
    "INSERT INTO desired_lrps (process_guid, domain, instances, data) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (process_guid) DO UPDATE SET domain = excluded.domain, "
    "instances = excluded.instances, data = excluded.data"
)
DELETE_DESIRED = "DELETE FROM desired_lrps WHERE process_guid = ?"
UPSERT_ACTUAL = (
    "INSERT INTO actual_lrps (process_guid, instance_index, presence, domain, state, cell_id, since, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (process_guid, instance_index, presence) DO UPDATE SET "
    "domain = excluded.domain, state = excluded.state, cell_id = excluded.cell_id, "
    "since = excluded.since, data = excluded.data"
)
DELETE_ACTUAL = "DELETE FROM actual_lrps WHERE process_guid = ? AND instance_index = ? AND presence = ?"
UPSERT_TASK = (
    "INSERT INTO tasks (task_guid, domain, state, cell_id, updated_at, data) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (task_guid) DO UPDATE SET domain = excluded.domain, state = excluded.state, "
    "cell_id = excluded.cell_id, updated_at = excluded.updated_at, data = excluded.data"
)
DELETE_TASK = "DELETE FROM tasks WHERE task_guid = ?"
UPSERT_DOMAIN = (
    "INSERT INTO domains (name, expires_at) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET expires_at = excluded.expires_at"
)
