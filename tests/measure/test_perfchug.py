"""perfchug's pairs and timeline milestones from a synthetic lager log."""

import json

import pytest

from pytest_diego.measure import Measurements, read_lager_logs
from pytest_diego.measure.perfchug import parse_timestamp

T0 = 1_700_000_000.0


def line(t, message, **data):
    return json.dumps({"timestamp": f"{t:.9f}", "source": "bbs", "message": message, "log_level": 1,
                       "data": data})


def test_pairs_milestones_and_unreadable_lines(tmp_path):
    log = tmp_path / "bbs.log"
    log.write_text("\n".join([
        line(T0, "bbs.request.serving", session="1", request="DesireTask"),
        line(T0 + 0.25, "bbs.request.done", session="1", request="DesireTask"),
        line(T0 + 0.1, "bbs.desire-task.starting", session="2", task_guid="t1"),
        line(T0 + 1.0, "bbs.start-task.finished", session="3", task_guid="t1"),
        line(T0 + 3.1, "bbs.complete-task.complete", session="4", task_guid="t1"),
        line(T0 + 4, "bbs.create-unclaimed-actual-lrp.starting", session="5", process_guid="web", index=2),
        line(T0 + 5, "bbs.claim-actual-lrp.complete", session="6",
             actual_lrp_key={"process_guid": "web", "index": 2}),
        line(T0 + 6.4, "bbs.start-actual-lrp.succeeded", session="7", process_guid="web", index=2),
        line(T0 + 6.5, "bbs.start-actual-lrp.complete", session="7",
             actual_lrp_key={"process_guid": "web", "index": 2}),
        line(T0 + 7, "auctioneer.auction.scheduling", session="8"),
        line(T0 + 7.5, "auctioneer.auction.scheduled", session="8"),
        line(T0 + 8, "bbs.request.serving", session="9", request="Tasks"),
        "this is not json",
        '{"timestamp": "x", "message": "bbs.y"}',
        "",
    ]) + "\n")
    m = Measurements()
    notes = read_lager_logs([log], m)
    assert notes == [f"2 unreadable lines in {log}", "1 lager.RequestLatency starts without an end"]
    assert m.metric("lager.RequestLatency").percentile(50) == pytest.approx(0.25, rel=0.01)
    assert m.metric("TaskLifecycle").percentile(50) == pytest.approx(3.0, rel=0.01)
    assert m.metric("LRPLifecycle").percentile(50) == pytest.approx(2.5, rel=0.01)  # perfchug's end
    assert m.metric("AuctionScheduleDuration").count == 1
    assert [ms for ms, _ in m.timelines.tasks["t1"]] == ["desired", "running", "completed"]
    assert m.timelines.lrps["web/2"] == [("created", T0 + 4), ("claimed", T0 + 5), ("running", T0 + 6.4)]
    assert m.metric("LRPTimeToClaim").percentile(50) == pytest.approx(1.0, rel=0.01)
    assert "RequestLatency" not in m.metrics  # server-side latency never mixes with the client's


def test_request_pairs_are_keyed_per_file(tmp_path):
    a, b = tmp_path / "cell-0.log", tmp_path / "cell-1.log"
    a.write_text(line(T0, "rep.request.serving", session="1", request="State") + "\n")
    b.write_text(line(T0 + 5, "rep.request.done", session="1", request="State") + "\n")
    m = Measurements()
    read_lager_logs([a, b], m)
    assert "lager.RequestLatency" not in m.metrics


@pytest.mark.parametrize(("text", "expected"), [
    ("1700000000.5", T0 + 0.5),
    (1700000000.25, T0 + 0.25),
    ("2023-11-14T22:13:20.123456789Z", T0 + 0.123456789),
    ("2023-11-14T23:13:20.5+01:00", T0 + 0.5),
])
def test_timestamps_in_unix_seconds_or_rfc3339(text, expected):
    assert parse_timestamp(text) == pytest.approx(expected, abs=1e-6)


def test_placement_errors_in_lager_logs_do_not_restart_an_instances_clock(tmp_path):
    # Diego's BBS logs the auctioneer's FailActualLRP and the stale-UNCLAIMED re-auction, but only
    # create-unclaimed-actual-lrp starts a life in the lager timeline (a regression guard: the
    # lager path never restarted the clock at these, the event path did).
    log = tmp_path / "bbs.log"
    key = {"process_guid": "web", "index": 0}
    log.write_text("\n".join([
        line(T0, "bbs.create-unclaimed-actual-lrp.starting", session="1", **key),
        line(T0 + 0.3, "bbs.fail-actual-lrp.starting", session="2", actual_lrp_key=key,
             placement_error="insufficient resources: memory"),
        line(T0 + 0.3, "bbs.fail-actual-lrp.complete", session="2", actual_lrp_key=key),
        line(T0 + 10, "bbs.converge-lrps.creating-start-request", session="3", reason="stale-unclaimed-lrp",
             **key),
        line(T0 + 10.2, "bbs.fail-actual-lrp.complete", session="4", actual_lrp_key=key),
        line(T0 + 20, "bbs.claim-actual-lrp.complete", session="5", **key),
        line(T0 + 21, "bbs.start-actual-lrp.complete", session="6", actual_lrp_key=key),
    ]) + "\n")
    m = Measurements()
    read_lager_logs([log], m)
    assert m.metric("LRPTimeToRunning").histogram.min == pytest.approx(21.0, rel=0.01)
    assert m.metric("LRPLifecycle").percentile(50) == pytest.approx(21.0, rel=0.01)
