"""The live status line of a long scenario: desired/running/crashed, current p99, routes.

A scenario reports with ``workload.status(desired=..., running=..., ...)`` as often as it
likes; at most one line a second reaches the terminal. A single process writes it straight to
the terminal (in place on a TTY). xdist workers cannot write to the terminal, so they send it
to the controller over the run's channel (``coordination``), which shows it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

FIELDS = ("desired", "running", "crashed", "p99", "routes")
PLAIN_INTERVAL = 10.0  # new lines on a non-TTY terminal (CI logs) are rarer


def format_status(status: dict[str, Any]) -> str:
    parts = [f"{status.get('test', '')}".rsplit("::", 1)[-1]]
    for key in FIELDS + tuple(k for k in status if k not in FIELDS and k not in ("test", "t", "worker")):
        if status.get(key) is not None:
            value = status[key]
            if key == "p99" and isinstance(value, float):
                value = f"{value * 1000:.1f}ms"
            parts.append(f"{key} {value}")
    prefix = f"[{status['worker']}] " if status.get("worker") else ""
    return f"{prefix}diego: " + "  ".join(p for p in parts if p)


class TerminalStatus:
    """Shows status lines on the terminal: in place on a TTY, every 10 s otherwise."""

    def __init__(self, config: pytest.Config, capture_aware: bool = True) -> None:
        self.config = config
        self.capture_aware = capture_aware
        self._last = 0.0
        self._lock = threading.Lock()

    def show(self, line: str) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is None:
            return
        tty = tr.isatty() if callable(getattr(tr, "isatty", None)) else bool(getattr(tr, "isatty", False))
        with self._lock:
            now = time.monotonic()
            if now - self._last < (1.0 if tty else PLAIN_INTERVAL):
                return
            self._last = now
            capman = self.config.pluginmanager.get_plugin("capturemanager") if self.capture_aware else None
            if capman is None:
                self._write(tr, line, tty)
                return
            with capman.global_and_fixture_disabled():
                self._write(tr, line, tty)

    @staticmethod
    def _write(tr: Any, line: str, tty: bool) -> None:
        if tty:
            tr.rewrite(line)
        else:
            tr.write_line(line)


class StatusReporter:
    """What a scenario calls: throttles to once a second and hands the status to ``emit``."""

    def __init__(self, test: str, worker: str | None, emit: Callable[[dict[str, Any]], None],
                 interval: float = 1.0) -> None:
        self.test = test
        self.worker = worker
        self.emit = emit
        self.interval = interval
        self._last = 0.0

    def update(self, **fields: Any) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        self.emit({"test": self.test, "worker": self.worker, "t": time.time(), **fields})
