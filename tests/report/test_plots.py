"""The pieces plots are built from: timeline stages, the time frame, down cells, missing data,
and the per-route request plots (a planted error burst shows in the errors series)."""

from __future__ import annotations

import base64
import copy
import io
from typing import Any

import numpy as np
from matplotlib.image import imread

from pytest_diego.report.figures import Frame, frame_of
from pytest_diego.report.plots import (
    cell_snapshots,
    cells_panel,
    counts_panel,
    panels,
    routes_panel,
)
from pytest_diego.report.request_plots import (
    ALL_ROUTES,
    ERRORS_COLOR,
    KINDS,
    dense,
    latency_panel,
    requests_panel,
    route_names,
    route_panels,
    spectrum_panel,
)
from pytest_diego.report.timeline_plot import LRP_STAGES, TASK_STAGES, segments, timeline_panel
from tests.support.sample_results import BBS_ONLY, BURST, CELL_FAILURE


def test_task_stages_run_from_each_milestone_to_the_next() -> None:
    milestones = [["running", 12.0], ["desired", 10.0], ["completed", 15.0], ["resolved", 15.5],
                  ["removed", 15.6]]
    assert segments(milestones, TASK_STAGES, end=100.0) == [
        ("desired", 10.0, 12.0), ("running", 12.0, 15.0), ("completed", 15.0, 15.5),
        ("resolved", 15.5, 15.6)]


def test_open_stages_run_to_the_end_unless_terminal() -> None:
    assert segments([["desired", 1.0], ["running", 2.0]], TASK_STAGES, end=9.0)[-1] == ("running", 2.0, 9.0)
    assert segments([["desired", 1.0], ["completed", 2.0]], TASK_STAGES, end=9.0) == [("desired", 1.0, 2.0)]


def test_a_restarted_instance_gets_one_bar_with_every_life() -> None:
    milestones = [["created", 0.0], ["claimed", 1.0], ["running", 2.0], ["crashed", 5.0],
                  ["created", 5.1], ["claimed", 5.5], ["running", 6.0], ["removed", 8.0]]
    stages = [s for s, _, _ in segments(milestones, LRP_STAGES, end=20.0)]
    assert stages == ["created", "claimed", "running", "crashed", "created", "claimed", "running"]


def test_frame_spans_everything_recorded(sample: dict[str, Any]) -> None:
    test = sample["tests"][CELL_FAILURE]
    frame = frame_of(test)
    first_series = min(s[0][0] for s in test["series"].values())
    assert frame.t0 <= first_series
    assert frame.x(test["faults"][0]["t"]) == test["faults"][0]["t"] - frame.t0
    assert frame.length > 100
    assert frame_of({"outcome": "passed"}) == Frame(0.0, 1.0, ())


def _is_png(uri: str | None) -> bool:
    assert uri is not None and uri.startswith("data:image/png;base64,")
    return base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_plot_draws_from_the_sample(sample: dict[str, Any]) -> None:
    test = sample["tests"][CELL_FAILURE]
    drawn = panels(test, frame_of(test), sample["environment"])
    assert [p.key for p in drawn] == ["timeline-tasks", "timeline-lrps", "counts", "loops", "routes", "cells"]
    assert drawn[0].missing is not None  # this scenario desires no Tasks
    for panel in drawn[1:]:
        assert panel.missing is None, panel.missing
        assert _is_png(panel.image)
    assert [label for label, _ in drawn[1].alternatives] == ["sorted by start", "sorted by end"]
    assert all(_is_png(uri) for _, uri in drawn[1].alternatives)


def test_missing_data_names_the_field_it_needs() -> None:
    empty: dict[str, Any] = {"outcome": "passed"}
    frame = frame_of(empty)
    requests = route_panels(empty, frame)
    assert list(requests) == [ALL_ROUTES] and [p.key for p in requests[ALL_ROUTES]] == list(KINDS)
    for panel in (counts_panel(empty, frame), routes_panel(empty, frame), cells_panel(empty, frame, {}),
                  timeline_panel(empty, frame, "lrps"), *requests[ALL_ROUTES],
                  requests_panel(None, frame, "Ping"), latency_panel(None, frame, "Ping"),
                  spectrum_panel({"kind": "trend", "count": 0}, "Ping")):
        assert panel.image is None
        assert panel.missing is not None and panel.missing.startswith("no data recorded for this plot")
    assert "made no BBS request" in requests[ALL_ROUTES][0].missing  # type: ignore[operator]
    assert "windows['RequestLatency.Ping']" in requests_panel(None, frame, "Ping").missing  # type: ignore[operator]
    assert "['spectrum']" in spectrum_panel(None, "Ping").missing  # type: ignore[operator]
    assert "ContainerCount.<cell_id>" in cells_panel(empty, frame, {}).missing  # type: ignore[operator]


def test_cells_without_samples_at_the_end_are_marked_down(sample: dict[str, Any]) -> None:
    test = sample["tests"][CELL_FAILURE]
    per_cell = {n.split(".", 1)[1]: s for n, s in test["series"].items() if n.startswith("ContainerCount.")}
    frame = frame_of(test)
    cells, snapshots, down = cell_snapshots(per_cell, sample["environment"]["cells"], frame)
    assert cells == [f"cell-{i}" for i in range(10)]  # numeric order, not cell-1, cell-10, cell-2
    assert down == {"cell-3", "cell-7"}  # the two killed cells
    (before_label, before), (end_label, end) = snapshots
    assert before_label.startswith("just before the first fault") and end_label == "at the end"
    assert before["cell-3"] == 30 and end["cell-3"] == 0
    assert sum(end.values()) == sum(before.values())  # every instance moved somewhere


def test_without_faults_the_first_snapshot_is_peak_load() -> None:
    t = 1000.0
    per_cell = {"cell-0": [[t, 0], [t + 1, 5], [t + 2, 1]], "cell-1": [[t, 0], [t + 1, 4], [t + 2, 0]]}
    cells, snapshots, down = cell_snapshots(per_cell, ["cell-2"], Frame(t, 2.0))
    assert cells == ["cell-0", "cell-1", "cell-2"]
    assert down == {"cell-2"}  # known to the environment but never sampled
    assert snapshots[0] == ("at peak load (t=1 s)", {"cell-0": 5, "cell-1": 4, "cell-2": 0})
    assert snapshots[1][1] == {"cell-0": 1, "cell-1": 0, "cell-2": 0}


def test_routes_are_all_routes_first_then_busiest_first(sample: dict[str, Any]) -> None:
    test = sample["tests"][BBS_ONLY]
    names = route_names(test)
    assert names[0] == ("RequestLatency", ALL_ROUTES)
    counts = [test["metrics"][n]["count"] for n, _ in names[1:]]
    assert counts == sorted(counts, reverse=True) and len(names) == 13  # the sample's 12 routes
    assert {label for _, label in names[1:]} == {n.split(".", 1)[1] for n in test["metrics"]
                                                  if n.startswith("RequestLatency.")}


def test_every_route_gets_its_three_plots(sample: dict[str, Any]) -> None:
    test = sample["tests"][BURST]
    drawn = route_panels(test, frame_of(test))
    assert list(drawn) == [label for _, label in route_names(test)]
    for route, row in drawn.items():
        assert [p.key for p in row] == list(KINDS) and {p.route for p in row} == {route}
        for panel in row:
            assert panel.missing is None, (route, panel.key, panel.missing)
            assert _is_png(panel.image)


def test_windows_with_no_request_count_as_zero() -> None:
    columns = {"width": 5, "start": [100.0, 115.0], "total": [10, 4], "ok": [7, 4]}
    assert dense(columns) == ([100, 105, 110, 115], [10, 0, 0, 4], [3, 0, 0, 0])


def _errors_height(uri: str | None) -> int:
    """How many pixel rows the errors series spans inside a drawn requests plot: none or a few for
    a series flat at 0 (drawn on the x axis), many when it rises."""
    assert uri is not None
    pixels = imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))[..., :3]
    pixels = pixels[int(0.2 * len(pixels)):]  # below the legend (its swatch has the series' colour)
    colour = np.array([int(ERRORS_COLOR[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    rows = np.nonzero((np.abs(pixels - colour) < 0.04).all(axis=-1).any(axis=1))[0]
    return int(rows.max() - rows.min() + 1) if rows.size else 0


def test_a_planted_error_burst_shows_in_the_errors_series(sample: dict[str, Any]) -> None:
    """The BBS-only scenario's BBS restart failed requests for 3 s: its errors/s series rises; the
    same windows with every request ok draw the errors series flat at 0."""
    test = sample["tests"][BBS_ONLY]
    frame = frame_of(test)
    columns = test["windows"]["RequestLatency"]
    failed = requests_panel(columns, frame, ALL_ROUTES)
    assert int(failed.facts["errors"]) == test["metrics"]["RequestLatency"]["count"] - \
        test["metrics"]["RequestLatency"]["ok"] > 0
    assert "failed (at most" in failed.caption
    healed = copy.deepcopy(columns)
    healed["ok"] = list(healed["total"])
    clean = requests_panel(healed, frame, ALL_ROUTES)
    assert clean.facts["errors"] == "0" and "none failed" in clean.caption
    assert _errors_height(clean.image) <= 4  # flat on the x axis
    assert _errors_height(failed.image) > 40  # rises well above it


def test_spectrum_plot_draws_the_merged_histograms_points(sample: dict[str, Any]) -> None:
    summary = sample["tests"][BBS_ONLY]["metrics"]["RequestLatency"]
    panel = spectrum_panel(summary, ALL_ROUTES)
    assert _is_png(panel.image)
    assert panel.facts["points"] == str(len(summary["spectrum"])) and len(summary["spectrum"]) > 10
    assert f"{summary['count']:,} requests" in panel.caption
