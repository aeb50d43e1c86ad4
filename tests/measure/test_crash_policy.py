"""Crash restarts judged from synthetic LRP instance event streams (real protobuf payloads).

Each stream is what a BBS would send for one instance of a crashing app; the faulty ones are the
planted faults: a BBS that restarts the 3rd crash at once must be judged ``early``, one that never
restarts it ``late``, and the SLO ``CrashRestartOnPolicy rate == 1`` must then fail.
"""

from __future__ import annotations

import pytest

from pytest_diego import slo
from pytest_diego.bbs import models
from pytest_diego.bbs.events import Event
from pytest_diego.cluster.timing import Timing
from pytest_diego.measure import CrashPolicy, Measurements
from pytest_diego.measure.crash_policy import backoff

S = 1_000_000_000
T0 = 1_700_000_000.0
DIEGO = Timing()  # 30 s backoff unit, 30 s convergence
SLACK = 2.0


def key(guid: str = "crashy", index: int = 0) -> models.ActualLRPKey:
    return models.ActualLRPKey(process_guid=guid, index=index, domain="d")


def ns(at: float) -> int:
    return int((T0 + at) * S)


def crashed(at: float, count: int, guid: str = "crashy") -> Event:
    return Event("actual_lrp_crashed", 0, models.ActualLRPCrashedEvent(
        actual_lrp_key=key(guid), crash_count=count, since=ns(at), crash_reason="exited"))


def created(state: str, at: float, count: int, guid: str = "crashy", presence: int = 0) -> Event:
    lrp = models.ActualLRP(actual_lrp_key=key(guid), state=state, since=ns(at), crash_count=count,
                           presence=presence)
    return Event("actual_lrp_instance_created", 0, models.ActualLRPInstanceCreatedEvent(actual_lrp=lrp))


def removed(state: str, at: float, count: int, guid: str = "crashy") -> Event:
    lrp = models.ActualLRP(actual_lrp_key=key(guid), state=state, since=ns(at), crash_count=count)
    return Event("actual_lrp_instance_removed", 0, models.ActualLRPInstanceRemovedEvent(actual_lrp=lrp))


def changed(before: str, after: str, at: float, count_before: int, count_after: int,
            guid: str = "crashy", presence: int = 0) -> Event:
    return Event("actual_lrp_instance_changed", 0, models.ActualLRPInstanceChangedEvent(
        actual_lrp_key=key(guid),
        before=models.ActualLRPInfo(state=before, crash_count=count_before),
        after=models.ActualLRPInfo(state=after, since=ns(at), crash_count=count_after, presence=presence)))


def running(at: float, count: int, guid: str = "crashy") -> list[Event]:
    return [changed("UNCLAIMED", "CLAIMED", at, count, count, guid),
            changed("CLAIMED", "RUNNING", at + 1, count, count, guid)]


def diego_crash(at: float, count: int, restart_at: float | None, *, diego_order: bool = True,
                guid: str = "crashy") -> list[Event]:
    """What Diego emits for the ``count``-th crash of a RUNNING instance and its restart."""
    if count < 3:
        unclaimed = created("UNCLAIMED", at, count, guid)
        gone = removed("RUNNING", at - 5, count - 1, guid)
        events = [crashed(at, count, guid), *((unclaimed, gone) if diego_order else (gone, unclaimed))]
        return events + running(at + 1, count, guid)
    events = [crashed(at, count, guid), changed("RUNNING", "CRASHED", at, count - 1, count, guid)]
    if restart_at is None:
        return events
    unclaimed, gone = created("UNCLAIMED", restart_at, count, guid), removed("CRASHED", at, count, guid)
    events += [unclaimed, gone] if diego_order else [gone, unclaimed]
    return events + running(restart_at + 1, count, guid)


def judge(events: list[Event], close_at: float | None = None, timing: Timing = DIEGO,
          **kwargs) -> tuple[CrashPolicy, Measurements]:
    m = Measurements()
    policy = CrashPolicy(timing, m.rate("CrashRestartOnPolicy"), slack=SLACK, **kwargs)
    for event in events:
        policy.observe_event(event)
    if close_at is not None:
        policy.close(T0 + close_at)
    return policy, m


def outcomes(policy: CrashPolicy) -> list[tuple[int, str]]:
    return [(j.crash_count, j.outcome) for j in policy.judgments]


def verdict(m: Measurements) -> slo.Verdict:
    (v,) = slo.evaluate_all(m, {"CrashRestartOnPolicy": "rate == 1"})
    return v


def conformant_life(diego_order: bool) -> list[Event]:
    events = [created("UNCLAIMED", 0, 0), *running(1, 0)]
    events += diego_crash(100, 1, None, diego_order=diego_order)
    events += diego_crash(200, 2, None, diego_order=diego_order)
    events += diego_crash(300, 3, 300 + 30 + 17, diego_order=diego_order)  # next tick after 30 s
    events += diego_crash(400, 4, 400 + 60 + 29.5, diego_order=diego_order)
    events += diego_crash(600, 5, 600 + 120 + 0.2, diego_order=diego_order)
    events += diego_crash(1000, 9, 1000 + 960 + 12, diego_order=diego_order)  # capped at 16 min
    return events


@pytest.mark.parametrize("diego_order", [True, False], ids=["created-then-removed", "removed-then-created"])
def test_diego_conformant_restarts_are_all_ok(diego_order):
    policy, m = judge(conformant_life(diego_order), close_at=5000)
    assert outcomes(policy) == [(1, "ok"), (2, "ok"), (3, "ok"), (4, "ok"), (5, "ok"), (9, "ok")]
    assert verdict(m).passed
    assert policy.pending == 0


def test_a_bbs_that_restarts_the_third_crash_at_once_is_early():
    events = [*diego_crash(100, 1, None), *diego_crash(200, 2, None),
              *diego_crash(300, 3, None)[:1],  # crashed(3) and, like crash 1 and 2, UNCLAIMED at once
              created("UNCLAIMED", 300, 3), removed("RUNNING", 250, 2), *running(301, 3)]
    policy, m = judge(events, close_at=1000)
    assert outcomes(policy) == [(1, "ok"), (2, "ok"), (3, "early")]
    v = verdict(m)
    assert not v.passed
    assert m.metric("CrashRestartOnPolicy").failures == {"early": 1}


def test_crashed_first_but_restarted_before_the_backoff_is_early():
    policy, m = judge(diego_crash(300, 3, 300 + 12), close_at=1000)
    assert outcomes(policy) == [(3, "early")]
    assert not verdict(m).passed


def test_a_bbs_that_never_restarts_is_late_at_close():
    policy, m = judge(diego_crash(300, 3, None), close_at=300 + 30 + 30 + SLACK + 0.1)
    assert outcomes(policy) == [(3, "late")]
    assert not verdict(m).passed


def test_a_crash_not_yet_due_stays_unjudged_at_close():
    policy, m = judge(diego_crash(300, 3, None))
    assert policy.close(T0 + 300 + 30) == 1
    assert list(policy.judgments) == [] and m.metric("CrashRestartOnPolicy").total == 0


def test_the_stream_shows_a_missing_restart_late_without_waiting_for_close():
    # another app's events carry the BBS's clock past the bound (plus the reorder allowance)
    events = [*diego_crash(300, 3, None), *diego_crash(395, 1, None, guid="other")]
    policy, m = judge(events)
    assert outcomes(policy) == [(3, "late"), (1, "ok")]
    assert m.metric("CrashRestartOnPolicy").failures == {"late": 1}


def test_a_restart_after_backoff_plus_a_convergence_tick_is_late():
    bound = 300 + 30 + 30 + SLACK
    policy, _ = judge(diego_crash(300, 3, bound + 0.5), close_at=1000)
    assert outcomes(policy) == [(3, "late")]


def test_a_third_crash_restarted_on_time_without_being_crashed_is_not_crashed_first():
    events = [crashed(300, 3), created("UNCLAIMED", 340, 3), removed("RUNNING", 250, 2)]
    policy, _ = judge(events, close_at=1000)
    assert outcomes(policy) == [(3, "not-crashed-first")]


def test_a_first_crash_held_crashed_is_not_immediate():
    events = [crashed(100, 1), changed("RUNNING", "CRASHED", 100, 0, 1),
              created("UNCLAIMED", 130, 1), removed("CRASHED", 100, 1)]
    policy, _ = judge(events, close_at=1000)
    assert outcomes(policy) == [(1, "not-immediate")]


def test_a_crash_known_only_from_crash_count_is_judged():
    # a BBS that sends no actual_lrp_crashed and reports the restart as a change of count 2 -> 3
    events = [created("UNCLAIMED", 0, 2), *running(1, 2), changed("RUNNING", "UNCLAIMED", 300, 2, 3)]
    policy, _ = judge(events, close_at=1000)
    assert outcomes(policy) == [(3, "early")]


def test_a_crash_again_before_any_restart_was_seen_cannot_be_judged_ok():
    events = [*diego_crash(300, 3, None), crashed(400, 4), changed("RUNNING", "CRASHED", 400, 3, 4)]
    policy, _ = judge(events, close_at=400 + 60 + 1)
    assert outcomes(policy)[0] == (3, "restart-not-seen")


def test_instances_no_longer_desired_are_dropped_and_other_apps_filtered():
    gone = models.DesiredLRP(process_guid="crashy", instances=0)
    events = [*diego_crash(300, 3, None),
              Event("desired_lrp_removed", 0, models.DesiredLRPRemovedEvent(desired_lrp=gone)),
              *diego_crash(300, 3, 312, guid="not-mine")]
    policy, m = judge(events, close_at=5000, process_guids={"crashy"})
    assert list(policy.judgments) == [] and policy.dropped == 1
    assert m.metric("CrashRestartOnPolicy").total == 0


def test_evacuating_copies_are_not_the_instance():
    events = [*diego_crash(300, 3, None), created("RUNNING", 310, 3, presence=1),
              changed("RUNNING", "RUNNING", 311, 3, 3, presence=1)]
    policy, _ = judge(events, close_at=300 + 30 + 1)
    assert policy.pending == 1 and list(policy.judgments) == []


def test_two_hundredth_crash_is_never_restarted():
    policy, _ = judge(diego_crash(300, 200, None), close_at=100_000)
    assert outcomes(policy) == [(200, "ok")]
    policy, _ = judge(diego_crash(300, 200, 5000), close_at=100_000)
    assert outcomes(policy) == [(200, "restarted-after-give-up")]


def test_backoff_is_diegos_table_scaled():
    assert [backoff(n, 30.0) for n in (1, 2, 3, 4, 5, 6, 7, 8, 12, 199)] == \
        [0, 0, 30, 60, 120, 240, 480, 960, 960, 960]
    assert backoff(200, 30.0) is None
    assert backoff(4, Timing(time_scale=0.1).crash_backoff_unit) == pytest.approx(6.0)


def test_bad_slack_is_a_clear_error():
    with pytest.raises(ValueError, match="slack"):
        CrashPolicy(DIEGO, Measurements().rate("x"), slack=-1)


def test_events_without_since_are_timed_by_their_arrival():
    m = Measurements()
    policy = CrashPolicy(DIEGO, m.rate("CrashRestartOnPolicy"), slack=SLACK)
    bare_crash = Event("actual_lrp_crashed", 0,
                       models.ActualLRPCrashedEvent(actual_lrp_key=key(), crash_count=3))
    bare_crashed = Event("actual_lrp_instance_changed", 0, models.ActualLRPInstanceChangedEvent(
        actual_lrp_key=key(), after=models.ActualLRPInfo(state="CRASHED", crash_count=3)))
    bare_restart = Event("actual_lrp_instance_created", 0, models.ActualLRPInstanceCreatedEvent(
        actual_lrp=models.ActualLRP(actual_lrp_key=key(), state="UNCLAIMED", crash_count=3)))
    policy.observe_event(bare_crash, received_at=T0)
    policy.observe_event(bare_crashed, received_at=T0)
    policy.observe_event(bare_restart, received_at=T0 + 45)
    assert outcomes(policy) == [(3, "ok")]
