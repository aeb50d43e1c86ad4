"""Thresholds derived from the target's timing, saying where their numbers come from.

``within(bound)`` turns a ``Bound`` (seconds that remember their reason, from ``diego.timing``)
into an SLO expression with a note: ``max < 9.5s # presence TTL 1.5s + convergence interval 3s +
placement 5s``. Use it in an ``slo`` marker as a callable of the target's timing, so the bound is
the target's (the embedded cluster's time scale, or a real Diego's ``--diego-interval``s)::

    @pytest.mark.slo("RecoveryDuration", lambda t: within(t.presence_ttl + t.convergence_interval))
"""

from __future__ import annotations

from pytest_diego.cluster.timing import Bound


def seconds(value: float) -> str:
    """A bound as an SLO literal: ``12.5s``."""
    return f"{value:.3g}s"


def within(bound: Bound | float, aggregation: str = "max", op: str = "<") -> str:
    """``max < 9.5s # why`` for a ``Bound`` (no note for a plain number)."""
    note = f" # {bound.why}" if isinstance(bound, Bound) else ""
    return f"{aggregation} {op} {seconds(bound)}{note}"


def extra(seconds_: float, why: str) -> Bound:
    """A constant with its reason, to add to a timing bound: ``extra(5, "placement")``."""
    return Bound(seconds_, f"{why} {seconds_:g}s")
