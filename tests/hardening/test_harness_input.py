"""The harness's own input: malformed results files, unreadable lager logs, metrics endpoints,
Prometheus servers and router status listeners that answer garbage or hang, and measurement shards
that are not what a worker writes. Each gives
a clear error naming the input, promptly; never a hang, never a bare traceback."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time

import pytest
from bad_endpoints import BEHAVIOURS, BadEndpoint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_diego.measure import (
    EndpointError,
    LagerReader,
    Measurements,
    MetricsSampler,
    PrometheusQuery,
    RouteTable,
    read_lager_logs,
)
from pytest_diego.measure.perfchug import LagerLogError
from pytest_diego.report.load import ResultsError, load_results
from tests.support.sample_results import sample_results

FAST = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


# -- results files --------------------------------------------------------------------------------

SAMPLE = json.dumps(sample_results())

MALFORMED_RESULTS = {
    "empty": b"",
    "binary": bytes(range(256)),
    "not utf-8": b'{"schema": 1, "x": "\xff"}',
    "truncated": SAMPLE.encode()[:200],
    "a list": b"[1, 2, 3]",
    "another schema": b'{"schema": 99, "environment": {}, "tests": {}}',
    "tests of the wrong type": b'{"schema": 1, "environment": {}, "tests": []}',
    "deeply nested": b'{"schema": 1, "environment": {}, "tests": {"t::x": '
                     + b"[" * 100_000 + b"]" * 100_000 + b"}}",
}




@pytest.mark.parametrize("kind", sorted(MALFORMED_RESULTS))
def test_malformed_results_file_is_a_clear_error(tmp_path, kind):
    path = tmp_path / "results.json"
    path.write_bytes(MALFORMED_RESULTS[kind])
    with pytest.raises(ResultsError, match=str(path)):
        load_results(path)


def test_results_path_that_is_missing_or_a_directory(tmp_path):
    with pytest.raises(ResultsError, match="no such file"):
        load_results(tmp_path / "nothing.json")
    with pytest.raises(ResultsError, match=str(tmp_path)):
        load_results(tmp_path)


@FAST
@given(document=json_values)
def test_any_json_document_loads_or_is_a_results_error(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("doc") / "results.json"
    path.write_text(json.dumps(document))
    try:
        load_results(path)
    except ResultsError as e:
        assert str(path) in str(e)


@FAST
@given(data=st.data())
def test_mutated_results_load_or_are_a_results_error(tmp_path_factory, data):
    """A real results document with one value anywhere replaced by any JSON value."""
    document = json.loads(SAMPLE)
    node, key = _pick(document, data)
    node[key] = data.draw(json_values)
    path = tmp_path_factory.mktemp("mutated") / "results.json"
    path.write_text(json.dumps(document))
    with contextlib.suppress(ResultsError):
        load_results(path)


def _pick(document, data):
    node, key = document, None
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            break
        key, child = data.draw(st.sampled_from(children))
        if not isinstance(child, (dict, list)) or not child:
            return node, key
        parent, node = node, child
    return (parent, key) if key is not None else (document, "tests")


@pytest.mark.parametrize("kind", ["binary", "another schema", "deeply nested"])
def test_report_command_on_a_malformed_file_is_one_clear_line(tmp_path, kind):
    path = tmp_path / "results.json"
    path.write_bytes(MALFORMED_RESULTS[kind])
    proc = subprocess.run([sys.executable, "-m", "pytest_diego", "report", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert str(path) in proc.stderr


# -- lager logs -----------------------------------------------------------------------------------

GOOD = json.dumps({"timestamp": "1700000000.5", "source": "bbs", "message": "bbs.request.serving",
                   "log_level": 1, "data": {"session": "1", "request": "/v1/ping"}})


def test_unreadable_lager_lines_are_counted_not_fatal(tmp_path):
    log = tmp_path / "bbs.log"
    lines = [GOOD, "not json at all", GOOD[: len(GOOD) // 2], '{"message": 5, "timestamp": "x"}',
             '{"timestamp": [1], "message": "a.desire-task.starting", "data": {"task_guid": {}}}',
             '{"timestamp": "1700000000", "message": "x.claim-actual-lrp.complete", '
             '"data": {"process_guid": "p", "index": "not a number"}}',
             '{"timestamp": "1700000000", "message": "x.start-actual-lrp.complete", '
             '"data": {"actual_lrp_key": ["not", "an object"]}}',
             "\x00\x01\x02", "x" * 1_000_000, "[" * 100_000]
    log.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe broken utf-8\n")
    m = Measurements()
    notes = read_lager_logs([log], m)
    assert any("unreadable lines" in n and str(log) in n for n in notes), notes


@FAST
@given(record=st.dictionaries(st.sampled_from(["timestamp", "message", "data", "source", "log_level"]),
                              json_values, max_size=5),
       message=st.sampled_from(["bbs.request.serving", "bbs.request.done", "x.desire-task.starting",
                                "x.complete-task.complete", "x.claim-actual-lrp.complete",
                                "x.create-unclaimed-actual-lrp.starting", "x.start-actual-lrp.complete",
                                "auctioneer.auction.scheduling"]),
       data=st.dictionaries(st.sampled_from(["session", "request", "task_guid", "process_guid", "index",
                                             "actual_lrp_key", "key", "actual_lrp"]), json_values,
                            max_size=4))
def test_any_lager_record_is_read_or_counted_unreadable(record, message, data):
    record = {"timestamp": "1700000000.25", "message": message, "data": data, **record}
    reader = LagerReader(Measurements())
    reader.read_lines([json.dumps(record)], "fuzzed.log")
    reader.finish()


def test_lager_log_that_cannot_be_read_is_a_clear_error(tmp_path):
    fifo = tmp_path / "fifo.log"
    os.mkfifo(fifo)
    for path, why in ((tmp_path / "missing.log", "no such file"), (tmp_path, "not a regular file"),
                      (fifo, "not a regular file")):
        started = time.monotonic()
        with pytest.raises(LagerLogError, match=why) as error:
            read_lager_logs([path], Measurements())
        assert str(path) in str(error.value)
        assert time.monotonic() - started < 5, f"{path} took too long"


# -- metric and route endpoints -------------------------------------------------------------------

TIMEOUT = 1.0


@pytest.mark.parametrize("kind", sorted(BEHAVIOURS))
def test_bad_metrics_endpoint_is_a_clear_prompt_error(kind):
    endpoint = BadEndpoint(BEHAVIOURS[kind])
    try:
        m = Measurements()
        sampler = MetricsSampler([endpoint.url], m, timeout=TIMEOUT)
        started = time.monotonic()
        errors = sampler.sample()
        elapsed = time.monotonic() - started
        sampler.close()
    finally:
        endpoint.close()
    assert elapsed < TIMEOUT + 4, f"a sample took {elapsed:.1f} s with a {TIMEOUT:g} s timeout"
    assert len(errors) == 1 and isinstance(errors[0], EndpointError), errors
    assert endpoint.url in str(errors[0])
    assert sampler.failures == {endpoint.url: 1}


@pytest.mark.parametrize("kind", sorted(BEHAVIOURS))
def test_bad_prometheus_server_is_a_clear_prompt_error(kind):
    endpoint = BadEndpoint(BEHAVIOURS[kind])
    base = endpoint.url.removesuffix("/metrics")
    try:
        sampler = MetricsSampler([PrometheusQuery(base, timeout=TIMEOUT, environ={})], Measurements())
        started = time.monotonic()
        errors = sampler.sample()
        elapsed = time.monotonic() - started
        sampler.close()
    finally:
        endpoint.close()
    assert elapsed < TIMEOUT + 4, f"a query took {elapsed:.1f} s with a {TIMEOUT:g} s timeout"
    assert len(errors) == 1 and f"{base}/api/v1/query" in str(errors[0]), errors
    assert sampler.failures == {base: 1}


@pytest.mark.parametrize("kind", sorted(BEHAVIOURS))
def test_bad_router_table_is_a_clear_prompt_error(kind):
    endpoint = BadEndpoint(BEHAVIOURS[kind])
    table = RouteTable(endpoint.url.removesuffix("/metrics"), timeout=TIMEOUT, environ={})
    try:
        started = time.monotonic()
        with pytest.raises(EndpointError) as error:
            table.read()
        elapsed = time.monotonic() - started
    finally:
        table.close()
        endpoint.close()
    assert "/routes" in str(error.value)
    assert elapsed < TIMEOUT + 4


# -- measurement shards ---------------------------------------------------------------------------

@FAST
@given(document=json_values)
def test_any_shard_document_loads_or_is_a_value_error(document):
    with contextlib.suppress(ValueError):
        Measurements.from_dict(document)


def test_truncated_shard_is_a_value_error():
    m = Measurements()
    m.trend("Op").record(time.time(), 0.01)
    shard = m.to_dict()
    del shard["metrics"]["Op"]["histogram"]
    with pytest.raises(ValueError, match="Op"):
        Measurements.from_dict(shard)
