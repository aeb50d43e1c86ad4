"""Building blocks for writing Diego scenarios: what the perf suites are made of.

A scenario is a pytest test with the plugin's fixtures (``diego``, ``bbs``, ``workload``,
``measurements``, ``nemesis``) and ``slo`` markers. These pieces do the rest, the same way on
the embedded cluster and on a real Diego:

- **bounded waits** — ``wait_until(what, missing, timeout)`` fails naming what was still
  missing; ``sample(items)`` shortens a list for a message;
- **what runs** — ``missing_instances``, ``desired_instances``, ``instance_key``, ``describe``;
- **the work** — ``app(diego, lrp)`` and ``burst_task(diego, guid)`` apply the target's rootfs
  and commands (``diego.work``) and the app's route (``hostname``);
- **cleanup** — ``cleanup(diego, process_guids, task_guids)`` removes what a shard desired;
- **observers** — ``Observers`` follows the event streams into timelines and the crash-restart
  oracle, samples Diego's metrics and the router's table, and probes app routes;
  ``wait_routable`` and ``routed_instance_guids`` check routes through the router;
- **bounds** — ``within(bound)`` turns a bound from ``diego.timing`` into an SLO expression
  that says where its number comes from; ``extra(5, "placement")`` adds a constant with a reason.

Metrics a scenario records itself are defined with ``pytest_diego.measure.define_metric`` so
their SLOs are checked before the run starts.
"""

from pytest_diego.measure.crash_policy import CrashPolicy
from pytest_diego.measure.registry import define_metric
from pytest_diego.scenario.bounds import extra, seconds, within
from pytest_diego.scenario.cleanup import cleanup, remove_lrps, resolve_tasks
from pytest_diego.scenario.instances import describe, desired_instances, instance_key, missing_instances
from pytest_diego.scenario.observers import Observers, answers, routed_instance_guids, wait_routable
from pytest_diego.scenario.waits import sample, wait_until
from pytest_diego.scenario.work import app, burst_task, hostname

__all__ = [
    "CrashPolicy",
    "Observers",
    "answers",
    "app",
    "burst_task",
    "cleanup",
    "define_metric",
    "describe",
    "desired_instances",
    "extra",
    "hostname",
    "instance_key",
    "missing_instances",
    "remove_lrps",
    "resolve_tasks",
    "routed_instance_guids",
    "sample",
    "seconds",
    "wait_routable",
    "wait_until",
    "within",
]
