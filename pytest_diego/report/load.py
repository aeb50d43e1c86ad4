"""Reading results.json back, and checking the parts the report reads before it reads them.

``load_results(path)`` raises ``ResultsError`` naming the file and what is wrong (not JSON, a
schema version this pytest-diego does not read, a missing key, a value of the wrong type), so a
bad file never turns into a traceback halfway through rendering.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_diego.report.results import SCHEMA

VERDICT_OUTCOMES = ("passed", "failed", "not measured", "skipped")


class ResultsError(ValueError):
    """A results document the report cannot read; the message names the file and the problem."""


def load_results(path: str | Path) -> dict[str, Any]:
    """The checked contents of a results.json file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file (pytest-diego writes diego-results/results.json)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path}: cannot be read: {e}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: not JSON (line {e.lineno} column {e.colno}: {e.msg}); "
                           "is it a results.json written by pytest-diego?") from None
    except RecursionError:
        raise ResultsError(f"{path}: nested too deeply to be a results.json from pytest-diego") from None
    check_results(document, str(path))
    return document


def check_results(document: Any, source: str = "results") -> None:
    """Raise ``ResultsError`` unless ``document`` has the shape the report reads."""
    if not isinstance(document, dict):
        raise ResultsError(f"{source}: the top level is {_kind(document)}, not an object")
    if "schema" not in document:
        raise ResultsError(f"{source}: missing key 'schema'; is it a results.json written by pytest-diego?")
    if document["schema"] != SCHEMA:
        raise ResultsError(f"{source}: schema version {document['schema']!r} is not {SCHEMA}, the one this "
                           "pytest-diego reads; render it with the pytest-diego version that wrote it")
    for key, kind in (("environment", dict), ("tests", dict)):
        if key not in document:
            raise ResultsError(f"{source}: missing key {key!r}")
        _expect(document[key], kind, f"{source}: {key!r}")
    for key in ("started_at", "finished_at"):
        if document.get(key) is not None:
            _expect(document[key], (int, float), f"{source}: {key!r}")
    for nodeid, test in document["tests"].items():
        _check_test(test, f"{source}: tests[{nodeid!r}]")


def _check_test(test: Any, where: str) -> None:
    _expect(test, dict, where)
    if "outcome" not in test:
        raise ResultsError(f"{where}: missing key 'outcome'")
    checks: dict[str, Callable[[Any, str], None]] = {
        "verdicts": _check_verdicts, "series": _check_series, "timelines": _check_timelines,
        "faults": _check_faults, "windows": _check_windows, "metrics": _check_metrics,
        "reasons": lambda v, w: _expect(v, list, w)}
    for key, check in checks.items():
        if test.get(key) is not None:
            check(test[key], f"{where}[{key!r}]")


def verdict_outcome(verdict: dict[str, Any]) -> str:
    """``passed``, ``failed``, ``not measured`` or ``skipped``: the verdict's ``outcome``, or for
    verdicts that carry only ``passed``, passed or failed."""
    outcome = verdict.get("outcome")
    if outcome in VERDICT_OUTCOMES:
        return str(outcome)
    return "passed" if verdict.get("passed") else "failed"


def _check_verdicts(verdicts: Any, where: str) -> None:
    _expect(verdicts, list, where)
    for i, verdict in enumerate(verdicts):
        at = f"{where}[{i}]"
        _expect(verdict, dict, at)
        for key in ("metric", "expression"):
            if key not in verdict:
                raise ResultsError(f"{at}: missing key {key!r}")
        if "outcome" in verdict:
            if verdict["outcome"] not in VERDICT_OUTCOMES:
                raise ResultsError(f"{at}['outcome']: {verdict['outcome']!r} is not one of "
                                   f"{', '.join(map(repr, VERDICT_OUTCOMES))}")
        elif "passed" not in verdict:
            raise ResultsError(f"{at}: missing key 'passed' (or 'outcome')")
        elif "observed" not in verdict:
            raise ResultsError(f"{at}: missing key 'observed'")


def _check_metrics(metrics: Any, where: str) -> None:
    _expect(metrics, dict, where)
    for name, summary in metrics.items():
        at = f"{where}[{name!r}]"
        _expect(summary, dict, at)
        for i, point in enumerate(_expect(summary.get("spectrum", []), list, f"{at}['spectrum']")):
            if not (isinstance(point, list) and len(point) == 2 and all(_is_number(x) for x in point)
                    and 0 <= point[0] < 100):
                raise ResultsError(f"{at}['spectrum'][{i}]: {point!r} is not a [percentile below 100, "
                                   "seconds] pair")


def _check_series(series: Any, where: str) -> None:
    _expect(series, dict, where)
    for name, samples in series.items():
        _expect(samples, list, f"{where}[{name!r}]")
        for i, sample in enumerate(samples):
            if not (isinstance(sample, list) and len(sample) == 2 and all(_is_number(x) for x in sample)):
                raise ResultsError(f"{where}[{name!r}][{i}]: {sample!r} is not a [time, value] pair")


def _check_timelines(timelines: Any, where: str) -> None:
    _expect(timelines, dict, where)
    for table in ("tasks", "lrps", "desired_lrps"):
        entries = timelines.get(table, {})
        _expect(entries, dict, f"{where}[{table!r}]")
        for key, milestones in entries.items():
            _expect(milestones, list, f"{where}[{table!r}][{key!r}]")
            for i, m in enumerate(milestones):
                if not (isinstance(m, list) and len(m) == 2 and isinstance(m[0], str) and _is_number(m[1])):
                    raise ResultsError(f"{where}[{table!r}][{key!r}][{i}]: {m!r} is not a "
                                       "[milestone, time] pair")


def _check_faults(faults: Any, where: str) -> None:
    _expect(faults, list, where)
    for i, fault in enumerate(faults):
        _expect(fault, dict, f"{where}[{i}]")
        for key in ("t", "kind"):
            if key not in fault:
                raise ResultsError(f"{where}[{i}]: missing key {key!r}")
        _expect(fault["t"], (int, float), f"{where}[{i}]['t']")


def _check_windows(windows: Any, where: str) -> None:
    _expect(windows, dict, where)
    for name, columns in windows.items():
        at = f"{where}[{name!r}]"
        _expect(columns, dict, at)
        for key in ("width", "start", "total", "ok"):
            if key not in columns:
                raise ResultsError(f"{at}: missing key {key!r}")
        n = len(_expect(columns["start"], list, f"{at}['start']"))
        for key in ("total", "ok", "p50", "p99"):
            if key in columns and len(_expect(columns[key], list, f"{at}[{key!r}]")) != n:
                raise ResultsError(f"{at}[{key!r}]: {len(columns[key])} values for {n} windows")


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        names = " or ".join(dict.fromkeys(_KIND_NAMES.get(k, k.__name__) for k in kinds))
        raise ResultsError(f"{where}: expected {names}, got {_kind(value)}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_KIND_NAMES = {dict: "an object", list: "an array", int: "a number", float: "a number", str: "a string"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    return _KIND_NAMES.get(type(value), f"a {type(value).__name__}")
