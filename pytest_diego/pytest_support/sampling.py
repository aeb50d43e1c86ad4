"""Diego's loop durations and cluster gauges, sampled in the background while a scenario runs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pytest_diego.measure.measurements import Measurements
from pytest_diego.measure.metric_samples import MetricsSource
from pytest_diego.measure.periodic import Periodic
from pytest_diego.measure.prometheus import MetricsSampler


@contextmanager
def sampling(sources: Sequence[MetricsSource], measurements: Measurements, interval: float) -> Iterator[None]:
    """Sample ``sources`` every ``interval`` seconds into ``measurements`` until the block ends;
    one last sample is taken at the end, so even a short scenario has its final state. The
    sampler closes the sources."""
    if not sources:
        yield
        return
    sampler = MetricsSampler(sources, measurements)
    periodic = Periodic(sampler.sample, interval, name="diego-metrics").start()
    try:
        yield
    finally:
        periodic.stop()
        sampler.sample()
        sampler.close()
