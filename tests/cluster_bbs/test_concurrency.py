"""Concurrent callers: one winner per ActualLRP claim, nothing lost or doubled in a burst."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bbs_harness import desired_lrp, instance_key, task_definition

from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSError


def test_only_one_cell_wins_a_claim(bbs, client):
    client.desire_lrp(desired_lrp("web"))

    def claim(n: int) -> str:
        with BBSClient(bbs.url) as c:
            try:
                c.claim_actual_lrp("web", 0, instance_key(f"cell-{n}", f"ig-{n}"))
                return "ok"
            except BBSError as e:
                return e.type

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(claim, range(16)))
    assert outcomes.count("ok") == 1
    assert set(outcomes) == {"ok", "ActualLRPCannotBeClaimed"}
    winner = outcomes.index("ok")
    assert client.actual_lrps()[0].actual_lrp_instance_key.cell_id == f"cell-{winner}"


def test_a_concurrent_burst_is_stored_exactly_once(bbs, client):
    def desire(worker: int) -> None:
        with BBSClient(bbs.url) as c:
            for n in range(50):
                c.desire_task(f"t-{worker}-{n}", "d", task_definition())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(desire, range(8)))
    guids = [t.task_guid for t in client.tasks()]
    assert len(guids) == len(set(guids)) == 400
    bbs.stop()  # the store holds what memory held
    restarted = type(bbs)(bbs.config).start()
    try:
        with BBSClient(restarted.url) as c:
            assert sorted(t.task_guid for t in c.tasks()) == sorted(guids)
    finally:
        restarted.stop()
