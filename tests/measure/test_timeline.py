"""Timelines from BBS events (real protobuf payloads) and the stage distributions."""

import pytest

from pytest_diego.bbs import models
from pytest_diego.bbs.events import Event
from pytest_diego.measure import Measurements, Timelines

S = 1_000_000_000  # ns per second
T0 = 1_700_000_000


def task(state, **stamps):
    return models.Task(task_guid="t1", domain="d", state=state, **stamps)


def lrp_info(state, since):
    return models.ActualLRPInfo(state=state, since=since)


def key(index=0):
    return models.ActualLRPKey(process_guid="web", index=index, domain="d")


def test_task_milestones_and_stages_from_task_events():
    tl = Timelines()
    tl.observe_event(Event("task_created", 1, models.TaskCreatedEvent(task=task(1, created_at=T0 * S))))
    tl.observe_event(Event("task_changed", 2, models.TaskChangedEvent(
        before=task(1), after=task(2, updated_at=(T0 + 2) * S))))
    tl.observe_event(Event("task_changed", 3, models.TaskChangedEvent(
        before=task(2), after=task(3, updated_at=(T0 + 9) * S, first_completed_at=(T0 + 7) * S))))
    tl.observe_event(Event("task_removed", 4, models.TaskRemovedEvent(task=task(4))), received_at=T0 + 20)
    assert [m for m, _ in tl.tasks["t1"]] == ["desired", "running", "completed", "removed"]
    stages = tl.stage_trends()
    assert stages["TaskTimeToRunning"].percentile(50) == pytest.approx(2.0)
    assert stages["TaskTimeToComplete"].percentile(50) == pytest.approx(7.0)


def test_each_life_of_a_restarted_instance_is_one_stage_sample():
    tl = Timelines()
    unclaimed = models.ActualLRP(actual_lrp_key=key(), state="UNCLAIMED", since=T0 * S)
    tl.observe_event(Event("actual_lrp_instance_created", 1,
                           models.ActualLRPInstanceCreatedEvent(actual_lrp=unclaimed)))
    for n, (state, at) in enumerate([("CLAIMED", 1), ("RUNNING", 3)]):
        tl.observe_event(Event("actual_lrp_instance_changed", 2 + n, models.ActualLRPInstanceChangedEvent(
            actual_lrp_key=key(), after=lrp_info(state, (T0 + at) * S))))
    tl.observe_event(Event("actual_lrp_crashed", 5, models.ActualLRPCrashedEvent(
        actual_lrp_key=key(), since=(T0 + 60) * S)))
    again = models.ActualLRP(actual_lrp_key=key(), state="UNCLAIMED", since=(T0 + 61) * S)
    tl.observe_event(Event("actual_lrp_instance_created", 6,
                           models.ActualLRPInstanceCreatedEvent(actual_lrp=again)))
    tl.observe_event(Event("actual_lrp_instance_changed", 7, models.ActualLRPInstanceChangedEvent(
        actual_lrp_key=key(), after=lrp_info("RUNNING", (T0 + 66) * S))))
    stages = tl.stage_trends()
    assert stages["LRPTimeToClaim"].count == 1
    assert stages["LRPTimeToRunning"].count == 2
    assert stages["LRPTimeToRunning"].histogram.max == pytest.approx(5.0)
    assert stages["LRPTimeToRunning"].histogram.min == pytest.approx(3.0)


def test_stages_are_derived_after_merging_workers():
    a, b = Measurements(), Measurements()
    a.timelines.add_task("t", "desired", T0)
    b.timelines.add_task("t", "running", T0 + 4)
    merged = Measurements.merged([a.to_dict(), b.to_dict()])
    assert merged.metric("TaskTimeToRunning").percentile(99) == pytest.approx(4.0)
    assert "TaskTimeToRunning" in merged.names()


def test_event_follower_records_until_stopped():
    import threading

    from pytest_diego.measure.events import EventFollower

    class Stream:
        def __init__(self):
            self.closed = threading.Event()

        def __iter__(self):
            yield Event("task_created", 1, models.TaskCreatedEvent(task=task(1, created_at=T0 * S)))
            self.closed.wait(5)  # blocks like a live SSE stream until closed

        def close(self):
            self.closed.set()

    tl = Timelines()
    follower = EventFollower(Stream(), tl).start()
    for _ in range(100):
        if follower.events:
            break
        threading.Event().wait(0.01)
    follower.stop()
    assert follower.events == 1 and follower.error is None
    assert tl.tasks["t1"] == [("desired", float(T0))]
