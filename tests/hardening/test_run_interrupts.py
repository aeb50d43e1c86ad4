"""A pytest run under the plugin, interrupted: an xdist worker SIGKILLed from outside in the middle
of a scenario that uses the embedded cluster, and Ctrl-C (SIGINT) while the cluster starts and
while a scenario runs, with and without xdist. Each must stop every process the run started and
leave a results.json with what was measured so far (and a clear failure for the killed worker)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hardening_support import pid_gone

CLUSTER = ("--diego-cells", "1", "--diego-time-scale", "0.1")
SCENARIO = """
import json, os, time
import pytest

@pytest.mark.scenario("held")
@pytest.mark.slo("Op", "count >= 1")
def test_held(diego, workload, measurements):
    assert diego.cluster.cells  # the embedded cluster starts on first use
    trend = measurements.trend("Op")
    for _ in range(20):
        trend.record(time.time(), 0.001)
    with open(f"in-scenario-{workload.index}.json", "w") as f:
        json.dump({"pid": os.getpid()}, f)
    if workload.index == workload.count - 1:
        time.sleep(120)  # interrupted here
"""


class Run:
    """``pytest`` in a subprocess, watched: every pid the embedded cluster publishes in its state
    dir (run/*.json, cluster.json) is collected while it runs."""

    def __init__(self, path: Path, *args: str) -> None:
        self.path = path
        self.state_dir = path / "diego-results" / "cluster"
        self.pids: set[int] = set()
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *CLUSTER, *args]
        self.proc = subprocess.Popen(command,
                                     cwd=path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def collect_pids(self) -> None:
        files = [*list((self.state_dir / "run").glob("*.json")), self.state_dir / "cluster.json"]
        for file in files:
            try:
                doc = json.loads(file.read_text())
            except (OSError, ValueError):
                continue
            self.pids.update(_pids(doc))

    def wait_for(self, ready: Callable[[], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            self.collect_pids()
            if self.proc.poll() is not None:
                raise AssertionError(f"pytest exited early:\n{self.output()}")
            assert time.monotonic() < deadline, "the run never got there"
            time.sleep(0.02)
        self.collect_pids()

    def finish(self, timeout: float = 90.0) -> str:
        try:
            out = self.proc.communicate(timeout=timeout)[0].decode()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.communicate()
        self._out = out
        return out

    def output(self) -> str:
        out = getattr(self, "_out", None)
        if out is None and self.proc.poll() is not None and self.proc.stdout is not None:
            out = self._out = self.proc.stdout.read().decode()
        return out or ""

    def assert_cluster_gone(self) -> None:
        self.collect_pids()
        assert self.pids, "no cluster pid was ever published"
        deadline = time.monotonic() + 15
        while not all(pid_gone(p) for p in self.pids):
            assert time.monotonic() < deadline, \
                f"processes outlived the run: {sorted(p for p in self.pids if not pid_gone(p))}"
            time.sleep(0.1)

    def results(self) -> dict:
        path = self.path / "diego-results" / "results.json"
        assert path.exists(), f"no results.json after the run:\n{self.output()[-3000:]}"
        return json.loads(path.read_text())


def _pids(doc: dict) -> set[int]:
    found = {int(doc["pid"])} if isinstance(doc.get("pid"), int) else set()
    for component in (doc.get("components") or {}).values():
        found.add(int(component["pid"]))
    for cell in doc.get("cells") or []:
        found.add(int(cell["pid"]))
    return found


def test_worker_killed_mid_scenario_fails_it_and_keeps_the_other_workers_data(pytester):
    pytester.makepyfile(test_held=SCENARIO)
    run = Run(pytester.path, "-n", "2")
    killed = pytester.path / "in-scenario-1.json"
    run.wait_for(lambda: killed.exists() and (pytester.path / "in-scenario-0.json").exists())
    time.sleep(0.2)
    worker = json.loads(killed.read_text())["pid"]
    run.pids.discard(worker)
    subprocess.run(["kill", "-KILL", str(worker)], check=True)
    output = run.finish()
    assert run.proc.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "crashed" in output and "test_held" in output, output[-3000:]
    held = run.results()["tests"]["test_held.py::test_held"]
    assert held["outcome"] == "failed"
    assert held["metrics"]["Op"]["count"] == 20, "the surviving worker's measurements were lost"
    assert any("died" in reason for reason in held["reasons"]), held["reasons"]
    run.assert_cluster_gone()


@pytest.mark.parametrize("when, args", [
    pytest.param("cluster-starting", (), id="while-the-cluster-starts"),
    pytest.param("scenario", (), id="mid-scenario"),
    pytest.param("scenario", ("-n", "2"), id="mid-scenario-under-xdist"),
])
def test_ctrl_c_stops_everything_and_writes_results(pytester, when, args):
    pytester.makepyfile(test_held=SCENARIO)
    run = Run(pytester.path, *args)
    if when == "cluster-starting":
        run.wait_for(lambda: (run.state_dir / "run" / "bbs.json").exists(), timeout=120)
    else:
        last = pytester.path / f"in-scenario-{1 if args else 0}.json"
        run.wait_for(last.exists)
    run.proc.send_signal(signal.SIGINT)
    output = run.finish()
    assert run.proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    run.assert_cluster_gone()
    doc = run.results()
    assert doc["interrupted"] is True
    if when == "scenario":
        assert doc["tests"]["test_held.py::test_held"]["metrics"]["Op"]["count"] >= 20
