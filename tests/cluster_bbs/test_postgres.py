"""The PostgreSQL store, against a real local server: same routes, same records after a restart,
migrations applied once."""

from __future__ import annotations

import psycopg
from bbs_harness import desired_lrp, instance_key, task_definition

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.cluster.bbs.schema import MIGRATIONS


def test_records_survive_a_restart_on_postgres(make_bbs, postgres_dsn):
    first = make_bbs(db=postgres_dsn)
    with BBSClient(first.url) as client:
        client.desire_lrp(desired_lrp("web", instances=3))
        client.claim_actual_lrp("web", 1, instance_key("cell-0"))
        client.desire_task("t1", "d", task_definition())
        client.start_task("t1", "cell-0")
        client.upsert_domain("cf-apps", 0)
    first.stop()

    second = make_bbs(db=postgres_dsn)
    with BBSClient(second.url) as client:
        assert [d.process_guid for d in client.desired_lrps()] == ["web"]
        states = {a.actual_lrp_key.index: a.state for a in client.actual_lrps()}
        assert states == {0: "UNCLAIMED", 1: "CLAIMED", 2: "UNCLAIMED"}
        task = client.task_by_guid("t1")
        assert (task.state, task.cell_id) == (models.Task.Running, "cell-0")
        assert client.domains() == ["cf-apps"]
    with psycopg.connect(postgres_dsn) as conn:
        migrations = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
        assert [version for version, _ in migrations] == [version for version, _ in MIGRATIONS]
        assert migrations[0][1].startswith("20")  # an ISO timestamp
        assert conn.execute("SELECT count(*) FROM actual_lrps WHERE process_guid = 'web'").fetchone() == (3,)
