"""What happened: histograms, request stats, timelines, route probes, loop durations, set checks.

Plain data with no pytest in it, so it can be used and tested on its own. The plugin's steps,
one call each::

    m = Measurements()
    client = BBSClient(url, observer=RequestRecorder(m))     # every request recorded
    ...                                                       # run the load
    shipped = m.to_dict()                                     # worker -> controller (JSON-able)
    merged = Measurements.merged(all_worker_dicts)            # controller
    verdicts = slo.evaluate_all(merged, {"RequestLatency": ["p(99) < 1s"]})

Metric names are listed in ``pytest_diego.measure.names``.
"""

from pytest_diego.measure.events import EventFollower
from pytest_diego.measure.histogram import RELATIVE_ERROR, Histogram
from pytest_diego.measure.http import EndpointError
from pytest_diego.measure.measurements import Measurements, Metric
from pytest_diego.measure.metrics import Gauge, Rate, Trend, Window
from pytest_diego.measure.perfchug import LagerLogError, LagerReader, read_lager_logs
from pytest_diego.measure.periodic import Periodic
from pytest_diego.measure.prometheus import MetricsSampler
from pytest_diego.measure.requests import RequestRecorder
from pytest_diego.measure.routes import AppProbe, RouteProber, sample_route_table
from pytest_diego.measure.setcheck import SetCheck, SetResult
from pytest_diego.measure.summary import summarize
from pytest_diego.measure.timeline import Timelines

__all__ = [
    "RELATIVE_ERROR",
    "AppProbe",
    "EndpointError",
    "EventFollower",
    "Gauge",
    "Histogram",
    "LagerLogError",
    "LagerReader",
    "Measurements",
    "Metric",
    "MetricsSampler",
    "Periodic",
    "Rate",
    "RequestRecorder",
    "RouteProber",
    "SetCheck",
    "SetResult",
    "Timelines",
    "Trend",
    "Window",
    "read_lager_logs",
    "sample_route_table",
    "summarize",
]
