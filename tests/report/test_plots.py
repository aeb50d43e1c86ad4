"""The pieces plots are built from: timeline stages, the time frame, down cells, missing data."""

from __future__ import annotations

import base64
from typing import Any

from pytest_diego.report.figures import Frame, frame_of
from pytest_diego.report.plots import (
    cell_snapshots,
    cells_panel,
    counts_panel,
    latency_panel,
    panels,
    routes_panel,
)
from pytest_diego.report.sample import CELL_FAILURE
from pytest_diego.report.timeline_plot import LRP_STAGES, TASK_STAGES, segments, timeline_panel


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
    assert [p.key for p in drawn] == ["timeline-tasks", "timeline-lrps", "counts", "latency", "loops",
                                      "routes", "cells"]
    assert drawn[0].missing is not None  # this scenario desires no Tasks
    for panel in drawn[1:]:
        assert panel.missing is None, panel.missing
        assert _is_png(panel.image)
    assert [label for label, _ in drawn[1].alternatives] == ["sorted by start", "sorted by end"]
    assert all(_is_png(uri) for _, uri in drawn[1].alternatives)


def test_missing_data_names_the_field_it_needs() -> None:
    empty: dict[str, Any] = {"outcome": "passed"}
    frame = frame_of(empty)
    for panel in (counts_panel(empty, frame), latency_panel(empty, frame), routes_panel(empty, frame),
                  cells_panel(empty, frame, {}), timeline_panel(empty, frame, "lrps")):
        assert panel.image is None
        assert panel.missing is not None and panel.missing.startswith("no data recorded for this plot")
    assert "windows" in latency_panel(empty, frame).missing  # type: ignore[operator]
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
