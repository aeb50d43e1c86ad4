"""report.html: one self-contained page per run (or two runs side by side) with every plot.

``render_report(results, out_path)`` takes a results document (or a results.json path), or a
list of two for a before/after comparison, and writes one HTML file: styles inline, plots as
embedded PNGs, no scripts, nothing fetched when it opens. At the top, the scenario index: each
scenario's outcome, what it measured, and which SLOs were not measured and why. Per scenario:
outcome, SLO table (✓/✗/not measured, observed, threshold), faults, then the plots: BBS requests
for all routes (requests and errors per second, p50/p99 over time, the percentile spectrum),
lifecycle timelines, instance counts, bulk loops against their intervals, routes with fault
moments, instances per cell, and the same three request plots for every BBS route.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_diego.atomic_file import write_atomic
from pytest_diego.report.figures import WIDTH_IN, Frame, Panel, frame_of
from pytest_diego.report.load import ResultsError, check_results, load_results, verdict_outcome
from pytest_diego.report.plots import panels
from pytest_diego.report.request_plots import ALL_ROUTES, KINDS, LATENCY, route_names, route_panels
from pytest_diego.report.style import CSS

Results = dict[str, Any]
MAX_RUNS = 2
DASH = "—"
COMPARE_WIDTH_IN = 6.6
COMPARE_LABELS = ("before", "after")
__all__ = ["ResultsError", "load_results", "render_report"]


def render_report(results: Results | str | Path | Sequence[Results | str | Path], out_path: str | Path,
                  labels: Sequence[str] | None = None) -> Path:
    """Write the report for one run, or two runs side by side; returns the file written."""
    items = [results] if isinstance(results, (dict, str, Path)) else list(results)
    if not 1 <= len(items) <= MAX_RUNS:
        raise ValueError(f"the report shows one run, or two side by side; got {len(items)}")
    docs, names = [], []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            check_results(item, f"results #{i + 1}")
            docs.append(item)
            names.append(_started(item) or f"run {i + 1}")
        else:
            docs.append(load_results(item))
            names.append(str(item))
    if labels is not None:
        if len(labels) != len(docs):
            raise ValueError(f"{len(labels)} labels for {len(docs)} results")
        names = list(labels)
    elif len(names) == MAX_RUNS:
        names = [f"{when} · {name}" for when, name in zip(COMPARE_LABELS, names, strict=True)]
    out = Path(out_path)
    write_atomic(out, page(docs, names), mode=0o644)  # a page to open and share, not private
    return out


def page(docs: list[Results], names: list[str]) -> str:
    """The whole HTML document."""
    compare = len(docs) > 1
    nodeids = list(dict.fromkeys(n for d in docs for n in d["tests"]))
    title = "pytest-diego report" + (" — comparison" if compare else "")
    body = [f"<header><h1>{_e(title)}</h1>{_runs_line(docs, names)}</header>",
            _environment(docs, names), _overview(docs, names, nodeids)]
    for i, nodeid in enumerate(nodeids):
        body.append(_scenario(i, nodeid, docs, names))
    if not nodeids:
        body.append('<p class="no-data">No scenario finished in this run: nothing was measured.</p>')
    cls = "compare" if compare else "single"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head>"
            f'<body class="{cls}"><main>{"".join(body)}</main></body></html>\n')


# -- header, environment, overview ---------------------------------------------------------------
def _runs_line(docs: list[Results], names: list[str]) -> str:
    parts = []
    for doc, name in zip(docs, names, strict=True):
        tests = doc["tests"].values()
        failed = sum(1 for t in tests if t.get("outcome") in ("failed", "error"))
        text = f"{len(doc['tests'])} scenarios, {failed} failed"
        if doc.get("started_at") and doc.get("finished_at"):
            text += f", {_duration(doc['finished_at'] - doc['started_at'])}"
        warn = ' <span class="bad">interrupted: results are partial</span>' if doc.get("interrupted") else ""
        label = f"<b>{_e(name)}</b>: " if len(docs) > 1 else ""
        parts.append(f"<p>{label}{_e(text)}{warn}</p>")
    return "".join(parts)


def _environment(docs: list[Results], names: list[str]) -> str:
    rows = [_env_rows(d) for d in docs]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = ("<thead><tr><th></th>" + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr></thead>"
            if len(docs) > 1 else "")
    lines = "".join(f"<tr><th>{_e(k)}</th>{''.join(f'<td>{_e(r.get(k, DASH))}</td>' for r in rows)}</tr>"
                    for k in keys)
    return (f'<section id="environment"><h2>Environment</h2><table class="env">{head}'
            f"<tbody>{lines}</tbody></table></section>")


def _env_rows(doc: Results) -> dict[str, str]:
    env = doc.get("environment") or {}
    target = env.get("target") or {}
    rows: dict[str, str] = {}
    if target.get("kind") == "embedded":
        rows["target"] = "embedded cluster"
        for key, label in (("cells", "cells"), ("db", "BBS store"), ("time_scale", "time scale"),
                           ("tls", "TLS to the BBS")):
            if key in target:
                rows[label] = _plain(target[key])
    else:
        rows["target"] = f"{target.get('kind', 'unknown')} Diego"
        for key, value in target.items():
            if key != "kind" and value not in (None, {}, ""):
                rows[key.replace("_", " ")] = _plain(value)
    if env.get("cells"):
        cells = env["cells"]
        rows["cell ids"] = ", ".join(map(str, cells[:12])) + (f" … ({len(cells)})" if len(cells) > 12 else "")
    for key in ("scale", "workers"):
        if key in env:
            rows["xdist workers" if key == "workers" else "load scale"] = _plain(env[key])
    for name, version in (env.get("versions") or {}).items():
        rows[name] = str(version)
    for key, label in (("started_at", "started"), ("finished_at", "finished")):
        if doc.get(key):
            rows[label] = _utc(doc[key])
    for key, value in env.items():
        if key not in ("target", "cells", "scale", "workers", "versions"):
            rows[key.replace("_", " ")] = _plain(value)
    return rows


def _overview(docs: list[Results], names: list[str], nodeids: list[str]) -> str:
    """The scenario index: outcome, SLOs, what was measured, what was not measured and why."""
    compare = len(docs) > 1
    head = ("".join(f"<th>{_e(n)}</th>" for n in names) if compare
            else "<th>outcome</th><th>SLOs</th><th>measured</th><th>not measured</th>")
    lines = []
    for i, nodeid in enumerate(nodeids):
        cells = []
        for doc in docs:
            test = doc["tests"].get(nodeid)
            if test is None:
                cells.append('<td class="muted">not run</td>')
            elif compare:
                cells.append(f"<td>{_badge(test['outcome'])} {_e(_slo_counts(test))}"
                             f"{_list(_not_measured(test), 'not-measured')}</td>")
            else:
                missing = _list(_not_measured(test), "not-measured") or '<span class="muted">—</span>'
                cells.append(f"<td>{_badge(test['outcome'])}</td><td>{_e(_slo_counts(test))}</td>"
                             f"<td>{_list(_measured(test), 'measured')}</td><td>{missing}</td>")
        lines.append(f'<tr data-scenario="{_e(nodeid)}"><td><a href="#scenario-{i}">{_e(nodeid)}</a></td>'
                     f'{"".join(cells)}</tr>')
    return (f'<section id="overview"><h2>Scenarios</h2><table class="index"><thead><tr><th>scenario</th>'
            f"{head}</tr></thead><tbody>{''.join(lines)}</tbody></table></section>")


def _slo_counts(test: Results) -> str:
    verdicts = test.get("verdicts") or []
    if not verdicts:
        return "no SLOs"
    counts = {o: sum(1 for v in verdicts if verdict_outcome(v) == o)
              for o in ("passed", "failed", "not measured", "skipped")}
    marks = {"passed": "✓", "failed": "✗", "not measured": "not measured", "skipped": "skipped"}
    return ", ".join(f"{n} {marks[o]}" for o, n in counts.items() if n)


def _measured(test: Results) -> list[str]:
    """What the scenario recorded, in a line per kind of measurement."""
    metrics = test.get("metrics") or {}
    out = []
    names = route_names(test)
    routes = [n for n, _ in names if n != LATENCY]
    if names:
        summaries = [metrics[LATENCY]] if LATENCY in metrics else [metrics[n] for n in routes if n in metrics]
        count = sum(_count(s.get("count")) for s in summaries)
        failed = count - sum(_count(s.get("ok")) for s in summaries)
        out.append(f"BBS requests: {count:,} on {len(routes)} route{'s' * (len(routes) != 1)}, "
                   f"{failed:,} failed")
    timelines = test.get("timelines") or {}
    lives = [f"{len(timelines[k]):,} {noun}" for k, noun in (("tasks", "Tasks"), ("lrps", "LRP instances"))
             if timelines.get(k)]
    if lives:
        out.append("lifecycle timelines: " + ", ".join(lives))
    series = test.get("series") or {}
    if series:
        out.append(f"Diego metrics: {len(series)} series sampled")
    others = sorted(n for n, m in metrics.items()
                    if not (n == LATENCY or n.startswith(LATENCY + ".")) and m.get("kind") != "gauge"
                    and _count(m.get("count")))
    if others:
        shown = ", ".join(f"{n} ({_count(metrics[n]['count']):,})" for n in others[:8])
        out.append(f"also: {shown}" + (f" and {len(others) - 8} more" if len(others) > 8 else ""))
    return out or ["nothing was recorded"]


def _count(value: Any) -> int:
    """A summary's count, or 0 when results.json has something else there (it is not checked)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _not_measured(test: Results) -> list[str]:
    """Every SLO not judged, with the reason it gives; a skipped scenario's reasons."""
    out = [f"{v['metric']} {v['expression']}: {verdict_outcome(v)}, {v.get('detail') or 'no reason given'}"
           for v in test.get("verdicts") or [] if verdict_outcome(v) in ("not measured", "skipped")]
    if test.get("outcome") == "skipped":
        reasons = test.get("reasons") or ["no reason given"]
        out += [f"the scenario was skipped: {r}" for r in reasons]
    return out


def _list(items: list[str], cls: str) -> str:
    return f'<ul class="{cls}">' + "".join(f"<li>{_e(t)}</li>" for t in items) + "</ul>" if items else ""


# -- one scenario ----------------------------------------------------------------------------------
def _scenario(i: int, nodeid: str, docs: list[Results], names: list[str]) -> str:
    tests = [d["tests"].get(nodeid) for d in docs]
    frames = [frame_of(t) if t is not None else None for t in tests]
    length = max((f.length for f in frames if f is not None), default=1.0)
    width = WIDTH_IN if len(docs) == 1 else COMPARE_WIDTH_IN
    frames = [Frame(f.t0, length, f.faults, width) if f is not None else None for f in frames]
    badges = " ".join(_badge(t["outcome"]) for t in tests if t is not None)
    parts = [f'<section class="scenario" id="scenario-{i}"><h2>{_e(nodeid)} {badges}</h2>']
    for test, name in zip(tests, names, strict=True):
        if test is not None and test.get("reasons"):
            label = f"{name}: " if len(docs) > 1 else ""
            parts.append(f'<pre class="reasons">{_e(label + chr(10).join(map(str, test["reasons"])))}</pre>')
    parts.append(_slo_table(tests, names))
    parts.append(_faults(tests, frames, names))
    wide = [panels(t, f, d.get("environment") or {}) if t is not None and f is not None else None
            for t, f, d in zip(tests, frames, docs, strict=True)]
    routes = [route_panels(t, f) if t is not None and f is not None else None
              for t, f in zip(tests, frames, strict=True)]
    parts.append(_plots(i, wide, routes, names))
    parts.append("</section>")
    return "".join(parts)


def _slo_table(tests: list[Results | None], names: list[str]) -> str:
    rows: dict[tuple[str, str, str], list[dict[str, Any] | None]] = {}
    for j, test in enumerate(tests):
        for v in (test or {}).get("verdicts") or []:
            key = (str(v["metric"]), str(v["expression"]), str(v.get("source", "slo")))
            rows.setdefault(key, [None] * len(tests))[j] = v
    if not rows:
        return '<p class="muted">No SLOs were declared for this scenario.</p>'
    compare = len(tests) > 1
    head = ("".join(f"<th>{_e(n)}</th>" for n in names) if compare else "<th>observed</th><th></th>")
    lines = []
    for (metric, expression, source), verdicts in rows.items():
        threshold = expression if source == "slo" else f"baseline: {expression}"
        cells = []
        for v in verdicts:
            if v is None:
                cells.append('<td class="muted">—</td>' if compare else '<td class="muted">—</td><td></td>')
                continue
            outcome = verdict_outcome(v)
            if outcome in ("passed", "failed"):
                mark = '<span class="ok">✓</span>' if outcome == "passed" else '<span class="bad">✗</span>'
                observed = _e(v.get("observed", DASH))
            else:
                mark = f'<span class="muted">{_e(outcome)}</span>'
                observed = f'<span class="muted">{_e(v.get("detail") or "no reason given")}</span>'
            cells.append(f"<td>{mark} {observed}</td>" if compare else f"<td>{observed}</td><td>{mark}</td>")
        lines.append(f"<tr><td>{_e(metric)}</td><td><code>{_e(threshold)}</code></td>{''.join(cells)}</tr>")
    return (f'<table class="slo"><thead><tr><th>metric</th><th>threshold</th>{head}</tr></thead>'
            f"<tbody>{''.join(lines)}</tbody></table>")


def _faults(tests: list[Results | None], frames: list[Frame | None], names: list[str]) -> str:
    lines = []
    for test, frame, name in zip(tests, frames, names, strict=True):
        for f in (test or {}).get("faults") or []:
            assert frame is not None
            run = f"<td>{_e(name)}</td>" if len(tests) > 1 else ""
            outcome = ('<span class="ok">delivered</span>' if f.get("ok", True)
                       else '<span class="bad">failed</span>')
            lines.append(f"<tr>{run}<td>{frame.x(f['t']):.1f} s</td><td>{_e(f['kind'])}</td>"
                         f"<td>{_e(f.get('target', ''))}</td><td>{outcome}</td>"
                         f"<td>{_e(f.get('detail', ''))}</td></tr>")
    if not lines:
        return ""
    run = "<th>run</th>" if len(tests) > 1 else ""
    return (f'<table class="faults"><thead><tr>{run}<th>at</th><th>fault</th><th>target</th><th></th>'
            f"<th>detail</th></tr></thead><tbody>{''.join(lines)}</tbody></table>")


def _plots(i: int, wide: list[list[Panel] | None], routes: list[dict[str, list[Panel]] | None],
           names: list[str]) -> str:
    """BBS requests for all routes first, then the scenario-wide plots, then every route's plots."""
    labels = list(dict.fromkeys(label for r in routes if r is not None for label in r))
    top = [label for label in labels if label == ALL_ROUTES] or labels[:1]
    out = ['<div class="plots">']
    out += [_route_row(i, label, routes, names, "BBS requests: ") for label in top]
    present = next(c for c in wide if c is not None)
    for k, panel in enumerate(present):
        cells = []
        for j, col in enumerate(wide):
            if col is None:
                cells.append('<div class="plot"><div class="no-data">not run</div></div>')
            else:
                label = names[j] if len(wide) > 1 else ""
                cells.append(_plot(col[k], f"s{i}-{k}-{j}", label))
        title = panel.title.split(" (")[0] if len(wide) > 1 else panel.title
        out.append(f'<div class="row"><h3>{_e(title)}</h3>'
                   f'<div class="cols">{"".join(cells)}</div></div>')
    rest = [label for label in labels if label not in top]
    if rest:
        out.append(f'<h3 class="routes-head">BBS requests per route ({len(rest)} routes, busiest first)</h3>')
        out += [_route_row(i, label, routes, names, "") for label in rest]
    out.append("</div>")
    return "".join(out)


def _route_row(i: int, route: str, routes: list[dict[str, list[Panel]] | None], names: list[str],
               prefix: str) -> str:
    """One route's three plots side by side; comparing runs, a row of runs per plot."""
    head = f'<div class="route-row" data-route="{_e(route)}"><h3>{_e(prefix + route)}</h3>'
    if len(routes) == 1:
        assert routes[0] is not None
        plots = "".join(_plot(p, "", "") for p in routes[0][route])
        return f'{head}<div class="cols3">{plots}</div></div>'
    rows = []
    for k in range(len(KINDS)):
        cells = []
        for j, by_route in enumerate(routes):
            if by_route is None:
                cells.append('<div class="plot"><div class="no-data">not run</div></div>')
            elif route not in by_route:
                cells.append(f'<div class="plot"><div class="run">{_e(names[j])}</div>'
                             '<div class="no-data">no request on this route in this run</div></div>')
            else:
                cells.append(_plot(by_route[route][k], "", names[j]))
        rows.append(f'<div class="cols">{"".join(cells)}</div>')
    return head + "".join(rows) + "</div>"


def _plot(panel: Panel, uid: str, run: str) -> str:
    head = f'<div class="run">{_e(run)}</div>' if run else ""
    if run or panel.route is not None:
        keys = "".join(f'<span class="key"><i style="border-top:2px {style} {colour}"></i>{_e(label)}</span>'
                       for label, colour, style in panel.keys)
        head += f'<div class="sub">{_e(panel.title)}{keys}</div>'
    if panel.missing:
        body = f'<div class="no-data">{_e(panel.missing)}</div>'
    elif panel.alternatives:
        radios, bodies = [], []
        for n, (label, uri) in enumerate(panel.alternatives):
            checked = " checked" if n == 0 else ""
            radios.append(f'<input type="radio" name="{uid}" id="{uid}-{n}"{checked}>'
                          f'<label for="{uid}-{n}">{_e(label)}</label>')
            bodies.append(f'<div class="tab"><img class="plot" alt="{_e(panel.title)}, {_e(label)}" '
                          f'src="{uri}"></div>')
        body = f'<div class="tabs">{"".join(radios)}{"".join(bodies)}</div>'
    else:
        alt = panel.title + (f", {panel.route}" if panel.route else "")
        body = f'<img class="plot" alt="{_e(alt)}" src="{panel.image}">'
    data = f' data-route="{_e(panel.route)}"' if panel.route is not None else ""
    data += "".join(f' data-{_e(k)}="{_e(v)}"' for k, v in panel.facts.items())
    small = " small" if panel.route is not None else ""
    return (f'<figure class="plot{small}" data-plot="{_e(panel.key)}"{data}>{head}{body}'
            f"<figcaption>{_e(panel.caption)}</figcaption></figure>")


# -- small helpers ---------------------------------------------------------------------------------
def _badge(outcome: str) -> str:
    cls = {"passed": "ok", "failed": "bad", "error": "bad"}.get(outcome, "muted")
    return f'<span class="badge {cls}">{_e(outcome)}</span>'


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    return "—" if value is None else str(value)


def _utc(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _started(doc: Results) -> str | None:
    return _utc(doc["started_at"]) if doc.get("started_at") else None


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m} min" if h else f"{m} min {s} s" if m else f"{s} s"


