"""The BBS request plots, per route and for all routes together: what k6's and Locust's reports
open with.

For each route (``RequestLatency.<Route>``) and for every request (``RequestLatency``), three
small plots side by side:

- ``requests``: requests and errors per second over time (results.json ``windows``: ``total`` and
  ``total - ok`` over the window width), fault moments marked;
- ``latency``: p50 and p99 per window over time;
- ``spectrum``: the latency percentile spectrum of the merged histogram, HdrHistogram's plot
  (results.json ``metrics[...]['spectrum']``): x is log(1/(1-q)) from p0 to p99.999, y latency.

Windows that saw no request are left out of results.json; here they count as 0 requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_diego.report.figures import (
    FAULT_COLOR,
    Frame,
    Panel,
    data_uri,
    mark_faults,
    safely,
    seconds_unit,
    small_figure,
)

LATENCY = "RequestLatency"
ALL_ROUTES = "all routes"
KINDS = ("requests", "latency", "spectrum")
REQUESTS_COLOR = "#2ca02c"
ERRORS_COLOR = "#a50026"  # darker than the fault marks' red, so the two never read as one
P99_COLOR, P50_COLOR, SPECTRUM_COLOR, MAX_COLOR = "#d62728", "#1f77b4", "#1f77b4", "#7f7f7f"
SPECTRUM_TICKS = ((1, "p0"), (2, "p50"), (10, "p90"), (100, "p99"), (1e3, "p99.9"), (1e4, "p99.99"),
                  (1e5, "p99.999"))


def route_names(test: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric name, label) of every BBS route the scenario requested, all routes first, then
    the busiest route first."""
    windows = test.get("windows") or {}
    metrics = test.get("metrics") or {}
    names = {n for n in windows if _is_request_metric(n)}
    names |= {n for n, s in metrics.items() if _is_request_metric(n) and s.get("kind") == "trend"}

    def requests(name: str) -> int:
        count = (metrics.get(name) or {}).get("count")
        return int(count) if isinstance(count, int) else sum((windows.get(name) or {}).get("total") or [])

    routes = sorted((n for n in names if n != LATENCY), key=lambda n: (-requests(n), n))
    ordered = ([LATENCY] if LATENCY in names else []) + routes
    return [(n, ALL_ROUTES if n == LATENCY else n[len(LATENCY) + 1:]) for n in ordered]


def _is_request_metric(name: str) -> bool:
    return name == LATENCY or name.startswith(LATENCY + ".")


def route_panels(test: dict[str, Any], frame: Frame) -> dict[str, list[Panel]]:
    """The three plots of every route, by route label ("all routes" first). A scenario that made
    no BBS request gets one "all routes" row saying so, so every scenario shows the same plots."""
    names = route_names(test)
    if not names:
        reason = ("no data recorded for this plot: this scenario made no BBS request (results.json has "
                  f"no windows or metrics '{LATENCY}.<Route>')")
        return {ALL_ROUTES: [Panel(k, _TITLES[k], "", missing=reason, route=ALL_ROUTES) for k in KINDS]}
    windows = test.get("windows") or {}
    metrics = test.get("metrics") or {}

    def row(name: str, route: str) -> list[Panel]:
        makers: list[Callable[[], Panel]] = [lambda: requests_panel(windows.get(name), frame, route),
                                            lambda: latency_panel(windows.get(name), frame, route),
                                            lambda: spectrum_panel(metrics.get(name), route)]
        return [safely(make, kind, _TITLES[kind], route) for make, kind in zip(makers, KINDS, strict=True)]

    return {label: row(name, label) for name, label in names}


_TITLES = {"requests": "Requests and errors per second", "latency": "Latency per window (p50, p99)",
           "spectrum": "Latency percentile spectrum"}


def _missing(kind: str, route: str, field: str) -> Panel:
    return Panel(kind, _TITLES[kind], "", route=route,
                 missing=f"no data recorded for this plot: results.json has no {field}")


def dense(columns: dict[str, Any]) -> tuple[list[float], list[int], list[int]]:
    """(window starts, requests, failed requests) for every window from the first to the last,
    the windows results.json leaves out (nothing happened) as 0."""
    width = columns["width"]
    seen = {round(s / width): (total, total - ok)
            for s, total, ok in zip(columns["start"], columns["total"], columns["ok"], strict=False)}
    if not seen:
        return [], [], []
    keys = range(min(seen), max(seen) + 1)
    return ([k * width for k in keys], [seen.get(k, (0, 0))[0] for k in keys],
            [seen.get(k, (0, 0))[1] for k in keys])


def requests_panel(columns: dict[str, Any] | None, frame: Frame, route: str) -> Panel:
    """Requests and errors per second over time; fault moments as dashed red lines."""
    if not columns or not columns.get("start"):
        name = LATENCY if route == ALL_ROUTES else f"{LATENCY}.{route}"
        return _missing("requests", route, f"windows['{name}']")
    width = columns["width"]
    starts, totals, errors = dense(columns)
    x = [frame.x(s) for s in starts] + [frame.x(starts[-1] + width)]
    rps = [n / width for n in totals]
    eps = [n / width for n in errors]
    fig, ax = small_figure()
    ax.step(x, rps + rps[-1:], where="post", color=REQUESTS_COLOR, linewidth=1.4)
    ax.step(x, eps + eps[-1:], where="post", color=ERRORS_COLOR, linewidth=1.4)
    _small_style(ax, frame, "per second")
    ax.set_ylim(0, max(rps) * 1.15 or 1.0)
    failed = sum(errors)
    caption = f"{sum(totals):,} requests in {width:g} s windows; "
    if failed:
        peak = max(range(len(eps)), key=eps.__getitem__)
        caption += f"{failed:,} failed (at most {eps[peak]:g}/s, at {x[peak]:.0f} s)."
    else:
        caption += "none failed."
    facts = {"requests": str(sum(totals)), "errors": str(failed), "width": f"{width:g}"}
    keys = [("requests/s", REQUESTS_COLOR, "solid"), ("errors/s", ERRORS_COLOR, "solid"), *_fault_key(frame)]
    return Panel("requests", _TITLES["requests"], caption, image=data_uri(fig), route=route, facts=facts,
                 keys=keys)


def latency_panel(columns: dict[str, Any] | None, frame: Frame, route: str) -> Panel:
    """p50 and p99 per window over time; windows with failed requests marked."""
    points = []
    if columns:
        points = [(frame.x(s), p50, p99, total - ok) for s, total, ok, p50, p99 in
                  zip(columns["start"], columns["total"], columns["ok"], columns.get("p50") or [],
                      columns.get("p99") or [], strict=False) if p99 is not None]
    if not points:
        return _missing("latency", route, "per-window latency (windows[…]['p50'], ['p99'])")
    assert columns is not None
    scale, unit = seconds_unit(p for _, _, p, _ in points)
    x = [p[0] for p in points]
    marker = "." if len(points) < 80 else None
    fig, ax = small_figure()
    ax.plot(x, [p[2] * scale for p in points], color=P99_COLOR, linewidth=1.3, marker=marker, markersize=3)
    ax.plot(x, [(p[1] or 0) * scale for p in points], color=P50_COLOR, linewidth=1.1, linestyle="--",
            marker=marker, markersize=3)
    failed = [p for p in points if p[3]]
    if failed:
        ax.plot([p[0] for p in failed], [p[2] * scale for p in failed], "x", color="black", markersize=5)
    _small_style(ax, frame, unit)
    ax.set_ylim(0, max(p[2] for p in points) * scale * 1.15 or 1.0)
    caption = (f"p50 and p99 of each {columns['width']:g} s window"
               + ("; × marks windows with failed requests." if failed else "."))
    keys = [("p99", P99_COLOR, "solid"), ("p50", P50_COLOR, "dashed"), *_fault_key(frame)]
    return Panel("latency", _TITLES["latency"], caption, image=data_uri(fig), route=route,
                 facts={"windows": str(len(points))}, keys=keys)


def spectrum_panel(summary: dict[str, Any] | None, route: str) -> Panel:
    """Latency by percentile on a log(1/(1-q)) axis, from the merged histogram (HdrHistogram's plot)."""
    points = (summary or {}).get("spectrum") or []
    if not points:
        return _missing("spectrum", route, "metrics[…]['spectrum'] (results written by an older "
                        "pytest-diego carry none)")
    assert summary is not None
    scale, unit = seconds_unit([v for _, v in points] + [summary.get("max") or 0.0])
    x = [100.0 / (100.0 - q) for q, _ in points]
    fig, ax = small_figure()
    ax.plot(x, [v * scale for _, v in points], color=SPECTRUM_COLOR, linewidth=1.4, marker=".", markersize=4)
    keys = [("latency at percentile", SPECTRUM_COLOR, "solid")]
    if summary.get("max") is not None:
        ax.axhline(summary["max"] * scale, color=MAX_COLOR, linestyle=":", linewidth=1.1)
        keys.append(("max", MAX_COLOR, "dotted"))
    ax.set_xscale("log")
    right = next((t for t, _ in SPECTRUM_TICKS if t >= x[-1]), SPECTRUM_TICKS[-1][0])
    ticks = [(t, label) for t, label in SPECTRUM_TICKS if t <= right]
    ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks], fontsize=7)
    ax.minorticks_off()
    ax.set_xlim(1, max(right, 10) * 1.4)  # room for the last tick's label
    ax.set_ylim(0, max(max(v for _, v in points), summary.get("max") or 0.0) * scale * 1.15 or 1.0)
    ax.set_ylabel(unit, fontsize=8)
    ax.set_xlabel("percentile", fontsize=8)
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    count = summary.get("count")
    caption = (f"Every request's latency by percentile{f' ({count:,} requests)' if count else ''}, from "
               f"the histograms of every worker merged; last point p{points[-1][0]:g}.")
    return Panel("spectrum", _TITLES["spectrum"], caption, image=data_uri(fig), route=route,
                 facts={"points": str(len(points))}, keys=keys)


def _small_style(ax: Any, frame: Frame, ylabel: str) -> None:
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.set_xlim(0, frame.length)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_xlabel("s since the scenario started", fontsize=8)
    mark_faults(ax, frame, text=False)


def _fault_key(frame: Frame) -> list[tuple[str, str, str]]:
    return [("fault", FAULT_COLOR, "dashed")] if frame.faults else []
