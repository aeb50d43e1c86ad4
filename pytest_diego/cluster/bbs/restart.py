"""Diego's crash restart policy (``bbs:models/restart_calculator.go``), with the time unit scaled.

Crash counts 1 and 2 restart at once; from 3 the instance waits ``unit * 2**(count-3)`` after its
crash (30 s, 60 s, ... capped at 16 min: the exponent stops at 5); from 200 it is never restarted.
"""

from __future__ import annotations

IMMEDIATE_RESTARTS = 3
MAX_RESTART_ATTEMPTS = 200
MAX_BACKOFF_EXPONENT = 5


def restarts_immediately(crash_count: int) -> bool:
    return crash_count < IMMEDIATE_RESTARTS


def backoff(crash_count: int, unit: float) -> float | None:
    """Seconds to wait after a crash before restarting; None when it must never restart."""
    if crash_count < IMMEDIATE_RESTARTS:
        return 0.0
    if crash_count >= MAX_RESTART_ATTEMPTS:
        return None
    return unit * 2 ** min(crash_count - IMMEDIATE_RESTARTS, MAX_BACKOFF_EXPONENT)


def should_restart(crash_count: int, crashed_at: float, now: float, unit: float) -> bool:
    wait = backoff(crash_count, unit)
    return wait is not None and now >= crashed_at + wait
