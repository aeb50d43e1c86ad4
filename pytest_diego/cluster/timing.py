"""Diego's default intervals and TTLs, shrunk by one time-scale factor for fast runs.

The defaults are Diego's (reference/diego-behaviour.md §1). ``Timing(time_scale=0.1)`` turns the
30 s convergence interval into 3 s, the 15 s presence TTL into 1.5 s, and so on, keeping every
ratio between intervals the same as in a real deployment. Backoffs of the crash restart policy
are scaled too, so the policy's shape can be watched in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(f"time scale must be > 0, got {self.time_scale!r}")

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    # BBS
    @property
    def convergence_interval(self) -> float:
        return self.scaled(30.0)

    @property
    def kick_task_duration(self) -> float:
        return self.scaled(30.0)

    @property
    def expire_pending_task_duration(self) -> float:
        return self.scaled(1800.0)

    @property
    def expire_completed_task_duration(self) -> float:
        return self.scaled(120.0)

    @property
    def stale_unclaimed_duration(self) -> float:
        return self.scaled(30.0)

    @property
    def crash_backoff_unit(self) -> float:
        """30 s: the first delayed restart; doubles per crash up to the 16 min cap."""
        return self.scaled(30.0)

    @property
    def crash_reset_timeout(self) -> float:
        return self.scaled(300.0)

    # Locket / cells
    @property
    def presence_ttl(self) -> float:
        return self.scaled(15.0)

    @property
    def presence_refresh(self) -> float:
        return self.scaled(5.0)

    @property
    def rep_poll_interval(self) -> float:
        return self.scaled(30.0)

    # routing
    @property
    def route_sync_interval(self) -> float:
        return self.scaled(60.0)

    @property
    def route_register_interval(self) -> float:
        return self.scaled(20.0)

    @property
    def router_prune_threshold(self) -> float:
        return self.scaled(120.0)

    @property
    def router_prune_interval(self) -> float:
        return self.scaled(30.0)

    # auctioneer
    @property
    def cell_state_timeout(self) -> float:
        return 10.0
