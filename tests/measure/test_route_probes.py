"""Route probes through a local 'router' and route table sampling."""

import json
import time

import pytest
import requests

from pytest_diego.measure import EndpointError, Measurements, Periodic, RouteProber, sample_route_table


def test_probes_every_app_and_tracks_outages(server):
    state = {"down": set()}

    def router(req):
        host = req.headers["Host"]
        if host in state["down"]:
            server.send(req, 404, b"unknown route")
        else:
            server.send(req, 200, json.dumps({"host": host}).encode())

    server.handler = router
    m = Measurements()
    prober = RouteProber(server.url, m, ["a.apps.test", "b.apps.test"], timeout=2)
    prober.probe_all()
    state["down"].add("b.apps.test")
    prober.probe_all()
    time.sleep(0.05)
    prober.probe_all()
    state["down"].clear()
    prober.probe_all()
    prober.close()
    a, b = m.probes["a.apps.test"], m.probes["b.apps.test"]
    assert (a.ok, a.failed, a.longest_outage) == (4, 0, 0.0)
    assert (b.ok, b.failed) == (2, 2)
    assert b.failures == {"HTTP 404": 2}
    assert b.longest_outage >= 0.05
    availability = m.metric("RouteAvailability")
    assert (availability.ok, availability.total) == (6, 8)
    assert m.metric("RouteProbeLatency").count == 8


def test_an_outage_still_open_at_the_end_counts_to_the_end(server):
    server.handler = lambda req: server.send(req, 502, b"")
    m = Measurements()
    prober = RouteProber(server.url, m, ["a.apps.test"], timeout=2, concurrency=1)
    prober.probe_all()
    time.sleep(0.05)
    prober.close()
    assert m.probes["a.apps.test"].longest_outage >= 0.05


def test_unreachable_router_is_a_failed_probe_not_a_crash():
    m = Measurements()
    assert RouteProber("http://127.0.0.1:9", m, ["a"], timeout=1).probe("a") == "ConnectionError"


def test_periodic_probing_is_bounded_in_time(server):
    server.handler = lambda req: server.send(req, 200, b"ok")
    m = Measurements()
    prober = RouteProber(server.url, m, lambda: ["a", "b"], timeout=1)
    sampler = Periodic(prober.probe_all, interval=0.05, duration=0.3).start()
    sampler._thread.join(5)
    assert not sampler._thread.is_alive()
    assert 1 <= m.metric("RouteAvailability").total // 2 <= 7
    assert sampler.error_count == 0


def test_route_table_size(server):
    table = {"a.apps.test": [{"address": "127.1.0.1:61001"}, {"address": "127.1.0.2:61001"}],
             "b.apps.test": [{"address": "127.1.0.1:61002"}]}
    server.handler = lambda req: server.send(req, 200, json.dumps(table).encode(), "application/json")
    m = Measurements()
    assert sample_route_table(requests.Session(), server.url, m) == 2
    assert m.metric("RouterRoutes").values() == [2.0]
    assert m.metric("RouterEndpoints").values() == [3.0]


def test_route_table_garbage_is_a_clear_error(server):
    server.handler = lambda req: server.send(req, 200, b"[1, 2]")
    with pytest.raises(EndpointError, match="gorouter's route table"):
        sample_route_table(requests.Session(), server.url, Measurements())


def test_a_hanging_app_is_a_timeout_probe(server):
    server.handler = server.hang
    m = Measurements()
    assert RouteProber(server.url, m, ["a"], timeout=0.3).probe("a") == "Timeout"
    assert m.probes["a"].failures == {"Timeout": 1}


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
