"""Diego's loop durations and cluster gauges, sampled in the background while a scenario runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pytest_diego.measure.measurements import Measurements
from pytest_diego.measure.periodic import Periodic
from pytest_diego.measure.prometheus import MetricsSampler


@contextmanager
def sampling(urls: list[str], measurements: Measurements, interval: float) -> Iterator[None]:
    """Scrape ``urls`` every ``interval`` seconds into ``measurements`` until the block ends.

    One last sample is taken at the end, so even a short scenario has its final state.
    """
    if not urls:
        yield
        return
    sampler = MetricsSampler(urls, measurements)
    periodic = Periodic(sampler.sample, interval, name="diego-metrics").start()
    try:
        yield
    finally:
        periodic.stop()
        sampler.sample()
        sampler.close()
