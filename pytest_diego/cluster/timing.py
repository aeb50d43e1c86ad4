"""Diego's default intervals and TTLs, shrunk by one time-scale factor, or a real Diego's own.

The defaults are Diego's (docs/diego-facts.md §1). ``Timing(time_scale=0.1)`` turns the
30 s convergence interval into 3 s, the 15 s presence TTL into 1.5 s, and so on, keeping every
ratio between intervals the same as in a real deployment. Backoffs of the crash restart policy
are scaled too, so the policy's shape can be watched in seconds. A real Diego tuned away from
the defaults is described with ``overrides`` (``{"convergence_interval": 20.0}``), in seconds,
which are not scaled.

``bound(name)`` gives an interval as a ``Bound``: seconds that remember where they come from,
so a threshold derived from them can say so (``max < 9.5s # presence TTL 1.5s + ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# name: (Diego's default in seconds, what it is called in Diego's docs; None = not time-scaled)
INTERVALS: dict[str, tuple[float, str]] = {
    "convergence_interval": (30.0, "convergence interval"),
    "kick_task_duration": (30.0, "task kick"),
    "expire_pending_task_duration": (1800.0, "pending Task expiry"),
    "expire_completed_task_duration": (120.0, "completed Task expiry"),
    "stale_unclaimed_duration": (30.0, "stale UNCLAIMED re-auction"),
    "crash_backoff_unit": (30.0, "crash backoff unit"),
    "crash_reset_timeout": (300.0, "crash count reset"),
    "presence_ttl": (15.0, "presence TTL"),
    "presence_refresh": (5.0, "presence refresh"),
    "lock_ttl": (15.0, "Locket lock TTL"),
    "lock_retry_interval": (5.0, "Locket lock retry"),
    "rep_poll_interval": (30.0, "rep bulk sync interval"),
    "evacuation_polling_interval": (10.0, "rep evacuation polling interval"),
    "route_sync_interval": (60.0, "route emitter sync interval"),
    "route_register_interval": (20.0, "route registration interval"),
    "router_prune_threshold": (120.0, "router prune threshold"),
    "router_prune_interval": (30.0, "router prune interval"),
}
UNSCALED = {"cell_state_timeout": (10.0, "auctioneer cell state timeout")}


class Bound(float):
    """Seconds with the reason they are what they are; sums and multiples keep the reasons."""

    why: str

    def __new__(cls, seconds: float, why: str = "") -> Bound:
        bound = super().__new__(cls, seconds)
        bound.why = why or f"{float(seconds):g}s"
        return bound

    def __add__(self, other: object) -> Bound:
        if not isinstance(other, (int, float)):
            return NotImplemented
        return Bound(float(self) + float(other), f"{self.why} + {_why(other)}")

    __radd__ = __add__

    def __mul__(self, factor: object) -> Bound:
        if not isinstance(factor, (int, float)):
            return NotImplemented
        return Bound(float(self) * float(factor), f"{float(factor):g} × ({self.why})")

    __rmul__ = __mul__

    def __format__(self, spec: str) -> str:
        return format(float(self), spec or "g")

    def __repr__(self) -> str:
        return f"Bound({float(self):g}, {self.why!r})"


def _why(value: float) -> str:
    return value.why if isinstance(value, Bound) else f"{float(value):g}s"


@dataclass(frozen=True)
class Timing:
    time_scale: float = 1.0
    overrides: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(f"time scale must be > 0, got {self.time_scale!r}")
        for name, seconds in self.overrides:
            if name not in INTERVALS and name not in UNSCALED:
                raise ValueError(f"unknown Diego interval {name!r}: use one of "
                                 f"{', '.join(sorted(INTERVALS) + sorted(UNSCALED))}")
            if not seconds > 0:
                raise ValueError(f"interval {name} must be > 0 seconds, got {seconds!r}")

    @classmethod
    def of(cls, time_scale: float = 1.0, overrides: Mapping[str, float] | None = None) -> Timing:
        return cls(time_scale, tuple(sorted((overrides or {}).items())))

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    def bound(self, name: str) -> Bound:
        """The interval ``name`` (a key of ``INTERVALS``) with its name and value as the reason."""
        default, label = INTERVALS.get(name) or UNSCALED[name]
        overridden = dict(self.overrides).get(name)
        if overridden is not None:
            seconds = overridden
        else:
            seconds = default if name in UNSCALED else self.scaled(default)
        return Bound(seconds, f"{label} {seconds:g}s")

    # BBS
    @property
    def convergence_interval(self) -> Bound:
        return self.bound("convergence_interval")

    @property
    def kick_task_duration(self) -> Bound:
        return self.bound("kick_task_duration")

    @property
    def expire_pending_task_duration(self) -> Bound:
        return self.bound("expire_pending_task_duration")

    @property
    def expire_completed_task_duration(self) -> Bound:
        return self.bound("expire_completed_task_duration")

    @property
    def stale_unclaimed_duration(self) -> Bound:
        return self.bound("stale_unclaimed_duration")

    @property
    def crash_backoff_unit(self) -> Bound:
        """30 s: the first delayed restart; doubles per crash up to the 16 min cap."""
        return self.bound("crash_backoff_unit")

    @property
    def crash_reset_timeout(self) -> Bound:
        return self.bound("crash_reset_timeout")

    # Locket / cells
    @property
    def presence_ttl(self) -> Bound:
        return self.bound("presence_ttl")

    @property
    def presence_refresh(self) -> Bound:
        return self.bound("presence_refresh")

    @property
    def lock_ttl(self) -> Bound:
        return self.bound("lock_ttl")

    @property
    def lock_retry_interval(self) -> Bound:
        return self.bound("lock_retry_interval")

    @property
    def rep_poll_interval(self) -> Bound:
        return self.bound("rep_poll_interval")

    @property
    def evacuation_polling_interval(self) -> Bound:
        return self.bound("evacuation_polling_interval")

    # routing
    @property
    def route_sync_interval(self) -> Bound:
        return self.bound("route_sync_interval")

    @property
    def route_register_interval(self) -> Bound:
        return self.bound("route_register_interval")

    @property
    def router_prune_threshold(self) -> Bound:
        return self.bound("router_prune_threshold")

    @property
    def router_prune_interval(self) -> Bound:
        return self.bound("router_prune_interval")

    # auctioneer
    @property
    def cell_state_timeout(self) -> Bound:
        return self.bound("cell_state_timeout")
