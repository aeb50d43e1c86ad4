"""cicerone-style lifecycle timelines: one horizontal bar per Task or ActualLRP instance.

Each bar is split into coloured stages, one per milestone until the next (results.json
``timelines``: a Task is desired → running → completed → resolved(resolving) → removed; an
ActualLRP instance is created(UNCLAIMED) → claimed → running, maybe crashed and created again,
→ removed). A stage still open when the scenario ended runs to the end of the frame. Rows are
sorted by start (the first milestone) or by end (the last), as cicerone plotted them.
"""

from __future__ import annotations

from typing import Any

from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from pytest_diego.report.figures import FAULT_COLOR, Frame, Panel, data_uri, figure, style

MAX_ROWS = 5000
# milestone -> (stage label, colour, whether an open stage runs to the end of the frame)
TASK_STAGES = {
    "desired": ("pending (desired → running)", "#9ecae1", True),
    "running": ("running", "#31a354", True),
    "completed": ("completed (→ resolving)", "#fdae6b", False),
    "resolved": ("resolving (→ removed)", "#bdbdbd", False),
}
LRP_STAGES = {
    "created": ("unclaimed (created → claimed)", "#9ecae1", True),
    "claimed": ("claimed (starting)", "#fdae6b", True),
    "running": ("running", "#31a354", True),
    "crashed": ("crashed", "#d62728", True),
}
KINDS = {"tasks": ("Task", TASK_STAGES), "lrps": ("ActualLRP instance", LRP_STAGES)}

Segment = tuple[str, float, float]


def segments(milestones: list[list[Any]], stages: dict[str, tuple[str, str, bool]],
             end: float) -> list[Segment]:
    """(stage milestone, start, end) for each milestone until the next one, in time order."""
    ordered = sorted(((str(m), float(t)) for m, t in milestones), key=lambda e: e[1])
    out = []
    for i, (milestone, t) in enumerate(ordered):
        if milestone not in stages:
            continue
        if i + 1 < len(ordered):
            out.append((milestone, t, ordered[i + 1][1]))
        elif stages[milestone][2]:
            out.append((milestone, t, max(t, end)))
    return out


def timeline_panel(test: dict[str, Any], frame: Frame, kind: str) -> Panel:
    """Both sort orders of one kind's timeline, as tabs of one panel."""
    noun, stages = KINDS[kind]
    table = (test.get("timelines") or {}).get(kind) or {}
    title = f"{noun} lifecycle timeline"
    caption = (f"One bar per {noun}, coloured by stage, from the BBS events' milestones; "
               "stages still open at the end run to the end of the scenario.")
    if not table:
        return Panel(f"timeline-{kind}", title, caption,
                     missing=f"no data recorded for this plot: no {noun} milestones (results.json "
                             f"tests[…]['timelines']['{kind}'] is empty)")
    end = frame.t0 + frame.length
    rows = {key: segments(ms, stages, end) for key, ms in table.items()}
    rows = {k: v for k, v in rows.items() if v}
    if not rows:
        return Panel(f"timeline-{kind}", title, caption,
                     missing=f"no data recorded for this plot: no {noun} milestone starts a known stage "
                             f"({', '.join(stages)})")
    first = {k: min(t for _, t, _ in segs) for k, segs in rows.items()}
    last = {k: max(_last(table[k]), max(e for _, _, e in segs)) for k, segs in rows.items()}
    keys = sorted(rows)
    if len(keys) > MAX_ROWS:
        step = len(keys) / MAX_ROWS
        keys = [keys[int(i * step)] for i in range(MAX_ROWS)]
        caption += f" Showing {MAX_ROWS} of {len(rows)} {noun}s, evenly sampled."
    tabs = []
    for label, order in (("sorted by start", first), ("sorted by end", last)):
        tabs.append((label, _draw(_ranked(keys, order), rows, stages, frame, noun, label)))
    return Panel(f"timeline-{kind}", f"{title} ({len(rows)} {noun}s)", caption, image=tabs[0][1],
                 alternatives=tabs)


def _ranked(keys: list[str], order: dict[str, float]) -> list[str]:
    """``keys`` by their time in ``order``, ties by key."""
    return sorted(keys, key=lambda k: (order[k], k))


def _last(milestones: list[list[Any]]) -> float:
    return max(float(t) for _, t in milestones)


def _draw(ranked: list[str], rows: dict[str, list[Segment]], stages: dict[str, tuple[str, str, bool]],
          frame: Frame, noun: str, order: str) -> str:
    fig, ax = figure(frame, height=4.6)
    n = len(ranked)
    width = max(0.3, min(8.0, 4.6 * 72 * 0.8 / n))
    lines: dict[str, list[list[tuple[float, float]]]] = {m: [] for m in stages}
    for y, key in enumerate(ranked):
        for milestone, start, end in rows[key]:
            lines[milestone].append([(frame.x(start), y), (frame.x(max(end, start + 1e-3)), y)])
    handles = []
    for milestone, segs in lines.items():
        label, colour, _ = stages[milestone]
        if segs:
            ax.add_collection(LineCollection(segs, colors=colour, linewidths=width, capstyle="butt"))
            handles.append(Line2D([], [], color=colour, linewidth=6, label=label))
    ax.set_ylim(n - 0.5 + max(1, n * 0.01), -0.5 - max(1, n * 0.01))
    style(ax, frame, f"{noun}s ({order})")
    if frame.faults:
        handles.append(Line2D([], [], color=FAULT_COLOR, linestyle="--", label="fault"))
    fig.legend(handles=handles, loc="outside upper center", frameon=False,
               ncols=len(handles) if frame.width_in >= 9 else 2)
    return data_uri(fig)
