"""render_report: one self-contained page, every plot per scenario, SLOs, faults, comparisons."""

from __future__ import annotations

import copy
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_diego.report.html import render_report
from pytest_diego.report.load import ResultsError, verdict_outcome
from pytest_diego.report.request_plots import ALL_ROUTES, KINDS, route_names
from tests.support.sample_results import BBS_ONLY, BURST, CELL_FAILURE, NOT_MEASURED_REASON

WIDE = ["timeline-tasks", "timeline-lrps", "counts", "loops", "routes", "cells"]
Plot = tuple[str, str | None]  # (data-plot, data-route)


def route_labels(test: dict[str, Any] | None) -> list[str]:
    if test is None:
        return []
    return [label for _, label in route_names(test)] or [ALL_ROUTES]


def expected_plots(tests: list[dict[str, Any] | None]) -> list[Plot]:
    """The figures of one scenario, in page order, for one run or two side by side: the request
    plots of all routes, the scenario-wide plots, then every route's request plots."""
    labels = list(dict.fromkeys(label for t in tests for label in route_labels(t)))
    top = [label for label in labels if label == ALL_ROUTES] or labels[:1]

    def rows(label: str) -> list[Plot]:
        return [(k, label) for k in KINDS for t in tests if label in route_labels(t)]

    out = [p for label in top for p in rows(label)]
    out += [(k, None) for k in WIDE for t in tests if t is not None]
    return out + [p for label in labels if label not in top for p in rows(label)]


class Page(HTMLParser):
    """Every tag with its attributes, and the text, of a rendered report; each figure with the
    scenario section it is in."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.figures: dict[str, list[Plot]] = {}
        self._scenario = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag == "section" and attributes.get("class") == "scenario":
            self._scenario = attributes["id"]
        if tag == "figure":
            self.figures.setdefault(self._scenario, []).append(
                (attributes["data-plot"], attributes.get("data-route")))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


@pytest.fixture(scope="module")
def single(single_report: Path) -> tuple[Path, str]:
    return single_report, single_report.read_text(encoding="utf-8")


def test_writes_one_file_where_asked(single: tuple[Path, str]) -> None:
    path, text = single
    assert path.name == "report.html" and path.is_file()
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert text.startswith("<!DOCTYPE html>")


def test_needs_no_network_and_no_other_file(single: tuple[Path, str]) -> None:
    page = Page(single[1])
    assert not page.all("script") and not page.all("link") and not page.all("iframe")
    sources = [a["src"] for t, a in page.tags if "src" in a]
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(a["href"].startswith("#") for t, a in page.tags if "href" in a)
    assert "@import" not in single[1] and "url(" not in single[1]


def test_every_scenario_has_every_plot(single: tuple[Path, str], _sample: dict[str, Any]) -> None:
    page = Page(single[1])
    assert list(_sample["tests"]) == [BURST, CELL_FAILURE, BBS_ONLY]
    for i, (nodeid, test) in enumerate(_sample["tests"].items()):
        assert nodeid in "".join(page.text)
        assert page.figures[f"scenario-{i}"] == expected_plots([test]), nodeid
    # the BBS-only scenario: all routes and each of its 12 routes, three plots each
    assert len([p for p in page.figures["scenario-2"] if p[1] is not None]) == 3 * 13


def test_slo_table_marks_each_verdict(single: tuple[Path, str], _sample: dict[str, Any]) -> None:
    text = single[1]
    verdicts = [v for t in _sample["tests"].values() for v in t["verdicts"]]
    tables = re.findall(r'<table class="slo">(.*?)</table>', text, re.S)
    rows = [r for t in tables for r in re.findall(r"<tr><td>(.*?)</tr>", t, re.S)]
    assert len(rows) == len(verdicts)
    assert {verdict_outcome(v) for v in verdicts} == {"passed", "failed", "not measured"}
    for row, verdict in zip(rows, verdicts, strict=True):
        outcome = verdict_outcome(verdict)
        assert verdict["metric"] in row
        assert ("✓" in row) == (outcome == "passed") and ("✗" in row) == (outcome == "failed")
        if outcome == "not measured":
            assert "not measured" in row and html.escape(verdict["detail"]) in row
        else:
            assert verdict["observed"] in row
    assert re.search(r"RequestLatency</td><td><code>p\(99\) &lt; 1s</code></td><td>p\(99\)=5s</td>"
                     r'<td><span class="bad">✗</span>', text)


def test_index_says_what_was_measured_and_what_was_not(single: tuple[Path, str]) -> None:
    index = re.search(r'<table class="index">(.*?)</table>', single[1], re.S)
    assert index is not None
    rows = dict(re.findall(r'<tr data-scenario="([^"]+)">(.*?)</tr>', index.group(1), re.S))
    assert list(rows) == [BURST, CELL_FAILURE, BBS_ONLY]
    api = rows[BBS_ONLY]
    assert "2 ✓, 1 not measured" in api
    assert "BBS requests: " in api and "on 12 routes" in api and "lifecycle timelines" not in api
    assert "ConvergenceLRPDuration max &lt; 20s: not measured, " + html.escape(NOT_MEASURED_REASON) in api
    assert "lifecycle timelines: 400 Tasks, 400 LRP instances" in rows[BURST]
    assert "2 ✓, 2 ✗" in rows[CELL_FAILURE]
    assert all(">—<" in rows[n] for n in (BURST, CELL_FAILURE))  # nothing left unmeasured


def test_skipped_and_not_measured_verdicts_and_skipped_scenarios(tmp_path: Path) -> None:
    verdicts = [
        {"metric": "A", "expression": "p(99) < 1s", "observed": "p(99)=3ms", "passed": True},  # no outcome
        {"metric": "B", "expression": "max < 20s", "outcome": "not measured",
         "detail": "set --diego-metrics-url"},
        {"metric": "C", "expression": "rate == 1", "outcome": "skipped", "detail": "no router"},
        {"metric": "D", "expression": "rate == 1", "observed": "rate=0.5", "passed": False,
         "outcome": "failed"},
    ]
    doc = {"schema": 1, "environment": {}, "tests": {
        "t.py::test_a": {"outcome": "failed", "verdicts": verdicts},
        "t.py::test_b": {"outcome": "skipped", "reasons": ["needs --diego-router-url"]}}}
    text = render_report(doc, tmp_path / "r.html").read_text()
    slo = re.search(r'<table class="slo">(.*?)</table>', text, re.S)
    assert slo is not None
    rows = re.findall(r"<tr><td>(.*?)</tr>", slo.group(1), re.S)
    assert '<span class="ok">✓</span>' in rows[0]
    assert "not measured" in rows[1] and "set --diego-metrics-url" in rows[1] and "✗" not in rows[1]
    assert "skipped" in rows[2] and "no router" in rows[2] and "✓" not in rows[2]
    assert '<span class="bad">✗</span>' in rows[3]
    index = re.search(r'<table class="index">(.*?)</table>', text, re.S)
    assert index is not None
    assert "1 ✓, 1 ✗, 1 not measured, 1 skipped" in index.group(1)
    assert "B max &lt; 20s: not measured, set --diego-metrics-url" in index.group(1)
    assert "C rate == 1: skipped, no router" in index.group(1)
    assert "the scenario was skipped: needs --diego-router-url" in index.group(1)


def test_faults_environment_and_missing_plots_are_shown(single: tuple[Path, str]) -> None:
    text = " ".join(Page(single[1]).text)
    assert "kill_cell" in text and "cell-3" in text and "50.0 s" in text and "restart_bbs" in text
    assert "embedded cluster" in text and "time scale" in text
    # the cell-failure scenario desired no Tasks: its Task timeline says so instead of being blank;
    # the BBS-only scenario recorded neither timelines nor Diego's metrics: its six wide plots say so
    assert text.count("no data recorded for this plot") == 1 + len(WIDE)


def test_a_scenario_with_nothing_recorded_still_renders(tmp_path: Path, sample: dict[str, Any]) -> None:
    doc = sample
    doc["tests"] = {"perf_suites/test_x.py::test_<b>": {"outcome": "error", "reasons": ["gw0: <boom>"]}}
    text = render_report(doc, tmp_path / "r.html").read_text()
    page = Page(text)
    assert page.figures["scenario-0"] == [(k, ALL_ROUTES) for k in KINDS] + [(k, None) for k in WIDE]
    assert " ".join(page.text).count("no data recorded for this plot") == len(WIDE) + len(KINDS)
    assert "made no BBS request" in text
    assert "test_&lt;b&gt;" in text and "&lt;boom&gt;" in text and "<b>" not in text.split("</header>")[1]
    assert "No SLOs were declared" in text


def test_a_run_without_scenarios(tmp_path: Path) -> None:
    doc = {"schema": 1, "started_at": 1.0, "finished_at": 2.0, "interrupted": True,
           "environment": {}, "tests": {}}
    text = render_report(doc, tmp_path / "r.html").read_text()
    assert "No scenario finished" in text and "interrupted" in text


def test_two_runs_side_by_side(comparison_report: Path, _sample: dict[str, Any],
                               _after: dict[str, Any]) -> None:
    after = _after
    text = comparison_report.read_text()
    page = Page(text)
    # burst ran only before (one column); the others ran in both (a column each, row by row)
    for i, nodeid in enumerate((BURST, CELL_FAILURE, BBS_ONLY)):
        pair = [_sample["tests"].get(nodeid), after["tests"].get(nodeid)]
        assert page.figures[f"scenario-{i}"] == expected_plots(pair), nodeid
    assert "not run" in " ".join(page.text)
    runs = [d for d in page.text if d in ("before", "after")]
    assert len(runs) >= sum(len(f) for f in page.figures.values())  # every figure says whose run it is
    assert runs.count("before") > runs.count("after") > 0  # the burst ran only before
    failure_slos = re.findall(r'<table class="slo">(.*?)</table>', text, re.S)[1]
    before_obs = {v["expression"]: v["observed"] for v in _sample["tests"][CELL_FAILURE]["verdicts"]}
    after_obs = {v["expression"]: v["observed"] for v in after["tests"][CELL_FAILURE]["verdicts"]}
    for expression in before_obs:
        row = re.search(rf"<code>{re.escape(html.escape(expression))}</code>.*?</tr>", failure_slos)
        assert row is not None
        assert before_obs[expression] in row.group(0) and after_obs[expression] in row.group(0)


def test_renders_from_results_files(tmp_path: Path) -> None:
    doc = {"schema": 1, "environment": {}, "tests": {"t.py::test_a": {"outcome": "passed"}}}
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    for path in (before, after):
        path.write_text(json.dumps(doc))
    text = render_report([before, after], tmp_path / "c.html").read_text()
    assert str(before) in text and str(after) in text


def test_bad_input_is_refused_clearly(tmp_path: Path, _sample: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="one run, or two side by side; got 3"):
        render_report([_sample] * 3, tmp_path / "r.html")
    with pytest.raises(ValueError, match="1 labels for 2 results"):
        render_report([_sample, _sample], tmp_path / "r.html", labels=["x"])
    broken = copy.deepcopy(_sample)
    broken["tests"][BURST]["series"]["LRPsRunning"] = {"0": 1}
    pattern = r"results #2: tests\[.*\]\['series'\]\['LRPsRunning'\]: expected an array"
    with pytest.raises(ResultsError, match=pattern):
        render_report([_sample, broken], tmp_path / "r.html")
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps({"schema": 99, "environment": {}, "tests": {}}))
    with pytest.raises(ResultsError, match=r"bad\.json: schema version 99"):
        render_report(bad_file, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
