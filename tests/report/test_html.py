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
from pytest_diego.report.load import ResultsError
from pytest_diego.report.sample import BURST, CELL_FAILURE

PLOTS = ["timeline-tasks", "timeline-lrps", "counts", "latency", "loops", "routes", "cells"]


class Page(HTMLParser):
    """Every tag with its attributes, and the text, of a rendered report."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

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


def test_every_scenario_has_every_plot(single: tuple[Path, str]) -> None:
    page = Page(single[1])
    for section in (BURST, CELL_FAILURE):
        assert section in "".join(page.text)
    keys = [a["data-plot"] for a in page.all("figure")]
    assert keys == PLOTS * 2


def test_slo_table_marks_each_verdict(single: tuple[Path, str], _sample: dict[str, Any]) -> None:
    text = single[1]
    verdicts = [v for t in _sample["tests"].values() for v in t["verdicts"]]
    tables = re.findall(r'<table class="slo">(.*?)</table>', text, re.S)
    rows = [r for t in tables for r in re.findall(r"<tr><td>(.*?)</tr>", t, re.S)]
    assert len(rows) == len(verdicts)
    for row, verdict in zip(rows, verdicts, strict=True):
        assert verdict["metric"] in row and verdict["observed"] in row
        assert ("✓" in row) == verdict["passed"] and ("✗" in row) == (not verdict["passed"])
    assert re.search(r"RequestLatency</td><td><code>p\(99\) &lt; 1s</code></td><td>p\(99\)=5s</td>"
                     r'<td><span class="bad">✗</span>', text)


def test_faults_environment_and_missing_plots_are_shown(single: tuple[Path, str]) -> None:
    text = " ".join(Page(single[1]).text)
    assert "kill_cell" in text and "cell-3" in text and "50.0 s" in text
    assert "embedded cluster" in text and "time scale" in text
    # the cell-failure scenario desired no Tasks: its Task timeline says so instead of being blank
    assert text.count("no data recorded for this plot") == 1


def test_a_scenario_with_nothing_recorded_still_renders(tmp_path: Path, sample: dict[str, Any]) -> None:
    doc = sample
    doc["tests"] = {"perf_suites/test_x.py::test_<b>": {"outcome": "error", "reasons": ["gw0: <boom>"]}}
    text = render_report(doc, tmp_path / "r.html").read_text()
    page = Page(text)
    assert [a["data-plot"] for a in page.all("figure")] == PLOTS
    assert " ".join(page.text).count("no data recorded for this plot") == len(PLOTS)
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
    # burst ran only before (one column); the cell failure ran in both (a column each, row by row)
    assert [a["data-plot"] for a in page.all("figure")] == PLOTS + [k for k in PLOTS for _ in range(2)]
    assert "not run" in " ".join(page.text)
    runs = [d for d in page.text if d in ("before", "after")]
    assert runs.count("before") >= 14 and runs.count("after") >= 7
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
