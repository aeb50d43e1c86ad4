"""Every metric name pytest-diego records, with Diego's name wherever Diego has one.

Kinds: **Trend** = latency histogram (seconds) + outcome counts, aggregations ``p(N)``,
``med``, ``avg``, ``min``, ``max``, ``count``, ``rate``; **Rate** = successes/attempts,
aggregations ``rate``, ``count``; **Gauge** = sampled time series, aggregations ``value``
(last), ``min``, ``max``, ``avg``, ``med``, ``p(N)``, ``count``.

=================================  =======  ==============================================
name                               kind     what it measures
=================================  =======  ==============================================
``RequestLatency``                 Trend    every BBS request as the client saw it (every
                                            attempt, retries included); ``rate`` = share ok
``RequestLatency.<RouteName>``     Trend    the same per BBS route, Diego's route names:
                                            ``RequestLatency.DesireTask``,
                                            ``RequestLatency.DesireDesiredLRP``,
                                            ``RequestLatency.ActualLRPs``, ...
``TaskLifecycle``                  Trend    perfchug: ``desire-task.starting`` →
                                            ``complete-task.complete`` per task_guid (lager)
``LRPLifecycle``                   Trend    perfchug: ``create-unclaimed-actual-lrp.starting``
                                            → ``start-actual-lrp.complete`` per
                                            process_guid:index (lager)
``AuctionScheduleDuration``        Trend    perfchug: ``auction.scheduling`` →
                                            ``auction.scheduled`` (lager)
``lager.RequestLatency``           Trend    perfchug's RequestLatency, server side from lager
                                            (``request.serving`` → ``request.done``); prefixed
                                            so it never mixes with the client's
``TaskTimeToRunning``              Trend    timeline stage: Task desired → running
``TaskTimeToComplete``             Trend    timeline stage: Task desired → completed
``LRPTimeToClaim``                 Trend    timeline stage: ActualLRP instance's first
                                            UNCLAIMED of a life → CLAIMED (``timeline.py``)
``LRPTimeToRunning``               Trend    timeline stage: first UNCLAIMED of a life →
                                            RUNNING; placement errors do not restart it
``ConvergenceLRPDuration``,        Gauge    loop durations in seconds, one sample per
``ConvergenceTaskDuration``,                *distinct* emission seen (``count`` is how many
``RepBulkSyncDuration``,                    measurements a verdict rests on), from the
``RouteEmitterSyncDuration``,               metrics agent, a Prometheus server or the
``AuctioneerFetchStatesDuration``           embedded components (``measure.prometheus``)
``RepBulkSyncDuration.<cell_id>``  Gauge    the same per cell (the rep's ``instance_id``)
``ContainerCount``,                Gauge    the reps' ContainerCount summed over cells, and
``ContainerCount.<cell_id>``                per cell
``LRPsDesired``, ``LRPsRunning``,  Gauge    cluster gauges under their Diego names, sampled
``LRPsMissing``, ``LRPsExtra``,             (any metric an endpoint serves is kept under
``CrashedActualLRPs``,                      the name it is served with)
``TasksPending``, ``TasksRunning``,
``PresentCells``, ``RoutesTotal``
``RouterRoutes``                   Gauge    hostnames in the router's route table over time
``RouterEndpoints``                Gauge    route–endpoint pairs in the router's table (what
                                            ``RoutesTotal`` counts on the emitter side)
``RouterEndpoints.<hostname>``     Gauge    endpoints of one chosen hostname in that table
``RouteAvailability``              Rate     one attempt per slot of the route probes' fixed
                                            timetable (``routes.py``); ``rate`` is the
                                            availability ratio; failures ``HTTP <code>``,
                                            ``no answer by deadline``, ``not started on time``
``RouteProbeLatency``              Trend    those slots, from the slot's due time to the
                                            answer (unanswered: the timeout, a lower bound)
``CrashRestartOnPolicy``           Rate     every crash of an LRP instance judged from the
                                            event stream against Diego's restart policy
                                            (``crash_policy.py``); failures ``early``,
                                            ``late``, ``not-crashed-first``, ...
``LoadLatency``                    Trend    each load operation from its *intended* start
                                            (no coordinated omission)
``LoadServiceTime``                Trend    the same from its actual start (wrk2's
                                            uncorrected view)
``LoadStarts``                     Rate     starts on time; failures ``late`` (queued
                                            behind busy workers) and ``dropped`` (k6's
                                            dropped_iterations)
=================================  =======  ==============================================

Bare numbers in SLOs on Trends and duration Gauges are seconds.
"""

from __future__ import annotations

REQUEST_LATENCY = "RequestLatency"
TASK_LIFECYCLE = "TaskLifecycle"
LRP_LIFECYCLE = "LRPLifecycle"
AUCTION_SCHEDULE_DURATION = "AuctionScheduleDuration"
LAGER_REQUEST_LATENCY = "lager.RequestLatency"
TASK_TIME_TO_RUNNING = "TaskTimeToRunning"
TASK_TIME_TO_COMPLETE = "TaskTimeToComplete"
LRP_TIME_TO_CLAIM = "LRPTimeToClaim"
LRP_TIME_TO_RUNNING = "LRPTimeToRunning"
ROUTER_ROUTES = "RouterRoutes"
ROUTER_ENDPOINTS = "RouterEndpoints"
ROUTE_AVAILABILITY = "RouteAvailability"
ROUTE_PROBE_LATENCY = "RouteProbeLatency"
CRASH_RESTART_ON_POLICY = "CrashRestartOnPolicy"
LOAD_LATENCY = "LoadLatency"
LOAD_SERVICE_TIME = "LoadServiceTime"
LOAD_STARTS = "LoadStarts"

LOOP_DURATIONS = (
    "ConvergenceLRPDuration",
    "ConvergenceTaskDuration",
    "RepBulkSyncDuration",
    "RouteEmitterSyncDuration",
    "AuctioneerFetchStatesDuration",
)
CLUSTER_GAUGES = (
    "LRPsDesired", "LRPsRunning", "LRPsMissing", "LRPsExtra", "CrashedActualLRPs",
    "TasksPending", "TasksRunning", "PresentCells", "RoutesTotal",
)


def request_latency(route: str) -> str:
    """``RequestLatency.<RouteName>``, the per-route name Diego's advanced metrics use."""
    return f"{REQUEST_LATENCY}.{route}"


def router_endpoints(hostname: str) -> str:
    """``RouterEndpoints.<hostname>``: one hostname's endpoints in the router's table."""
    return f"{ROUTER_ENDPOINTS}.{hostname}"


def is_duration(name: str) -> bool:
    """Whether a cluster metric is a duration (Diego suffixes those with ``Duration``)."""
    return name.endswith("Duration") or name.endswith("_seconds")
