"""How long a simulated container takes to create, drawn from a model chosen on the command line.

SPEC forms (seconds):

- ``0`` — instant;
- ``fixed:S`` — always ``S``;
- ``uniform:A,B`` — uniform between ``A`` and ``B``;
- ``lognormal:MEDIAN,SIGMA`` — log-normal with that median (``exp(mu)``) and shape ``SIGMA``,
  the long right tail real container creation shows under load;
- ``scaled:SPEC`` — any of the above in Diego's seconds, multiplied by the cell's time scale like
  Diego's intervals: ``scaled:fixed:4`` takes 4 s at time scale 1 and 0.4 s at 0.1 (a log-normal
  keeps its SIGMA; its median is scaled).

Without ``scaled:`` the seconds are real seconds at every time scale. That is the default because
creation sits on the path of the lifecycle metrics (``TaskTimeToComplete``, ``LRPTimeToRunning``,
``BurstDuration``), whose thresholds are Diego's measured seconds and are *not* shrunk by the time
scale: shrinking creation with it would let a 0.1 run report lifecycle times up to ten times better
than the same containers give. Work in flight races no Diego timer (a CLAIMED instance or a RUNNING
Task being created is left alone by convergence, bulk sync and the task kick), but finished work
does: a completed Task is deleted ``expire_completed_task_duration`` after it completes (120 s,
12 s at 0.1), so at a small time scale a burst whose completions spread over more than that loses
its first Tasks from the BBS before its last ones complete (``lognormal:8,0.4`` on 6 cells at 0.1
does). ``scaled:`` keeps every such ratio as in Diego, for a run compressed as a whole whose bounds
are scaled too (a recovery bound made of the presence TTL and the convergence interval; crash
restarts, which the cell scales by ``--crash-time-scale``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

_FORMS = "'0', 'fixed:S', 'uniform:A,B' or 'lognormal:MEDIAN,SIGMA', optionally after 'scaled:'"
SCALED = "scaled:"


@dataclass(frozen=True)
class ContainerModel:
    kind: str
    a: float = 0.0
    b: float = 0.0
    scaled: bool = False  # seconds of Diego time: multiplied by the cell's time scale

    def sample(self, rng: random.Random, time_scale: float = 1.0) -> float:
        """Seconds to create one container on a cell running at ``time_scale``."""
        if self.kind == "fixed":
            seconds = self.a
        elif self.kind == "uniform":
            seconds = rng.uniform(self.a, self.b)
        elif self.kind == "lognormal":
            seconds = rng.lognormvariate(math.log(self.a), self.b)
        else:
            return 0.0
        return seconds * time_scale if self.scaled else seconds


def parse_container_model(spec: str) -> ContainerModel:
    """Parse a SPEC; raises ValueError naming the bad part and the accepted forms."""
    text = spec.strip()
    scaled = text.startswith(SCALED)
    if scaled:
        text = text[len(SCALED):].strip()
    if text in ("0", "zero"):
        return ContainerModel("zero", scaled=scaled)
    kind, sep, rest = text.partition(":")
    if not sep:
        raise ValueError(f"container model {spec!r}: expected {_FORMS}")
    try:
        values = [float(v) for v in rest.split(",")]
    except ValueError:
        raise ValueError(f"container model {spec!r}: {rest!r} is not a list of numbers") from None
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise ValueError(f"container model {spec!r}: values must be finite and >= 0")
    arity = {"fixed": 1, "uniform": 2, "lognormal": 2}.get(kind)
    if arity is None:
        raise ValueError(f"container model {spec!r}: unknown kind {kind!r}, expected {_FORMS}")
    if len(values) != arity:
        raise ValueError(f"container model {spec!r}: {kind} takes {arity} value(s), got {len(values)}")
    if kind == "uniform" and values[0] > values[1]:
        raise ValueError(f"container model {spec!r}: uniform needs A <= B")
    if kind == "lognormal" and values[0] <= 0:
        raise ValueError(f"container model {spec!r}: lognormal median must be > 0")
    return ContainerModel(kind, values[0], values[1] if arity == 2 else 0.0, scaled=scaled)
