"""Against the embedded cluster: one cluster per run, shards merged, faults real, nothing left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.plugin.conftest import check_results_schema, results
from tests.support.signals import ctrl_c_reaches_it

SMALL = ("--diego-cells", "2", "--diego-time-scale", "0.1", "--diego-sample-interval", "0.5s")

BURST = """
import json, os, time
import pytest
from pytest_diego.workload import task_definition

@pytest.mark.scenario("task burst", size=12)
@pytest.mark.slo("RequestLatency.DesireTask", "p(99) < 10s", "rate == 1", "count == 12")
def test_task_burst(bbs, workload, diego):
    workload.run_open(lambda i: bbs.desire_task(f"task-{i}", "pytest-diego", task_definition()),
                      rate=60, duration=workload.size / 60)
    if workload.leader:
        pids = [info.pid for _, info in diego.cluster.processes()]
        with open(os.environ["PIDS_FILE"], "a") as f:
            f.write(json.dumps(pids) + "\\n")

@pytest.mark.scenario("cell failure")
@pytest.mark.slo("RequestLatency.Tasks", "rate == 1")
def test_cell_failure(bbs, nemesis, diego, workload):
    nemesis.kill_cell("cell-1")
    if workload.leader:  # one check for the whole scenario, whatever the number of shards
        deadline = time.monotonic() + 10  # SIGKILL is delivered asynchronously
        while diego.cluster.alive("cell-1"):
            assert time.monotonic() < deadline, "cell-1 survived SIGKILL"
            time.sleep(0.05)
        assert len(bbs.tasks(domain="pytest-diego")) == 12
"""


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split(")")[1].split()[0] == "Z"


def _summary(doc):
    """Outcomes, request/load counts, verdicts, faults; gauge sample counts follow the clock."""
    return {n: (t["outcome"], {m: s["count"] for m, s in t["metrics"].items() if s["kind"] != "gauge"},
                [(v["expression"], v["passed"]) for v in t["verdicts"]], [f["kind"] for f in t["faults"]])
            for n, t in doc["tests"].items()}


def test_embedded_cluster_same_verdicts_with_and_without_xdist_and_stopped_after(pytester, run, monkeypatch):
    pids_file = pytester.path / "pids.jsonl"
    monkeypatch.setenv("PIDS_FILE", str(pids_file))
    pytester.makepyfile(test_burst=BURST)
    single = run(*SMALL, "--diego-results", "single")
    single.assert_outcomes(passed=2)
    sharded = run(*SMALL, "-n", "2", "--diego-results", "sharded")
    sharded.assert_outcomes(passed=4)
    one, two = results(pytester, "single"), results(pytester, "sharded")
    check_results_schema(two)
    assert _summary(one) == _summary(two)
    assert two["environment"]["cells"] == ["cell-0", "cell-1"]
    burst = two["tests"]["test_burst.py::test_task_burst"]
    # Diego's gauges were sampled from the cluster's /metrics while the scenario ran; a loop duration
    # only from a run of the loop (the BBS first converges one interval, 3 s, after it starts)
    assert burst["metrics"]["PresentCells"]["count"] >= 1
    assert all(v > 0 for _, v in burst["series"].get("ConvergenceLRPDuration", []))
    [fault] = two["tests"]["test_burst.py::test_cell_failure"]["faults"]  # delivered once, not per worker
    assert (fault["kind"], fault["target"], fault["ok"]) == ("kill_cell", "cell-1", True)
    assert (pytester.path / "sharded" / "cluster" / "logs" / "bbs.log").stat().st_size > 0  # logs are kept
    runs = [json.loads(line) for line in pids_file.read_text().splitlines()]
    assert len(runs) == 2  # one cluster per run, whatever the number of workers
    deadline = time.monotonic() + 10
    while not all(_dead(pid) for pids in runs for pid in pids):
        assert time.monotonic() < deadline, "the embedded cluster outlived the run"
        time.sleep(0.1)


def test_ctrl_c_writes_results_so_far_and_stops_the_cluster(pytester):
    pytester.makepyfile(test_long="""
        import json, os, time
        import pytest
        from pytest_diego.measure import define_metric

        define_metric("Seen", "rate")

        @pytest.mark.slo("Seen", "count >= 1")
        def test_long(diego, measurements):
            measurements.rate("Seen").add(time.time())
            pids = [info.pid for _, info in diego.cluster.processes()]
            with open("pids.json", "w") as f:
                json.dump(pids, f)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *SMALL],
                            cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=ctrl_c_reaches_it)
    try:
        deadline = time.monotonic() + 120
        while not (pytester.path / "pids.json").exists():
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written; let json.dump finish
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    doc = results(pytester)
    check_results_schema(doc)
    assert doc["interrupted"] is True
    assert doc["tests"]["test_long.py::test_long"]["metrics"]["Seen"]["count"] == 1
    pids = json.loads((pytester.path / "pids.json").read_text())
    deadline = time.monotonic() + 10
    while not all(_dead(pid) for pid in pids):
        assert time.monotonic() < deadline, "the embedded cluster outlived Ctrl-C"
        time.sleep(0.1)
