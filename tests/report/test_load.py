"""load_results: a good file loads; every kind of bad file is named with what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_diego.report.load import ResultsError, check_results, load_results, verdict_outcome
from pytest_diego.report.results import SCHEMA, write_results
from tests.support.sample_results import BBS_ONLY, BURST, CELL_FAILURE


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    return path


def test_loads_what_write_results_wrote(tmp_path: Path, sample: dict[str, Any]) -> None:
    path = tmp_path / "out" / "results.json"
    body = {k: v for k, v in sample.items() if k != "schema"}
    write_results(path, body)
    loaded = load_results(path)
    assert loaded["schema"] == SCHEMA
    assert set(loaded["tests"]) == {BURST, CELL_FAILURE, BBS_ONLY}
    assert loaded["tests"][CELL_FAILURE]["faults"][0]["kind"] == "kill_cell"


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=r"nope\.json: no such file"):
        load_results(tmp_path / "nope.json")


def test_not_json_names_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"schema": 1,\n "tests": {oops}}')
    with pytest.raises(ResultsError) as info:
        load_results(path)
    assert str(path) in str(info.value)
    assert "not JSON (line 2 column" in str(info.value)


@pytest.mark.parametrize("schema", [2, 0, "1", None])
def test_wrong_schema_version(tmp_path: Path, sample: dict[str, Any], schema: Any) -> None:
    sample["schema"] = schema
    with pytest.raises(ResultsError, match=rf"schema version {schema!r} is not {SCHEMA}"):
        load_results(_write(tmp_path, sample))


def test_not_a_results_file(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="missing key 'schema'"):
        load_results(_write(tmp_path, {"bbs_url": "http://127.0.0.1:8889"}))
    with pytest.raises(ResultsError, match="top level is an array, not an object"):
        load_results(_write(tmp_path, [1, 2]))


@pytest.mark.parametrize("key", ["environment", "tests"])
def test_missing_top_level_key(tmp_path: Path, sample: dict[str, Any], key: str) -> None:
    del sample[key]
    with pytest.raises(ResultsError, match=f"missing key '{key}'"):
        load_results(_write(tmp_path, sample))


def test_bad_series_sample_is_located(tmp_path: Path, sample: dict[str, Any]) -> None:
    sample["tests"][CELL_FAILURE]["series"]["LRPsRunning"][3] = [1.0, "many"]
    with pytest.raises(ResultsError) as info:
        load_results(_write(tmp_path, sample))
    message = str(info.value)
    assert f"tests[{CELL_FAILURE!r}]['series']['LRPsRunning'][3]" in message
    assert "is not a [time, value] pair" in message


def test_bad_pieces_each_named(sample: dict[str, Any]) -> None:
    cases = [
        (lambda t: t.pop("outcome"), "missing key 'outcome'"),
        (lambda t: [t["verdicts"][0].pop(k) for k in ("passed", "outcome")],
         r"\['verdicts'\]\[0\]: missing key 'passed' \(or 'outcome'\)"),
        (lambda t: t["verdicts"][0].update(outcome="unmeasurable"),
         r"\['verdicts'\]\[0\]\['outcome'\]: 'unmeasurable' is not one of 'passed', 'failed', "),
        (lambda t: t["metrics"]["RequestLatency"]["spectrum"].append([100.0, 1.0]),
         r"\['RequestLatency'\]\['spectrum'\]\[\d+\]: \[100.0, 1.0\] is not a \[percentile below 100"),
        (lambda t: t["metrics"]["RequestLatency"].update(spectrum={"p50": 1}),
         r"\['spectrum'\]: expected an array, got an object"),
        (lambda t: t["faults"][0].update(t="soon"),
         r"\['faults'\]\[0\]\['t'\]: expected a number, got a string"),
        (lambda t: t["timelines"]["lrps"].update({"x/0": [["running"]]}),
         r"\['x/0'\]\[0\]: .* is not a \[milestone"),
        (lambda t: t["windows"]["RequestLatency"]["p99"].pop(), r"\['p99'\]: \d+ values for \d+ windows"),
        (lambda t: t.update(series=[]), r"\['series'\]: expected an object, got an array"),
    ]
    for change, pattern in cases:
        doc = json.loads(json.dumps(sample))
        change(doc["tests"][CELL_FAILURE])
        with pytest.raises(ResultsError, match=pattern):
            check_results(doc, "run.json")


def test_booleans_are_not_numbers(sample: dict[str, Any]) -> None:
    sample["started_at"] = True
    with pytest.raises(ResultsError, match="'started_at': expected a number, got a bool"):
        check_results(sample)


def test_verdicts_with_an_outcome_need_no_passed_nor_observed(sample: dict[str, Any]) -> None:
    verdicts = sample["tests"][CELL_FAILURE]["verdicts"]
    verdicts.append({"metric": "ConvergenceLRPDuration", "expression": "max < 20s", "outcome": "not measured",
                     "detail": "set --diego-metrics-url"})
    verdicts.append({"metric": "RouteAvailability", "expression": "rate >= 0.99", "outcome": "skipped",
                     "detail": "no router"})
    check_results(sample)
    assert [verdict_outcome(v) for v in verdicts[-2:]] == ["not measured", "skipped"]
    assert verdict_outcome({"passed": True}) == "passed" and verdict_outcome({"passed": False}) == "failed"
    assert verdict_outcome({"passed": True, "outcome": "failed"}) == "failed"  # the outcome wins
