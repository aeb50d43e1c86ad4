"""What a simulated container does, read from the DesiredLRP or Task it runs.

- **Crashing apps** (diego-stress-tests' stress app, docs/diego-facts.md §15.2): environment variables
  ``MIN_SECONDS_TIL_CRASH`` / ``MAX_SECONDS_TIL_CRASH`` make an instance exit at a uniform random
  time in that window (either alone gives a fixed time). The seconds are app behaviour; the cell
  multiplies them by ``--crash-time-scale`` (default: the cluster's time scale) so crashes keep
  their proportion to the scaled restart backoff.
- **Task run time**: environment variable ``TASK_DURATION_SECONDS``, else a ``sleep N`` in the
  RunAction's args (``["-c", "sleep 5"]``), else 0. Real seconds, not scaled.
- **Task result**: the task_guid, as fezzik's ``echo guid > /tmp/output`` tasks produce.
- **Container port**: the DesiredLRP's first port, else 8080.

Environment comes from the record's ``environment_variables`` and from the first RunAction found in
its action tree (where Cloud Controller puts app env), the RunAction winning on conflicts.
"""

from __future__ import annotations

import random
import re
from typing import Any

DEFAULT_CONTAINER_PORT = 8080
_SLEEP = re.compile(r"\bsleep\s+([0-9]*\.?[0-9]+)")
_ACTION_FIELDS = ("run_action", "timeout_action", "try_action", "serial_action", "parallel_action",
                  "codependent_action", "emit_progress_action")


def first_run_action(action: Any) -> Any | None:
    """The first RunAction in an Action tree (depth first), or None."""
    if action is None:
        return None
    for name in _ACTION_FIELDS:
        if not action.HasField(name):
            continue
        inner = getattr(action, name)
        if name == "run_action":
            return inner
        if hasattr(inner, "actions"):
            for child in inner.actions:
                found = first_run_action(child)
                if found is not None:
                    return found
        elif inner.HasField("action"):
            return first_run_action(inner.action)
    return None


def environment(record: Any, action: Any) -> dict[str, str]:
    env = {e.name: e.value for e in record.environment_variables}
    run = first_run_action(action)
    if run is not None:
        env.update({e.name: e.value for e in run.env})
    return env


def _seconds(env: dict[str, str], name: str) -> float | None:
    value = env.get(name)
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number of seconds") from None
    if seconds < 0:
        raise ValueError(f"{name}={value!r} must be >= 0")
    return seconds


def crash_after(desired_lrp: Any, rng: random.Random, crash_time_scale: float) -> float | None:
    """Seconds until this instance crashes, or None for an app that does not crash."""
    env = environment(desired_lrp, desired_lrp.action if desired_lrp.HasField("action") else None)
    low, high = _seconds(env, "MIN_SECONDS_TIL_CRASH"), _seconds(env, "MAX_SECONDS_TIL_CRASH")
    if low is None and high is None:
        return None
    low = high if low is None else low
    high = low if high is None else high
    assert low is not None and high is not None
    if low > high:
        low, high = high, low
    return rng.uniform(low, high) * crash_time_scale


def task_duration(task: Any) -> float:
    """Seconds the task's process runs."""
    definition = task.task_definition
    action = definition.action if definition.HasField("action") else None
    explicit = _seconds(environment(definition, action), "TASK_DURATION_SECONDS")
    if explicit is not None:
        return explicit
    run = first_run_action(action)
    if run is not None:
        match = _SLEEP.search(" ".join([run.path, *run.args]))
        if match:
            return float(match.group(1))
    return 0.0


def container_port(desired_lrp: Any) -> int:
    return int(desired_lrp.ports[0]) if len(desired_lrp.ports) else DEFAULT_CONTAINER_PORT
