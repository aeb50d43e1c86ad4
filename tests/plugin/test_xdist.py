"""xdist: every scenario runs on every worker at once, as shards of one load, judged merged."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.plugin.conftest import check_results_schema, results

LOAD = """
import time
import pytest
from pytest_diego.measure import define_metric

define_metric("Op", "trend")
define_metric("Items", "rate")
define_metric("Closed", "rate")

@pytest.mark.scenario("open", size=40)
@pytest.mark.slo("LoadLatency", "count == 40", "p(99) < 10s")
@pytest.mark.slo("Op", "count == 40", "rate >= 0.75")
def test_open_model(workload, measurements):
    op = measurements.trend("Op")

    def one(i):
        op.record(time.time(), 0.001, "ok" if i % 4 else "ResourceExists")

    result = workload.run_open(one, rate=200, duration=workload.size / 200)
    assert result.started == workload.share(40)

@pytest.mark.slo("Items", "count == 25")
@pytest.mark.slo("Closed", "count == 30")
def test_shards(workload, measurements):
    for item in workload.shard(list(range(25))):
        measurements.rate("Items").add(time.time())
    workload.run_closed(lambda i: measurements.rate("Closed").add(time.time()), users=2, iterations=30)

@pytest.mark.slo("Op", "p(99) < 1ms")
def test_impossible(workload, measurements):
    for i in workload.indices(10):
        measurements.trend("Op").record(time.time(), 0.005)

@pytest.mark.parametrize("n", range(4))
def test_plain(n):
    pass
"""


def _summary(doc):
    """Outcomes, counts (and, for metrics the scenarios decide, successes) and verdicts.

    ``LoadStarts``' on-time share depends on how busy the machine is, so only its count is compared.
    """
    def numbers(name, summary):
        return summary["count"] if name.startswith("Load") else (summary["count"], summary.get("ok"))

    return {nodeid: (test["outcome"], {m: numbers(m, s) for m, s in test["metrics"].items()},
                     [(v["metric"], v["expression"], v["passed"]) for v in test["verdicts"]])
            for nodeid, test in doc["tests"].items()}


def test_same_workload_with_and_without_xdist_gives_identical_counts_and_verdicts(pytester, run):
    pytester.makepyfile(test_load=LOAD)
    single = run("--diego-results", "single")
    single.assert_outcomes(passed=6, failed=1)
    sharded = run("-n", "2", "--diego-results", "sharded")
    # scenarios ran on both workers (3 scenarios x 2), plain tests once each (--dist load)
    sharded.assert_outcomes(passed=2 * 2 + 4, failed=2)
    one, two = results(pytester, "single"), results(pytester, "sharded")
    check_results_schema(one)
    check_results_schema(two)
    assert _summary(one) == _summary(two)
    assert set(two["tests"]) == {"test_load.py::test_open_model", "test_load.py::test_shards",
                                 "test_load.py::test_impossible"}
    assert two["tests"]["test_load.py::test_open_model"]["workers"] == {"gw0": "passed", "gw1": "passed"}
    open_model = two["tests"]["test_load.py::test_open_model"]
    assert open_model["metrics"]["Op"]["failures"] == {"ResourceExists": 10}
    # the controller reports each scenario once in the table
    table = [line for line in sharded.outlines if "test_load.py::test_impossible" in line and "✗" in line]
    assert len(table) == 1


@pytest.mark.parametrize(("dist", "outcomes"), [
    ("each", {"passed": 2 * 2 + 2 * 4, "failed": 2}),  # every test on every worker
    ("loadfile", {"passed": 6, "failed": 1}),  # one file: one worker runs each scenario whole
])
def test_other_dist_modes_give_the_same_verdicts(pytester, run, dist, outcomes):
    pytester.makepyfile(test_load=LOAD)
    run("--diego-results", "single")
    result = run("-n", "2", "--dist", dist, "--diego-results", "other")
    result.assert_outcomes(**outcomes)
    assert _summary(results(pytester, "single")) == _summary(results(pytester, "other"))
    if dist == "loadfile":
        result.stdout.fnmatch_lines(["*--dist loadfile: Diego scenarios will each run whole on one worker*"])


def test_shards_of_a_scenario_run_at_the_same_time(pytester, run):
    pytester.makepyfile(test_together="""
        import time
        from pathlib import Path
        import pytest

        @pytest.mark.scenario("together")
        def test_together(workload, tmp_path_factory):
            meeting = tmp_path_factory.getbasetemp().parent.parent / "meeting"
            meeting.mkdir(exist_ok=True)
            (meeting / str(workload.index)).touch()
            deadline = time.monotonic() + 60
            while len(list(meeting.iterdir())) < workload.count:
                assert time.monotonic() < deadline, "the partner shard never ran alongside this one"
                time.sleep(0.05)
            assert workload.count == 2
    """)
    result = run("-n", "2")
    result.assert_outcomes(passed=2)


def test_a_killed_worker_fails_its_scenario_and_partner_data_is_kept(pytester, run):
    pytester.makepyfile(test_kill="""
        import os, signal, time
        import pytest
        from pytest_diego.measure import define_metric

        define_metric("Op", "trend")

        @pytest.mark.slo("Op", "count == 100")
        def test_killed(workload, measurements):
            for i in workload.indices(100):
                measurements.trend("Op").record(time.time(), 0.001)
            if workload.index == 1:
                os.kill(os.getpid(), signal.SIGKILL)

        @pytest.mark.slo("Op", "count == 10")
        def test_next(workload, measurements):
            for i in workload.indices(10):
                measurements.trend("Op").record(time.time(), 0.001)
    """)
    result = run("-n", "2")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*worker 'gw1' crashed while running 'test_kill.py::test_killed'*"])
    result.stdout.fnmatch_lines(["SLO failed: Op count == 100 — observed count=50",
                                 "worker gw1 died: *"])
    doc = results(pytester)
    check_results_schema(doc)
    killed = doc["tests"]["test_kill.py::test_killed"]
    assert killed["outcome"] == "failed"
    assert killed["metrics"]["Op"]["count"] == 50  # gw0's shard is kept
    assert any("worker gw1 died" in reason for reason in killed["reasons"])
    # the next scenario runs on the surviving worker with the whole load
    following = doc["tests"]["test_kill.py::test_next"]
    assert following["outcome"] == "passed" and following["workers"] == {"gw0": "passed"}
    assert following["metrics"]["Op"]["count"] == 10


def test_a_failing_shard_fails_the_scenario_on_every_worker(pytester, run):
    pytester.makepyfile(test_fail="""
        import time
        import pytest
        from pytest_diego.measure import define_metric

        define_metric("Op", "rate")

        @pytest.mark.slo("Op", "count >= 0")
        def test_one_shard_breaks(workload, measurements):
            measurements.rate("Op").add(time.time())
            assert workload.index != 1, "shard 1 broke"
    """)
    result = run("-n", "2")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*worker gw1 failed: AssertionError: shard 1 broke*"])


def test_live_status_line_reaches_the_terminal(pytester, run):
    pytester.makepyfile(test_status="""
        import time
        import pytest
        from pytest_diego.measure import define_metric

        define_metric("Op", "trend")

        @pytest.mark.slo("Op", "count >= 0")
        def test_status(workload, measurements):
            measurements.trend("RequestLatency").record(time.time(), 0.0123)
            workload.status(desired=4, running=3, crashed=0, routes=3)
            time.sleep(1.5 if workload.count > 1 else 0)  # the controller polls once a second
    """)
    result = run()
    result.stdout.fnmatch_lines(["*diego: test_status  desired 4  running 3  crashed 0  p99 12.3ms  "
                                 "routes 3*"])
    result = run("-n", "2")
    result.stdout.fnmatch_lines(["*[[]gw?[]] diego: test_status  desired 4  running 3*"])


def test_a_project_fixture_named_like_ours_does_not_start_the_cluster(pytester, run):
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def bbs():
            return "the project's own"
    """)
    pytester.makepyfile(test_own="""
        import pytest

        @pytest.mark.scenario("own")
        def test_own(bbs):
            assert bbs == "the project's own"
    """)
    run("-n", "2").assert_outcomes(passed=2)
    assert results(pytester)["environment"]["cells"] == []  # no embedded cluster was started


PRIVATE = """
import os, time
from pathlib import Path
import pytest
from pytest_diego.measure import define_metric
from pytest_diego.workload import task_definition

define_metric("Hidden", "rate")

@pytest.mark.scenario("private workers", size=8)
@pytest.mark.slo("RequestLatency.DesireTask", "count == 8", "rate == 1")
@pytest.mark.slo("Hidden", "count == 2", "rate == 1")
def test_private(bbs, diego, workload, measurements):
    cluster_file = Path(os.environ["RESULTS_DIR"]) / "cluster" / "cluster.json"
    # this worker cannot see the controller's files: it uses the cluster through the channel
    measurements.rate("Hidden").add(time.time(), "ok" if not cluster_file.exists() else "visible")
    for i in workload.indices(workload.size):
        bbs.desire_task(f"private-{i}", "private", task_definition())
    workload.barrier("desired")
    assert len(bbs.tasks(domain="private")) == workload.size
"""


def test_workers_that_cannot_see_the_controllers_files_take_part_through_the_channel(pytester, run):
    """Workers in a private mount namespace where the controller's results directory (its
    cluster.json, TLS files and router credentials) is an empty tmpfs, as on another host."""
    results_dir = pytester.path / "diego-results"
    results_dir.mkdir()
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs tmpfs {results_dir}"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespaces here (unshare: {probe.stderr.decode().strip()})")
    wrapper = pytester.path / "private-python"
    wrapper.write_text("#!/bin/sh\nexec unshare --mount --propagation private /bin/sh -c "
                       "'mount -t tmpfs tmpfs \"$1\" && shift && exec \"$@\"' sh "
                       f"{results_dir} {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    pytester.makepyfile(test_private=PRIVATE)
    pytester._monkeypatch.setenv("RESULTS_DIR", str(results_dir))
    result = run("--tx", f"2*popen//python={wrapper}", "--dist", "load", "--diego-cells", "1",
                 "--diego-time-scale", "0.1", "--diego-tls")
    result.assert_outcomes(passed=2)
    doc = results(pytester)
    test = doc["tests"]["test_private.py::test_private"]
    assert test["workers"] == {"gw0": "passed", "gw1": "passed"}
    assert test["metrics"]["Hidden"]["ok"] == 2  # both workers ran where the files were not
