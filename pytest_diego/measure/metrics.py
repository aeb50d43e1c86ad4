"""The three metric kinds every measurement is kept in: Trend, Rate and Gauge.

- ``Trend``: a latency histogram plus outcome counts (``rate`` is the share that succeeded)
  plus time-bucketed copies of both, so SLOs can be judged over every window of a run.
- ``Rate``: successes out of attempts, failures by type, time-bucketed the same way.
- ``Gauge``: a time series of sampled values ``[(t, value)]``.

Time buckets start at ``width`` seconds (default 1 s), aligned to the Unix epoch so workers'
buckets line up. When a run outgrows ``max_windows`` buckets, the buckets are coarsened along
``WIDTHS`` (each width a multiple of the one before), and buckets time has left behind keep
their histograms serialized, so memory stays bounded however long the run. All kinds merge
associatively and commutatively and round-trip through ``to_dict``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pytest_diego.measure.histogram import NS, Histogram

WIDTHS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_WINDOWS = 360


@dataclass
class Bucket:
    """One time bucket: outcome counts and, for trends, the latencies recorded in it.

    A bucket time has moved past is *frozen*: its histogram is kept in its compact serialized
    form (a few hundred bytes instead of tens of KB), so hundreds of window buckets stay small.
    A late sample thaws it.
    """

    ok: int = 0
    total: int = 0
    histogram: Histogram | None = None
    frozen: dict[str, Any] | None = None

    def thaw(self) -> Histogram:
        """The live histogram, decoding a frozen one (or starting one) first."""
        if self.histogram is None:
            self.histogram = Histogram.from_dict(self.frozen) if self.frozen else Histogram()
            self.frozen = None
        return self.histogram

    def freeze(self) -> None:
        if self.histogram is not None:
            self.frozen, self.histogram = self.histogram.to_dict(), None

    def view(self) -> Histogram | None:
        """The latencies, decoded without keeping the decoded copy."""
        if self.frozen is not None:
            return Histogram.from_dict(self.frozen)
        return self.histogram

    def merge(self, other: Bucket) -> None:
        self.ok += other.ok
        self.total += other.total
        theirs = other.view()
        if theirs is not None:
            self.thaw().merge(theirs)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": self.ok, "total": self.total}
        if self.frozen is not None:
            data["histogram"] = self.frozen
        elif self.histogram is not None:
            data["histogram"] = self.histogram.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bucket:
        return cls(int(data["ok"]), int(data["total"]), frozen=data.get("histogram"))


@dataclass
class Window:
    """What a window of ``width`` seconds starting at ``start`` saw (a view, for SLOs)."""

    start: float
    width: float
    ok: int
    total: int
    histogram: Histogram | None

    @property
    def rate(self) -> float:
        return self.ok / self.total if self.total else math.nan


class TimeBuckets:
    """Outcomes (and latencies) per epoch-aligned time bucket, at most ``max_windows`` of them."""

    def __init__(self, width: float = WIDTHS[0], max_windows: int = MAX_WINDOWS) -> None:
        if width not in WIDTHS:
            raise ValueError(f"time bucket width {width!r} s is not one of {WIDTHS}")
        self.width = width
        self.max_windows = max_windows
        self.buckets: dict[int, Bucket] = {}

    def bucket_at(self, t: float, with_histogram: bool) -> Bucket:
        key = int(t // self.width)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket(histogram=Histogram() if with_histogram else None)
            if len(self.buckets) > self.max_windows:
                self._coarsen()
                bucket = self.buckets[int(t // self.width)]
            self.freeze_before(key - 1)
        return bucket

    def freeze_before(self, key: int) -> None:
        """Freeze every bucket older than ``key`` (time has moved on; late samples thaw)."""
        for old in [k for k, b in self.buckets.items() if k < key and b.histogram is not None]:
            self.buckets[old].freeze()

    def _coarsen(self) -> None:
        keys = list(self.buckets)
        span = (max(keys) - min(keys) + 1) * self.width
        for width in WIDTHS:
            if width > self.width and span / width <= self.max_windows:
                self.coarsen_to(width)
                return
        self.coarsen_to(WIDTHS[-1])

    def coarsen_to(self, width: float) -> None:
        """Regroup into ``width``-second buckets (a multiple of the current width)."""
        if width == self.width:
            return
        if width < self.width or width % self.width:
            raise ValueError(f"cannot regroup {self.width} s buckets into {width} s buckets")
        factor = int(width // self.width)
        regrouped: dict[int, Bucket] = {}
        for key, bucket in self.buckets.items():
            target = regrouped.setdefault(key // factor, Bucket())
            target.merge(bucket)
        self.width, self.buckets = width, regrouped
        if regrouped:
            self.freeze_before(max(regrouped) - 1)

    def merge(self, other: TimeBuckets) -> None:
        other_buckets = other.buckets
        if other.width < self.width:
            copy = TimeBuckets(other.width, other.max_windows)
            copy.merge(other)
            copy.coarsen_to(self.width)
            other_buckets = copy.buckets
        elif other.width > self.width:
            self.coarsen_to(other.width)
        for key, bucket in other_buckets.items():
            self.buckets.setdefault(key, Bucket()).merge(bucket)
        self.max_windows = max(self.max_windows, other.max_windows)
        if len(self.buckets) > self.max_windows:
            self._coarsen()
        if self.buckets:
            self.freeze_before(max(self.buckets) - 1)

    def windows(self, seconds: float) -> Iterator[Window]:
        """Every window of ``seconds`` sliding one bucket at a time over the recorded span.

        A run shorter than ``seconds`` gives one window covering the whole run. Windows that
        saw nothing are skipped.
        """
        if seconds < self.width or not math.isclose(seconds / self.width, round(seconds / self.width)):
            raise ValueError(
                f"a {_fmt_seconds(seconds)} window needs time buckets that divide it, but this "
                f"metric's buckets are {_fmt_seconds(self.width)} wide (long runs coarsen them to "
                f"stay bounded); use a window that is a multiple of {_fmt_seconds(self.width)}")
        if not self.buckets:
            return
        n = round(seconds / self.width)
        first, last = min(self.buckets), max(self.buckets)
        starts = range(first, max(first, last - n + 1) + 1)
        rolling = _Rolling()
        for key in range(first, min(first + n, last + 1)):
            rolling.add(key, self.buckets.get(key))
        for start in starts:
            if start > first:
                rolling.remove(start - 1, self.buckets.get(start - 1))
                rolling.add(start + n - 1, self.buckets.get(start + n - 1))
            if rolling.total:
                yield rolling.window(start * self.width, n * self.width)

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.width, "max_windows": self.max_windows,
                "buckets": {str(k): b.to_dict() for k, b in sorted(self.buckets.items())}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimeBuckets:
        tb = cls(data["width"], int(data["max_windows"]))
        tb.buckets = {int(k): Bucket.from_dict(v) for k, v in data["buckets"].items()}
        return tb


class _Rolling:
    """A sliding sum of buckets: add the bucket entering the window, remove the one leaving."""

    def __init__(self) -> None:
        self.ok = 0
        self.total = 0
        self.counts: dict[int, int] = {}
        self.sum_ns = 0
        self.has_latencies = False
        self.extremes: dict[int, tuple[int, int, int]] = {}  # bucket key -> count, min, max

    def add(self, key: int, bucket: Bucket | None) -> None:
        self._apply(key, bucket, 1)

    def remove(self, key: int, bucket: Bucket | None) -> None:
        self._apply(key, bucket, -1)

    def _apply(self, key: int, bucket: Bucket | None, sign: int) -> None:
        if bucket is None:
            return
        self.ok += sign * bucket.ok
        self.total += sign * bucket.total
        h = bucket.view()
        if h is None:
            return
        self.has_latencies = True
        self.sum_ns += sign * h.sum_ns
        if sign > 0 and h.count:
            self.extremes[key] = (h.count, h.min_ns, h.max_ns)
        else:
            self.extremes.pop(key, None)
        for index, n in h.buckets():
            left = self.counts.get(index, 0) + sign * n
            if left:
                self.counts[index] = left
            else:
                self.counts.pop(index, None)

    def window(self, start: float, width: float) -> Window:
        histogram = None
        if self.has_latencies:
            histogram = Histogram()
            if self.extremes:
                histogram._counts = dict(self.counts)
                histogram.count = sum(c for c, _, _ in self.extremes.values())
                histogram.sum_ns = self.sum_ns
                histogram.min_ns = min(lo for _, lo, _ in self.extremes.values())
                histogram.max_ns = max(hi for _, _, hi in self.extremes.values())
        return Window(start, width, self.ok, self.total, histogram)


class Rate:
    """Successes out of attempts, with failures by type; ``rate`` is the success share."""

    kind = "rate"

    def __init__(self, width: float = WIDTHS[0], max_windows: int = MAX_WINDOWS) -> None:
        self.ok = 0
        self.total = 0
        self.failures: dict[str, int] = {}
        self.time_buckets = TimeBuckets(width, max_windows)
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return self.total

    @property
    def rate(self) -> float:
        return self.ok / self.total if self.total else math.nan

    def add(self, t: float, outcome: str = "ok") -> None:
        """Count one attempt at time ``t`` whose outcome is ``"ok"`` or a failure type."""
        with self._lock:
            self._count(t, outcome)

    def _count(self, t: float, outcome: str) -> None:
        bucket = self.time_buckets.bucket_at(t, False)
        bucket.total += 1
        self.total += 1
        if outcome == "ok":
            bucket.ok += 1
            self.ok += 1
        else:
            self.failures[outcome] = self.failures.get(outcome, 0) + 1

    def merge(self, other: Rate) -> Rate:
        if type(other) is not type(self):
            raise TypeError(f"cannot merge a {other.kind} into a {self.kind}")
        self.ok += other.ok
        self.total += other.total
        for name, n in other.failures.items():
            self.failures[name] = self.failures.get(name, 0) + n
        self.time_buckets.merge(other.time_buckets)
        return self

    def windows(self, seconds: float) -> Iterator[Window]:
        return self.time_buckets.windows(seconds)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ok": self.ok, "total": self.total,
                "failures": dict(sorted(self.failures.items())),
                "time_buckets": self.time_buckets.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rate:
        metric = cls()
        metric.ok, metric.total = int(data["ok"]), int(data["total"])
        metric.failures = {k: int(v) for k, v in data["failures"].items()}
        metric.time_buckets = TimeBuckets.from_dict(data["time_buckets"])
        return metric


class Trend(Rate):
    """Latencies (seconds) in a mergeable histogram, with outcomes and per-bucket copies.

    ``record`` is thread-safe: the client's observer calls it from every load thread.
    """

    kind = "trend"

    def __init__(self, width: float = WIDTHS[0], max_windows: int = MAX_WINDOWS) -> None:
        super().__init__(width, max_windows)
        self.histogram = Histogram()

    def record(self, t: float, seconds: float, outcome: str = "ok") -> None:
        """Record one operation ending at time ``t`` that took ``seconds``."""
        ns = int(seconds * NS) if seconds > 0 else 0
        buckets = self.time_buckets
        with self._lock:
            self.histogram.record_ns(ns)
            bucket = buckets.buckets.get(int(t // buckets.width)) or buckets.bucket_at(t, True)
            bucket.total += 1
            self.total += 1
            if outcome == "ok":
                bucket.ok += 1
                self.ok += 1
            else:
                self.failures[outcome] = self.failures.get(outcome, 0) + 1
            live = bucket.histogram
            (live if live is not None else bucket.thaw()).record_ns(ns)

    def add(self, t: float, outcome: str = "ok") -> None:
        raise TypeError("a Trend records latencies: call record(t, seconds, outcome)")

    def percentile(self, p: float) -> float:
        return self.histogram.percentile(p)

    def merge(self, other: Rate) -> Trend:
        super().merge(other)
        self.histogram.merge(other.histogram)  # type: ignore[attr-defined]
        return self

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "histogram": self.histogram.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trend:
        metric = super().from_dict(data)
        assert isinstance(metric, Trend)
        metric.histogram = Histogram.from_dict(data["histogram"])
        return metric


@dataclass
class Gauge:
    """A sampled time series ``[(t, value)]``, e.g. LRPsRunning or ConvergenceLRPDuration.

    ``unit`` is ``"s"`` for durations (SLO values then take time units) or ``""`` for counts.
    Samples are bounded by the sampler: one per interval, never per request.
    """

    unit: str = ""
    samples: list[tuple[float, float]] = field(default_factory=list)
    kind = "gauge"

    def add(self, t: float, value: float) -> None:
        self.samples.append((float(t), float(value)))

    @property
    def count(self) -> int:
        return len(self.samples)

    def values(self) -> list[float]:
        return [v for _, v in self.samples]

    def merge(self, other: Gauge) -> Gauge:
        if not isinstance(other, Gauge):
            raise TypeError(f"cannot merge a {other.kind} into a gauge")
        self.samples = sorted(self.samples + other.samples)
        self.unit = self.unit or other.unit
        return self

    def windows(self, seconds: float) -> Iterator[tuple[float, list[float]]]:
        """Sample values in every window of ``seconds``, sliding from each sample."""
        samples = sorted(self.samples)
        if not samples:
            return
        if samples[-1][0] - samples[0][0] < seconds:
            yield samples[0][0], [v for _, v in samples]
            return
        j = 0
        for i, (start, _) in enumerate(samples):
            if start + seconds > samples[-1][0] + 1e-9:
                break
            j = max(j, i)
            while j < len(samples) and samples[j][0] < start + seconds:
                j += 1
            yield start, [v for _, v in samples[i:j]]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "unit": self.unit, "samples": [list(s) for s in self.samples]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Gauge:
        return cls(data.get("unit", ""), [(float(t), float(v)) for t, v in data["samples"]])


def _fmt_seconds(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
