"""Sampling Prometheus endpoints: Diego names, units, garbage and hanging endpoints."""

import time

import pytest

from pytest_diego.measure import EndpointError, Measurements, MetricsSampler
from pytest_diego.measure.prometheus import parse

METRICS = b"""# HELP ConvergenceLRPDuration Time the BBS took to run LRP convergence.
# TYPE ConvergenceLRPDuration gauge
ConvergenceLRPDuration 2500000000
# TYPE LRPsRunning gauge
LRPsRunning{cell_id="cell-0"} 3
LRPsRunning{cell_id="cell-1"} 4
# TYPE RepBulkSyncDuration gauge
RepBulkSyncDuration{cell_id="cell-0"} 1000000000
RepBulkSyncDuration{cell_id="cell-1"} 3000000000
# TYPE SomethingElse gauge
SomethingElse 1
"""


def test_samples_diego_metrics_as_gauges_in_seconds(server):
    server.handler = lambda req: server.send(req, 200, METRICS)
    m = Measurements()
    sampler = MetricsSampler([server.url + "/metrics"], m, timeout=2, duration_scale=1e9)  # Diego's ns
    assert sampler.sample() == []
    assert sampler.sample() == []
    assert m.metric("ConvergenceLRPDuration").values() == [2.5, 2.5]
    assert m.metric("ConvergenceLRPDuration").unit == "s"
    assert m.metric("LRPsRunning").values() == [7.0, 7.0]  # counts add up over cells
    assert m.metric("RepBulkSyncDuration").values() == [3.0, 3.0]  # the slowest cell's loop
    assert "SomethingElse" not in m.metrics


def test_garbage_is_a_clear_error_naming_the_url(server):
    server.handler = lambda req: server.send(req, 200, b"<html>\nnot metrics{{{ at all\n</html>")
    sampler = MetricsSampler([server.url + "/metrics"], Measurements(), timeout=2)
    with pytest.raises(EndpointError, match=r"/metrics is not Prometheus text format.*<html>"):
        sampler.scrape(server.url + "/metrics")


def test_http_error_status_is_reported(server):
    server.handler = lambda req: server.send(req, 500, b"boom")
    errors = MetricsSampler([server.url + "/metrics"], Measurements(), timeout=2).sample()
    assert len(errors) == 1 and "HTTP 500" in str(errors[0])


def test_a_hanging_endpoint_times_out_instead_of_hanging(server):
    server.handler = server.hang
    m = Measurements()
    started = time.monotonic()
    errors = MetricsSampler([server.url + "/metrics"], m, timeout=0.3).sample()
    assert time.monotonic() - started < 2.5
    assert len(errors) == 1 and "did not answer within 0.3 s" in str(errors[0])
    assert errors[0].kind == "Timeout"
    assert m.metrics == {}


def test_unreachable_endpoint_is_reported_and_others_still_sampled(server):
    server.handler = lambda req: server.send(req, 200, METRICS)
    m = Measurements()
    sampler = MetricsSampler(["http://127.0.0.1:9/metrics", server.url + "/metrics"], m, timeout=1)
    errors = sampler.sample()
    assert len(errors) == 1 and "cannot connect to http://127.0.0.1:9/metrics" in str(errors[0])
    assert errors[0].kind == "ConnectionError"
    assert sampler.failures == {"http://127.0.0.1:9/metrics": 1}
    assert m.metric("LRPsRunning").values() == [7.0]


def test_seconds_metrics_are_not_rescaled():
    assert parse("# TYPE x_seconds gauge\nx_seconds 1.5\n") == {"x_seconds": 1.5}


def test_durations_served_in_seconds_are_kept_as_served(server):
    server.handler = lambda req: server.send(req, 200, b"# TYPE ConvergenceLRPDuration gauge\n"
                                             b"ConvergenceLRPDuration 0.25\n")
    m = Measurements()
    MetricsSampler([server.url + "/metrics"], m, timeout=2).sample()
    assert m.metric("ConvergenceLRPDuration").values() == [0.25]


def test_per_endpoint_metrics_are_kept_per_labelled_cell(server):
    server.handler = lambda req: server.send(req, 200, b"# TYPE ContainerCount gauge\nContainerCount 5\n")
    url = server.url + "/metrics"
    m = Measurements()
    assert MetricsSampler([url], m, timeout=2, labels={url: "cell-3"}).sample() == []
    assert m.metric("ContainerCount.cell-3").values() == [5.0]
    assert m.metric("ContainerCount").values() == [5.0]
