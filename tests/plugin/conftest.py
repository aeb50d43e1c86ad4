"""Helpers for the plugin's end-to-end tests: run pytest in a subprocess, read results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# Scenarios that need no cluster: pure recorded numbers, so the xdist machinery is tested alone.
NUMBERS = """
import time
import pytest
from pytest_diego.measure import define_metric

define_metric("Op", "trend")

@pytest.mark.scenario("numbers", size=100)
@pytest.mark.slo("Op", "p(99) < 1s", "count == 100")
def test_easy(workload, measurements):
    trend = measurements.trend("Op")
    for i in workload.indices(workload.size):
        trend.record(time.time(), 0.001 * (1 + i % 10))

@pytest.mark.slo("Op", "p(99) < 1ms")
def test_impossible(workload, measurements):
    trend = measurements.trend("Op")
    for i in workload.indices(100):
        trend.record(time.time(), 0.010)
"""


@pytest.fixture
def run(pytester: pytest.Pytester):
    """Run pytest in a subprocess (plugins, signals and xdist need one) with a timeout."""

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=180)

    return run


def results(pytester: pytest.Pytester, directory: str = "diego-results") -> dict[str, Any]:
    return json.loads((Path(pytester.path) / directory / "results.json").read_text())


def check_results_schema(doc: dict[str, Any]) -> None:
    """Assert results.json has schema 1's shape (docs of pytest_diego.report.results)."""
    assert doc["schema"] == 1
    assert isinstance(doc["started_at"], float) and doc["finished_at"] >= doc["started_at"]
    assert isinstance(doc["interrupted"], bool)
    env = doc["environment"]
    assert env["target"]["kind"] in ("embedded", "external")
    assert isinstance(env["cells"], list) and isinstance(env["scale"], float)
    assert set(env["versions"]) >= {"pytest-diego", "pytest", "python"}
    for nodeid, test in doc["tests"].items():
        assert "::" in nodeid
        assert test["outcome"] in ("passed", "failed", "skipped", "error")
        assert all(o in ("passed", "failed", "skipped", "error") for o in test["workers"].values())
        assert isinstance(test["reasons"], list)
        for v in test["verdicts"]:
            assert set(v) == {"metric", "expression", "outcome", "passed", "observed", "value", "detail",
                              "source", "note", "samples"}
            assert v["outcome"] in ("passed", "failed", "not measured", "skipped")
            assert v["passed"] is (v["outcome"] == "passed") and v["source"] in ("slo", "baseline")
            assert v["value"] is None or isinstance(v["value"], float)
        assert isinstance(test["unmeasured"], dict)
        for metric in test["metrics"].values():
            assert metric["kind"] in ("trend", "rate", "gauge")
            assert isinstance(metric["count"], int)
            if metric["kind"] == "trend" and metric["count"]:
                keys = ("min", "med", "avg", "p(90)", "p(95)", "p(99)", "p(99.9)", "max")
                values = [metric[k] for k in keys]
                assert all(isinstance(x, float) for x in values)
                assert metric["min"] <= metric["med"] <= metric["p(99)"] <= metric["max"]
        assert isinstance(test["series"], dict) and isinstance(test["timelines"], dict)
        for fault in test["faults"]:
            assert set(fault) >= {"t", "kind", "target", "ok"}
