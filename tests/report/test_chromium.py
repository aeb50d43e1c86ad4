"""The report in a real browser: it renders with no console errors and no network, every plot
present and decoded; a full-page screenshot goes beside the report in the results folder.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``); skipped without it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from browser import Chromium, find_chromium

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(Debian: apt-get install -y chromium)")

CHECK = """(() => {
  const figures = [...document.querySelectorAll('figure.plot')];
  return {
    figures: figures.length,
    keys: figures.map(f => f.dataset.plot),
    drawn: figures.filter(f => f.querySelector('img.plot')).length,
    noData: figures.filter(f => f.querySelector('.no-data')).length,
    images: document.images.length,
    decoded: [...document.images].filter(i => i.complete && i.naturalWidth > 600).length,
    visibleWidths: [...document.images].filter(i => i.offsetParent).map(i => i.clientWidth),
    pageWidth: document.documentElement.scrollWidth,
    title: document.title,
  };
})()"""


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _open(report: Path, shot: Path) -> Any:
    assert CHROMIUM is not None
    with Chromium(CHROMIUM, timeout=120) as browser:
        return browser.open_page(report.as_uri(), CHECK, screenshot=shot)


def test_report_renders_in_chromium(single_report: Path) -> None:
    shot = single_report.parent / "report.png"  # the screenshot goes to the results folder
    page = _open(single_report, shot)
    assert page.exceptions == []
    assert page.console_errors == []
    assert page.remote_requests == []
    value = page.value
    assert value["title"] == "pytest-diego report"
    assert value["figures"] == 14  # seven plots for each of the two scenarios
    assert value["drawn"] + value["noData"] == value["figures"]
    assert value["noData"] == 1  # the cell-failure scenario desired no Tasks
    assert value["decoded"] == value["images"] > value["figures"]  # timelines carry two sort orders
    assert all(w >= 1000 for w in value["visibleWidths"])  # readable at 1400 px, not thumbnails
    assert value["pageWidth"] <= 1400  # no sideways scrolling on a laptop screen
    width, height = _png_size(shot)
    assert width == 1400 and height > 5000


def test_comparison_renders_in_chromium(comparison_report: Path) -> None:
    page = _open(comparison_report, comparison_report.parent / "comparison.png")
    assert page.exceptions == [] and page.console_errors == [] and page.remote_requests == []
    value = page.value
    assert value["figures"] == 7 + 2 * 7  # the burst ran only before; the cell failure in both
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
