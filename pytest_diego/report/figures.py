"""Plot plumbing shared by every report figure: the time frame, fault marks, PNG data URIs.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state,
no display needed) and embedded as ``data:image/png;base64,...``, so report.html opens with no
network and no files beside it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

WIDTH_IN = 11.0
SMALL_WIDTH_IN = 3.7  # three per-route plots side by side on a laptop screen
SMALL_HEIGHT_IN = 2.5
DPI = 110
FAULT_COLOR = "#d62728"


@dataclass
class Panel:
    """One plot: an embedded PNG, or the reason there is nothing to draw."""

    key: str
    title: str
    caption: str
    image: str | None = None  # data URI
    missing: str | None = None
    alternatives: list[tuple[str, str]] = field(default_factory=list)  # (label, data URI) tabs
    route: str | None = None  # the BBS route a per-route plot shows ("all routes" for every route)
    facts: dict[str, str] = field(default_factory=dict)  # what was drawn, as data-* attributes
    keys: list[tuple[str, str, str]] = field(default_factory=list)  # legend drawn by the page: (label,
    # colour, CSS border style "solid"/"dashed"/"dotted"), cheaper than matplotlib's for small plots


def safely(make: Callable[[], Panel], key: str = "error", title: str = "plot",
           route: str | None = None) -> Panel:
    """One plot's failure leaves a note in its place, never a missing report."""
    try:
        return make()
    except Exception as e:  # the rest of the report is still worth writing
        return Panel(key, title, "", route=route,
                     missing=f"this plot could not be drawn: {type(e).__name__}: {e}")


@dataclass(frozen=True)
class Frame:
    """A scenario's time axis: seconds since ``t0``, up to ``length`` seconds; its faults."""

    t0: float
    length: float
    faults: tuple[dict[str, Any], ...] = ()
    width_in: float = WIDTH_IN  # narrower when two runs share the page

    def x(self, t: float) -> float:
        return t - self.t0


def frame_of(test: dict[str, Any]) -> Frame:
    """The span of everything a scenario recorded (timelines, series, windows, faults)."""
    times = list(_times(test))
    if not times:
        return Frame(0.0, 1.0, tuple(test.get("faults") or ()))
    t0, t1 = min(times), max(times)
    return Frame(t0, max(t1 - t0, 1.0), tuple(test.get("faults") or ()))


def _times(test: dict[str, Any]) -> Iterable[float]:
    for table in (test.get("timelines") or {}).values():
        for milestones in table.values():
            for _, t in milestones:
                yield t
    for samples in (test.get("series") or {}).values():
        for t, _ in samples:
            yield t
    for columns in (test.get("windows") or {}).values():
        starts = columns.get("start") or []
        if starts:
            yield starts[0]
            yield starts[-1] + columns.get("width", 0)
    for fault in test.get("faults") or ():
        yield fault["t"]


def figure(frame: Frame, rows: int = 1, height: float = 3.4, cols: int = 1, sharex: bool = True,
           height_ratios: list[float] | None = None) -> tuple[Figure, Any]:
    """A figure as wide as the frame asks, and its axes (an array when rows or cols > 1)."""
    fig = Figure(figsize=(frame.width_in, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, sharex=sharex,
                        gridspec_kw={"height_ratios": height_ratios} if height_ratios else None)
    return fig, axes


def small_figure() -> tuple[Figure, Axes]:
    """A figure for one of a route's three plots. Dozens are drawn per scenario, so they are made
    cheap: fixed margins (a constrained layout takes twice as long), at most 5 ticks per axis, and
    no legend (the page draws it, ``Panel.keys``); together about 2.5x faster to draw."""
    fig = Figure(figsize=(SMALL_WIDTH_IN, SMALL_HEIGHT_IN), dpi=DPI)
    fig.subplots_adjust(left=0.17, right=0.96, bottom=0.19, top=0.96)
    ax = fig.subplots()
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.tick_params(labelsize=7)
    return fig, ax


def style(ax: Axes, frame: Frame, ylabel: str, xlabel: bool = True, fault_text: bool = True) -> None:
    """Grid, x limits in seconds since the scenario started, axis labels, fault marks."""
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.set_xlim(0, frame.length)
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel("seconds since the scenario started")
    mark_faults(ax, frame, fault_text)


def mark_faults(ax: Axes, frame: Frame, text: bool = True) -> None:
    """A dashed red line at every fault moment, labelled with what was done to what."""
    moments: dict[float, dict[str, list[str]]] = {}
    for fault in frame.faults:
        kind = fault["kind"] + (" (failed)" if fault.get("ok") is False else "")
        targets = moments.setdefault(round(frame.x(fault["t"]), 1), {}).setdefault(kind, [])
        if fault.get("target"):
            targets.append(str(fault["target"]))
    for i, (x, kinds) in enumerate(sorted(moments.items())):
        ax.axvline(x, color=FAULT_COLOR, linestyle="--", linewidth=1.2,
                   label="fault" if i == 0 else None)
        if text:
            label = "; ".join(f"{kind} {', '.join(targets)}".strip() for kind, targets in kinds.items())
            ax.annotate(label, xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                        textcoords="offset points", va="top", ha="left", fontsize=8, color=FAULT_COLOR,
                        bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none",
                              "alpha": 0.85})


def legend_above(fig: Figure, ax: Axes) -> None:
    """The axes' legend entries in one row above the plot, clear of the data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        per_row = 4 if fig.get_figwidth() >= 9 else 2
        fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), per_row),
                   frameon=False, fontsize=9)


def data_uri(fig: Figure) -> str:
    """The figure as a base64 PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def seconds_unit(values: Iterable[float]) -> tuple[float, str]:
    """(scale, unit) that reads best for latencies: ms below one second, else s."""
    top = max((v for v in values if v is not None), default=0.0)
    return (1000.0, "ms") if top < 1.0 else (1.0, "s")
