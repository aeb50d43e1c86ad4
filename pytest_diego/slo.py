"""SLO expressions, k6-style, judged on (merged) measurements — and over every time window.

Grammar (whitespace between tokens is optional)::

    expression  := aggregation operator value [ "over" duration ]
    aggregation := "p(" number ")" | "med" | "avg" | "min" | "max" | "count" | "rate" | "value"
    operator    := "<" | "<=" | ">" | ">=" | "==" | "!="
    value       := number [ unit ]          unit: ns us ms s m h (time), % (rates)
    note        := "#" any text              where the threshold comes from (shown, not judged)

Examples: ``p(99) < 1s``, ``p(99.9) <= 250ms``, ``med < 0.5``, ``rate >= 0.999``,
``rate >= 99.9%``, ``count > 0``, ``max < 20s``, ``p(99) < 1s over 1m``.

- A **bare number** on a latency (a Trend, or a duration Gauge such as ConvergenceLRPDuration)
  is **seconds**; ``count`` and ``rate`` take plain numbers (``rate`` also ``%``).
- Aggregations by kind: Trend — ``p(N)``, ``med``, ``avg``, ``min``, ``max``, ``count``,
  ``rate`` (share of successful operations); Rate — ``rate``, ``count``; Gauge — ``value``
  (last sample), ``min``, ``max``, ``avg``, ``med``, ``p(N)``, ``count``. Percentiles use the
  inverted-CDF definition (see ``measure.histogram``).
- ``over W``: the threshold must hold in **every** window of length W, sliding one time
  bucket at a time (runs shorter than W are one window); the observed value is the worst one.
- An expression may end with ``# note`` saying where its number comes from
  (``max < 9.5s # presence TTL 1.5s + convergence 3s + placement 5s``); the note is shown beside
  the verdict and never judged.
- A bad expression raises ``SLOSyntaxError`` naming the column (from 1) and what was expected.
- Every verdict has one of four outcomes: **passed**, **failed**, **not measured** (the metric
  recorded nothing and the run declared it cannot be measured on this target, with the reason —
  ``Measurements.not_measured``) and **skipped** (the scenario did not run). An SLO on a metric
  that recorded nothing and was not declared unmeasurable **fails**; an SLO never passes
  vacuously.
"""

from __future__ import annotations

import math
import operator
import re
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from pytest_diego.measure.histogram import Histogram
from pytest_diego.measure.measurements import Measurements, Metric
from pytest_diego.measure.metrics import Gauge, Trend
from pytest_diego.measure.summary import percentile_of_values

TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_UNIT_LIST = "ns, us, ms, s, m, h"
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt}
AGGREGATIONS = ("p(N)", "med", "avg", "min", "max", "count", "rate", "value")
_TOKEN = re.compile(r"\s*(?:(?P<num>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?P<unit>[^\s<>=!()]*)"
                    r"|(?P<op><=|>=|==|!=|<|>)|(?P<word>[A-Za-z_]+)|(?P<punct>[()])|(?P<other>\S+))")


class SLOSyntaxError(ValueError):
    """An SLO expression that cannot be parsed; the message says where and what was expected."""

    def __init__(self, expression: str, column: int, problem: str, expected: str) -> None:
        self.expression, self.column = expression, column
        super().__init__(f"{problem} at column {column}; expected {expected}\n"
                         f"  {expression}\n  {' ' * (column - 1)}^")


PASSED, FAILED, NOT_MEASURED, SKIPPED = "passed", "failed", "not measured", "skipped"
OUTCOMES = (PASSED, FAILED, NOT_MEASURED, SKIPPED)
MARKS = {PASSED: "✓", FAILED: "✗", NOT_MEASURED: "–", SKIPPED: "s"}


@dataclass(frozen=True)
class Threshold:
    """A parsed SLO expression."""

    text: str  # the expression without its note
    aggregation: str  # "p", "med", "avg", "min", "max", "count", "rate", "value"
    percentile: float | None
    op: str
    value: float  # seconds when ``timed``; a fraction for ``%``
    timed: bool  # the value carried a time unit
    window: float | None  # seconds, for "over W"
    note: str = ""  # "# ..." after the expression: where the number comes from

    @property
    def label(self) -> str:
        return f"p({self.percentile:g})" if self.aggregation == "p" else self.aggregation


@dataclass(frozen=True)
class Verdict:
    """One threshold judged: its outcome, the observed value (number and text) and why.

    ``source`` is ``"slo"`` for a scenario's thresholds and ``"baseline"`` for the comparison
    with an earlier run; ``detail`` says why a verdict failed or was not measured, or which
    window was the worst.
    """

    metric: str
    expression: str
    outcome: str
    observed: float | None = None
    observed_text: str = ""
    detail: str = ""
    source: str = "slo"
    note: str = ""
    samples: int | None = None  # for a gauge: how many samples the verdict rests on

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    @property
    def failed(self) -> bool:
        return self.outcome == FAILED

    def line(self) -> str:
        """``SLO failed: RequestLatency p(99) < 1s — observed p(99)=1.4s (why)``."""
        kind = "SLO" if self.source == "slo" else "Baseline"
        observed = f" — observed {self.observed_text}" if self.observed_text else ""
        detail = f" ({self.detail})" if self.detail and not self.passed else ""
        return f"{kind} {self.outcome}: {self.metric} {self.expression}{observed}{detail}"

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{MARKS[self.outcome]} {self.metric}: '{self.expression}' {self.observed_text}{extra}"

    def to_dict(self) -> dict[str, Any]:
        """results.json's verdict: ``passed`` stays for readers of the two-outcome form."""
        return {"metric": self.metric, "expression": self.expression, "outcome": self.outcome,
                "passed": self.passed, "observed": self.observed_text, "value": self.observed,
                "detail": self.detail, "source": self.source, "note": self.note, "samples": self.samples}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        outcome = data.get("outcome") or (PASSED if data.get("passed") else FAILED)
        value, samples = data.get("value"), data.get("samples")
        return cls(str(data["metric"]), str(data["expression"]), str(outcome),
                   float(value) if isinstance(value, (int, float)) else None,
                   str(data.get("observed") or ""), str(data.get("detail") or ""),
                   str(data.get("source") or "slo"), str(data.get("note") or ""),
                   int(samples) if isinstance(samples, int) else None)

    def skipped(self, reason: str) -> Verdict:
        """This threshold, not judged because its scenario did not run."""
        return replace(self, outcome=SKIPPED, observed=None, observed_text="", detail=reason)


class _Tokens:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items: list[tuple[str, str, str, int]] = []  # kind, value, unit, column
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or ""
            if kind == "unit":
                kind = "num"
            column = match.start(kind) + 1
            if kind == "num":
                self.items.append(("num", match["num"], match["unit"], column))
            elif match.group(kind) is not None:
                self.items.append((kind, match.group(kind), "", column))
        self.pos = 0

    def peek(self) -> tuple[str, str, str, int] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self, expected: str) -> tuple[str, str, str, int]:
        token = self.peek()
        if token is None:
            raise SLOSyntaxError(self.text, len(self.text) + 1, "unexpected end of expression", expected)
        self.pos += 1
        return token


def parse(text: str) -> Threshold:
    """Parse one SLO expression, or raise ``SLOSyntaxError`` saying where and what was wrong."""
    text, _, note = text.partition("#")
    return replace(_parse(text), note=note.strip())


def _parse(text: str) -> Threshold:
    tokens = _Tokens(text)
    kind, word, _, column = tokens.take("an aggregation: " + ", ".join(AGGREGATIONS))
    percentile: float | None = None
    if kind == "word" and word == "p":
        _expect(tokens, "punct", "(", "'(' after p")
        kind, number, unit, column = tokens.take("a percentile between 0 and 100")
        if kind != "num" or unit:
            raise SLOSyntaxError(text, column, f"{number + unit!r} is not a percentile",
                                 "a number between 0 and 100")
        percentile = float(number)
        if not 0 <= percentile <= 100:
            raise SLOSyntaxError(text, column, f"percentile {number} is outside 0..100",
                                 "a number between 0 and 100")
        _expect(tokens, "punct", ")", "')' after the percentile")
        aggregation = "p"
    elif kind == "word" and word in AGGREGATIONS:
        aggregation = word
    else:
        raise SLOSyntaxError(text, column, f"unknown aggregation {word!r}",
                             "one of " + ", ".join(AGGREGATIONS))
    kind, op, _, column = tokens.take("a comparison: " + " ".join(OPERATORS))
    if kind != "op":
        raise SLOSyntaxError(text, column, f"{op!r} is not a comparison", "one of < <= > >= == !=")
    value, timed = _value(text, tokens, aggregation)
    window = None
    token = tokens.peek()
    if token is not None:
        kind, word, _, column = tokens.take("'over'")
        if kind != "word" or word != "over":
            raise SLOSyntaxError(text, column, f"unexpected {word!r}", "the end, or 'over <duration>'")
        kind, number, unit, column = tokens.take("a window duration such as 1m")
        if kind != "num":
            raise SLOSyntaxError(text, column, f"{number!r} is not a duration", "a duration such as 1m")
        if unit not in TIME_UNITS:
            raise _unit_error(text, column, unit)
        window = float(number) * TIME_UNITS[unit]
        if window <= 0:
            raise SLOSyntaxError(text, column, "a window must be longer than 0", "a duration such as 1m")
        if (extra := tokens.peek()) is not None:
            raise SLOSyntaxError(text, extra[3], f"unexpected {extra[1]!r}", "the end of the expression")
    return Threshold(text.strip(), aggregation, percentile, op, value, timed, window)


def _expect(tokens: _Tokens, kind: str, value: str, expected: str) -> None:
    got_kind, got, unit, column = tokens.take(expected)
    if got_kind != kind or got != value:
        raise SLOSyntaxError(tokens.text, column, f"unexpected {got + unit!r}", expected)


def _unit_error(text: str, column: int, unit: str) -> SLOSyntaxError:
    if not unit:
        return SLOSyntaxError(text, column, "a window needs a unit", f"one of {_UNIT_LIST}")
    return SLOSyntaxError(text, column, f"unknown unit {unit!r}", f"one of {_UNIT_LIST}")


def _value(text: str, tokens: _Tokens, aggregation: str) -> tuple[float, bool]:
    kind, number, unit, column = tokens.take("a number, e.g. 1s or 0.999")
    if kind != "num":
        raise SLOSyntaxError(text, column, f"{number!r} is not a number", "a number, e.g. 1s or 0.999")
    value = float(number)
    if aggregation in ("count", "rate"):
        if unit == "%" and aggregation == "rate":
            return float(Decimal(number) / 100), False
        if unit:
            what = "a plain number or a percentage" if aggregation == "rate" else "a plain number"
            raise SLOSyntaxError(text, column, f"{aggregation} takes {what}, not unit {unit!r}", what)
        return value, False
    if not unit:
        return value, False
    if unit not in TIME_UNITS:
        raise _unit_error(text, column, unit)
    return value * TIME_UNITS[unit], True


# -- evaluation ------------------------------------------------------------------------------------
def evaluate(metric: Metric | None, expression: str | Threshold, name: str = "metric",
             not_measured: str | None = None) -> Verdict:
    """Judge one SLO on one metric. ``None`` or an empty metric fails on "no data", unless
    ``not_measured`` says why this target cannot measure it: then the verdict is not measured."""
    threshold = parse(expression) if isinstance(expression, str) else expression
    samples = metric.count if isinstance(metric, Gauge) else None
    verdict = partial(Verdict, name, threshold.text, note=threshold.note, samples=samples)
    empty = metric is None or metric.count == 0
    if empty and not_measured:
        return verdict(NOT_MEASURED, detail=not_measured)
    if metric is None:
        return verdict(FAILED, observed_text="no data",
                       detail=f"no metric named {name!r} was recorded, so the SLO cannot pass")
    try:
        check_applicable(metric.kind, getattr(metric, "unit", ""), threshold, name)
    except ValueError as e:
        return verdict(FAILED, observed_text="not applicable", detail=str(e))
    if metric.count == 0:
        return verdict(FAILED, observed_text="no data",
                       detail=f"{name} recorded nothing, so the SLO cannot pass")
    check = OPERATORS[threshold.op]
    if threshold.window is None:
        observed = _aggregate(metric, threshold)
        return verdict(PASSED if check(observed, threshold.value) else FAILED, observed,
                       _format(threshold, metric, observed))
    return _evaluate_windows(metric, threshold, name)


def check_applicable(kind: str, unit: str, threshold: Threshold, name: str) -> None:
    """Raise ``ValueError`` when ``threshold``'s aggregation or unit does not fit a metric of
    ``kind`` ("trend", "rate", "gauge") and ``unit`` ("s" for a duration gauge)."""
    agg = threshold.label
    if kind == "trend":
        if threshold.aggregation == "value":
            raise ValueError(f"{name} is a trend: 'value' applies to gauges; use p(N), med, avg, min, "
                             "max, count or rate")
    elif kind == "rate":
        if threshold.aggregation not in ("rate", "count"):
            raise ValueError(f"{name} is a rate: use rate or count, not {agg}")
    elif kind == "gauge":
        if threshold.aggregation == "rate":
            raise ValueError(f"{name} is a gauge: use value, min, max, avg, med, p(N) or count")
        if threshold.timed and unit != "s":
            raise ValueError(f"{name} is a count, not a duration: compare {agg} with a plain number")


def _aggregate(metric: Metric, threshold: Threshold) -> float:
    agg = threshold.aggregation
    if agg == "count":
        return float(metric.count)
    if agg == "rate":
        return metric.rate  # type: ignore[union-attr]
    if isinstance(metric, Gauge):
        return _of_values(metric.values(), threshold)
    assert isinstance(metric, Trend), f"{threshold.label} applies to trends and gauges"
    return _of_histogram(metric.histogram, threshold)


def _of_histogram(h: Histogram, threshold: Threshold) -> float:
    agg = threshold.aggregation
    if agg == "p":
        return h.percentile(threshold.percentile)  # type: ignore[arg-type]
    if agg == "med":
        return h.percentile(50)
    return {"avg": h.mean, "min": h.min, "max": h.max}[agg]


def _of_values(values: list[float], threshold: Threshold) -> float:
    agg = threshold.aggregation
    if agg == "value":
        return values[-1]
    if agg in ("p", "med"):
        p = 50.0 if agg == "med" else threshold.percentile
        return percentile_of_values(sorted(values), p)  # type: ignore[arg-type]
    if agg == "avg":
        return statistics.fmean(values)
    return min(values) if agg == "min" else max(values)


def _evaluate_windows(metric: Metric, threshold: Threshold, name: str) -> Verdict:
    check = OPERATORS[threshold.op]
    window = threshold.window
    assert window is not None
    observed_in: list[tuple[float, float]] = []  # (window start, observed)
    try:
        if isinstance(metric, Gauge):
            for start, values in metric.windows(window):
                if threshold.aggregation == "count":
                    observed_in.append((start, float(len(values))))
                else:
                    observed_in.append((start, _of_values(values, threshold)))
        else:
            for w in metric.windows(window):
                if threshold.aggregation == "count":
                    observed_in.append((w.start, float(w.total)))
                elif threshold.aggregation == "rate":
                    observed_in.append((w.start, w.rate))
                elif w.histogram is not None and w.histogram.count:
                    observed_in.append((w.start, _of_histogram(w.histogram, threshold)))
    except ValueError as e:
        return Verdict(name, threshold.text, FAILED, None, "not applicable", str(e), note=threshold.note)
    if not observed_in:
        return Verdict(name, threshold.text, FAILED, None, "no data",
                       f"{name} recorded nothing in any window, so the SLO cannot pass", note=threshold.note)
    failing = [(s, v) for s, v in observed_in if not check(v, threshold.value)]
    # the worst window: furthest on the failing side of the threshold
    lower_is_worse = threshold.op in (">", ">=")
    pick = min if lower_is_worse else max
    start, observed = pick(failing or observed_in, key=lambda sv: sv[1])
    total = f"{len(observed_in)} window{'s' if len(observed_in) != 1 else ''}"
    began = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start))
    detail = (f"{len(failing)} of {total} failed; the worst began at {began} UTC"
              if failing else f"worst of {total}")
    return Verdict(name, threshold.text, FAILED if failing else PASSED, observed,
                   _format(threshold, metric, observed), detail, note=threshold.note,
                   samples=metric.count if isinstance(metric, Gauge) else None)


def evaluate_all(measurements: Measurements,
                 slos: Mapping[str, str | Iterable[str]]) -> list[Verdict]:
    """Judge ``{metric name: expression or [expressions]}`` on (merged) measurements, in order;
    a metric the measurements declare unmeasurable is not measured when it recorded nothing."""
    verdicts = []
    for name, expressions in slos.items():
        for expression in [expressions] if isinstance(expressions, str) else expressions:
            verdicts.append(evaluate(measurements.metric(name), expression, name,
                                     measurements.unmeasured.get(name)))
    return verdicts


# -- formatting ------------------------------------------------------------------------------------
def format_duration(seconds: float) -> str:
    """Seconds in the unit that reads best: ``148.2ms``, ``2.5s``, ``1.2m``."""
    if math.isnan(seconds):
        return "nan"
    magnitude = abs(seconds)
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if magnitude >= size * (2 if unit in ("h", "m") else 1):
            return f"{seconds / size:.4g}{unit}"
    return f"{seconds / 1e-9:.4g}ns"


def _format(threshold: Threshold, metric: Metric, observed: float) -> str:
    label = threshold.label
    if threshold.aggregation == "count":
        return f"{label}={int(observed)}"
    if threshold.aggregation == "rate":
        return f"{label}={observed:.6g}"
    if isinstance(metric, Gauge) and metric.unit != "s":
        return f"{label}={observed:g}"
    return f"{label}={format_duration(observed)}"
