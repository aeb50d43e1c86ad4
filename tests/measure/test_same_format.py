"""One format, one parser: the embedded components publish the metrics agent's exposition, checked
line by line against the recorded real one, and read back by the same parser as a real Diego's."""

from __future__ import annotations

import base64
import re

import pytest
from prometheus_client import Gauge
from recorded import fixture_bytes

from pytest_diego.cluster.auctioneer.metrics import AuctioneerMetrics
from pytest_diego.cluster.bbs.core import Counters
from pytest_diego.cluster.bbs.metrics import Metrics as BBSMetrics
from pytest_diego.cluster.metrics_agent import Point, Publisher, go_float, registry_points, render
from pytest_diego.cluster.route_emitter.metrics import RouteEmitterMetrics
from pytest_diego.cluster.router.metrics import RouterMetrics
from pytest_diego.measure.metric_samples import MetricNames
from pytest_diego.measure.prometheus import DEFAULT_METRICS
from pytest_diego.measure.prometheus_text import parse_exposition

RECORDED = fixture_bytes("metrics_agent.prom").decode()
LINE = re.compile(r"^(?P<name>\w+)\{(?P<labels>[^}]*)\} (?P<value>\S+)$")


def label_keys(line: str) -> list[str]:
    match = LINE.match(line)
    assert match, line
    return [pair.split("=", 1)[0] for pair in match["labels"].split(",")]


def label(line: str, key: str) -> str | None:
    match = re.search(f'{key}="([^"]*)"', line)
    return match[1] if match else None


def recorded_line(name: str, source_id: str) -> str:
    return next(line for line in RECORDED.splitlines()
                if line.startswith(name + "{") and f'source_id="{source_id}"' in line)


def test_the_writer_reproduces_the_recorded_lines_exactly():
    bbs = Publisher("bbs", "6b1f3c2e-bbs-0", deployment="cf")
    ours = render(bbs, [Point("ConvergenceLRPDuration", "gauge", 0.021217044),
                        Point("ConvergenceLRPRuns", "counter", 6), Point("LRPsRunning", "gauge", 4),
                        Point("RequestCount", "counter", 2286),
                        Point("RequestLatency", "gauge", 0.007455511)])
    rep = Publisher("rep", "cell-1", deployment="cf")
    ours += render(rep, [Point("RepBulkSyncDuration", "gauge", 0.001941544)])
    recorded = RECORDED.splitlines()
    for line in ours.decode().splitlines():
        assert line in recorded, line


@pytest.mark.parametrize(("value", "go"), [(21217044.0, "2.1217044e+07"), (6, "6"), (2286, "2286"), (0, "0"),
                                          (1941544.0, "1.941544e+06"), (123456.0, "123456"), (0.5, "0.5"),
                                          (1e-05, "1e-05"), (-3.25, "-3.25"), (float("inf"), "+Inf")])
def test_values_are_written_as_go_writes_them(value, go):
    assert go_float(value) == go


def embedded_expositions() -> dict[str, str]:
    bbs = BBSMetrics(Counters(), 60.0)
    bbs.lrp_duration.set(0.012)
    bbs.lrp_runs.inc()
    bbs.set_counts({"LRPsRunning": 3, "PresentCells": 2})
    bbs.set_domains({"cf-apps"}, {"cf-apps"})
    bbs.requests.observe("DesireTask", 0.004)
    auctioneer = AuctioneerMetrics()
    auctioneer.fetch_states_duration.set(0.002)
    auctioneer.request_served(0.001)
    emitter = RouteEmitterMetrics()
    emitter.sync_duration.set(0.005)
    emitter.routes_total.set(7)
    return {"bbs": bbs.render().decode(), "auctioneer": auctioneer.exposition().decode(),
            "route_emitter": emitter.render().decode(),
            "gorouter": RouterMetrics(lambda: 7).render().decode()}


@pytest.mark.parametrize(("name", "source_id"), [
    ("ConvergenceLRPDuration", "bbs"), ("ConvergenceLRPRuns", "bbs"), ("LRPsRunning", "bbs"),
    ("RequestCount", "bbs"), ("RequestLatency", "bbs"), ("AuctioneerFetchStatesDuration", "auctioneer"),
    ("RequestCount", "auctioneer"), ("RouteEmitterSyncDuration", "route_emitter"),
])
def test_embedded_lines_have_the_recorded_labels_type_and_unit(name, source_id):
    text = embedded_expositions()[source_id]
    ours = next(line for line in text.splitlines() if line.startswith(name + "{"))
    real = recorded_line(name, source_id)
    assert label_keys(ours) == label_keys(real)
    for key in ("unit", "origin", "source_id", "loggregator_name"):
        assert label(ours, key) == label(real, key), key
    assert f"# HELP {name} Metrics Agent collected metric\n# TYPE {name} " in text
    kind = re.search(f"# TYPE {name} (\\w+)", RECORDED)[1]
    assert f"# TYPE {name} {kind}\n" in text


def test_the_same_parser_reads_embedded_and_real_alike():
    wanted = MetricNames([*DEFAULT_METRICS, "ConvergenceLRPRuns", "Domain.cf-apps",
                          "RequestCount.DesireTask"])
    texts = embedded_expositions()
    samples = {(s.name, s.origin): s for text in texts.values() for s in parse_exposition(text, wanted)}
    assert samples[("ConvergenceLRPDuration", "bbs")].value == pytest.approx(0.012)
    assert samples[("ConvergenceLRPDuration", "bbs")].unit == "s"
    assert samples[("ConvergenceLRPRuns", "bbs")].kind == "counter"
    assert samples[("Domain.cf-apps", "bbs")].value == 1
    assert samples[("RequestCount.DesireTask", "bbs")].value == 1
    assert samples[("AuctioneerFetchStatesDuration", "auctioneer")].value == pytest.approx(0.002)
    assert samples[("RoutesTotal", "route_emitter")].value == 7
    assert {s.instance for s in samples.values()} == {"bbs-0", "auctioneer-0", "route_emitter-0"}


def test_every_line_names_itself_in_loggregator_name():
    for text in embedded_expositions().values():
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            name = base64.b64decode(re.search(r'loggregator_name="([^"]*)"', line)[1]).decode()
            assert line.startswith(re.sub(r"[^A-Za-z0-9_]", "_", name) + "{"), line


def test_a_metric_with_two_labels_cannot_be_published():
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    Gauge("Thing", "x", ["a", "b"], registry=registry).labels(a="1", b="2").set(1)
    with pytest.raises(ValueError, match="at most one label"):
        registry_points(registry)
