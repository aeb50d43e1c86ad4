"""Lager-format JSON logging, the shape Diego components write and perfchug/cicerone read.

Every embedded component logs through this module so that lifecycle timelines can be rebuilt
from the embedded cluster's logs exactly as from a real deployment's. One line per record::

    {"timestamp":"1700000000.123456789","source":"bbs","message":"bbs.desire-task.starting",
     "log_level":1,"data":{"session":"4.1","task_guid":"..."}}

Log levels follow lager: 0 debug, 1 info, 2 error, 3 fatal. The message is
``<component>.<session task>.<event>``; perfchug pairs records on the message suffix.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

DEBUG, INFO, ERROR, FATAL = 0, 1, 2, 3

_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode

_SECRET_KEYS = frozenset({"password", "key", "private_key", "dsn", "image_password", "secret"})


def _redact(data: dict[str, Any]) -> dict[str, Any]:
    """Keep secrets (keys, DSN passwords) out of logs by construction."""
    return {k: ("[REDACTED]" if k.lower() in _SECRET_KEYS else v) for k, v in data.items()}


class Logger:
    """A lager logger writing one JSON object per line to a file or stream.

    Writes are line-buffered and serialized by a lock, so a SIGKILL loses at most the line
    being written and lines from threads never interleave.
    """

    def __init__(self, component: str, sink: IO[str] | Path | str | None = None) -> None:
        self.component = component
        if sink is None:
            self._stream: IO[str] = sys.stderr
        elif isinstance(sink, (str, Path)):
            path = Path(sink)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        else:
            self._stream = sink
        self._lock = threading.Lock()
        self._sessions = itertools.count(1)

    def session(self, task: str, **data: Any) -> Session:
        """Start a lager session: a numbered sub-logger whose messages share a prefix."""
        return Session(self, task, str(next(self._sessions)), data)

    def log(self, level: int, message: str, data: dict[str, Any] | None = None) -> None:
        record = {
            "timestamp": f"{time.time():.9f}",
            "source": self.component,
            "message": f"{self.component}.{message}",
            "log_level": level,
            "data": _redact(data) if data else {},
        }
        line = _ENCODE(record)
        with self._lock, contextlib.suppress(ValueError):  # ValueError: closed during shutdown
            self._stream.write(line + "\n")

    def info(self, message: str, **data: Any) -> None:
        self.log(INFO, message, data)

    def debug(self, message: str, **data: Any) -> None:
        self.log(DEBUG, message, data)

    def error(self, message: str, error: object = None, **data: Any) -> None:
        if error is not None:
            data["error"] = str(error)
        self.log(ERROR, message, data)

    def close(self) -> None:
        if self._stream not in (sys.stderr, sys.stdout):
            self._stream.close()


class Session:
    """A lager session: ``logger.session("desire-task").info("starting")`` logs
    ``bbs.desire-task.starting`` with ``data.session`` set, like lager's ``Session``."""

    def __init__(self, logger: Logger, task: str, session_id: str, data: dict[str, Any]) -> None:
        self._logger = logger
        self.task = task
        self.session_id = session_id
        self._data = {"session": session_id, **data}

    def _merged(self, data: dict[str, Any]) -> dict[str, Any]:
        return {**self._data, **data} if data else dict(self._data)

    def info(self, event: str, **data: Any) -> None:
        self._logger.log(INFO, f"{self.task}.{event}", self._merged(data))

    def debug(self, event: str, **data: Any) -> None:
        self._logger.log(DEBUG, f"{self.task}.{event}", self._merged(data))

    def error(self, event: str, error: object = None, **data: Any) -> None:
        merged = self._merged(data)
        if error is not None:
            merged["error"] = str(error)
        self._logger.log(ERROR, f"{self.task}.{event}", merged)
