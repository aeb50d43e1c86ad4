"""Lifecycle timelines and perfchug's metrics from lager logs (embedded or a real deployment's).

perfchug pairs a start message with an end message by suffix and reports the difference:

- ``lager.RequestLatency``: ``request.serving`` → ``request.done``, keyed by file,
  ``data.session`` and ``data.request``;
- ``AuctionScheduleDuration``: ``auction.scheduling`` → ``auction.scheduled``, keyed by file
  and ``data.session``;
- ``TaskLifecycle``: ``desire-task.starting`` → ``complete-task.complete``, keyed by
  ``data.task_guid``;
- ``LRPLifecycle``: ``create-unclaimed-actual-lrp.starting`` → ``start-actual-lrp.complete``,
  keyed by ``process_guid:index``.

The same lines give timeline milestones (``MILESTONES``). Only ``create-unclaimed-actual-lrp``
starts an instance's life here: Diego's lager has no message that tells a crash restart or an
evacuation apart from a stale-UNCLAIMED re-auction (both go through ``db-unclaim-actual-lrp``),
and placement errors (``fail-actual-lrp``) are no milestone, so a life's clock never restarts;
later lives simply give no stage sample. Diego's BBS logs ``claim-``/``start-actual-lrp.complete``
in a ``defer``, also when the call failed. Timestamps are lager's Unix seconds
as a string (``"1700000000.123456789"``) or RFC 3339 (newer lager's ``"2026-01-02T03:04:05.1Z"``).
Lines that are not lager JSON are skipped but counted; ``LagerReader.unreadable`` reports them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_diego.measure import names
from pytest_diego.measure.measurements import Measurements

PAIRS: tuple[tuple[str, str, str, str], ...] = (
    # metric, start suffix, end suffix, key kind
    (names.LAGER_REQUEST_LATENCY, "request.serving", "request.done", "request"),
    (names.AUCTION_SCHEDULE_DURATION, "auction.scheduling", "auction.scheduled", "session"),
    (names.TASK_LIFECYCLE, "desire-task.starting", "complete-task.complete", "task"),
    (names.LRP_LIFECYCLE, "create-unclaimed-actual-lrp.starting", "start-actual-lrp.complete", "lrp"),
)

# message suffix -> (timeline, milestone); Diego and cicerone spellings both accepted.
MILESTONES: dict[str, tuple[str, str]] = {
    "desire-task.starting": ("task", "desired"),
    "start-task.finished": ("task", "running"),
    "start-task.complete": ("task", "running"),
    "complete-task.complete": ("task", "completed"),
    "complete-task.finished": ("task", "completed"),
    "resolved-task": ("task", "resolved"),
    "resolving-task.complete": ("task", "resolved"),
    "delete-task.complete": ("task", "removed"),
    "create-unclaimed-actual-lrp.starting": ("lrp", "created"),
    "claim-actual-lrp.complete": ("lrp", "claimed"),
    "claim-actual-lrp.succeeded": ("lrp", "claimed"),
    "start-actual-lrp.complete": ("lrp", "running"),
    "start-actual-lrp.succeeded": ("lrp", "running"),
    "crash-actual-lrp.complete": ("lrp", "crashed"),
    "remove-actual-lrp.complete": ("lrp", "removed"),
}

_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_timestamp(value: Any) -> float:
    """Lager's timestamp (Unix seconds, number or string, or RFC 3339) as Unix seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    match = _RFC3339.match(text)
    if match is None:
        return float(text)
    whole, fraction, zone = match.groups()
    offset = "+00:00" if zone == "Z" else zone
    base = datetime.fromisoformat(whole + offset).astimezone(UTC).timestamp()
    return base + (float("0." + fraction) if fraction else 0.0)


def _lrp_key(data: dict[str, Any]) -> tuple[str, int] | None:
    for source in (data, data.get("actual_lrp_key") or {}, data.get("key") or {},
                   (data.get("actual_lrp") or {}).get("actual_lrp_key") or {}):
        if isinstance(source, dict) and "process_guid" in source:
            return str(source["process_guid"]), int(source.get("index", 0))
    return None


class LagerLogError(ValueError):
    """A lager log that cannot be read at all (missing, a directory, a pipe); names the path."""


class LagerReader:
    """Feeds lager lines into a ``Measurements``: perfchug's pairs and timeline milestones."""

    def __init__(self, measurements: Measurements) -> None:
        self.measurements = measurements
        self.unreadable: dict[str, int] = {}
        self.unpaired_starts: dict[str, int] = {}
        self._open: dict[tuple[str, Any], float] = {}
        self._last: dict[tuple[str, Any], str] = {}  # the latest milestone of each Task/instance

    def read_file(self, path: str | Path) -> None:
        """Read one log file; ``LagerLogError`` if it is not a readable regular file (a pipe or
        device would block or never end)."""
        path = Path(path)
        try:
            if not path.exists():
                raise LagerLogError(f"lager log {path}: no such file")
            if not path.is_file():
                raise LagerLogError(f"lager log {path}: not a regular file")
            with path.open(encoding="utf-8", errors="replace") as lines:
                self.read_lines(lines, str(path))
        except OSError as e:
            raise LagerLogError(f"lager log {path}: cannot be read: {e.strerror or e}") from e

    def read_lines(self, lines: Iterable[str], source: str) -> None:
        for line in lines:
            if line.strip():
                self._line(line, source)

    def _line(self, line: str, source: str) -> None:
        try:
            record = json.loads(line)
            message = record["message"]
            t = parse_timestamp(record["timestamp"])
            data = record.get("data") or {}
            if not isinstance(message, str) or not isinstance(data, dict):
                raise TypeError("message/data of the wrong type")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            self.unreadable[source] = self.unreadable.get(source, 0) + 1
            return
        try:
            self._record(message, data, t, source)
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            # lager JSON whose data is not what Diego writes (an index that is not a number...)
            self.unreadable[source] = self.unreadable.get(source, 0) + 1

    def _record(self, message: str, data: dict[str, Any], t: float, source: str) -> None:
        for suffix, (kind, milestone) in MILESTONES.items():
            if message.endswith(suffix):
                self._milestone(kind, milestone, data, t)
                break
        for metric, start, end, key_kind in PAIRS:
            if message.endswith(start) or message.endswith(end):
                key = self._pair_key(key_kind, data, source)
                if key is None:
                    continue
                if message.endswith(start):
                    self._open[(metric, key)] = t
                else:
                    began = self._open.pop((metric, key), None)
                    if began is not None:
                        self.measurements.trend(metric).record(t, t - began)

    def _milestone(self, kind: str, milestone: str, data: dict[str, Any], t: float) -> None:
        """Record a milestone, once: Diego logs e.g. both ``.succeeded`` and ``.complete``."""
        if kind == "task":
            key: Any = str(data["task_guid"]) if "task_guid" in data else None
        else:
            key = _lrp_key(data)
        if key is None or self._last.get((kind, key)) == milestone:
            return
        self._last[(kind, key)] = milestone
        if kind == "task":
            self.measurements.timelines.add_task(key, milestone, t)
        else:
            self.measurements.timelines.add_lrp(key[0], key[1], milestone, t)

    @staticmethod
    def _pair_key(kind: str, data: dict[str, Any], source: str) -> Any:
        if kind == "request":
            return (source, data.get("session"), data.get("request")) if "session" in data else None
        if kind == "session":
            return (source, data.get("session"))
        if kind == "task":
            return data.get("task_guid")
        key = _lrp_key(data)
        return None if key is None else f"{key[0]}:{key[1]}"

    def finish(self) -> list[str]:
        """Count starts never ended (still open at the end of the logs); human-readable notes."""
        for metric, _ in self._open:
            self.unpaired_starts[metric] = self.unpaired_starts.get(metric, 0) + 1
        self._open.clear()
        notes = [f"{n} unreadable lines in {src}" for src, n in sorted(self.unreadable.items())]
        notes += [f"{n} {metric} starts without an end" for metric, n in
                  sorted(self.unpaired_starts.items())]
        return notes


def read_lager_logs(paths: Iterable[str | Path], measurements: Measurements) -> list[str]:
    """Read every log file into ``measurements``; notes on unreadable lines and open pairs."""
    reader = LagerReader(measurements)
    for path in paths:
        reader.read_file(path)
    return reader.finish()
