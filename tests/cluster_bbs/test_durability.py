"""Every acknowledged desire survives a SIGKILL of the BBS process, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from bbs_harness import desired_lrp, task_definition

from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSClientError


def _desire_until_killed(url: str, worker: int, acked: list[str], stop: threading.Event) -> None:
    with BBSClient(url, timeout=5) as client:
        n = 0
        while not stop.is_set():
            guid = f"w{worker}-{n}"
            n += 1
            try:
                if n % 3 == 0:
                    client.desire_lrp(desired_lrp(f"lrp-{guid}", instances=5))
                    acked.append(f"lrp-{guid}")
                else:
                    client.desire_task(f"task-{guid}", "d", task_definition())
                    acked.append(f"task-{guid}")
            except BBSClientError:
                return  # the BBS is gone: this desire was never acknowledged


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_acknowledged_desires_survive_sigkill(bbs_process, request, store):
    db = ("--db", request.getfixturevalue("postgres_dsn")) if store == "postgres" else ()
    first = bbs_process(*db)
    acked: list[str] = []
    stop = threading.Event()
    with ThreadPoolExecutor(8) as pool:
        for worker in range(8):
            pool.submit(_desire_until_killed, first.url, worker, acked, stop)
        deadline = time.monotonic() + 60
        while len(acked) < 100 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(random.uniform(0, 0.5))  # then at a random moment, mid-burst
        first.kill()
        stop.set()
    assert len(acked) >= 100, "too few desires acknowledged before the kill to test anything"

    second = bbs_process(*db, state_dir=first.state_dir)
    with BBSClient(second.url) as client:
        tasks = {t.task_guid for t in client.tasks()}
        desired = {d.process_guid: d for d in client.desired_lrps()}
        actuals = client.actual_lrps()
    lost = [g for g in acked if g not in tasks and g not in desired]
    assert lost == [], f"{len(lost)} of {len(acked)} acknowledged desires lost: {lost[:5]}"
    # the store is consistent: every desired LRP came back with all of its instances
    per_lrp: dict[str, int] = {}
    for a in actuals:
        per_lrp[a.actual_lrp_key.process_guid] = per_lrp.get(a.actual_lrp_key.process_guid, 0) + 1
    assert all(per_lrp.get(guid) == lrp.instances for guid, lrp in desired.items())
