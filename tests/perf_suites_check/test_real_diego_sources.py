"""The fill scenario run as against a real Diego — the BBS, gorouter and its status listener
reached through the real-Diego options, the intervals described with ``--diego-interval`` — with
the metrics source left out gives a verdict on every SLO it has a source for, and says which it
could not measure (and why) instead of failing on "no data". With every source configured, every
scenario's every SLO is judged: ``test_real_diego_all_scenarios.py``.

The Diego here is an embedded cluster started with ``cluster up --detach``: it publishes its
routes and metrics in a real deployment's formats, so the suite reads it exactly as it reads
yours.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_diego.cluster import EmbeddedCluster
from tests.perf_suites_check.conftest import interval_options

REPO = Path(__file__).resolve().parents[2]
LOOP_DURATIONS = ("ConvergenceLRPDuration", "RepBulkSyncDuration", "RouteEmitterSyncDuration",
                  "AuctioneerFetchStatesDuration")


def run_fill(state: dict, state_dir: Path, results: Path) -> tuple[str, dict]:
    status_url = EmbeddedCluster.attach(state_dir).router_status_url  # with its credentials
    args = ["--diego-bbs-url", state["bbs_url"], "--diego-router-url", state["router_url"],
            "--diego-apps-domain", "apps.pytest-diego.test", "--diego-router-status-url", status_url,
            # every crashing app crashes within 36 s of its start (30–360 s of Diego's time)
            "--diego-scale", "0.1", "--soak-duration", "30s", "--diego-results", str(results),
            *interval_options()]
    done = subprocess.run([sys.executable, "-m", "pytest", "perf_suites/test_fill_capacity.py", "-p",
                           "no:cacheprovider", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    [test] = json.loads((results / "results.json").read_text())["tests"].values()
    return done.stdout + done.stderr, test


def test_without_a_metrics_source_loop_durations_are_not_measured_and_the_rest_is_judged(cluster, tmp_path):
    state = cluster("real")
    output, test = run_fill(state, tmp_path / "real", tmp_path / "without-metrics")
    outcomes = {v["metric"]: v["outcome"] for v in test["verdicts"]}
    unmeasured = {m: outcomes[m] for m in LOOP_DURATIONS}
    assert unmeasured == dict.fromkeys(LOOP_DURATIONS, "not measured"), output[-3000:]
    reasons = {v["detail"] for v in test["verdicts"] if v["outcome"] == "not measured"}
    assert reasons == {"no source of Diego's metrics: set --diego-metrics-url"}
    judged = {m: o for m, o in outcomes.items() if m not in LOOP_DURATIONS}
    assert set(judged.values()) == {"passed"}, output[-3000:]
    assert test["outcome"] == "passed"  # passed, with a visible warning ...
    assert "NotMeasuredWarning" in output and "4 not measured" in output
    assert "max < 1.5s  # 0.5 × (convergence interval 3s)" not in output  # ... and not judged at all


def test_a_bad_source_setting_stops_the_run_before_any_load(cluster, tmp_path):
    state = cluster("bad")
    done = subprocess.run([sys.executable, "-m", "pytest", "perf_suites/test_fill_capacity.py", "-p",
                           "no:cacheprovider", "--diego-bbs-url", state["bbs_url"],
                           "--diego-metrics-url", "bbs=https://127.0.0.1:9/metrics",
                           "--diego-metrics-cert", str(tmp_path / "absent.crt")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"--diego-metrics-cert {tmp_path / 'absent.crt'}: no such file" in done.stderr
