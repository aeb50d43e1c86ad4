"""The report in a real browser: it renders with no console errors and no network; in every
scenario every plot is present and decoded, each BBS route's three request plots among them; a
planted error burst shows as a rising errors series in the decoded image; a full-page screenshot
goes beside the report in the results folder.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``); skipped without it.
"""

from __future__ import annotations

import copy
import struct
from pathlib import Path
from typing import Any

import pytest
from browser import Chromium, find_chromium
from test_html import expected_plots

from pytest_diego.report.html import render_report
from pytest_diego.report.request_plots import ALL_ROUTES, ERRORS_COLOR, route_names
from tests.support.sample_results import BBS_ONLY, BURST, CELL_FAILURE

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(Debian: apt-get install -y chromium)")

RED, GREEN, BLUE = (int(ERRORS_COLOR[i:i + 2], 16) for i in (1, 3, 5))
CHECK = """(() => {
  // rows of pixels the errors series spans in a requests plot (below its top fifth), read back
  // from the decoded image: none or a few when it lies flat on the x axis, many when it rises
  const errorsHeight = (img) => {
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let top = -1, bottom = -1;
    for (let y = Math.floor(0.2 * c.height); y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        const i = 4 * (y * c.width + x);
        const near = (k, v) => Math.abs(d[i + k] - v) <= 10;
        if (near(0, RED) && near(1, GREEN) && near(2, BLUE)) {
          if (top < 0) top = y;
          bottom = y;
          break;
        }
      }
    }
    return top < 0 ? 0 : bottom - top + 1;
  };
  const scenarios = {};
  for (const s of document.querySelectorAll('section.scenario')) {
    scenarios[s.querySelector('h2').firstChild.textContent.trim()] =
      [...s.querySelectorAll('figure.plot')].map(f => {
        const img = f.querySelector('img.plot');
        return {plot: f.dataset.plot, route: f.dataset.route || null, errors: f.dataset.errors || null,
                drawn: !!img && img.complete && img.naturalWidth > 300,
                width: img && img.offsetParent ? img.clientWidth : null,
                errorsHeight: f.dataset.plot === 'requests' && img ? errorsHeight(img) : null};
      });
  }
  const figures = [...document.querySelectorAll('figure.plot')];
  return {
    scenarios,
    figures: figures.length,
    noData: figures.filter(f => f.querySelector('.no-data')).length,
    images: document.images.length,
    decoded: [...document.images].filter(i => i.complete && i.naturalWidth > 300).length,
    pageWidth: document.documentElement.scrollWidth,
    title: document.title,
  };
})()""".replace("RED", str(RED)).replace("GREEN", str(GREEN)).replace("BLUE", str(BLUE))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _open(report: Path, shot: Path) -> Any:
    assert CHROMIUM is not None
    with Chromium(CHROMIUM, timeout=120) as browser:
        return browser.open_page(report.as_uri(), CHECK, screenshot=shot)


def _clean(page: Any) -> None:
    assert page.exceptions == []
    assert page.console_errors == []
    assert page.remote_requests == []


def missing_plots(doc: dict[str, Any], rendered: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every plot results.json's data calls for that the rendered page lacks, or shows undrawn,
    per scenario: the scenario-wide plots and, for all routes and for every BBS route the
    scenario requested, requests/errors per second, latency over time and the spectrum."""
    problems = []
    for nodeid, test in doc["tests"].items():
        figures = rendered.get(nodeid, [])
        expected = expected_plots([test])
        found = [(f["plot"], f["route"]) for f in figures]
        problems += [f"{nodeid}: no {plot} plot for {route or 'the scenario'}"
                     for plot, route in expected if (plot, route) not in found]
        if route_names(test):  # it made BBS requests: every route's plots have data to draw
            problems += [f"{nodeid}: {f['plot']} plot of {f['route']} is not drawn" for f in figures
                         if f["route"] is not None and not f["drawn"]]
        if len(found) != len(expected):
            problems.append(f"{nodeid}: {len(found)} plots for {len(expected)} expected")
    return problems


def test_report_renders_in_chromium(single_report: Path, _sample: dict[str, Any]) -> None:
    shot = single_report.parent / "report.png"  # the screenshot goes to the results folder
    page = _open(single_report, shot)
    _clean(page)
    value = page.value
    assert value["title"] == "pytest-diego report"
    assert missing_plots(_sample, value["scenarios"]) == []
    per_scenario = {n: len(f) for n, f in value["scenarios"].items()}
    # BBS request plots for all routes and each route (3 each), and six scenario-wide plots
    assert per_scenario == {BURST: 3 * 8 + 6, CELL_FAILURE: 3 * 4 + 6, BBS_ONLY: 3 * 13 + 6}
    assert value["noData"] == 1 + 6  # the cell failure desired no Tasks; the BBS-only scenario no timelines
    assert value["figures"] - value["noData"] < value["images"] == value["decoded"]  # timelines: two tabs
    for figures in value["scenarios"].values():
        widths = [(f["route"] is None, f["width"]) for f in figures if f["width"] is not None]
        assert all(w >= 1000 for wide, w in widths if wide)  # readable at 1400 px, not thumbnails
        assert all(w >= 350 for wide, w in widths if not wide)  # three side by side per route
    assert value["pageWidth"] <= 1400  # no sideways scrolling on a laptop screen
    width, height = _png_size(shot)
    assert width == 1400 and height > 5000


def test_a_planted_error_burst_shows_in_the_rendered_page(single_report: Path,
                                                          _sample: dict[str, Any]) -> None:
    """The BBS-only scenario's BBS restart failed requests for 3 s: its errors/s series rises in
    the decoded image; the burst, where nothing failed, draws it flat."""
    page = _open(single_report, single_report.parent / "errors.png")
    plots = {n: {f["route"]: f for f in figures if f["plot"] == "requests"}
             for n, figures in page.value["scenarios"].items()}
    restart = plots[BBS_ONLY][ALL_ROUTES]
    summary = _sample["tests"][BBS_ONLY]["metrics"]["RequestLatency"]
    assert int(restart["errors"]) == summary["count"] - summary["ok"] > 0
    assert restart["errorsHeight"] > 40
    assert all(int(f["errors"]) > 0 and f["errorsHeight"] > 10 for f in plots[BBS_ONLY].values())
    assert all(f["errors"] == "0" and f["errorsHeight"] <= 4 for f in plots[BURST].values())


def test_the_plot_count_catches_a_missing_plot(tmp_path: Path, _sample: dict[str, Any]) -> None:
    """The count above could fail: a page rendered without one route's data lacks its plots, and
    ``missing_plots`` names them against the full results."""
    doc = copy.deepcopy(_sample)
    del doc["tests"][BURST], doc["tests"][CELL_FAILURE]
    dropped = copy.deepcopy(doc)
    test = dropped["tests"][BBS_ONLY]
    del test["windows"]["RequestLatency.Ping"], test["metrics"]["RequestLatency.Ping"]
    report = render_report(dropped, tmp_path / "report.html")
    page = _open(report, tmp_path / "report.png")
    _clean(page)
    assert missing_plots(doc, page.value["scenarios"]) == [
        f"{BBS_ONLY}: no {kind} plot for Ping" for kind in ("requests", "latency", "spectrum")] + [
        f"{BBS_ONLY}: {3 * 12 + 6} plots for {3 * 13 + 6} expected"]


def test_comparison_renders_in_chromium(comparison_report: Path) -> None:
    page = _open(comparison_report, comparison_report.parent / "comparison.png")
    _clean(page)
    value = page.value
    assert set(value["scenarios"]) == {BURST, CELL_FAILURE, BBS_ONLY}
    assert value["decoded"] == value["images"]
    assert value["pageWidth"] <= 1400


def test_the_browser_check_catches_errors_and_network(tmp_path: Path) -> None:
    """The checks above could fail: a broken page is caught on every count."""
    page_file = tmp_path / "broken.html"
    page_file.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/missing.png">'
                         '<script>console.error("boom"); throw new Error("uncaught on purpose")</script>'
                         "</body></html>")
    page = _open(page_file, tmp_path / "broken.png")
    assert any("boom" in e for e in page.console_errors)
    assert any("uncaught on purpose" in e for e in page.exceptions)
    assert page.remote_requests == ["http://127.0.0.1:9/missing.png"]
