"""Route probes on a fixed timetable through a local 'router' (planted faults: hangs, 502s), and
route table sampling."""

import json
import time

import pytest

from pytest_diego.measure import (
    AppProbe,
    EndpointError,
    Measurements,
    Periodic,
    RouteProber,
)

INTERVAL = 0.5  # long enough that a healthy local router answers in time on a busy machine


def healthy(request, handler):
    return 200, {}, json.dumps({"host": request.headers["Host"]}).encode()


def test_a_healthy_router_gives_exactly_the_timetables_slot_count(server):
    server.responder = healthy
    m = Measurements()
    hosts = ["a.apps.test", "b.apps.test", "c.apps.test"]
    RouteProber(server.url, m, hosts, interval=INTERVAL, concurrency=4).run(4.8)
    availability, latency = m.metric("RouteAvailability"), m.metric("RouteProbeLatency")
    assert availability.total == latency.count == 3 * 10  # ceil(4.8 / 0.5) slots per app
    assert all(m.probes[h].total == 10 for h in hosts)
    assert availability.rate >= 0.9, availability.failures  # a loaded machine may miss a deadline


def test_a_router_that_hangs_every_request_for_three_intervals_is_unavailable(server):
    # Every request is held 3 intervals, then answered 200. Probes that waited for the answer
    # counted it ok and sent a third as many probes; on the timetable no slot has an answer by
    # its deadline, and the outage is the whole run.
    def hang(request, handler):
        time.sleep(3 * INTERVAL)
        return healthy(request, handler)

    server.responder = hang
    m = Measurements()
    RouteProber(server.url, m, ["a.apps.test", "b.apps.test"], interval=INTERVAL, concurrency=2).run(3.0)
    availability = m.metric("RouteAvailability")
    assert availability.total == 2 * 6
    assert availability.rate == 0.0
    assert set(availability.failures) <= {"no answer by deadline", "not started on time"}
    for host in ("a.apps.test", "b.apps.test"):
        assert m.probes[host].outages == 1
        assert m.probes[host].longest_outage == pytest.approx(3.0, abs=1e-6)  # 6 slots x 0.5 s
    assert m.metric("RouteProbeLatency").histogram.min >= INTERVAL * 0.99  # at least the timeout


def test_a_hang_of_three_intervals_is_an_outage_of_three_intervals(server):
    started = time.monotonic()

    def router(request, handler):
        if 1.5 <= time.monotonic() - started < 1.5 + 3 * INTERVAL:
            time.sleep(3 * INTERVAL)
        return healthy(request, handler)

    server.responder = router
    m = Measurements()
    RouteProber(server.url, m, ["a.apps.test"], interval=INTERVAL, concurrency=4).run(4.5)
    app = m.probes["a.apps.test"]
    assert app.total == 9 and app.outages == 1
    assert app.longest_outage == pytest.approx(3 * INTERVAL, abs=INTERVAL + 1e-6)
    assert m.metric("RouteAvailability").rate <= 1 - 2 / 9


def test_a_router_answering_502_for_5s_gives_a_5s_outage(server):
    started = time.monotonic()

    def router(request, handler):
        if 1.0 <= time.monotonic() - started < 6.0:
            return 502, {}, b"no endpoints"
        return healthy(request, handler)

    server.responder = router
    m = Measurements()
    RouteProber(server.url, m, ["a.apps.test"], interval=INTERVAL, concurrency=2).run(7.5)
    app = m.probes["a.apps.test"]
    assert app.total == 15 and app.outages == 1
    assert app.longest_outage == pytest.approx(5.0, abs=INTERVAL + 1e-6)
    assert app.failures.get("HTTP 502", 0) == pytest.approx(10, abs=1)
    assert m.metric("RouteAvailability").rate == pytest.approx(5 / 15, abs=1.5 / 15)


def test_one_missed_slot_is_a_failure_not_an_outage():
    app = AppProbe()
    for k, outcome in enumerate(["ok", "HTTP 502", "ok", "HTTP 502", "Timeout", "ok", "HTTP 404"]):
        app.record(k * 1.0, outcome)
    app.close(7.0)
    assert (app.ok, app.failed, app.outages, app.longest_outage) == (3, 4, 1, 2.0)
    app.record(7.0, "HTTP 502")
    app.record(8.0, "HTTP 502")
    app.record(9.0, "HTTP 502")
    app.close(10.0)  # an outage still open at the end lasts to the slot after the last one
    assert (app.outages, app.longest_outage) == (2, 3.0)
    merged = AppProbe.from_dict(app.to_dict()).merge(AppProbe(ok=1, outages=1, longest_outage=9.0))
    assert (merged.ok, merged.outages, merged.longest_outage) == (4, 3, 9.0)


def test_apps_that_join_later_start_at_their_next_slot(server):
    server.responder = healthy
    hosts = ["a.apps.test"]
    m = Measurements()
    prober = RouteProber(server.url, m, lambda: list(hosts), interval=INTERVAL, concurrency=2).start()
    time.sleep(2.0)
    hosts.append("b.apps.test")
    time.sleep(2.0)
    prober.stop()
    a, b = m.probes["a.apps.test"].total, m.probes["b.apps.test"].total
    assert 8 <= a <= 10 and 2 <= b <= a - 3
    assert m.metric("RouteAvailability").total == a + b


def test_an_app_that_goes_away_and_comes_back_is_probed_again_without_an_outage(server):
    down = {"on": False}

    def router(request, handler):  # while the app is away its route is gone
        if down["on"]:
            return 404, {}, b"unknown route"
        return healthy(request, handler)

    server.responder = router
    hosts = ["a.apps.test"]
    m = Measurements()
    prober = RouteProber(server.url, m, lambda: list(hosts), interval=INTERVAL, concurrency=2).start()
    time.sleep(2.0)
    hosts.clear()
    down["on"] = True
    time.sleep(2.0)
    down["on"] = False
    hosts.append("a.apps.test")
    time.sleep(2.0)
    prober.stop()
    app = m.probes["a.apps.test"]
    assert 5 <= app.total <= 10 and app.outages == 0
    assert app.ok >= app.total - 2  # at most a slot on each edge of the absence


def test_an_unreachable_router_fails_every_slot():
    m = Measurements()
    RouteProber("http://127.0.0.1:9", m, ["a"], interval=INTERVAL).run(2.0)
    assert m.metric("RouteAvailability").failures == {"ConnectionError": 4}
    assert m.probes["a"].longest_outage == pytest.approx(2.0, abs=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"interval": 1.0, "timeout": 2.0}, "at most the interval"),
    ({"interval": 0}, "interval must be > 0"),
    ({"interval": 1.0, "concurrency": 0}, "at least 1 thread"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RouteProber("http://127.0.0.1:9", Measurements(), ["a"], **kwargs)


def test_periodic_sampling_is_bounded_in_time():
    calls = []
    sampler = Periodic(lambda: calls.append(time.monotonic()), interval=0.05, duration=0.3).start()
    sampler._thread.join(5)
    assert not sampler._thread.is_alive()
    assert 1 <= len(calls) <= 7
    assert sampler.error_count == 0


def test_periodic_as_a_context_manager_stops_on_exit_and_keeps_errors():
    calls = []

    def sample():
        calls.append(1)
        raise EndpointError("down", "ConnectionError")

    with Periodic(sample, interval=0.01) as periodic:
        for _ in range(500):
            if len(calls) >= 2:
                break
            time.sleep(0.01)
    assert not periodic._thread.is_alive()
    assert len(periodic.errors) == periodic.error_count == len(calls) >= 2
    with pytest.raises(ValueError, match="must be positive"):
        Periodic(sample, interval=0)


def test_stopping_does_not_wait_for_slots_not_yet_due_however_long_the_interval(server):
    server.handler = lambda req: healthy(server, req)
    m = Measurements()
    hosts = [f"app-{i}.apps.test" for i in range(300)]  # phases spread over the 60 s interval
    started = time.monotonic()
    prober = RouteProber(server.url, m, hosts, interval=60.0, timeout=2.0).start()
    time.sleep(0.5)
    stopping = time.monotonic()
    prober.stop()
    assert time.monotonic() - stopping < 5.0  # not the 60 s a slot of the last app is due in
    judged = m.metric("RouteAvailability")
    total = judged.total if judged is not None else 0
    # the slots already due were judged; none of those not yet due
    assert sum(prober.phase(h) < 0.45 for h in hosts) <= total
    assert total <= sum(prober.phase(h) < stopping - started + 0.05 for h in hosts)
