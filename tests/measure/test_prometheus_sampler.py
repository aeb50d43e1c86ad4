"""``MetricsSampler``: Diego's names and units, counts per read, durations per distinct emission,
per-cell series, and endpoints that fail."""

from __future__ import annotations

import time

import pytest
from recorded import fixture_bytes

from pytest_diego.measure import EndpointError, Measurements, MetricsSampler, PrometheusQuery
from tests.support.stub_server import StubServer, answer, hang

AGENT = fixture_bytes("metrics_agent.prom").decode()
EXPORTER = fixture_bytes("firehose_exporter.prom")
QUERY = fixture_bytes("prometheus_query_vector.json")
CONVERGENCE = "2.1217044e+07"
RUNS = 'source_id="bbs"} 6'
REP = ('deployment="cf",index="0",instance_group="diego",instance_id="{cell}",ip="127.0.0.1",job="diego",'
       'loggregator_name="{b64}",origin="rep",source_id="rep",unit="{unit}"')


def agent(convergence: str = CONVERGENCE, runs: int = 6) -> bytes:
    """The recorded exposition with another ConvergenceLRPDuration value and run count."""
    return AGENT.replace(CONVERGENCE, convergence).replace(RUNS, f'source_id="bbs"}} {runs}').encode()


def cell(cell_id: str, bulk_sync_nanos: str, containers: int) -> bytes:
    """A cell VM's metrics agent: the rep's loop duration and its container count."""
    bulk_sync = REP.format(cell=cell_id, b64="UmVwQnVsa1N5bmNEdXJhdGlvbg==", unit="nanos")
    count = REP.format(cell=cell_id, b64="Q29udGFpbmVyQ291bnQ=", unit="Metric")
    return (f"# HELP RepBulkSyncDuration Metrics Agent collected metric\n"
            f"# TYPE RepBulkSyncDuration gauge\n"
            f"RepBulkSyncDuration{{{bulk_sync}}} {bulk_sync_nanos}\n"
            f"# HELP ContainerCount Metrics Agent collected metric\n"
            f"# TYPE ContainerCount gauge\n"
            f"ContainerCount{{{count}}} {containers}\n").encode()


def test_counts_every_read_and_durations_once_per_emission(server):
    server.responder = answer(200, agent())
    m = Measurements()
    sampler = MetricsSampler([server.url + "/metrics"], m, timeout=2)
    assert sampler.sample() == [] and sampler.sample() == []  # the BBS re-published the same value
    assert m.metric("LRPsRunning").values() == [4, 4]
    assert m.metric("ConvergenceLRPDuration").values() == [pytest.approx(0.021217044)]
    assert m.metric("ConvergenceLRPDuration").unit == "s"
    server.responder = answer(200, agent("2.3e+07", runs=8))  # two runs since, one of them seen
    sampler.sample()
    assert m.metric("ConvergenceLRPDuration").values() == [pytest.approx(0.021217044), pytest.approx(0.023)]
    assert sampler.emissions["ConvergenceLRPDuration"] == 2 == m.metric("ConvergenceLRPDuration").count
    assert sampler.runs == {"ConvergenceLRPDuration": 2}
    assert sampler.emissions["ConvergenceTaskDuration"] == 0  # wanted, never published here
    assert m.metric("RepBulkSyncDuration.cell-1").values() == [pytest.approx(0.001941544)]
    assert "RequestCount" not in m.metrics  # not wanted by default


def test_a_frozen_loop_does_not_make_evidence(server):
    """A stalled BBS keeps publishing its last ConvergenceLRPDuration: reads are not measurements."""
    server.responder = answer(200, agent())
    m = Measurements()
    sampler = MetricsSampler([server.url], m, timeout=2)
    for _ in range(5):
        sampler.sample()
    assert m.metric("ConvergenceLRPDuration").count == 1 and m.metric("LRPsRunning").count == 5
    assert sampler.runs == {"ConvergenceLRPDuration": 0}


def test_zero_before_the_first_run_is_not_a_measurement(server):
    server.responder = answer(200, agent("0", runs=0))
    m = Measurements()
    sampler = MetricsSampler([server.url], m, timeout=2)
    sampler.sample()
    assert "ConvergenceLRPDuration" not in m.metrics and sampler.emissions["ConvergenceLRPDuration"] == 0
    server.responder = answer(200, agent("1.5e+07", runs=1))
    sampler.sample()
    assert m.metric("ConvergenceLRPDuration").values() == [pytest.approx(0.015)]


def test_a_counter_reset_counts_like_prometheus_increase(server):
    m = Measurements()
    sampler = MetricsSampler([server.url], m, timeout=2)
    for runs in (6, 9, 2, 4):  # 9 -> 2: the agent reset the running total (an increase of 0 sent)
        server.responder = answer(200, agent(runs=runs))
        sampler.sample()
    assert sampler.runs == {"ConvergenceLRPDuration": 3 + 2 + 2}


def test_cells_are_kept_per_instance_and_combined():
    cells = [StubServer(), StubServer()]
    try:
        cells[0].responder = answer(200, cell("cell-1", "1.941544e+06", 3))
        cells[1].responder = answer(200, cell("cell-2", "3.302187e+06", 2))
        m = Measurements()
        sampler = MetricsSampler([c.url for c in cells], m, timeout=2)
        sampler.sample()
        cells[1].responder = answer(200, cell("cell-2", "4.1e+06", 2))  # only cell-2 synced again
        sampler.sample()
    finally:
        for c in cells:
            c.close()
    assert m.metric("ContainerCount").values() == [5, 5]
    assert m.metric("ContainerCount.cell-1").values() == [3, 3]
    assert m.metric("ContainerCount.cell-2").values() == [2, 2]
    bulk = m.metric("RepBulkSyncDuration")
    assert sorted(bulk.values()) == pytest.approx([0.001941544, 0.003302187, 0.0041])
    assert max(bulk.values()) == pytest.approx(0.0041)  # the slowest cell's loop
    assert m.metric("RepBulkSyncDuration.cell-2").count == 2
    assert m.metric("RepBulkSyncDuration.cell-1").count == 1
    assert sampler.emissions["RepBulkSyncDuration"] == 3


def test_firehose_exporter_and_prometheus_give_the_same_gauges(server):
    results = []
    sources = ((EXPORTER, lambda: server.url), (QUERY, lambda: PrometheusQuery(server.url, environ={})))
    for body, source in sources:
        server.responder = answer(200, body)
        m = Measurements()
        MetricsSampler([source()], m, timeout=2).sample()
        results.append({n: sorted(g.values()) for n, g in m.metrics.items() if "." not in n})
    exporter, prometheus = results  # per-instance names differ: the exporter knows BOSH job ids, not cells
    assert exporter == prometheus
    assert exporter["ConvergenceLRPDuration"] == [pytest.approx(0.021217044)]
    assert exporter["ContainerCount"] == [5] and exporter["RoutesTotal"] == [5]


def test_garbage_is_a_clear_error_naming_the_url(server):
    server.responder = answer(200, b"<html>\nnot metrics{{{ at all\n</html>")
    errors = MetricsSampler([server.url + "/metrics"], Measurements(), timeout=2).sample()
    assert len(errors) == 1
    assert f"{server.url}/metrics is not Prometheus text format" in str(errors[0])
    assert "<html>" in str(errors[0])


def test_http_error_status_is_reported(server):
    server.responder = answer(500, b"boom")
    errors = MetricsSampler([server.url + "/metrics"], Measurements(), timeout=2).sample()
    assert len(errors) == 1 and "HTTP 500" in str(errors[0])


def test_a_hanging_endpoint_times_out_instead_of_hanging(server):
    server.responder = hang
    m = Measurements()
    started = time.monotonic()
    errors = MetricsSampler([server.url + "/metrics"], m, timeout=0.3).sample()
    assert time.monotonic() - started < 2.5
    assert len(errors) == 1 and "did not answer within 0.3 s" in str(errors[0])
    assert errors[0].kind == "Timeout"
    assert m.metrics == {}


def test_unreachable_endpoint_is_reported_and_others_still_sampled(server):
    server.responder = answer(200, agent())
    m = Measurements()
    sampler = MetricsSampler(["http://127.0.0.1:9/metrics", server.url + "/metrics"], m, timeout=1)
    errors = sampler.sample()
    assert len(errors) == 1 and "cannot connect to http://127.0.0.1:9/metrics" in str(errors[0])
    assert isinstance(errors[0], EndpointError) and errors[0].kind == "ConnectionError"
    assert sampler.failures == {"http://127.0.0.1:9/metrics": 1}
    assert m.metric("LRPsRunning").values() == [4]


def test_failures_are_keyed_by_the_url_without_credentials():
    sampler = MetricsSampler(["http://scraper:hunter2@127.0.0.1:9/metrics"], Measurements(), timeout=1)
    (error,) = sampler.sample()
    assert sampler.failures == {"http://127.0.0.1:9/metrics": 1}
    assert "hunter2" not in str(error) and "hunter2" not in str(sampler.last_error)


def test_durations_without_a_unit_label_are_taken_as_seconds(server):
    server.responder = answer(200, b"# TYPE ConvergenceLRPDuration gauge\nConvergenceLRPDuration 0.25\n")
    m = Measurements()
    MetricsSampler([server.url], m, timeout=2).sample()
    assert m.metric("ConvergenceLRPDuration").values() == [0.25]
