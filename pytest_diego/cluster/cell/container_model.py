"""How long a simulated container takes to create, drawn from a model chosen on the command line.

SPEC forms (seconds, real time, not time-scaled: they describe the workload, not Diego's timers):

- ``0`` — instant;
- ``fixed:S`` — always ``S``;
- ``uniform:A,B`` — uniform between ``A`` and ``B``;
- ``lognormal:MEDIAN,SIGMA`` — log-normal with that median (``exp(mu)``) and shape ``SIGMA``,
  the long right tail real container creation shows under load.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

_FORMS = "'0', 'fixed:S', 'uniform:A,B' or 'lognormal:MEDIAN,SIGMA'"


@dataclass(frozen=True)
class ContainerModel:
    kind: str
    a: float = 0.0
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "lognormal":
            return rng.lognormvariate(math.log(self.a), self.b)
        return 0.0


def parse_container_model(spec: str) -> ContainerModel:
    """Parse a SPEC; raises ValueError naming the bad part and the accepted forms."""
    text = spec.strip()
    if text in ("0", "zero"):
        return ContainerModel("zero")
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
    return ContainerModel(kind, *values)
