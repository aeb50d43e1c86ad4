"""Diego's metrics as Loggregator's metrics agent publishes them, for every embedded ``/metrics``.

A real Diego's components send Loggregator envelopes and the metrics agent on each VM publishes
them as Prometheus text (``docs/diego-facts.md`` §13.2). The embedded components publish
that same text themselves, so the sampler reads both targets with one parser
(``pytest_diego.measure.prometheus_text``):

- one family per metric: ``# HELP <name> Metrics Agent collected metric``, then ``# TYPE``;
- the name sanitized (anything but letters, digits and ``_`` becomes ``_``: ``Domain.cf-apps`` →
  ``Domain_cf_apps``), the original name base64-encoded in the ``loggregator_name`` label;
- the agent's labels, sorted: ``deployment``, ``index``, ``instance_group``, ``instance_id`` (the
  component's id; the cell id for reps), ``ip``, ``job``, ``origin`` and ``source_id`` (``bbs``,
  ``rep``, ``auctioneer``, ``route_emitter``, ``gorouter``), plus the metric's own (``zone`` on rep
  capacity);
- gauges carry ``unit``: ``nanos`` for durations (recorded in seconds, published as integer
  nanoseconds), ``MiB`` for capacity memory and disk, ``Metric`` for counts; counters are running
  totals, without ``unit`` and without a ``_total`` suffix;
- values are written as Go writes them (``2.1217044e+07``, ``6``).

``registry_points`` turns a prometheus_client registry (what the BBS, auctioneer, route emitter
and router record into) into points; a labelled sample becomes Diego's dotted name
(``RequestCount{route="DesireTask"}`` → ``RequestCount.DesireTask``). Cells build points
directly, without prometheus_client, to keep their start cheap.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

DEPLOYMENT = "pytest-diego"
INSTANCE_GROUP = "diego"
HELP = "Metrics Agent collected metric"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NANOS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class Publisher:
    """Who emits: the labels the metrics agent adds to every metric of one component instance."""

    source_id: str
    instance_id: str
    ip: str = "127.0.0.1"
    index: str = "0"
    deployment: str = DEPLOYMENT

    def labels(self) -> dict[str, str]:
        return {"deployment": self.deployment, "index": self.index, "instance_group": INSTANCE_GROUP,
                "instance_id": self.instance_id, "ip": self.ip, "job": INSTANCE_GROUP,
                "origin": self.source_id, "source_id": self.source_id}


@dataclass(frozen=True)
class Point:
    """One metric value under Diego's name; durations in seconds, memory and disk in MiB."""

    name: str
    kind: str  # "gauge" or "counter"
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


def unit_of(name: str) -> str:
    """The ``unit`` Diego gives a gauge: ``nanos`` for durations, ``MiB`` for capacity, else ``Metric``."""
    base = name.split(".", 1)[0]
    if base.endswith("Duration") or base in ("RequestLatency", "RequestLatencyMax"):
        return "nanos"
    if base.startswith(("CapacityRemaining", "CapacityTotal")) and base.endswith(("Memory", "Disk")):
        return "MiB"
    return "Metric"


def sanitize(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name)


def go_float(value: float) -> str:
    """``value`` as Prometheus' Go client writes it (``strconv.FormatFloat(v, 'g', -1, 64)``)."""
    if value == 0 or value in (1, -1):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # digits before the decimal point
    exp10 = point - 1
    text = ""
    if exp10 < -4 or exp10 >= 6:  # Go's %e threshold for the shortest representation
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text = f"{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    elif point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if sign else "") + text


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(publisher: Publisher, points: Iterable[Point]) -> bytes:
    """The metrics agent's exposition of ``points`` published by ``publisher``."""
    families: dict[str, tuple[str, list[str]]] = {}
    base = publisher.labels()
    for point in points:
        published = sanitize(point.name)
        labels = {**base, **point.labels,
                  "loggregator_name": base64.b64encode(point.name.encode()).decode()}
        value = point.value
        if point.kind == "gauge":
            labels["unit"] = unit = unit_of(point.name)
            if unit == "nanos":
                value = float(round(value * NANOS_PER_SECOND))
        text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
        kind, lines = families.setdefault(published, (point.kind, []))
        lines.append(f"{published}{{{text}}} {go_float(value)}")
    out = []
    for published, (kind, lines) in families.items():
        out += [f"# HELP {published} {HELP}", f"# TYPE {published} {kind}", *lines]
    return ("\n".join(out) + "\n").encode() if out else b""


def registry_points(registry: Any) -> list[Point]:
    """The samples of a prometheus_client registry as points (labelled ones get dotted names)."""
    points = []
    for family in registry.collect():
        kind = "counter" if family.type == "counter" else "gauge"
        for sample in family.samples:
            if kind == "counter" and sample.name != family.name + "_total":
                continue  # _created
            if len(sample.labels) > 1:
                raise ValueError(f"{family.name}: a metric published to the agent takes at most one "
                                 f"label (it becomes part of the name), got {sample.labels}")
            suffix = "".join(f".{v}" for v in sample.labels.values())
            points.append(Point(family.name + suffix, kind, float(sample.value)))
    return points
