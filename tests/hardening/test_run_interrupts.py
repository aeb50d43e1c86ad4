"""A pytest run under the plugin, interrupted: an xdist worker SIGKILLed from outside in the middle
of a scenario that uses the embedded cluster, and Ctrl-C (SIGINT) while the cluster starts and
while a scenario runs, with and without xdist. Each must stop every process the run started and
leave a results.json with what was measured so far (and a clear failure for the killed worker)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugin.conftest import check_results_schema
from tests.support.components import gone
from tests.support.signals import ctrl_c_reaches_it

CLUSTER = ("--diego-cells", "1", "--diego-time-scale", "0.1")
SCENARIO = """
import json, os, time
import pytest
from pytest_diego.measure import define_metric

define_metric("Op", "trend")

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

    def __init__(self, path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.path = path
        self.state_dir = path / "diego-results" / "cluster"
        self.pids: set[int] = set()
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *CLUSTER, *args]
        self.proc = subprocess.Popen(command, cwd=path, env=env, preexec_fn=ctrl_c_reaches_it,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

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
        while not all(gone(p) for p in self.pids):
            assert time.monotonic() < deadline, \
                f"processes outlived the run: {sorted(p for p in self.pids if not gone(p))}"
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


# A main-job-like scenario: its own cleanup takes a while once interrupted, as the perf suites'
# do (they remove everything they desired), and Hypothesis is loaded, as the BBS fuzz scenario
# loads it (else Hypothesis's pytest plugin imports it for its summary, seconds on a busy machine).
SLOW_CLEANUP = "import hypothesis\n" + SCENARIO.replace("""        time.sleep(120)  # interrupted here
""", """        try:
            open("in-cleanup-window", "w").close()  # made inside the try: a Ctrl-C now runs the cleanup
            time.sleep(120)  # interrupted here
        finally:
            time.sleep(2)  # the cleanup
""")
IN_CLEANUP_WINDOW = "in-cleanup-window"
SLOW_REPORT = """
import time
import pytest_diego.report.html as html

_render = html.render_report


def _slow_render(*args, **kwargs):
    time.sleep(30)  # a planted slow renderer: the second Ctrl-C must land while it runs
    return _render(*args, **kwargs)


html.render_report = _slow_render
"""
INTERRUPTED = ("pytest-diego: interrupted — stopping the embedded cluster and saving "
               "diego-results/results.json (Ctrl-C again to skip the report)")
WRITING = "pytest-diego: writing diego-results/report.html (Ctrl-C to skip it; later: " \
          "python -m pytest_diego report diego-results/results.json)"
RENDER_LATER = "render it with: python -m pytest_diego report diego-results/results.json"


class WatchedRun(Run):
    """A Run whose output is read line by line as it comes, each line with when it came; its
    stdout is a block-buffered pipe, as in CI, so a line the plugin does not flush arrives late."""

    def __init__(self, path: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        super().__init__(path, *args, env=env)
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def line_at(self, text: str, timeout: float) -> float:
        """When a line starting with ``text`` came; fails after ``timeout`` seconds without it."""
        deadline = time.monotonic() + timeout
        while True:
            for at, line in list(self.lines):
                if line.startswith(text):
                    return at
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        raise AssertionError(f"no line {text!r} within {timeout:g} s; so far:\n{self.output()}")

    def exit_within(self, since: float, seconds: float) -> None:
        """The run exits within ``seconds`` of ``since``; killed (and failed) otherwise."""
        try:
            self.proc.wait(timeout=max(0.0, since + seconds - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(timeout=5)
            raise AssertionError(f"the run was still going {seconds:g} s after Ctrl-C:\n{self.output()}") \
                from None
        self._reader.join(timeout=5)

    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)


@pytest.mark.parametrize("capture", ["fd", "no"])
def test_ctrl_c_says_at_once_what_it_does_and_the_run_is_over_within_seconds(pytester, capture):
    pytester.makepyfile(test_held=SLOW_CLEANUP)
    run = WatchedRun(pytester.path, f"--capture={capture}")
    run.wait_for((pytester.path / IN_CLEANUP_WINDOW).exists)
    sent = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    said = run.line_at(INTERRUPTED, timeout=5) - sent
    run.exit_within(sent, 10)
    output = run.output()
    assert said < 1.0, f"said {said:.1f} s after Ctrl-C, not at once (the cleanup takes 2 s):\n{output}"
    assert run.proc.returncode == pytest.ExitCode.INTERRUPTED, output
    saved = run.line_at("pytest-diego: saved diego-results/results.json", 0) - sent
    assert saved >= 2.0, "results.json was saved before the scenario's own cleanup had run"
    assert run.line_at(WRITING, 0) > saved + sent
    run.line_at("pytest-diego: results in diego-results/results.json, report in diego-results/report.html", 0)
    assert (pytester.path / "diego-results" / "report.html").exists()
    run.assert_cluster_gone()
    doc = run.results()
    assert doc["interrupted"] is True
    assert doc["tests"]["test_held.py::test_held"]["metrics"]["Op"]["count"] == 20
    assert "test_held.py:" in output.split("KeyboardInterrupt !!!")[1], \
        "the KeyboardInterrupt no longer says where the run was"


@pytest.mark.parametrize("when", ["during-the-scenario-cleanup", "during-the-report"])
def test_a_second_ctrl_c_skips_the_report_and_results_json_is_whole(pytester, when):
    pytester.makepyfile(test_held=SLOW_CLEANUP)
    if when == "during-the-report":
        pytester.makeconftest(SLOW_REPORT)  # a one-test report renders before a second Ctrl-C lands
    run = WatchedRun(pytester.path)
    run.wait_for((pytester.path / IN_CLEANUP_WINDOW).exists)
    sent = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    run.line_at(INTERRUPTED, timeout=5)
    if when == "during-the-report":
        run.line_at(WRITING, timeout=30)
    run.proc.send_signal(signal.SIGINT)
    run.exit_within(sent, 10)
    output = run.output()
    assert run.proc.returncode == pytest.ExitCode.INTERRUPTED, output
    if when == "during-the-scenario-cleanup":
        run.line_at("pytest-diego: Ctrl-C: the report will be skipped; diego-results/results.json is still "
                    "being saved", 0)
        run.line_at(f"pytest-diego: report skipped; {RENDER_LATER}", 0)
        assert WRITING not in output
    else:
        run.line_at(f"pytest-diego: report skipped (Ctrl-C); {RENDER_LATER}", 0)
    assert not (pytester.path / "diego-results" / "report.html").exists()
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    run.assert_cluster_gone()
    doc = run.results()
    check_results_schema(doc)
    assert doc["interrupted"] is True
    held = doc["tests"]["test_held.py::test_held"]
    assert held["metrics"]["Op"]["count"] == 20 and held["verdicts"], held


# The second Ctrl-C lands as the report step begins: a real SIGINT the run sends itself, either
# as the step is entered (before it can be cut short: the step must still see it) or once its
# "writing" line is out.
CTRL_C_AS_THE_REPORT_BEGINS = """
import os
import signal
from pytest_diego.pytest_support.owner import RunOwner

WHEN = {when!r}
_say, _skippable = RunOwner._say, RunOwner._skippable


def _say_then_ctrl_c(self, line, **markup):
    _say(self, line, **markup)
    if WHEN == "line" and line.startswith("pytest-diego: writing"):
        os.kill(os.getpid(), signal.SIGINT)


def _ctrl_c_then_skippable(self):
    if WHEN == "entry":
        os.kill(os.getpid(), signal.SIGINT)
    return _skippable(self)


RunOwner._say, RunOwner._skippable = _say_then_ctrl_c, _ctrl_c_then_skippable
"""


@pytest.mark.parametrize("when", ["entry", "line"], ids=["as-the-step-is-entered", "as-its-line-is-written"])
def test_a_second_ctrl_c_as_the_report_begins_skips_it(pytester, when):
    pytester.makepyfile(test_held=SLOW_CLEANUP)
    pytester.makeconftest(CTRL_C_AS_THE_REPORT_BEGINS.format(when=when))
    run = WatchedRun(pytester.path)
    run.wait_for((pytester.path / IN_CLEANUP_WINDOW).exists)
    sent = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    run.exit_within(sent, 10)
    output = run.output()
    assert run.proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert (WRITING in output) is (when == "line"), output
    run.line_at(f"pytest-diego: report skipped (Ctrl-C); {RENDER_LATER}", 0)
    assert not (pytester.path / "diego-results" / "report.html").exists(), output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    run.assert_cluster_gone()
    assert run.results()["interrupted"] is True


def test_ctrl_c_during_the_main_jobs_burst_is_said_at_once_and_over_within_seconds(pytester):
    """The README's main job itself, interrupted mid-scenario: the fast burst on the suites' own
    settings (a 2-cell cluster, so the burst is 80 Tasks and 80 instances), Ctrl-C once its
    Tasks are in the BBS."""
    from pytest_diego.bbs import BBSClient

    suite = Path(__file__).resolve().parents[2] / "perf_suites" / "test_burst.py"
    run = WatchedRun(pytester.path, str(suite), "--diego-cells", "2",
                     "--diego-results", str(pytester.path / "diego-results"))
    try:
        cluster_file = run.state_dir / "cluster.json"
        run.wait_for(cluster_file.exists)
        with BBSClient(json.loads(cluster_file.read_text())["bbs_url"], timeout=5.0) as bbs:
            run.wait_for(lambda: bool(bbs.tasks(domain="fezzik")))
        sent = time.monotonic()
        run.proc.send_signal(signal.SIGINT)
        said = run.line_at("pytest-diego: interrupted —", timeout=5) - sent
        run.exit_within(sent, 10)
    finally:
        if run.proc.poll() is None:  # a failed wait above: the run and its cluster go too
            run.proc.kill()
            run.proc.wait()
    output = run.output()
    assert said < 1.0, f"said {said:.1f} s after Ctrl-C, not at once:\n{output}"
    assert run.proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    run.assert_cluster_gone()
    doc = run.results()
    assert doc["interrupted"] is True
    nodeids = list(doc["tests"])
    assert len(nodeids) == 1 and nodeids[0].endswith("test_burst.py::test_fast_burst"), nodeids
