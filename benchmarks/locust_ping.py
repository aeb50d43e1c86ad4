"""Locust users for ``benchmarks.load_driver``: POST /v1/ping as fast as each user can.

Chosen with the environment variable ``BENCH_USER`` (``http``: HttpUser, ``fast``: FastHttpUser).
``BENCH_CPU_FILE``: where to write this process's CPU seconds between test start and stop, so
the figure excludes Locust's imports and start-up like the other drivers'.
"""

from __future__ import annotations

import json
import os
import time

from locust import HttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

_marks: dict[str, float] = {}


@events.test_start.add_listener
def _start(**_: object) -> None:
    _marks["cpu"], _marks["wall"] = time.process_time(), time.perf_counter()


@events.test_stop.add_listener
def _stop(**_: object) -> None:
    path = os.environ.get("BENCH_CPU_FILE")
    if path and "cpu" in _marks:
        with open(path, "w") as f:
            json.dump({"cpu_s": time.process_time() - _marks["cpu"],
                       "wall_s": time.perf_counter() - _marks["wall"]}, f)


if os.environ.get("BENCH_USER", "fast") == "fast":
    class PingUser(FastHttpUser):
        wait_time = constant(0)

        @task
        def ping(self) -> None:
            self.client.post("/v1/ping", data=b"")
else:
    class PingUser(HttpUser):  # type: ignore[no-redef]
        wait_time = constant(0)

        @task
        def ping(self) -> None:
            self.client.post("/v1/ping", data=b"")
