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


# -- when an instance's clock starts: planted faults from a BBS's event stream ---------------------
def created(state="UNCLAIMED", at=0.0, crash_count=0, presence=0, placement_error=""):
    lrp = models.ActualLRP(actual_lrp_key=key(), state=state, since=int((T0 + at) * S),
                           crash_count=crash_count, presence=presence, placement_error=placement_error)
    return Event("actual_lrp_instance_created", 0, models.ActualLRPInstanceCreatedEvent(actual_lrp=lrp))


def changed(before, after, at, crash_before=0, crash_after=0, placement_error="", presence=0):
    return Event("actual_lrp_instance_changed", 0, models.ActualLRPInstanceChangedEvent(
        actual_lrp_key=key(),
        before=models.ActualLRPInfo(state=before, crash_count=crash_before, presence=presence),
        after=models.ActualLRPInfo(state=after, since=int((T0 + at) * S), crash_count=crash_after,
                                   placement_error=placement_error, presence=presence)))


def removed(state, at=0.0):
    lrp = models.ActualLRP(actual_lrp_key=key(), state=state, since=int((T0 + at) * S))
    return Event("actual_lrp_instance_removed", 0, models.ActualLRPInstanceRemovedEvent(actual_lrp=lrp))


def crashed(at, crash_count):
    return Event("actual_lrp_crashed", 0, models.ActualLRPCrashedEvent(
        actual_lrp_key=key(), crash_count=crash_count, since=int((T0 + at) * S)))


def stages_of(events):
    tl = Timelines()
    for n, event in enumerate(events):
        tl.observe_event(event, received_at=T0 + 100 + n)
    return tl.stage_trends()


NO_ROOM = "insufficient resources: memory"


def test_an_instance_left_unclaimed_with_a_placement_error_for_20s_records_20s():
    # The auctioneer hands the instance back (FailActualLRP moves since), convergence re-auctions
    # it every 30 s and the BBS fails it again; 20 s after it was created a cell has room.
    stages = stages_of([
        created(at=0),
        changed("UNCLAIMED", "UNCLAIMED", at=0.3, placement_error=NO_ROOM),
        changed("UNCLAIMED", "UNCLAIMED", at=10.0, placement_error=NO_ROOM),
        changed("UNCLAIMED", "UNCLAIMED", at=19.8, placement_error=NO_ROOM),
        changed("UNCLAIMED", "CLAIMED", at=20.0),
        changed("CLAIMED", "RUNNING", at=21.0),
    ])
    running, claim = stages["LRPTimeToRunning"], stages["LRPTimeToClaim"]
    assert running.count == 1 and running.histogram.min >= 20.0
    assert running.percentile(50) == pytest.approx(21.0, rel=0.01)
    assert claim.count == 1 and claim.percentile(50) == pytest.approx(20.0, rel=0.01)


def test_a_claim_handed_back_is_a_setback_not_a_new_clock():
    # A BBS that reports CLAIMED -> UNCLAIMED as a change (no crash): the claim did not hold, the
    # instance keeps waiting since it was created, and the claim that holds ends the stage.
    stages = stages_of([
        created(at=0),
        changed("UNCLAIMED", "CLAIMED", at=1.0),
        changed("CLAIMED", "UNCLAIMED", at=2.0),
        changed("UNCLAIMED", "UNCLAIMED", at=3.0, placement_error=NO_ROOM),
        changed("UNCLAIMED", "CLAIMED", at=22.0),
        changed("CLAIMED", "RUNNING", at=23.0),
    ])
    assert stages["LRPTimeToClaim"].count == 1
    assert stages["LRPTimeToClaim"].percentile(50) == pytest.approx(22.0, rel=0.01)
    assert stages["LRPTimeToRunning"].percentile(50) == pytest.approx(23.0, rel=0.01)


def test_crash_restarts_and_evacuation_start_new_lives_as_diego_emits_them():
    # Diego's order (bbs:events/calculator): crashed, then created(UNCLAIMED) before removed(old).
    stages = stages_of([
        created(at=0), changed("UNCLAIMED", "RUNNING", at=2.0),
        crashed(at=50, crash_count=1), created(at=50, crash_count=1), removed("RUNNING", at=2.0),
        changed("UNCLAIMED", "UNCLAIMED", at=50.5, crash_before=1, crash_after=1, placement_error=NO_ROOM),
        changed("UNCLAIMED", "RUNNING", at=55.0, crash_before=1, crash_after=1),
        # crash 3: CRASHED for its backoff, restarted by convergence (created + removed)
        crashed(at=60, crash_count=3), changed("RUNNING", "CRASHED", at=60, crash_before=2, crash_after=3),
        created(at=91, crash_count=3), removed("CRASHED", at=60),
        changed("UNCLAIMED", "RUNNING", at=94.0, crash_before=3, crash_after=3),
        # evacuation: an EVACUATING copy keeps running while the ordinary record starts over
        changed("RUNNING", "RUNNING", at=94.0, presence=1), created(at=120, crash_count=3),
        changed("UNCLAIMED", "RUNNING", at=124.0, crash_before=3, crash_after=3),
    ])
    running = stages["LRPTimeToRunning"]
    assert running.count == 4
    assert sorted(round(v) for v in (running.histogram.min, running.histogram.max)) == [2, 5]
    assert running.histogram.sum_ns / 1e9 == pytest.approx(2 + 5 + 3 + 4, rel=0.01)


def test_a_crash_restart_reported_as_a_change_starts_a_new_life():
    # Another BBS may report the immediate restart as RUNNING -> UNCLAIMED with crash_count + 1.
    stages = stages_of([
        created(at=0), changed("UNCLAIMED", "RUNNING", at=1.0),
        changed("RUNNING", "UNCLAIMED", at=30.0, crash_before=0, crash_after=1),
        changed("UNCLAIMED", "RUNNING", at=32.0, crash_before=1, crash_after=1),
    ])
    assert stages["LRPTimeToRunning"].count == 2
    assert stages["LRPTimeToRunning"].histogram.max == pytest.approx(2.0, rel=0.01)


def test_a_task_sent_back_to_pending_keeps_its_clock_until_it_runs_again():
    tl = Timelines()
    tl.observe_event(Event("task_created", 1, models.TaskCreatedEvent(task=task(1, created_at=T0 * S))))
    tl.observe_event(Event("task_changed", 2, models.TaskChangedEvent(
        before=task(1), after=task(2, created_at=T0 * S, updated_at=(T0 + 1) * S))))
    tl.observe_event(Event("task_changed", 3, models.TaskChangedEvent(  # RejectTask
        before=task(2), after=task(1, created_at=T0 * S, updated_at=(T0 + 2) * S, rejection_count=1))))
    tl.observe_event(Event("task_changed", 4, models.TaskChangedEvent(
        before=task(1), after=task(2, created_at=T0 * S, updated_at=(T0 + 20) * S))))
    tl.observe_event(Event("task_changed", 5, models.TaskChangedEvent(
        before=task(2), after=task(3, created_at=T0 * S, updated_at=(T0 + 25) * S,
                                   first_completed_at=(T0 + 25) * S))))
    stages = tl.stage_trends()
    assert stages["TaskTimeToRunning"].count == 1
    assert stages["TaskTimeToRunning"].percentile(50) == pytest.approx(20.0, rel=0.01)
    assert stages["TaskTimeToComplete"].percentile(50) == pytest.approx(25.0, rel=0.01)


def test_a_pending_task_change_without_created_at_does_not_restart_the_clock():
    tl = Timelines()
    tl.observe_event(Event("task_created", 1, models.TaskCreatedEvent(task=task(1, created_at=T0 * S))))
    tl.observe_event(Event("task_changed", 2, models.TaskChangedEvent(before=task(1), after=task(1))),
                     received_at=T0 + 15)
    tl.observe_event(Event("task_changed", 3, models.TaskChangedEvent(
        before=task(1), after=task(2, updated_at=(T0 + 16) * S))))
    assert tl.stage_trends()["TaskTimeToRunning"].percentile(50) == pytest.approx(16.0, rel=0.01)
