"""A realistic results document built through the real measurement code, for the report's tests
(and the hardening tests that feed the report bad input).

``sample_results()`` records three scenarios into ``Measurements`` the way a run would and
summarizes them with results.json's own functions: a fezzik-style burst of Tasks and LRP
instances; a cell-failure scenario (capacity filled, two cells killed, instances moved, routes
dipping and recovering); and a scenario that only makes BBS requests, on ``api_routes`` of the
BBS's routes, through a BBS restart (requests fail while it is down), with an SLO on Diego's
metrics that was not measured. Every plot of the report has data in it.
"""

from __future__ import annotations

import random
from typing import Any

from pytest_diego import slo
from pytest_diego.bbs.routes import ROUTES
from pytest_diego.measure.measurements import Measurements
from pytest_diego.report.results import SCHEMA, summarize

T0 = 1_795_000_000.0
BURST = "perf_suites/test_burst.py::test_tasks_and_lrps_burst"
CELL_FAILURE = "perf_suites/test_cell_failure.py::test_kill_two_cells"
BBS_ONLY = "perf_suites/test_bbs_api.py::test_bbs_api_through_a_bbs_restart"
NOT_MEASURED_REASON = ("no Diego metrics source: set --diego-metrics-url bbs=URL (the metrics agent "
                       "of the BBS's VM) to sample ConvergenceLRPDuration")
_ROUTES = ("DesireTask", "DesireDesiredLRP", "StartTask", "CompleteTask", "ClaimActualLRP",
           "StartActualLRP", "ActualLRPs", "Tasks")


def sample_results(seed: int = 0, slow: float = 1.0, cells: int = 10, time_scale: float = 0.1,
                   api_routes: int = 12) -> dict[str, Any]:
    """A schema-valid results document; ``slow`` stretches latencies (a 'worse' run to compare);
    ``api_routes`` (up to all 37 of the BBS's) is how many routes the BBS-only scenario calls."""
    rng = random.Random(seed)
    cell_ids = [f"cell-{i}" for i in range(cells)]
    burst = _burst(rng, slow, cell_ids, T0 + 5)
    failure = _cell_failure(rng, slow, cell_ids, T0 + 60, time_scale)
    api = _bbs_only(rng, slow, list(ROUTES)[:api_routes], T0 + 185)
    return {
        "schema": SCHEMA, "started_at": T0, "finished_at": T0 + 260, "interrupted": False,
        "environment": {
            "target": {"kind": "embedded", "cells": cells, "db": "sqlite", "time_scale": time_scale,
                       "tls": False},
            "cells": cell_ids,
            "versions": {"pytest-diego": "0.1.0", "pytest": "8.3.0", "python": "3.11.7"},
            "scale": 1.0, "workers": 2},
        "tests": {BURST: burst, CELL_FAILURE: failure, BBS_ONLY: api},
    }


def _test(m: Measurements, slos: dict[str, list[str]], faults: list[dict[str, Any]]) -> dict[str, Any]:
    verdicts = slo.evaluate_all(m, slos)
    failed = [v for v in verdicts if v.failed]
    return {"outcome": "failed" if failed else "passed", "workers": {"gw0": "passed", "gw1": "passed"},
            "reasons": [f"[gw0] {v.line()}" for v in failed], "verdicts": [v.to_dict() for v in verdicts],
            **summarize(m), "faults": faults}


def _request(m: Measurements, route: str, t: float, seconds: float, outcome: str = "ok") -> None:
    m.trend(f"RequestLatency.{route}").record(t, seconds, outcome)
    m.trend("RequestLatency").record(t, seconds, outcome)


def _burst(rng: random.Random, slow: float, cells: list[str], t0: float) -> dict[str, Any]:
    """400 Tasks and one 400-instance LRP desired at once (a 1/10 scale fezzik run)."""
    m = Measurements()
    for i in range(400):
        guid = f"task-{i:04d}"
        desired = t0 + i * 0.004 * slow
        running = desired + rng.uniform(0.3, 2.5) * slow
        completed = running + rng.uniform(1.0, 4.0)
        resolved = completed + rng.uniform(0.05, 0.4) * slow
        for milestone, t in (("desired", desired), ("running", running), ("completed", completed),
                             ("resolved", resolved), ("removed", resolved + 0.05)):
            m.timelines.add_task(guid, milestone, t)
        _request(m, "DesireTask", desired, rng.lognormvariate(-4.5, 0.5) * slow)
        _request(m, "StartTask", running, rng.lognormvariate(-4.8, 0.5) * slow)
        _request(m, "CompleteTask", completed, rng.lognormvariate(-4.6, 0.5) * slow)
    m.timelines.add_desired_lrp("burst-lrp", "desired", t0 + 2)
    for index in range(400):
        created = t0 + 2 + rng.uniform(0, 0.3)
        claimed = created + rng.uniform(0.2, 1.5) * slow
        running = claimed + rng.uniform(1.0, 6.0) * slow
        removed = t0 + 16 + rng.uniform(0, 2) * slow
        for milestone, t in (("created", created), ("claimed", claimed), ("running", running),
                             ("removed", removed)):
            m.timelines.add_lrp("burst-lrp", index, milestone, t)
        _request(m, "ClaimActualLRP", claimed, rng.lognormvariate(-4.7, 0.4) * slow)
        _request(m, "StartActualLRP", running, rng.lognormvariate(-4.7, 0.4) * slow)
    _request(m, "DesireDesiredLRP", t0 + 2, 0.04 * slow)
    for t in _ticks(t0, t0 + 22, 1.0):
        _request(m, "ActualLRPs", t, rng.lognormvariate(-3.5, 0.4) * slow)
        m.gauge("LRPsDesired").add(t, 400 if t0 + 2 <= t < t0 + 16 else 0)
        running = _count_at(m.timelines.lrps, "running", t)
        m.gauge("LRPsRunning").add(t, running)
        m.gauge("RouterEndpoints").add(t, max(0, running - rng.randint(0, 20)) if running else 0)
        m.gauge("RouterRoutes").add(t, 1 if running else 0)
        m.gauge("CrashedActualLRPs").add(t, 0)
        m.gauge("TasksPending").add(t, sum(1 for v in m.timelines.tasks.values() if v[0][1] <= t < v[1][1]))
        m.gauge("TasksRunning").add(t, sum(1 for v in m.timelines.tasks.values() if v[1][1] <= t < v[2][1]))
        m.gauge("ConvergenceLRPDuration", "s").add(t, rng.uniform(0.01, 0.05) * slow)
        m.gauge("RepBulkSyncDuration", "s").add(t, rng.uniform(0.005, 0.03) * slow)
        m.gauge("AuctioneerFetchStatesDuration", "s").add(t, rng.uniform(0.003, 0.02) * slow)
        busy = 40 if t0 + 3 <= t < t0 + 16 else 0
        for cell in cells:
            m.gauge(f"ContainerCount.{cell}").add(t, busy + rng.randint(-3, 3) if busy else 0)
    slos = {"TaskTimeToRunning": ["p(99) < 5s"], "LRPTimeToRunning": ["p(99) < 10s"],
            "RequestLatency": ["p(99) < 1s", "rate >= 0.999"]}
    return _test(m, slos, [])


def _cell_failure(rng: random.Random, slow: float, cells: list[str], t0: float,
                  time_scale: float) -> dict[str, Any]:
    """300 instances fill the cells; cells 3 and 7 (the last one on fewer than four cells, none
    on one) are SIGKILLed 50 s in and their work moves."""
    m = Measurements()
    kill_at = t0 + 50
    killed = {cells[i] for i in (3, 7) if i < len(cells)} or ({cells[-1]} if len(cells) > 1 else set())
    moved_at = kill_at + 15 * time_scale + 30 * time_scale * rng.uniform(0.2, 1.0)
    original: dict[str, str] = {}
    after: dict[str, str] = {}
    survivors = [c for c in cells if c not in killed]
    for app in range(60):
        desired = t0 + app * 0.5
        m.timelines.add_desired_lrp(f"app-{app:02d}", "desired", desired)
        _request(m, "DesireDesiredLRP", desired, rng.lognormvariate(-4.2, 0.4) * slow)
        for index in range(5):
            cell = cells[(app * 5 + index) % len(cells)]
            original[f"app-{app:02d}/{index}"] = after[f"app-{app:02d}/{index}"] = cell
            created = desired + rng.uniform(0, 0.1)
            claimed = created + rng.uniform(0.2, 1.0) * slow
            running = claimed + rng.uniform(0.5, 3.0) * slow
            for milestone, t in (("created", created), ("claimed", claimed), ("running", running)):
                m.timelines.add_lrp(f"app-{app:02d}", index, milestone, t)
            if app % 20 == 19:  # a crashing app: CRASHED, restarted at once, crashes again
                crash = running + rng.uniform(8, 20)
                m.timelines.add_lrp(f"app-{app:02d}", index, "crashed", crash)
                m.timelines.add_lrp(f"app-{app:02d}", index, "created", crash + 0.1)
                m.timelines.add_lrp(f"app-{app:02d}", index, "claimed", crash + 0.5)
                m.timelines.add_lrp(f"app-{app:02d}", index, "running", crash + 2)
                m.timelines.add_lrp(f"app-{app:02d}", index, "crashed", crash + rng.uniform(30, 60))
            if cell in killed:
                gone = moved_at + rng.uniform(0, 1.5)
                m.timelines.add_lrp(f"app-{app:02d}", index, "created", gone)
                m.timelines.add_lrp(f"app-{app:02d}", index, "claimed", gone + rng.uniform(0.3, 1.5) * slow)
                m.timelines.add_lrp(f"app-{app:02d}", index, "running", gone + rng.uniform(2, 5) * slow)
                after[f"app-{app:02d}/{index}"] = survivors[(app + index) % len(survivors)]
    end = t0 + 120
    for t in _ticks(t0, end, 1.0):
        before = t < kill_at
        up = [c for c in cells if before or c not in killed]
        running = _count_at(m.timelines.lrps, "running", t)
        crashed = _count_at(m.timelines.lrps, "crashed", t)
        m.gauge("LRPsDesired").add(t, min(300, 10 * int((t - t0) / 0.5 + 1)))
        m.gauge("LRPsRunning").add(t, running)
        m.gauge("CrashedActualLRPs").add(t, crashed)
        m.gauge("LRPsMissing").add(t, 60 if kill_at + 1.5 <= t < moved_at else 0)
        m.gauge("PresentCells").add(t, len(up) if t < kill_at + 15 * time_scale else len(cells) - 2)
        m.gauge("RouterEndpoints").add(t, max(0, running - (60 if kill_at <= t < moved_at + 4 else 0)))
        m.gauge("RouterRoutes").add(t, min(60, int((t - t0) / 0.5 + 1)))
        m.gauge("RoutesTotal").add(t, max(0, running - (60 if kill_at <= t < moved_at + 3 else 0)))
        m.gauge("ConvergenceLRPDuration", "s").add(t, rng.uniform(0.02, 0.08) * slow
                                                   * (6 if abs(t - moved_at) < 2 else 1))
        m.gauge("ConvergenceTaskDuration", "s").add(t, rng.uniform(0.005, 0.02) * slow)
        m.gauge("RepBulkSyncDuration", "s").add(t, rng.uniform(0.01, 0.06) * slow)
        m.gauge("RouteEmitterSyncDuration", "s").add(t, rng.uniform(0.03, 0.1) * slow)
        m.gauge("AuctioneerFetchStatesDuration", "s").add(
            t, 10.0 if kill_at < t < moved_at + 2 else rng.uniform(0.004, 0.02) * slow)
        where = original if t < moved_at + 3 else after
        for cell in up:
            here = sum(1 for c in where.values() if c == cell)
            m.gauge(f"ContainerCount.{cell}").add(t, here if t > t0 + 3 else 0)
        _request(m, "ActualLRPs", t, rng.lognormvariate(-3.2, 0.5) * slow)
        for _ in range(10):
            probe_t = t + rng.uniform(0, 1)
            outage = kill_at <= probe_t < moved_at + 4 and rng.random() < 0.2
            m.rate("RouteAvailability").add(probe_t, "HTTP 502" if outage else "ok")
            m.trend("RouteProbeLatency").record(probe_t, rng.lognormvariate(-5.5, 0.4) * slow,
                                                "HTTP 502" if outage else "ok")
    for t in _ticks(kill_at, kill_at + 5, 0.2):
        _request(m, "StartActualLRP", t, 5.0 * slow, "ConnectionError")
    faults = [{"t": kill_at, "kind": "kill_cell", "target": cell, "ok": True,
               "detail": "SIGKILL"} for cell in sorted(killed)]
    slos = {"LRPTimeToRunning": ["p(99) < 10s"], "RouteAvailability": ["rate >= 0.99"],
            "ConvergenceLRPDuration": ["max < 20s"], "RequestLatency": ["p(99) < 1s"]}
    return _test(m, slos, faults)


def _bbs_only(rng: random.Random, slow: float, routes: list[str], t0: float) -> dict[str, Any]:
    """60 s of BBS requests on ``routes``, the busiest first; the BBS restarts 30 s in and every
    request fails (ConnectionError) for the 3 s it is down."""
    m = Measurements()
    restart_at, back_at = t0 + 30, t0 + 33
    for rank, route in enumerate(routes):
        per_second = 20.0 / (rank + 1)
        median = -5.0 + 0.15 * rank  # ln seconds: ~7 ms for the busiest route, slower further down
        t = t0 + rng.uniform(0, 1 / per_second)
        while t < t0 + 60:
            if restart_at <= t < back_at:
                _request(m, route, t, rng.uniform(0.001, 0.003) * slow, "ConnectionError")
            else:
                _request(m, route, t, rng.lognormvariate(median, 0.6) * slow)
            t += rng.expovariate(per_second)
    faults = [{"t": restart_at, "kind": "restart_bbs", "target": "bbs", "ok": True,
               "detail": "SIGKILL, restarted"}]
    m.not_measured(["ConvergenceLRPDuration"], NOT_MEASURED_REASON)
    slos = {"RequestLatency": ["p(99) < 1s", "rate >= 0.9"], "ConvergenceLRPDuration": ["max < 20s"]}
    return _test(m, slos, faults)


def _ticks(start: float, end: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((end - start) / step) + 1)]


def _count_at(lrps: dict[str, list[tuple[str, float]]], state: str, t: float) -> int:
    """Instances whose latest milestone at ``t`` is ``state``."""
    n = 0
    for milestones in lrps.values():
        latest = None
        for milestone, when in sorted(milestones, key=lambda e: e[1]):
            if when > t:
                break
            latest = milestone
        n += latest == state
    return n
