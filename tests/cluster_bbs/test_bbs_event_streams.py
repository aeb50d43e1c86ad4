"""The SSE streams: Diego's event names, base64 protobuf data, increasing ids, cell filters, and
the events each ActualLRP transition emits (docs/diego-facts.md §11.6)."""

from __future__ import annotations

import base64
import time

import requests
from bbs_harness import desired_lrp, instance_key, lrp_key, net_info, task_definition

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient


def _names(events) -> list[str]:
    return [e.type for e in events]


def test_lrp_lifecycle_events_in_order(client, collect):
    events = collect(client.lrp_instance_events())
    client.desire_lrp(desired_lrp("web"))
    created = events.take(2)
    assert _names(created) == ["desired_lrp_created", "actual_lrp_instance_created"]
    assert created[1].message.actual_lrp.state == "UNCLAIMED"

    client.claim_actual_lrp("web", 0, instance_key())
    client.start_actual_lrp(lrp_key("web"), instance_key(), net_info())
    claimed, started = events.take(2)
    assert _names([claimed, started]) == ["actual_lrp_instance_changed"] * 2
    assert (claimed.message.before.state, claimed.message.after.state) == ("UNCLAIMED", "CLAIMED")
    assert (started.message.before.state, started.message.after.state) == ("CLAIMED", "RUNNING")
    assert started.message.actual_lrp_instance_key.cell_id == "cell-0"

    client.crash_actual_lrp(lrp_key("web"), instance_key(), "exit 1")
    crash = events.take(3)
    assert _names(crash) == ["actual_lrp_crashed", "actual_lrp_instance_removed",
                             "actual_lrp_instance_created"]
    assert (crash[0].message.crash_count, crash[0].message.crash_reason) == (1, "exit 1")
    assert crash[0].message.actual_lrp_instance_key.instance_guid == "ig-0"
    assert crash[2].message.actual_lrp.state == "UNCLAIMED"

    client.remove_desired_lrp("web")
    removed = events.take(2)
    assert _names(removed) == ["desired_lrp_removed", "actual_lrp_instance_removed"]
    ids = [e.id for e in [*created, claimed, started, *crash, *removed]]
    assert ids == list(range(len(ids)))


def test_cell_filter_sees_only_that_cells_instances(client, collect):
    mine = collect(client.lrp_instance_events(cell_id="cell-1"))
    client.desire_lrp(desired_lrp("web", instances=2))
    client.claim_actual_lrp("web", 0, instance_key("cell-0", "a"))
    client.claim_actual_lrp("web", 1, instance_key("cell-1", "b"))
    first, second = mine.take(2)
    assert first.type == "desired_lrp_created"  # DesiredLRP events reach every subscriber
    assert second.type == "actual_lrp_instance_changed"
    assert second.message.actual_lrp_key.index == 1
    assert mine.events.empty()


def test_task_events_and_cell_filter(client, collect):
    all_tasks = collect(client.task_events())
    on_cell = collect(client.task_events(cell_id="cell-0"))
    client.desire_task("t1", "d", task_definition())
    client.start_task("t1", "cell-0")
    client.complete_task("t1", "cell-0", failed=True, failure_reason="oops")
    client.resolving_task("t1")
    client.delete_task("t1")
    events = all_tasks.take(5)
    assert _names(events) == ["task_created", "task_changed", "task_changed", "task_changed", "task_removed"]
    assert events[1].message.after.state == models.Task.Running
    assert events[2].message.after.failure_reason == "oops"
    # the cell sees its task start running and complete, not the pending or resolving steps
    assert [e.message.after.state for e in on_cell.take(2)] == [models.Task.Running, models.Task.Completed]


def test_wire_format_is_base64_protobuf_with_sse_headers(bbs, client):
    with requests.post(bbs.url + "/v1/events/tasks.r1", stream=True, timeout=5) as response:
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
        client.desire_task("t1", "d", task_definition())
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if not line and len(lines) > 1:
                break
    assert lines[:2] == [b"id: 0", b"event: task_created"]
    data = lines[2].removeprefix(b"data: ")
    assert models.TaskCreatedEvent.FromString(base64.b64decode(data)).task.task_guid == "t1"


def test_closing_a_stream_ends_the_subscription(bbs, client):
    stream = client.lrp_instance_events()
    assert bbs.core.hub.subscriber_count() == 1
    stream.close()
    deadline = time.monotonic() + 5
    while bbs.core.hub.subscriber_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bbs.core.hub.subscriber_count() == 0


def test_stopping_the_bbs_ends_open_streams(make_bbs):
    bbs = make_bbs()
    with BBSClient(bbs.url) as client:
        stream = client.task_events()
        bbs.stop()
        assert list(stream) == []
