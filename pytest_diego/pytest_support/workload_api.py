"""The ``workload`` fixture object: this process's shard of a scenario's load, already scaled.

``--diego-scale`` multiplies sizes and open-model rates; under xdist each worker is one shard
(``index`` of ``count``), so ``workload.share(1000)`` is this worker's part of 1000 and the
parts of all workers add up to exactly 1000, whatever the number of workers. The load runners
of ``pytest_diego.workload`` come pre-sharded and record into the scenario's measurements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pytest_diego.measure import names
from pytest_diego.measure.measurements import Measurements
from pytest_diego.pytest_support.status import StatusReporter
from pytest_diego.workload import App, ClosedModel, OpenModel, RunResult, app_mix
from pytest_diego.workload import shard as shard_items

T = TypeVar("T")


class Workload:
    """Sizes, shards and the live status line of one scenario in one process."""

    def __init__(self, name: str, index: int, count: int, scale: float, size: int | None,
                 duration: float | None, measurements: Measurements, status: StatusReporter | None,
                 sync: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.index = index
        self.count = count
        self.scale = scale
        self.size = self.scaled(size) if size is not None else None
        self.duration = duration
        self.measurements = measurements
        self._status = status
        self._sync = sync

    @property
    def leader(self) -> bool:
        """True on shard 0: the one that drives faults and one-off steps."""
        return self.index == 0

    def scaled(self, n: int) -> int:
        """``n`` times ``--diego-scale``, at least 1 for a positive ``n``."""
        return max(1, round(n * self.scale)) if n > 0 else 0

    def share(self, total: int) -> int:
        """This shard's part of ``total`` (the parts of all shards add up to ``total``)."""
        return total // self.count + (1 if self.index < total % self.count else 0)

    def shard(self, items: Sequence[T]) -> list[T]:
        """This shard's items: every ``count``-th one starting at ``index``."""
        return shard_items(items, self.index, self.count)

    def apps(self, batches: int, prefix: str = "mix") -> list[App]:
        """This shard's apps of Diego's app mix, ``batches`` scaled by ``--diego-scale``."""
        return self.shard(app_mix(self.scaled(batches), prefix))

    def run_open(self, op: Callable[[int], Any], rate: float | None = None, duration: float | None = None,
                 **options: Any) -> RunResult:
        """Run ``op(i)`` at ``rate`` per second (scaled; all shards together) for ``duration`` s,
        this shard's operations only, measured from their intended start (``OpenModel``)."""
        scaled = rate * self.scale if rate is not None else None
        model = OpenModel(scaled, duration, shard=(self.index, self.count), **options)
        return model.run(op, self.measurements)

    def run_closed(self, op: Callable[[int], Any], users: int, iterations: int | None = None,
                   duration: float | None = None, **options: Any) -> RunResult:
        """Run ``op(i)`` in ``users`` loops per shard (``ClosedModel``, service times only);
        ``iterations`` is the total over all shards."""
        model = ClosedModel(users, iterations, duration, shard=(self.index, self.count), **options)
        return model.run(op, self.measurements)

    def barrier(self, name: str) -> None:
        """Wait until every shard of this scenario reached the point ``name`` (a no-op with one
        shard), e.g. so no shard starts a fault window before every shard's apps are routable,
        or tears down while another is still measuring."""
        if self._sync is not None and self.count > 1:
            self._sync(name)

    def indices(self, total: int) -> range:
        """The global indices ``0..total-1`` this shard owns, e.g. for guids ``f"lrp-{i}"``."""
        return range(self.index, total, self.count)

    def status(self, **fields: Any) -> None:
        """Report live progress (``desired=``, ``running=``, ``crashed=``, ``routes=``); the
        current p99 of BBS requests is added. Shown at most once a second."""
        if self._status is None:
            return
        if "p99" not in fields:
            trend = self.measurements.metrics.get(names.REQUEST_LATENCY)
            histogram = getattr(trend, "histogram", None)
            if histogram is not None and histogram.count:
                fields["p99"] = histogram.percentile(99)
        self._status.update(**fields)

    def __repr__(self) -> str:
        size = "" if self.size is None else f", size={self.size}"
        duration = "" if self.duration is None else f", duration={self.duration:g}s"
        where = f"shard {self.index + 1}/{self.count}"
        return f"<Workload {self.name!r} {where}, scale={self.scale:g}{size}{duration}>"
