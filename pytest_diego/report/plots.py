"""The report's scenario-wide plots for one scenario; each returns a ``Panel`` (image or reason).

Reads results.json's ``series`` (gauge samples under Diego's metric names), ``windows``
(per-window counts, see ``report.windows``) and ``faults``; the per-route BBS request plots are
in ``report.request_plots``. A plot whose data was
not recorded says so, naming the results.json field it would read, instead of failing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from pytest_diego.report.figures import Frame, Panel, data_uri, figure, legend_above, safely, style
from pytest_diego.report.timeline_plot import timeline_panel

LRP_COUNTS = (("LRPsDesired", "desired"), ("LRPsRunning", "running"), ("CrashedActualLRPs", "crashed"),
              ("LRPsUnclaimed", "unclaimed"), ("LRPsClaimed", "claimed"), ("LRPsMissing", "missing"),
              ("LRPsExtra", "extra"))
TASK_COUNTS = (("TasksPending", "pending"), ("TasksRunning", "running"),
               ("TasksCompleted", "completed"), ("TasksResolving", "resolving"))
# Bulk loops and Diego's default interval in seconds (docs/diego-facts.md §7.3); none = per auction.
LOOPS = (("ConvergenceLRPDuration", 30.0), ("ConvergenceTaskDuration", 30.0), ("RepBulkSyncDuration", 30.0),
         ("RouteEmitterSyncDuration", 60.0), ("AuctioneerFetchStatesDuration", None))
ROUTE_COUNTS = (("RouterEndpoints", "router: route–endpoint pairs", "-"),
                ("RoutesTotal", "route emitter: RoutesTotal", "--"),
                ("RouterRoutes", "router: hostnames", "-"))
CELL_PREFIX = "ContainerCount."
COLORS = ("#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def panels(test: dict[str, Any], frame: Frame, environment: dict[str, Any]) -> list[Panel]:
    """Every plot of one scenario, in the report's order."""
    makers: list[Callable[[], Panel]] = [
        lambda: timeline_panel(test, frame, "tasks"),
        lambda: timeline_panel(test, frame, "lrps"),
        lambda: counts_panel(test, frame),
        lambda: loops_panel(test, frame, _time_scale(environment)),
        lambda: routes_panel(test, frame),
        lambda: cells_panel(test, frame, environment),
    ]
    return [safely(make) for make in makers]


def _time_scale(environment: dict[str, Any]) -> float:
    scale = (environment.get("target") or {}).get("time_scale")
    return float(scale) if isinstance(scale, (int, float)) and scale > 0 else 1.0


def _xy(samples: list[list[float]], frame: Frame, scale: float = 1.0) -> tuple[list[float], list[float]]:
    return [frame.x(t) for t, _ in samples], [v * scale for _, v in samples]


def _missing(key: str, title: str, caption: str, field: str) -> Panel:
    return Panel(key, title, caption, missing=f"no data recorded for this plot: results.json has no {field}")


def counts_panel(test: dict[str, Any], frame: Frame) -> Panel:
    """LRPsDesired / LRPsRunning / CrashedActualLRPs (and Task counts) over time."""
    series = test.get("series") or {}
    title = "Desired, running and crashed instances"
    caption = "The BBS's LRP gauges (LRPsDesired counts desired instances), sampled over the scenario."
    groups = [(label, [(n, lbl) for n, lbl in names if series.get(n)])
              for label, names in (("LRP instances", LRP_COUNTS), ("Tasks", TASK_COUNTS))]
    groups = [(label, present) for label, present in groups if present]
    busy = [(label, present) for label, present in groups
            if any(v for name, _ in present for _, v in series[name])]
    if busy and len(busy) < len(groups):
        idle = [label for label, _ in groups if label not in {b for b, _ in busy}]
        caption += f" {' and '.join(idle)} stayed at 0 (not drawn)."
        groups = busy
    if not groups:
        return _missing("counts", title, caption, "series LRPsDesired, LRPsRunning or CrashedActualLRPs")
    fig, axes = figure(frame, rows=len(groups), height=2.0 + 1.6 * len(groups))
    axes = axes if len(groups) > 1 else [axes]
    for ax, (label, present) in zip(axes, groups, strict=True):
        for (name, short), colour in zip(present, COLORS, strict=False):
            x, y = _xy(series[name], frame)
            ax.step(x, y, where="post", color=colour, linewidth=1.6, label=f"{short} ({name})")
        style(ax, frame, label, xlabel=ax is axes[-1])
        _headroom(ax, [v for name, _ in present for _, v in series[name]])
        _legend_on_top(ax, frame)
    return Panel("counts", title, caption, image=data_uri(fig))


def loops_panel(test: dict[str, Any], frame: Frame, time_scale: float) -> Panel:
    """Every bulk loop's duration over time, against its interval (log scale)."""
    series = test.get("series") or {}
    title = "Bulk loop durations against their intervals"
    present = [(n, interval) for n, interval in LOOPS if series.get(n)]
    caption = (f"Durations as sampled from the components' metrics; dashed lines are the loop intervals "
               f"(Diego's defaults × time scale {time_scale:g}). Log scale.")
    if not present:
        return _missing("loops", title, caption, "series ConvergenceLRPDuration, RepBulkSyncDuration, "
                        "RouteEmitterSyncDuration or AuctioneerFetchStatesDuration")
    fig, ax = figure(frame, height=3.8)
    drawn: set[float] = set()
    for (name, interval), colour in zip(present, COLORS, strict=False):
        x, y = _xy(series[name], frame)
        ax.step(x, y, where="post", color=colour, linewidth=1.4, label=name)
        if interval is not None and interval * time_scale not in drawn:
            drawn.add(interval * time_scale)
            ax.axhline(interval * time_scale, color=colour, linestyle=":", linewidth=1.4,
                       label=f"interval {interval * time_scale:g} s ({_loop_owner(name)})")
    ax.set_yscale("log", nonpositive="mask")  # a loop that took 0 s has no point on a log axis
    style(ax, frame, "seconds (log scale)")
    top = max([v for name, _ in present for _, v in series[name]] + list(drawn))
    ax.set_ylim(top=top * 3)
    legend_above(fig, ax)
    return Panel("loops", title, caption, image=data_uri(fig))


def _loop_owner(name: str) -> str:
    return {"ConvergenceLRPDuration": "convergence", "ConvergenceTaskDuration": "convergence",
            "RepBulkSyncDuration": "rep bulk sync", "RouteEmitterSyncDuration": "route emitter sync"}[name]


def routes_panel(test: dict[str, Any], frame: Frame) -> Panel:
    """Routes in the router's table over time, and app-route availability per window."""
    series = test.get("series") or {}
    windows = test.get("windows") or {}
    title = "Routes available over time"
    counts = [(n, label, line) for n, label, line in ROUTE_COUNTS if series.get(n)]
    availability = windows.get("RouteAvailability")
    caption = ("Route–endpoint pairs in the router's table and the route emitter's RoutesTotal"
               + ("; below, the share of app-route probes through the router answered 200 per window"
                  if availability and availability.get("start") else "") + ". Faults marked.")
    if not counts and not (availability and availability.get("start")):
        return _missing("routes", title, caption, "series RouterEndpoints/RoutesTotal nor windows "
                        "RouteAvailability")
    rows = [r for r in ("counts", "availability") if (r == "counts" and counts)
            or (r == "availability" and availability and availability.get("start"))]
    fig, axes = figure(frame, rows=len(rows), height=1.8 + 1.7 * len(rows),
                       height_ratios=[2, 1] if len(rows) == 2 else None)
    axes = list(axes) if len(rows) > 1 else [axes]
    for ax, row in zip(axes, rows, strict=True):
        if row == "counts":
            for (name, label, line), colour in zip(counts, COLORS, strict=False):
                x, y = _xy(series[name], frame)
                ax.step(x, y, where="post", color=colour, linewidth=1.6, linestyle=line, label=label)
            style(ax, frame, "routes", xlabel=ax is axes[-1])
            _headroom(ax, [v for name, _, _ in counts for _, v in series[name]])
        else:
            assert availability is not None
            x = [frame.x(s + availability["width"] / 2) for s in availability["start"]]
            y = [100.0 * ok / total
                 for ok, total in zip(availability["ok"], availability["total"], strict=False)]
            ax.plot(x, y, color="#2ca02c", linewidth=1.4, marker="." if len(x) < 80 else None,
                    label=f"probes answered 200 ({availability['width']:g} s windows)")
            style(ax, frame, "available %", xlabel=True)
            ax.set_ylim(min(90.0, min(y) - 5), 101)
        _legend_on_top(ax, frame)
    return Panel("routes", title, caption, image=data_uri(fig))


def cells_panel(test: dict[str, Any], frame: Frame, environment: dict[str, Any]) -> Panel:
    """Containers per cell: just before the first fault (else at peak load) and at the end."""
    series = test.get("series") or {}
    title = "Instances per cell"
    per_cell = {n[len(CELL_PREFIX):]: s for n, s in series.items() if n.startswith(CELL_PREFIX) and s}
    caption = "Containers per cell (the rep's ContainerCount)"
    if not per_cell:
        return _missing("cells", title, caption, f"per-cell series ('{CELL_PREFIX}<cell_id>')")
    cells, snapshots, down = cell_snapshots(per_cell, environment.get("cells") or [], frame)
    label = snapshots[0][0]
    caption += f", {label} and at the end; ✗ marks a cell with no samples at the end (down)."
    fig, ax = figure(frame, height=3.4, sharex=False)
    bar = 0.4
    for i, ((text, values), colour) in enumerate(zip(snapshots, ("#9ecae1", "#1f77b4"), strict=True)):
        ax.bar([j + (i - 0.5) * bar for j in range(len(cells))], [values[c] for c in cells], width=bar,
               color=colour, label=text)
    for j, c in enumerate(cells):
        if c in down:
            ax.annotate("✗", (j + 0.5 * bar, 0), ha="center", va="bottom", color="#d62728", fontsize=11,
                        fontweight="bold")
    ax.set_xticks(range(len(cells)))
    step = max(1, len(cells) // 25)
    rotate = len(cells) > 12
    ax.set_xticklabels([c if j % step == 0 else "" for j, c in enumerate(cells)],
                       rotation=45 if rotate else 0, ha="right" if rotate else "center", fontsize=8)
    ax.set_xlabel("cell")
    ax.set_ylabel("containers")
    _headroom(ax, [v for _, values in snapshots for v in values.values()])
    ax.grid(True, axis="y", color="#e6e6e6")
    ax.set_axisbelow(True)
    legend_above(fig, ax)
    return Panel("cells", title, caption, image=data_uri(fig))


Snapshot = tuple[str, dict[str, float]]


def cell_snapshots(per_cell: dict[str, list[list[float]]], known: list[str],
                   frame: Frame) -> tuple[list[str], list[Snapshot], set[str]]:
    """Cells in order; (label, containers by cell) before the first fault (else at peak) and at
    the end; and the cells down at the end (no sample within 3 sampling intervals of the last)."""
    cells = sorted(set(per_cell) | set(known), key=_cell_order)
    last_seen = max(s[-1][0] for s in per_cell.values())
    gaps = sorted(b[0] - a[0] for s in per_cell.values() for a, b in itertools.pairwise(s))
    tolerance = 3 * (gaps[len(gaps) // 2] if gaps else 1.0)
    down = {c for c in cells if c not in per_cell or per_cell[c][-1][0] < last_seen - tolerance}
    if frame.faults:
        moment = min(f["t"] for f in frame.faults)
        label = f"just before the first fault (t={frame.x(moment):.0f} s)"
    else:
        moment = _peak_time(per_cell)
        label = f"at peak load (t={frame.x(moment):.0f} s)"
    snapshots = [(label, {c: _value_at(per_cell.get(c, []), moment) for c in cells}),
                 ("at the end", {c: 0.0 if c in down else per_cell[c][-1][1] for c in cells})]
    return cells, snapshots, down


def _peak_time(per_cell: dict[str, list[list[float]]]) -> float:
    """When the containers summed over cells (each cell's latest sample) were the most."""
    events = sorted((t, cell, v) for cell, samples in per_cell.items() for t, v in samples)
    current: dict[str, float] = {}
    best_t, best = events[0][0], -1.0
    for t, cell, v in events:
        current[cell] = v
        total = sum(current.values())
        if total > best:
            best_t, best = t, total
    return best_t


def _legend_on_top(ax: Any, frame: Frame) -> None:
    """The axes' legend in rows just above it, clear of the data."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=8, frameon=False,
              ncols=4 if frame.width_in >= 9 else 2, borderaxespad=0.2)


def _headroom(ax: Any, values: list[float]) -> None:
    """y from 0 to a little above the largest value, so lines at the top stay visible (and legends fit)."""
    top = max(values, default=0.0)
    ax.set_ylim(0, top * 1.25 if top > 0 else 1.0)


def _value_at(samples: list[list[float]], t: float) -> float:
    value = 0.0
    for when, v in samples:
        if when > t:
            break
        value = v
    return value


def _cell_order(cell_id: str) -> tuple[str, int]:
    head, _, tail = cell_id.rpartition("-")
    return (head, int(tail)) if tail.isdigit() else (cell_id, -1)
