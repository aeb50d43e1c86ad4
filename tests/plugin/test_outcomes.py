"""Four outcomes per SLO: passed, failed, not measured (with the option that would measure it),
skipped (the scenario did not run) — counted apart, never a vacuous pass; metrics checked before
the run; bounds from the target's timing; set checks judged on every shard merged."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import check_results_schema, results

UNMEASURED = """
import time
import pytest
from pytest_diego.measure import define_metric

define_metric("Op", "trend")
define_metric("Loop", "gauge", "s")

@pytest.mark.scenario("partly measured")
@pytest.mark.slo("Op", "p(99) < 1s")
@pytest.mark.slo("Loop", "max < 10s")
def test_partly(measurements):
    measurements.trend("Op").record(time.time(), 0.01)
    measurements.not_measured(["Loop"], "no source of Diego's metrics: set --diego-metrics-url")

@pytest.mark.scenario("never runs")
@pytest.mark.slo("Op", "count >= 1")
def test_skipped(measurements):
    pytest.skip("no command to kill bbs on this Diego: set diego_kill_bbs_command")
"""


def test_not_measured_passes_with_a_warning_and_skipped_is_counted_apart(pytester, run):
    pytester.makepyfile(test_outcomes=UNMEASURED)
    result = run("-rs")
    result.assert_outcomes(passed=1, skipped=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*NotMeasuredWarning: pytest-diego: thresholds not measured on this target:",
        "*Loop max < 10s: no source of Diego's metrics: set --diego-metrics-url",
    ])
    result.stdout.fnmatch_lines([
        "*Diego SLOs: 1 passed, 0 failed, 1 not measured, 1 skipped*",
        "test_outcomes.py::test_partly*Op*p(99) < 1s*p(99)=*✓",
        "test_outcomes.py::test_partly*Loop*max < 10s*no source of Diego's metrics: set "
        "--diego-metrics-url*–",
        "test_outcomes.py::test_skipped*Op*count >= 1*no command to kill bbs on this Diego*s",
    ])
    doc = results(pytester)
    check_results_schema(doc)
    partly = doc["tests"]["test_outcomes.py::test_partly"]
    assert [v["outcome"] for v in partly["verdicts"]] == ["passed", "not measured"]
    assert partly["unmeasured"] == {"Loop": "no source of Diego's metrics: set --diego-metrics-url"}
    skipped = doc["tests"]["test_outcomes.py::test_skipped"]
    assert skipped["outcome"] == "skipped"
    assert [(v["outcome"], v["passed"]) for v in skipped["verdicts"]] == [("skipped", False)]


def test_strict_turns_not_measured_into_a_failure(pytester, run):
    pytester.makepyfile(test_outcomes=UNMEASURED)
    result = run("--diego-strict", "-k", "partly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["SLO not measured: Loop max < 10s (no source of Diego's metrics: "
                                 "set --diego-metrics-url) (--diego-strict)"])


def test_an_unknown_metric_is_refused_before_the_run_starts(pytester, run):
    pytester.makepyfile(test_typo="""
        import pytest

        @pytest.mark.slo("RequestLatency.DesireTsk", "p(99) < 1s")
        @pytest.mark.slo("RequestLatncy", "p(99) < 1s")
        def test_typo(measurements):
            raise AssertionError("must not run")
    """)
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown metric 'RequestLatency.DesireTsk': did you mean "
                                 "RequestLatency.DesireTask*"])
    assert "must not run" not in result.stdout.str()
    pytester.makepyfile(test_typo="""
        import pytest

        @pytest.mark.slo("RequestLatncy", "p(99) < 1s")
        def test_typo(measurements):
            pass
    """)
    run().stderr.fnmatch_lines(["*unknown metric 'RequestLatncy': did you mean RequestLatency*"])


def test_an_aggregation_that_does_not_fit_the_metric_is_refused_before_the_run(pytester, run):
    pytester.makepyfile(test_kind="""
        import pytest

        @pytest.mark.slo("RouteAvailability", "p(99) < 1s")
        def test_kind(measurements):
            pass
    """)
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad SLO for RouteAvailability 'p(99) < 1s': RouteAvailability is a rate: "
                                 "use rate or count, not p(99)*"])


def test_bounds_follow_the_targets_timing_and_say_where_they_come_from(pytester, run):
    pytester.makepyfile(test_bounds="""
        import time
        import pytest
        from pytest_diego.measure import define_metric
        from pytest_diego.scenario import extra, within

        define_metric("Recovery", "gauge", "s")

        def bound(t):
            return within(t.presence_ttl + t.convergence_interval + extra(5, "placement"))

        @pytest.mark.slo("Recovery", bound)
        def test_bound(measurements):
            measurements.gauge("Recovery").add(time.time(), 12.0)
    """)
    embedded = run("--diego-time-scale", "0.1")  # the bound is 9.5 s there: 12 s fails
    embedded.assert_outcomes(failed=1)
    embedded.stdout.fnmatch_lines([
        "SLO failed: Recovery max < 9.5s — observed max=12s",
        "*Recovery*max < 9.5s*max=12s*✗  # presence TTL 1.5s + convergence interval 3s + placement 5s"])
    real = run("--diego-bbs-url", "http://127.0.0.1:9", "--diego-interval", "convergence_interval=20s")
    real.assert_outcomes(passed=1)  # 15 + 20 + 5 = 40 s on that Diego
    real.stdout.fnmatch_lines(["*max < 40s*✓  # presence TTL 15s + convergence interval 20s + placement 5s"])


SETS = """
import time
import pytest
from pytest_diego.measure import define_metric

define_metric("Desires.Lost", "gauge")

@pytest.mark.scenario("lost under xdist")
@pytest.mark.slo("Desires.Lost", "max == 0")
def test_lost(workload, measurements):
    desires = measurements.set_check("Desires")
    mine = [f"task-{i}" for i in workload.indices(10)]
    for guid in mine:
        desires.acknowledge(guid)
    # the last shard loses three of its desires; the others lose none
    lost = set(mine[:3]) if workload.index == workload.count - 1 else set()
    desires.read(set(mine) - lost)
"""


@pytest.mark.parametrize("workers", [(), ("-n", "2")])
def test_a_shard_that_lost_desires_fails_the_merged_set_check(pytester, run, workers):
    pytester.makepyfile(test_sets=SETS)
    result = run(*workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SLO failed: Desires.Lost max == 0 — observed max=3"])
