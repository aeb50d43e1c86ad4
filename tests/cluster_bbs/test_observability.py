"""Lager log lines (the message names perfchug and cicerone pair on) and Prometheus metrics
under Diego's names."""

from __future__ import annotations

import base64
import re

import requests
from bbs_harness import desired_lrp, instance_key, lrp_key, net_info, presence, task_definition

from pytest_diego.bbs.client import BBSClient
from pytest_diego.measure.prometheus_text import exposition_values
from tests.support.lager_logs import log_records


def _log(bbs) -> list[dict]:
    return log_records(bbs.config.log_path)


def _find(lines: list[dict], message: str, **data) -> dict:
    for line in lines:
        if line["message"] == message and all(line["data"].get(k) == v for k, v in data.items()):
            return line
    raise AssertionError(f"no {message} {data} in the BBS log")


def test_lifecycle_messages_carry_guids_and_indices(bbs, client):
    client.desire_lrp(desired_lrp("web", instances=2))
    client.claim_actual_lrp("web", 1, instance_key())
    client.start_actual_lrp(lrp_key("web", 1), instance_key(), net_info())
    client.crash_actual_lrp(lrp_key("web", 1), instance_key(), "exit 1")
    client.remove_actual_lrp("web", 1, instance_key("", ""))
    client.desire_task("t1", "d", task_definition())
    client.start_task("t1", "cell-0")
    client.complete_task("t1", "cell-0", failed=False)
    client.resolving_task("t1")
    client.delete_task("t1")
    lines = _log(bbs)
    for message, data in [
        ("bbs.create-unclaimed-actual-lrp.starting", {"process_guid": "web", "index": 1}),
        ("bbs.create-unclaimed-actual-lrp.complete", {"process_guid": "web", "index": 0}),
        ("bbs.claim-actual-lrp.complete", {"process_guid": "web", "index": 1, "cell_id": "cell-0"}),
        ("bbs.start-actual-lrp.succeeded", {"process_guid": "web", "index": 1}),
        ("bbs.start-actual-lrp.complete", {"process_guid": "web", "index": 1}),
        ("bbs.crash-actual-lrp.complete", {"process_guid": "web", "index": 1}),
        ("bbs.remove-actual-lrp.complete", {"process_guid": "web", "index": 1}),
        ("bbs.desire-task.starting", {"task_guid": "t1"}),
        ("bbs.desire-task.finished", {"task_guid": "t1"}),
        ("bbs.start-task.finished", {"task_guid": "t1"}),
        ("bbs.complete-task.complete", {"task_guid": "t1"}),
        ("bbs.resolved-task", {"task_guid": "t1"}),
    ]:
        _find(lines, message, **data)
    serving = _find(lines, "bbs.request.serving", request="/v1/tasks/desire.r2")
    done = _find(lines, "bbs.request.done", session=serving["data"]["session"])
    assert done["data"]["request"] == "/v1/tasks/desire.r2"
    assert float(done["timestamp"]) >= float(serving["timestamp"])


def _samples(bbs) -> dict[str, float]:
    """The BBS's /metrics by Diego's name; durations in seconds (published in nanos)."""
    text = requests.get(bbs.metrics_url, timeout=5).text
    diego = {base64.b64decode(n).decode() for n in re.findall(r'loggregator_name="([^"]*)"', text)}
    return exposition_values(text, diego)


def test_metrics_use_diegos_names(make_bbs, make_locket):
    locket = make_locket()
    bbs = make_bbs(locket_address=locket.address)
    client = BBSClient(bbs.url)
    client.upsert_domain("cf-apps", 0)
    locket.register(presence("cell-0"))
    client.desire_lrp(desired_lrp("web", instances=3))
    client.claim_actual_lrp("web", 0, instance_key())
    client.start_actual_lrp(lrp_key("web"), instance_key(), net_info())
    client.desire_task("t1", "d", task_definition())
    client.desire_task("t2", "d", task_definition())
    client.start_task("t1", "cell-0")
    client.complete_task("t1", "cell-0", failed=True, failure_reason="x")
    bbs.converge()
    m = _samples(bbs)
    assert m["RequestCount.DesireTask"] == 2
    assert m["RequestCount"] == 8
    assert m["RequestLatency.DesireDesiredLRP"] > 0
    assert m["RequestLatency"] >= m["RequestLatency.DesireTask"]
    expected = {"LRPsDesired": 3, "LRPsRunning": 1, "LRPsUnclaimed": 2, "LRPsClaimed": 0, "LRPsMissing": 0,
                "TasksPending": 1, "TasksCompleted": 1, "TasksRunning": 0, "TasksResolving": 0,
                "TasksStarted": 1, "TasksFailed": 1, "TasksSucceeded": 0,
                "ConvergenceLRPRuns": 1, "PresentCells": 1, "SuspectRunningActualLRPs": 0,
                "LockHeld": 1, "BBSMasterElected": 1}
    assert {name: m[name] for name in expected} == expected
    assert m["Domain.cf-apps"] == 1
    assert 0 < m["ConvergenceLRPDuration"] < 10  # seconds, published as nanos
