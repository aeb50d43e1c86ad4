"""``python -m pytest_diego report``: re-render from saved results, or compare two runs."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_diego.report import cli

MINIMAL = {"schema": 1, "started_at": 1_795_000_000.0, "finished_at": 1_795_000_060.0,
           "environment": {"target": {"kind": "embedded", "cells": 3}},
           "tests": {"perf_suites/test_burst.py::test_burst": {
               "outcome": "passed", "series": {"LRPsRunning": [[1_795_000_001.0, 3], [1_795_000_002.0, 5]]},
               "verdicts": [{"metric": "LRPsRunning", "expression": "value >= 5", "observed": "value=5",
                             "passed": True, "source": "slo"}]}}}


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.run(args))


def _results(directory: Path, document: object = MINIMAL) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "results.json"
    path.write_text(json.dumps(document))
    return path


def test_renders_beside_the_results_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = _results(tmp_path / "diego-results")
    assert _run(["report", str(results)]) == 0
    out = tmp_path / "diego-results" / "report.html"
    assert out.is_file() and "perf_suites/test_burst.py::test_burst" in out.read_text()
    assert f"wrote {out}" in capsys.readouterr().out


def test_two_files_compare_with_labels(tmp_path: Path) -> None:
    before, after = _results(tmp_path / "before"), _results(tmp_path / "after")
    assert _run(["report", str(before), str(after), "--label", "v2.90", "--label", "v2.91"]) == 0
    text = (tmp_path / "after" / "comparison.html").read_text()
    assert "v2.90" in text and "v2.91" in text and "comparison" in text


def test_output_option(tmp_path: Path) -> None:
    results = _results(tmp_path)
    assert _run(["report", str(results), "-o", str(tmp_path / "out" / "r.html")]) == 0
    assert (tmp_path / "out" / "r.html").is_file()


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "not JSON (line 1 column 2"),
    (json.dumps({**MINIMAL, "schema": 7}), "schema version 7 is not 1"),
    (json.dumps({"schema": 1, "tests": {}}), "missing key 'environment'"),
])
def test_malformed_results_name_file_and_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 content: str, problem: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(content)
    assert _run(["report", str(path)]) == cli.EXIT_BAD_RESULTS
    err = capsys.readouterr().err
    assert err.startswith(f"report: error: {path}: ") and problem in err
    assert not (tmp_path / "report.html").exists()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = _results(tmp_path)
    assert _run(["report", str(results), str(results), str(results)]) == 2
    assert "give one results.json, or two to compare; got 3" in capsys.readouterr().err
    assert _run(["report", str(results), "--label", "a", "--label", "b"]) == 2
    assert "2 --label for 1 results files" in capsys.readouterr().err


def test_module_entry_point(tmp_path: Path) -> None:
    results = _results(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pytest_diego", "report", str(results)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report.html").is_file()
    missing = subprocess.run([sys.executable, "-m", "pytest_diego", "report", str(tmp_path / "nope.json")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1
    assert "nope.json: no such file" in missing.stderr
