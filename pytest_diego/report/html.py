"""report.html: one self-contained page per run (or two runs side by side) with every plot.

``render_report(results, out_path)`` takes a results document (or a results.json path), or a
list of two for a before/after comparison, and writes one HTML file: styles inline, plots as
embedded PNGs, no scripts, nothing fetched when it opens. Per scenario: outcome, SLO table
(✓/✗, observed, threshold), faults, then the plots (lifecycle timelines, instance counts, BBS
latency per route, bulk loops against their intervals, routes with fault moments, instances
per cell).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_diego.atomic_file import write_atomic
from pytest_diego.report.figures import WIDTH_IN, Frame, Panel, frame_of
from pytest_diego.report.load import ResultsError, check_results, load_results
from pytest_diego.report.plots import panels
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
    head = "".join(f"<th>{_e(n)}</th>" for n in names) if len(docs) > 1 else "<th>outcome</th><th>SLOs</th>"
    lines = []
    for i, nodeid in enumerate(nodeids):
        cells = []
        for doc in docs:
            test = doc["tests"].get(nodeid)
            if test is None:
                cells.append('<td class="muted">not run</td>')
                continue
            verdicts = test.get("verdicts") or []
            ok = sum(1 for v in verdicts if v.get("passed"))
            slos = f"{ok}/{len(verdicts)} ✓" if verdicts else "no SLOs"
            if len(docs) > 1:
                cells.append(f"<td>{_badge(test['outcome'])} {_e(slos)}</td>")
            else:
                cells.append(f"<td>{_badge(test['outcome'])}</td><td>{_e(slos)}</td>")
        lines.append(f'<tr><td><a href="#scenario-{i}">{_e(nodeid)}</a></td>{"".join(cells)}</tr>')
    return (f'<section id="overview"><h2>Scenarios</h2><table><thead><tr><th>scenario</th>{head}</tr>'
            f"</thead><tbody>{''.join(lines)}</tbody></table></section>")


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
    columns = [_panels(t, f, d) if t is not None and f is not None else None
               for t, f, d in zip(tests, frames, docs, strict=True)]
    parts.append(_plots(i, columns, names))
    parts.append("</section>")
    return "".join(parts)


def _panels(test: Results, frame: Frame, doc: Results) -> list[Panel]:
    return panels(test, frame, doc.get("environment") or {})


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
            mark = '<span class="ok">✓</span>' if v["passed"] else '<span class="bad">✗</span>'
            cells.append(f"<td>{mark} {_e(v['observed'])}</td>" if compare
                         else f"<td>{_e(v['observed'])}</td><td>{mark}</td>")
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


def _plots(i: int, columns: list[list[Panel] | None], names: list[str]) -> str:
    present = [c for c in columns if c is not None]
    out = ['<div class="plots">']
    for k, panel in enumerate(present[0]):
        cells = []
        for j, col in enumerate(columns):
            if col is None:
                cells.append('<div class="plot"><div class="no-data">not run</div></div>')
            else:
                label = names[j] if len(columns) > 1 else ""
                cells.append(_plot(col[k], f"s{i}-{k}-{j}", label))
        title = panel.title.split(" (")[0] if len(columns) > 1 else panel.title
        out.append(f'<div class="row"><h3>{_e(title)}</h3>'
                   f'<div class="cols">{"".join(cells)}</div></div>')
    out.append("</div>")
    return "".join(out)


def _plot(panel: Panel, uid: str, run: str) -> str:
    head = f'<div class="run">{_e(run)}</div><div class="sub">{_e(panel.title)}</div>' if run else ""
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
        body = f'<img class="plot" alt="{_e(panel.title)}" src="{panel.image}">'
    return (f'<figure class="plot" data-plot="{_e(panel.key)}">{head}{body}'
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
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _started(doc: Results) -> str | None:
    return _utc(doc["started_at"]) if doc.get("started_at") else None


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m} min" if h else f"{m} min {s} s" if m else f"{s} s"


