"""The perf suites' thresholds are real bounds: a slowed Diego fails them, a healthy one passes.

The fast-burst scenario runs unchanged (a subprocess ``pytest perf_suites/test_burst.py``) against
an embedded cluster started with ``python -m pytest_diego cluster up``, reached through the
real-Diego options (``--diego-bbs-url`` ...), so the frozen auctioneer is a process of a cluster
the run does not own, as on an operator's Diego. With containers that take 32 s to create, Diego's burst
results (most Tasks done in under 20 s, all in under 30 s, docs/diego-facts.md §14.3–§14.4) are
missed and the run must fail with the SLO messages; the same run on instant containers must pass.
With the auctioneer frozen (SIGSTOP) for a few seconds once the burst has begun, scheduling misses
Diego's "all 4000 Tasks scheduled in under 5 s" and the run must fail on that bound.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APPS_DOMAIN = "apps.pytest-diego.test"
SLOW_CONTAINERS = "fixed:32"  # seconds to create each container: past the 30 s Task bound
STALL = 8.0  # seconds the auctioneer stays frozen once the burst's Tasks wait for it


def run_burst(state: dict, results: Path, scale: str = "0.1") -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "perf_suites/test_burst.py", "--diego-bbs-url", state["bbs_url"],
         "--diego-router-url", state["router_url"], "--diego-apps-domain", APPS_DOMAIN,
         "--diego-scale", scale, "--diego-results", str(results)],
        cwd=REPO, capture_output=True, text=True, timeout=400)
    verdicts = json.loads((results / "results.json").read_text())["tests"]
    [test] = verdicts.values()
    return done, {(v["metric"], v["expression"]): v for v in test["verdicts"]}


def test_burst_slos_fail_on_slow_containers_and_pass_on_a_healthy_cluster(cluster, tmp_path):
    healthy, verdicts = run_burst(cluster("healthy"), tmp_path / "healthy")
    assert healthy.returncode == 0, healthy.stdout[-3000:]
    assert all(v["passed"] for v in verdicts.values())

    slowed, verdicts = run_burst(cluster("slowed", "--container-model", SLOW_CONTAINERS), tmp_path / "slowed")
    output = slowed.stdout
    assert slowed.returncode == pytest.ExitCode.TESTS_FAILED, output[-3000:]
    for metric, expression in [("TaskTimeToComplete", "p(50) < 20s"), ("TaskTimeToComplete", "p(99) < 30s"),
                               ("LRPTimeToRunning", "p(50) < 20s")]:
        assert f"SLO failed: {metric} {expression} — observed" in output, output[-3000:]
        assert not verdicts[(metric, expression)]["passed"]
    # the bounds the slow containers do not touch still pass: the failure is the containers'
    assert verdicts[("TaskTimeToRunning", "p(99) < 5s")]["passed"]
    assert verdicts[("RequestLatency.DesireTask", "p(99) < 1s")]["passed"]
    assert "Diego SLOs:" in output and "✗" in output


def test_burst_fails_on_a_stalled_auctioneer(cluster, tmp_path):
    state = cluster("stalled")
    auctioneer = state["components"]["auctioneer"]["pid"]
    staller = threading.Thread(target=stall_once_burst_begins, args=(state["bbs_url"], auctioneer),
                               daemon=True)
    staller.start()
    try:
        # the full default burst (80 Tasks on 2 cells): its desires outlast the moment the stall begins
        stalled, verdicts = run_burst(state, tmp_path / "stalled", scale="1")
    finally:
        staller.join(STALL + 150)
        os.kill(auctioneer, signal.SIGCONT)
    assert stalled.returncode == pytest.ExitCode.TESTS_FAILED, stalled.stdout[-3000:]
    assert "SLO failed: TaskTimeToRunning p(99) < 5s — observed" in stalled.stdout, stalled.stdout[-3000:]
    assert not verdicts[("TaskTimeToRunning", "p(99) < 5s")]["passed"]
    assert verdicts[("TaskSucceeded", "rate == 1")]["passed"]  # slow, not broken: every Task ran


def stall_once_burst_begins(bbs_url: str, pid: int) -> None:
    """SIGSTOP the auctioneer once the burst's first Task is desired (the LRP was desired just
    before, so its DesireDesiredLRP is not caught waiting), SIGCONT it STALL seconds later."""
    from pytest_diego.bbs import BBSClient

    deadline = time.monotonic() + 120
    with BBSClient(bbs_url, timeout=5.0) as client:
        while time.monotonic() < deadline and not client.tasks(domain="fezzik"):
            time.sleep(0.01)
    os.kill(pid, signal.SIGSTOP)
    time.sleep(STALL)
    os.kill(pid, signal.SIGCONT)
