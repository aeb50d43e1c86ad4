"""A mergeable, bounded, log-linear latency histogram (HdrHistogram's bucket layout, sparse).

Why not keep samples (k6 #763/#1068) or round to 2 digits (Locust #331)? Neither is both
bounded and exact enough. Why not ``hdrh`` itself? It records at ~1.8 µs per value and holds a
dense array per histogram, which is too heavy for the per-second window histograms that
windowed SLOs need; this keeps HdrHistogram's layout in a sparse dict instead.

Values are recorded as integer nanoseconds. Values below 256 ns are exact; above, each power of
two is split into 128 equal buckets, so a bucket is at most 1/128 of its lower bound wide.

**Stated error.** A percentile is reported as the midpoint of the bucket holding the sample of
that rank, clamped to the exact recorded min and max. The reported value is within 0.5% of the
true sample (half a bucket plus 1 ns of truncation) for any value from 1 µs up; the claim is
1%, tested against numpy in ``tests/measure``. ``p(0)`` is the exact min and ``p(100)`` the
exact max, so p99 never exceeds max (Locust #255).

**Percentile definition.** numpy's ``method="inverted_cdf"``: the value of rank
``ceil(p/100 * count)`` (at least 1) in sorted order.

**Memory.** At most 128 buckets per power of two in use: every bucket from 1 µs to 1 h (32
powers of two) is about 4,100 buckets, ~280 KB in memory (measured with tracemalloc) and under
1 KB serialized; a real run's latencies span a few decades and use a fraction of that. Merging
adds counts, so it is associative and commutative, and merging N histograms equals one that
saw every sample.
"""

from __future__ import annotations

import base64
import itertools
import math
import sys
import zlib
from array import array
from collections.abc import Iterable
from typing import Any

_SUB_BITS = 7  # 128 buckets per power of two: relative bucket width <= 1/128
_EXACT = 1 << (_SUB_BITS + 1)  # values below 256 ns are their own bucket
NS = 1_000_000_000
RELATIVE_ERROR = 0.01


def bucket_index(ns: int) -> int:
    """The bucket holding ``ns`` nanoseconds (HdrHistogram's index for 128 sub-buckets)."""
    if ns < _EXACT:
        return ns if ns > 0 else 0
    shift = ns.bit_length() - (_SUB_BITS + 1)
    return (shift << _SUB_BITS) + (ns >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The lowest and highest nanosecond values that fall in bucket ``index``."""
    if index < _EXACT:
        return index, index
    shift = (index >> _SUB_BITS) - 1
    mantissa = index - (shift << _SUB_BITS)
    low = mantissa << shift
    return low, low + (1 << shift) - 1


class Histogram:
    """Latency counts in log-linear buckets; record seconds, read percentiles in seconds.

    Not thread-safe on its own: the owners (``Trend``) record under a lock.
    """

    __slots__ = ("_counts", "count", "max_ns", "min_ns", "sum_ns")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self.count = 0
        self.sum_ns = 0
        self.min_ns = 0
        self.max_ns = 0

    def record(self, seconds: float) -> None:
        """Record one latency in seconds; negative values (clock steps) count as 0."""
        ns = int(seconds * NS) if seconds > 0 else 0
        self.record_ns(ns)

    def record_ns(self, ns: int, n: int = 1) -> None:
        if ns < _EXACT:
            index = ns
        else:
            shift = ns.bit_length() - (_SUB_BITS + 1)
            index = (shift << _SUB_BITS) + (ns >> shift)
        counts = self._counts
        counts[index] = counts.get(index, 0) + n
        if self.count == 0:
            self.min_ns = self.max_ns = ns
        elif ns < self.min_ns:
            self.min_ns = ns
        elif ns > self.max_ns:
            self.max_ns = ns
        self.count += n
        self.sum_ns += ns * n

    # -- reading ----------------------------------------------------------------------------
    def percentile(self, p: float) -> float:
        """The value at percentile ``p`` (0..100), numpy ``inverted_cdf``; seconds."""
        if not 0 <= p <= 100:
            raise ValueError(f"percentile {p} is outside 0..100")
        if self.count == 0:
            raise ValueError("percentile of an empty histogram: nothing was recorded")
        rank = max(1, math.ceil(p / 100 * self.count))
        if rank >= self.count:
            return self.max_ns / NS
        if rank == 1:
            return self.min_ns / NS
        seen = 0
        for index in sorted(self._counts):
            seen += self._counts[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                mid = (low + high) / 2
                return min(max(mid, self.min_ns), self.max_ns) / NS
        raise AssertionError("unreachable: counts sum below count")  # pragma: no cover

    @property
    def min(self) -> float:
        return self.min_ns / NS

    @property
    def max(self) -> float:
        return self.max_ns / NS

    @property
    def mean(self) -> float:
        return self.sum_ns / self.count / NS if self.count else math.nan

    def buckets(self) -> Iterable[tuple[int, int]]:
        """(bucket index, count) pairs in index order, for plotting and tests."""
        return sorted(self._counts.items())

    def __len__(self) -> int:
        return len(self._counts)

    # -- merging and serialization ------------------------------------------------------------
    def merge(self, other: Histogram) -> Histogram:
        """Add ``other``'s counts into this histogram (in place) and return it."""
        if other.count == 0:
            return self
        counts = self._counts
        for index, n in other._counts.items():
            counts[index] = counts.get(index, 0) + n
        if self.count == 0:
            self.min_ns, self.max_ns = other.min_ns, other.max_ns
        else:
            self.min_ns = min(self.min_ns, other.min_ns)
            self.max_ns = max(self.max_ns, other.max_ns)
        self.count += other.count
        self.sum_ns += other.sum_ns
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return (self._counts, self.count, self.sum_ns, self.min_ns, self.max_ns) == (
            other._counts, other.count, other.sum_ns, other.min_ns, other.max_ns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: counts as base64(zlib(little-endian int64 index deltas, then counts))."""
        indexes = sorted(self._counts)
        deltas = array("q", (b - a for a, b in zip([0, *indexes], indexes, strict=False)))
        counts = array("q", (self._counts[i] for i in indexes))
        if sys.byteorder == "big":  # pragma: no cover - the wire format is little-endian
            deltas.byteswap()
            counts.byteswap()
        raw = zlib.compress(deltas.tobytes() + counts.tobytes())
        return {"count": self.count, "sum_ns": self.sum_ns, "min_ns": self.min_ns,
                "max_ns": self.max_ns, "counts": base64.b64encode(raw).decode()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        h = cls()
        values = array("q")
        values.frombytes(zlib.decompress(base64.b64decode(data["counts"])))
        if sys.byteorder == "big":  # pragma: no cover
            values.byteswap()
        half = len(values) // 2
        h._counts = dict(zip(itertools.accumulate(values[:half]), values[half:], strict=True))
        h.count, h.sum_ns = int(data["count"]), int(data["sum_ns"])
        h.min_ns, h.max_ns = int(data["min_ns"]), int(data["max_ns"])
        if sum(h._counts.values()) != h.count:
            raise ValueError("histogram data is corrupt: bucket counts do not add up to count")
        return h



SPECTRUM_DECADES = 5  # up to p99.999, the right edge of HdrHistogram's percentile plots
SPECTRUM_STEPS = 5  # points per decade of 1/(1-q)


def spectrum(histogram: Histogram) -> list[list[float]]:
    """The percentile spectrum: ``[percentile, seconds]`` points for HdrHistogram's percentile
    distribution plot, evenly spaced in log(1/(1-q)) from p0 (the min) to p99.999.

    It stops early at the first point whose rank is the last sample (its value is the max): past
    it, every percentile is the max, so more points would say nothing. At most 26 points, so
    results.json stays small however many samples the histogram holds.
    """
    if histogram.count == 0:
        return []
    points = []
    for step in range(SPECTRUM_DECADES * SPECTRUM_STEPS + 1):
        q = round(100.0 * (1.0 - 10.0 ** (-step / SPECTRUM_STEPS)), 6)
        points.append([q, histogram.percentile(q)])
        if math.ceil(q / 100 * histogram.count) >= histogram.count:
            break
    return points
