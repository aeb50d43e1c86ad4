"""What happened: histograms, request stats, timelines, crash restarts, route probes, loop
durations, set checks.

Plain data with no pytest in it, so it can be used and tested on its own. The plugin's steps,
one call each::

    m = Measurements()
    client = BBSClient(url, observer=RequestRecorder(m))     # every request recorded
    ...                                                       # run the load
    shipped = m.to_dict()                                     # worker -> controller (JSON-able)
    merged = Measurements.merged(all_worker_dicts)            # controller
    verdicts = slo.evaluate_all(merged, {"RequestLatency": ["p(99) < 1s"]})

Metric names are listed in ``pytest_diego.measure.names``; every metric an SLO names is defined in
``pytest_diego.measure.registry`` (``define_metric``). Routes and Diego's metrics come
from the sources an operator has: ``RouteTable`` (gorouter's status listener, ``route_table``),
``MetricsEndpoint`` (a metrics agent or any Prometheus text endpoint, ``prometheus_text``) and
``PrometheusQuery`` (a Prometheus server, ``prometheus_api``), sampled by ``MetricsSampler``
(``prometheus``, which documents names, units and what counts as a distinct sample).
"""

from pytest_diego.measure.crash_policy import CrashPolicy
from pytest_diego.measure.endpoint import EndpointConfigError
from pytest_diego.measure.events import EventFollower
from pytest_diego.measure.histogram import RELATIVE_ERROR, Histogram
from pytest_diego.measure.http import EndpointError
from pytest_diego.measure.measurements import Measurements, Metric
from pytest_diego.measure.metric_samples import MetricSample
from pytest_diego.measure.metrics import Gauge, Rate, Trend, Window
from pytest_diego.measure.perfchug import LagerLogError, LagerReader, read_lager_logs
from pytest_diego.measure.periodic import Periodic
from pytest_diego.measure.prometheus import MetricsSampler
from pytest_diego.measure.prometheus_api import PrometheusQuery
from pytest_diego.measure.prometheus_text import MetricsEndpoint
from pytest_diego.measure.registry import REGISTRY, MetricSpec, UnknownMetric, define_metric
from pytest_diego.measure.requests import RequestRecorder
from pytest_diego.measure.route_table import AppRoutes, RouteSnapshot, RouteTable
from pytest_diego.measure.routes import AppProbe, RouteProber
from pytest_diego.measure.setcheck import SetCheck, SetResult
from pytest_diego.measure.summary import summarize
from pytest_diego.measure.timeline import Timelines

__all__ = [
    "REGISTRY",
    "RELATIVE_ERROR",
    "AppProbe",
    "AppRoutes",
    "CrashPolicy",
    "EndpointConfigError",
    "EndpointError",
    "EventFollower",
    "Gauge",
    "Histogram",
    "LagerLogError",
    "LagerReader",
    "Measurements",
    "Metric",
    "MetricSample",
    "MetricSpec",
    "MetricsEndpoint",
    "MetricsSampler",
    "Periodic",
    "PrometheusQuery",
    "Rate",
    "RequestRecorder",
    "RouteProber",
    "RouteSnapshot",
    "RouteTable",
    "SetCheck",
    "SetResult",
    "Timelines",
    "Trend",
    "UnknownMetric",
    "Window",
    "define_metric",
    "read_lager_logs",
    "summarize",
]
