"""Task routes: PENDING -> RUNNING -> COMPLETED -> RESOLVING -> deleted, cancel, reject, errors."""

from __future__ import annotations

import time

import pytest
from bbs_harness import task_definition

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSError


def test_happy_path(client):
    client.desire_task("t1", "d", task_definition(annotation="a"))
    task = client.task_by_guid("t1")
    assert (task.state, task.domain, task.task_definition.annotation) == (models.Task.Pending, "d", "a")
    assert task.created_at > 0
    assert client.start_task("t1", "cell-0") is True
    assert client.start_task("t1", "cell-0") is False  # already running there: no error, don't start
    assert client.task_by_guid("t1").cell_id == "cell-0"
    assert [t.task_guid for t in client.tasks(cell_id="cell-0")] == ["t1"]
    client.complete_task("t1", "cell-0", failed=False, result="42")
    done = client.task_by_guid("t1")
    assert (done.state, done.result, done.failed) == (models.Task.Completed, "42", False)
    assert done.first_completed_at > 0
    client.resolving_task("t1")
    assert client.task_by_guid("t1").state == models.Task.Resolving
    client.delete_task("t1")
    with pytest.raises(BBSError) as e:
        client.task_by_guid("t1")
    assert e.value.type == "ResourceNotFound"


def test_illegal_transitions_are_invalid_state_transition(client):
    client.desire_task("t1", "d", task_definition())
    for call in (lambda: client.complete_task("t1", "cell-0", failed=False),
                 lambda: client.resolving_task("t1"),
                 lambda: client.delete_task("t1")):
        with pytest.raises(BBSError) as e:
            call()
        assert e.value.type == "InvalidStateTransition"
    client.start_task("t1", "cell-0")
    with pytest.raises(BBSError) as e:
        client.start_task("t1", "cell-1")
    assert e.value.type == "InvalidStateTransition"
    with pytest.raises(BBSError) as e:
        client.complete_task("t1", "cell-1", failed=False)
    assert e.value.type == "RunningOnDifferentCell"


def test_duplicate_and_invalid_tasks(client):
    client.desire_task("t1", "d", task_definition())
    with pytest.raises(BBSError) as e:
        client.desire_task("t1", "d", task_definition())
    assert e.value.type == "ResourceExists"
    bad = task_definition(root_fs="no-scheme", memory_mb=-1)
    bad.ClearField("action")
    with pytest.raises(BBSError) as e:
        client.desire_task("bad guid", "", bad)
    assert e.value.type == "InvalidRequest"
    for field in ("task_guid", "domain", "rootfs", "action", "memory_mb"):
        assert f"Invalid field: {field}" in e.value.message
    with pytest.raises(BBSError) as e:
        client.start_task("missing", "cell-0")
    assert e.value.type == "ResourceNotFound"


def test_cancel_completes_failed(client):
    client.desire_task("t1", "d", task_definition())
    client.cancel_task("t1")
    task = client.task_by_guid("t1")
    assert (task.state, task.failed, task.failure_reason) == (models.Task.Completed, True, "cancelled")
    with pytest.raises(BBSError) as e:
        client.cancel_task("t1")
    assert e.value.type == "InvalidStateTransition"


def test_reject_retries_max_retries_times_then_fails(make_bbs, auctioneer, collect):
    bbs = make_bbs(auctioneer_url=auctioneer.url)
    with BBSClient(bbs.url) as client:
        events = collect(client.task_events())
        client.desire_task("t1", "d", task_definition())
        assert [t["task_guid"] for t in auctioneer.tasks.get(timeout=5)] == ["t1"]
        assert client.start_task("t1", "cell-0")
        for n in (1, 2, 3):
            client.reject_task("t1", "insufficient resources: memory")
            task = client.task_by_guid("t1")
            # Diego's RejectTask: PENDING again, on its cell until placed anew
            assert (task.state, task.rejection_count, task.cell_id) == (models.Task.Pending, n, "cell-0")
        client.reject_task("t1", "insufficient resources: memory")
        task = client.task_by_guid("t1")
        last = events.take(6)[-1].message  # created, started, 3 rejections, failed
    assert (task.state, task.failed, task.rejection_count) == (models.Task.Completed, True, 4)
    assert task.failure_reason == "insufficient resources: memory"
    # as Diego: the last RejectTask counts the rejection (PENDING), then FailTask fails it from there
    assert (last.before.state, last.before.rejection_count, last.after.state) == (
        models.Task.Pending, 4, models.Task.Completed)
    time.sleep(0.2)  # auction requests are sent from a background thread
    # nothing re-auctioned at once: the next convergence pass does that
    assert auctioneer.tasks.empty()


def test_a_rejected_task_is_auctioned_again_by_convergence(make_bbs, auctioneer):
    bbs = make_bbs(auctioneer_url=auctioneer.url, time_scale=0.005)  # kick after 0.15 s
    with BBSClient(bbs.url) as client:
        client.desire_task("t1", "d", task_definition())
        auctioneer.tasks.get(timeout=5)
        client.reject_task("t1", "insufficient resources: memory")
        time.sleep(0.2)
        assert auctioneer.tasks.empty()
        bbs.converge()
    assert [t["task_guid"] for t in auctioneer.tasks.get(timeout=5)] == ["t1"]


def test_fail_task_and_list_filters(client):
    client.desire_task("t1", "d1", task_definition())
    client.desire_task("t2", "d2", task_definition())
    client.fail_task("t1", "boom")
    assert client.task_by_guid("t1").failure_reason == "boom"
    assert [t.task_guid for t in client.tasks(domain="d2")] == ["t2"]
    assert len(client.tasks()) == 2
