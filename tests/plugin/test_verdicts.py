"""A scenario is judged on its SLOs: failures name metric, expression and observed value."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.plugin.conftest import NUMBERS, check_results_schema, results


def test_impossible_slo_fails_with_a_clear_message_and_an_easy_one_passes(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS)
    result = run("--strict-markers")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*test_impossible*",
        "SLO failed: Op p(99) < 1ms — observed p(99)=10ms",
    ])
    # the summary ends with one table of every SLO
    result.stdout.fnmatch_lines([
        "*Diego SLOs: 2 passed, 1 failed*",
        "test*metric*threshold*observed",
        "test_numbers.py::test_easy*Op*p(99) < 1s*p(99)=*✓",
        "test_numbers.py::test_easy*Op*count == 100*count=100*✓",
        "test_numbers.py::test_impossible*Op*p(99) < 1ms*p(99)=10ms*✗",
        "*1 failed, 1 passed*",
    ])


def test_easy_slo_alone_exits_zero(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS)
    result = run("-k", "easy")
    assert result.ret == 0
    result.assert_outcomes(passed=1)


def test_every_failed_slo_is_listed(pytester, run):
    pytester.makepyfile(test_two="""
        import time, pytest
        from pytest_diego.measure import define_metric

        define_metric("A", "trend")
        define_metric("B", "rate")

        @pytest.mark.slo("A", "max < 1ms")
        @pytest.mark.slo("B", "rate >= 0.99")
        def test_two(measurements):
            measurements.trend("A").record(time.time(), 0.5)
            measurements.rate("B").add(time.time(), "ResourceExists")
    """)
    result = run()
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "SLO failed: A max < 1ms — observed max=500ms",
        "SLO failed: B rate >= 0.99 — observed rate=0",
    ])


def test_slo_on_a_metric_never_recorded_fails(pytester, run):
    pytester.makepyfile(test_none="""
        import pytest

        @pytest.mark.slo("RequestLatency.DesireTask", "p(99) < 1s")
        def test_nothing(measurements):
            pass
    """)
    result = run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["SLO failed: RequestLatency.DesireTask p(99) < 1s — observed no data*"])


def test_test_body_failure_is_reported_as_such(pytester, run):
    pytester.makepyfile(test_body="""
        import pytest
        from pytest_diego.measure import define_metric

        define_metric("Op", "trend")

        @pytest.mark.slo("Op", "count > 0")
        def test_body(measurements):
            assert 1 == 2, "the scenario itself broke"
    """)
    result = run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*the scenario itself broke*"])
    assert results(pytester)["tests"]["test_body.py::test_body"]["outcome"] == "failed"


@pytest.mark.parametrize("override", [
    "Op=p(99)<1s",
    "test_impossible::Op=p(99) < 50ms",
    "test_numbers.py::test_impossible::Op=p(99)<1s;max<1s",
])
def test_slo_override_turns_a_failing_verdict_into_a_pass(pytester, run, override):
    pytester.makepyfile(test_numbers=NUMBERS)
    result = run("--diego-slo", override)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)


def test_slo_override_can_tighten_a_threshold(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS)
    result = run("-k", "easy", "--diego-slo", "Op=max < 1ms")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["SLO failed: Op max < 1ms — observed max=10ms"])


@pytest.mark.parametrize(("name", "text"), [
    ("slo.json", '{"test_impossible::Op": ["p(99) < 1s"]}'),
    ("slo.toml", '"test_impossible::Op" = "p(99) < 1s"\n'),
    ("slo.ini", "[slo]\ntest_impossible::Op = p(99) < 1s; max < 1s\n"),
])
def test_slo_override_file(pytester, run, name, text):
    pytester.makepyfile(test_numbers=NUMBERS)
    pytester.path.joinpath(name).write_text(text)
    result = run("--diego-slo-file", name)
    assert result.ret == 0, result.stdout.str()


def test_slo_override_from_ini(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS)
    pytester.makeini("[pytest]\ndiego_slo =\n    Op=p(99) < 1s\n")
    assert run().ret == 0


def test_baseline_fails_a_metric_that_got_worse(pytester, run):
    pytester.makepyfile(test_base="""
        import os, time, pytest
        from pytest_diego.measure import define_metric

        define_metric("Op", "trend")

        @pytest.mark.slo("Op", "p(99) < 10s")
        def test_base(measurements):
            seconds = float(os.environ["OP_SECONDS"])
            for _ in range(50):
                measurements.trend("Op").record(time.time(), seconds)
    """)
    pytester._monkeypatch.setenv("OP_SECONDS", "0.010")
    assert run("--diego-results", "before").ret == 0
    pytester._monkeypatch.setenv("OP_SECONDS", "0.0105")
    assert run("--diego-baseline", "before/results.json").ret == 0  # within 10%
    pytester._monkeypatch.setenv("OP_SECONDS", "0.020")
    result = run("--diego-baseline", "before/results.json", "--diego-baseline-tolerance", "0.25")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "Baseline failed: Op p(99) <= 12.5ms (baseline 10ms +25%) — observed p(99)=20ms",
        "*baseline: p(99) <= 12.5ms*✗",
    ])


def _junit_properties(path: Path) -> dict[str, dict[str, str]]:
    """``{test case name: {property name: value}}`` of a --junitxml file."""
    cases = ElementTree.parse(path).getroot().iter("testcase")
    return {case.get("name", ""): {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
            for case in cases}


def test_each_slo_is_a_junitxml_property_with_threshold_outcome_and_observed(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS, test_mixed="""
        import time, pytest
        from pytest_diego.measure import define_metric

        define_metric("Op", "trend")
        define_metric("LoopDuration", "gauge", unit="s")

        @pytest.mark.slo("Op", "p(99) < 1s # the BBS's API SLO", "max < 1ms over 1m")
        @pytest.mark.slo("LoopDuration", "max < 5s")
        def test_mixed(measurements):
            for _ in range(10):
                measurements.trend("Op").record(time.time(), 0.010)
            measurements.not_measured(["LoopDuration"], "set --diego-metrics-url")
    """)
    run("--junitxml", "junit.xml")
    properties = _junit_properties(pytester.path / "junit.xml")
    assert properties["test_impossible"] == {"slo:Op p(99) < 1ms": "failed: p(99)=10ms"}
    easy = properties["test_easy"]
    assert list(easy) == ["slo:Op p(99) < 1s", "slo:Op count == 100"]
    assert re.fullmatch(r"passed: p\(99\)=[.\d]+ms", easy["slo:Op p(99) < 1s"]), easy
    assert easy["slo:Op count == 100"] == "passed: count=100"
    mixed = properties["test_mixed"]
    assert list(mixed) == ["slo:Op p(99) < 1s", "slo:Op max < 1ms over 1m", "slo:LoopDuration max < 5s"]
    assert mixed["slo:Op p(99) < 1s"] == "passed: p(99)=10ms # the BBS's API SLO"
    assert re.fullmatch(r"failed: max=10ms \(1 of 1 window failed; the worst began at [-\d]+ [:\d]+ UTC\)",
                        mixed["slo:Op max < 1ms over 1m"]), mixed
    assert mixed["slo:LoopDuration max < 5s"] == "not measured: set --diego-metrics-url"


def test_results_json_is_written_and_schema_valid(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS)
    run("--diego-scale", "2", "--diego-results", "out", "--diego-slo", "test_easy::Op=count == 200")
    doc = results(pytester, "out")
    check_results_schema(doc)
    easy = doc["tests"]["test_numbers.py::test_easy"]
    assert easy["outcome"] == "passed"
    assert easy["metrics"]["Op"]["count"] == 200  # size 100 scaled by 2
    assert doc["tests"]["test_numbers.py::test_impossible"]["outcome"] == "failed"
    assert doc["environment"]["scale"] == 2.0
    assert not list(pytester.path.joinpath("out").glob(".results.json.*"))  # no temporary left


def test_interrupted_run_still_writes_results(pytester, run):
    pytester.makepyfile(test_stop="""
        import time, pytest
        from pytest_diego.measure import define_metric

        define_metric("Op", "trend")

        @pytest.mark.slo("Op", "count == 3")
        def test_first(measurements):
            for _ in range(3):
                measurements.trend("Op").record(time.time(), 0.001)

        @pytest.mark.slo("Op", "count == 1")
        def test_interrupted(measurements):
            measurements.trend("Op").record(time.time(), 0.001)
            raise KeyboardInterrupt
    """)
    result = run()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    doc = results(pytester)
    check_results_schema(doc)
    assert doc["interrupted"] is True
    assert doc["tests"]["test_stop.py::test_first"]["metrics"]["Op"]["count"] == 3
    assert doc["tests"]["test_stop.py::test_interrupted"]["metrics"]["Op"]["count"] == 1
