"""The Pushgateway's series for a results document, without a server: names, labels, values."""

from __future__ import annotations

import socket

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pytest_diego.report.pushgateway import (
    PushError,
    Pushgateway,
    PushgatewayConfigError,
    ResultsCollector,
    run_id,
)

BURST = "perf_suites/test_burst.py::test_fast_burst"
FILL = "perf_suites/test_fill_capacity.py::test_fill_capacity_then_watch"
DOCUMENT = {
    "started_at": 1714564800.25, "finished_at": 1714564900.0, "interrupted": False,
    "environment": {}, "tests": {
        BURST: {
            "outcome": "failed",
            "verdicts": [
                {"metric": "TaskTimeToComplete", "expression": "p(99) < 30s", "outcome": "failed",
                 "passed": False, "observed": "p(99)=32.1s", "value": 32.1, "detail": "", "source": "slo",
                 "note": ""},
                {"metric": "RequestLatency", "expression": "rate >= 0.999", "outcome": "passed",
                 "passed": True, "observed": "rate=1", "value": 1.0, "detail": "", "source": "slo",
                 "note": ""},
                {"metric": "RequestLatency", "expression": "p(99) <= 12.5ms", "outcome": "passed",
                 "passed": True, "observed": "p(99)=4ms", "value": 0.004, "detail": "",
                 "source": "baseline", "note": ""},
            ],
            "metrics": {
                "RequestLatency": {"kind": "trend", "count": 10, "ok": 9, "rate": 0.9,
                                   "failures": {"ResourceExists": 1}, "min": 0.001, "med": 0.002,
                                   "p(90)": 0.003, "p(95)": 0.0035, "p(99)": 0.004, "p(99.9)": 0.004,
                                   "avg": 0.0022, "max": 0.004, "spectrum": [[50.0, 0.002]]},
                "Empty": {"kind": "trend", "count": 0, "ok": 0, "rate": None, "failures": {}, "min": None,
                          "med": None, "p(90)": None, "p(95)": None, "p(99)": None, "p(99.9)": None,
                          "avg": None, "max": None, "spectrum": []},
                "BurstDuration": {"kind": "gauge", "unit": "s", "count": 1, "min": 31.0, "med": 31.0,
                                  "avg": 31.0, "max": 31.0, "last": 31.0},
                "LRPsRunning": {"kind": "gauge", "unit": "", "count": 2, "min": 0.0, "med": 0.0,
                                "avg": 60.0, "max": 120.0, "last": 120.0},
                "RouteAvailability": {"kind": "rate", "count": 4, "ok": 4, "rate": 1.0, "failures": {}},
            },
        },
        FILL: {
            "outcome": "passed",
            "verdicts": [{"metric": "ConvergenceLRPDuration", "expression": "max < 5s",
                          "outcome": "not measured", "passed": False, "observed": "", "value": None,
                          "detail": "set --diego-metrics-url", "source": "slo", "note": ""}],
            "metrics": {},
        },
    },
}


def series(document: dict) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``{metric name: {sorted labels: value}}`` as Prometheus reads the exposition."""
    text = generate_latest(ResultsCollector(document)).decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def labels(**kw: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kw.items()))


def test_each_slo_has_one_outcome_series_per_outcome_with_1_for_its_own():
    outcome = series(DOCUMENT)["diego_slo_outcome"]
    failed = {"scenario": BURST, "metric": "TaskTimeToComplete", "threshold": "p(99) < 30s", "source": "slo"}
    outcomes = ("passed", "failed", "not measured", "skipped")
    assert {o: outcome[labels(**failed, outcome=o)] for o in outcomes} == \
        {"passed": 0, "failed": 1, "not measured": 0, "skipped": 0}
    baseline = {"scenario": BURST, "metric": "RequestLatency", "threshold": "p(99) <= 12.5ms",
                "source": "baseline"}
    assert outcome[labels(**baseline, outcome="passed")] == 1
    unmeasured = {"scenario": FILL, "metric": "ConvergenceLRPDuration", "threshold": "max < 5s",
                  "source": "slo"}
    assert outcome[labels(**unmeasured, outcome="not measured")] == 1
    assert len(outcome) == 4 * 4  # four verdicts, four outcomes each
    assert sum(outcome.values()) == 4


def test_observed_values_are_numbers_in_seconds_and_absent_when_not_measured():
    observed = series(DOCUMENT)["diego_slo_observed"]
    assert observed == {
        labels(scenario=BURST, metric="TaskTimeToComplete", threshold="p(99) < 30s", source="slo"): 32.1,
        labels(scenario=BURST, metric="RequestLatency", threshold="rate >= 0.999", source="slo"): 1.0,
        labels(scenario=BURST, metric="RequestLatency", threshold="p(99) <= 12.5ms",
               source="baseline"): 0.004,
    }


def test_metric_summaries_carry_stat_and_unit_and_skip_empty_statistics():
    summary = series(DOCUMENT)["diego_metric"]

    def of(metric: str) -> dict[str, tuple[str, float]]:
        return {dict(k)["stat"]: (dict(k)["unit"], v) for k, v in summary.items()
                if dict(k)["metric"] == metric}

    latency = of("RequestLatency")
    assert latency["p(99)"] == ("seconds", 0.004) and latency["p(99.9)"] == ("seconds", 0.004)
    assert latency["count"] == ("", 10) and latency["ok"] == ("", 9) and latency["rate"] == ("ratio", 0.9)
    assert set(latency) == {"count", "ok", "rate", "min", "med", "avg", "p(90)", "p(95)", "p(99)", "p(99.9)",
                            "max"}
    assert of("Empty") == {"count": ("", 0), "ok": ("", 0)}
    assert of("BurstDuration")["max"] == ("seconds", 31.0)
    assert of("LRPsRunning")["last"] == ("", 120.0)  # a count gauge has no unit
    assert of("RouteAvailability") == {"count": ("", 4), "ok": ("", 4), "rate": ("ratio", 1.0)}
    assert all(dict(k)["scenario"] == BURST for k in summary)


def test_failures_scenario_outcomes_and_interruption():
    found = series(DOCUMENT)
    assert found["diego_metric_failures"] == {
        labels(scenario=BURST, metric="RequestLatency", type="ResourceExists"): 1}
    outcomes = found["diego_scenario_outcome"]
    assert outcomes[labels(scenario=BURST, outcome="failed")] == 1
    assert outcomes[labels(scenario=FILL, outcome="passed")] == 1
    assert sum(outcomes.values()) == 2 and len(outcomes) == 8
    assert found["diego_run_interrupted"] == {(): 0}
    assert series({**DOCUMENT, "interrupted": True})["diego_run_interrupted"] == {(): 1}


def test_the_run_is_its_start_in_utc_to_the_millisecond():
    assert run_id(DOCUMENT) == "2024-05-01T12:00:00.250Z"


def test_credentials_come_from_the_url_or_the_environment_and_are_never_shown():
    gateway = Pushgateway.from_url("https://ci:s%40cret@pushgateway.example:9091/", "diego")
    assert (gateway.url, gateway.job, gateway.user, gateway.password) == \
        ("https://pushgateway.example:9091", "diego", "ci", "s@cret")
    assert "cret" not in repr(gateway)
    env = {"DIEGO_PUSHGATEWAY_USER": "ci", "DIEGO_PUSHGATEWAY_PASSWORD": "hunter2"}
    from_env = Pushgateway.from_url("http://127.0.0.1:9091", None, env)
    assert (from_env.job, from_env.user, from_env.password) == ("pytest_diego", "ci", "hunter2")
    with pytest.raises(PushgatewayConfigError, match="needs a user and a password"):
        Pushgateway.from_url("http://127.0.0.1:9091", None, {"DIEGO_PUSHGATEWAY_USER": "ci"})


def test_a_push_nobody_answers_names_the_url_without_its_credentials():
    with socket.socket() as s:  # a port with nothing listening on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gateway = Pushgateway.from_url(f"http://ci:hunter2@127.0.0.1:{port}")
    with pytest.raises(PushError) as e:
        gateway.push(DOCUMENT)
    message = str(e.value)
    assert message.startswith(f"cannot reach Pushgateway http://127.0.0.1:{port} (job pytest_diego, run "
                              "2024-05-01T12:00:00.250Z): "), message
    assert "refused" in message and "hunter2" not in message


def test_the_same_threshold_twice_is_pushed_once():
    """A Pushgateway refuses a push with a repeated series, so one verdict per threshold goes."""
    verdict = DOCUMENT["tests"][BURST]["verdicts"][0]
    twice = {"started_at": 0.0, "tests": {BURST: {"outcome": "failed", "verdicts": [verdict, verdict]}}}
    text = generate_latest(ResultsCollector(twice)).decode()
    assert text.count('diego_slo_outcome{metric="TaskTimeToComplete",outcome="failed"') == 1
    assert text.count("diego_slo_observed{") == 1
