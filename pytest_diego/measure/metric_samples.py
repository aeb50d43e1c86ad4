"""Diego's metrics as typed samples, whoever published them: names, units, who emitted them.

Diego's components send Loggregator envelopes; what an operator can read is a republication:

- the **metrics agent** (one per VM, Prometheus text): Diego's own names, sanitized
  (``Domain.cf-apps`` → ``Domain_cf_apps``), a ``unit`` label on gauges;
- the **firehose exporter** (bosh-prometheus): ``<namespace>_value_metric_<origin>_<snake_name>``
  for gauges and ``<namespace>_counter_event_<origin>_<snake_name>_total`` for counters, where
  ``snake_name`` is the name with every character but letters and digits made ``_`` and then
  snake-cased the way Go's strcase does (``ConvergenceLRPDuration`` → ``convergence_lrp_duration``,
  ``LRPsRunning`` → ``lr_ps_running``); units unchanged, in a ``unit`` label;
- a **Prometheus server** scraping either: the same names, as stored.

``MetricNames`` maps every published form of the wanted Diego names back to Diego's name, and
``to_sample`` turns a published value into a ``MetricSample`` in SI units:

==========  ==============================  =======================
unit label  value                           ``MetricSample.unit``
==========  ==============================  =======================
``nanos``   divided by 1e9 (seconds)        ``s``
``Metric``  unchanged (a count)             ``""``
``MiB``     unchanged (Diego's capacity)    ``MiB``
(none)      unchanged; a ``...Duration``    ``s`` for durations,
            is taken as seconds             ``""`` otherwise
==========  ==============================  =======================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pytest_diego.measure import names

NANOS = 1e-9
DIEGO_ORIGINS = ("bbs", "locket", "auctioneer", "rep", "route_emitter")
DEFAULT_NAMESPACE = "firehose"


@dataclass(frozen=True, eq=False)
class MetricSample:
    """One published value of a Diego metric, in SI units.

    ``timestamp`` is the sample's own time (Unix seconds) when its publisher gives one (a
    timestamp on an exposition line); None when it does not (the metrics agent never does, and a
    Prometheus instant query only gives its evaluation time).
    """

    name: str  # Diego's name
    value: float
    unit: str  # "s", "MiB" or "" (a count)
    kind: str  # "gauge" or "counter" (a running total)
    labels: Mapping[str, str] = field(default_factory=dict)
    timestamp: float | None = None

    @property
    def origin(self) -> str:
        """The emitting component: ``source_id`` (metrics agent) or ``origin`` (firehose)."""
        return self.labels.get("source_id") or self.labels.get("origin") or ""

    @property
    def instance(self) -> str:
        """The emitting instance: ``instance_id`` (the cell id for reps) or BOSH's job id."""
        return self.labels.get("instance_id") or self.labels.get("bosh_job_id") or ""


@dataclass(frozen=True)
class Scrape:
    """What one read of a source gave: the wanted samples, and when it was read."""

    observed_at: float
    samples: list[MetricSample]


class MetricsSource(Protocol):
    """Where Diego's metrics come from: a Prometheus text endpoint or a Prometheus server."""

    @property
    def url(self) -> str:
        """The source's URL without credentials, for messages and per-source failure counts."""
        ...

    def scrape(self, wanted: MetricNames) -> Scrape: ...

    def close(self) -> None: ...


def sanitize(name: str) -> str:
    """The metrics agent's form of a Diego name: anything but letters, digits and ``_`` → ``_``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def snake_case(name: str) -> str:
    """The firehose exporter's normalization: non-alphanumerics → ``_``, then Go strcase's ToSnake."""
    s = re.sub(r"[^0-9A-Za-z]", "_", name).strip()
    out: list[str] = []
    for i, c in enumerate(s):
        is_cap, is_low, is_num = c.isupper(), c.islower(), c.isdigit()
        low = c.lower()
        if i + 1 < len(s):
            n = s[i + 1]
            n_cap, n_low, n_num = n.isupper(), n.islower(), n.isdigit()
            case_changes = ((is_cap and (n_low or n_num)) or (is_low and (n_cap or n_num))
                            or (is_num and (n_cap or n_low)))
            if case_changes:
                if is_cap and n_low and i > 0 and s[i - 1].isupper():
                    out.append("_")
                out.append(low)
                if is_low or is_num or n_num:
                    out.append("_")
                continue
        out.append("_" if c in " _-." else low)
    return "".join(out)


def exporter_names(name: str, namespace: str = DEFAULT_NAMESPACE,
                   origins: Iterable[str] = DIEGO_ORIGINS) -> dict[str, str]:
    """The firehose exporter's names for Diego's ``name`` from each origin → ``"gauge"``/``"counter"``.

    Counter names are given without the ``_total`` suffix (see ``MetricNames.diego_name``).
    """
    snake = snake_case(name)
    result = {}
    for origin in origins:
        result[f"{namespace}_value_metric_{origin}_{snake}"] = "gauge"
        result[f"{namespace}_counter_event_{origin}_{snake}"] = "counter"
    return result


class MetricNames:
    """The Diego names a sampler wants, and every published name that stands for one of them."""

    def __init__(self, wanted: Iterable[str], namespace: str = DEFAULT_NAMESPACE) -> None:
        self.wanted = frozenset(wanted)
        self.namespace = namespace
        self._diego: dict[str, tuple[str, str | None]] = {}  # published -> (Diego name, kind)
        for name in sorted(self.wanted):
            self._diego[name] = (name, None)
            self._diego[sanitize(name)] = (name, None)
            for published, kind in exporter_names(name, namespace).items():
                self._diego[published] = (name, kind)

    def diego_name(self, published: str) -> tuple[str, str | None] | None:
        """(Diego name, kind implied by the name or None) for a published name, or None if unwanted."""
        found = self._diego.get(published)
        if found is None and published.endswith("_total"):
            found = self._diego.get(published[: -len("_total")])
        return found

    def promql_selector(self, extra_matchers: str = "") -> str:
        """An instant-vector selector for every published form (Diego's and the exporter's)."""
        diego = sorted({sanitize(n) for n in self.wanted})
        snakes = sorted({snake_case(n) for n in self.wanted})
        pattern = (f"{'|'.join(diego)}|{self.namespace}_(value_metric|counter_event)_"
                   f"({'|'.join(DIEGO_ORIGINS)})_({'|'.join(snakes)})(_total)?")
        matchers = f'__name__=~"{pattern}"'
        if extra_matchers.strip():
            matchers += "," + extra_matchers.strip()
        return "{" + matchers + "}"


def to_sample(name: str, kind: str, value: float, labels: Mapping[str, str],
              timestamp: float | None = None) -> MetricSample:
    """A published value as a ``MetricSample`` in SI units (see the module doc's table)."""
    unit_label = labels.get("unit")
    if unit_label == "nanos":
        value, unit = value * NANOS, "s"
    elif unit_label == "MiB":
        unit = "MiB"
    elif unit_label is None and kind == "gauge" and names.is_duration(name):
        unit = "s"
    else:
        unit = ""
    return MetricSample(name, value, unit, kind, dict(labels), timestamp)
