"""Locust users for ``benchmarks.load_driver``: POST /v1/ping as fast as each user can.

Chosen with the environment variable ``BENCH_USER`` (``http``: HttpUser, ``fast``: FastHttpUser).
``BENCH_CPU_FILE``: where to write this process's CPU seconds between test start and stop, so
the figure excludes Locust's imports and start-up like the other drivers'. With
``BENCH_CA_FILE``, ``BENCH_CERT_FILE`` and ``BENCH_KEY_FILE`` FastHttpUser speaks mutual TLS (the
server certificate verified against that CA, the client certificate presented), as a real BBS needs.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

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


def _mutual_tls_context(cafile: str | None = None) -> Any:
    """geventhttpclient's context factory: the benchmark's CA and client certificate (gevent's
    ssl, imported here: after locust's monkey-patching)."""
    import gevent.ssl

    context = gevent.ssl.create_default_context(cafile=os.environ["BENCH_CA_FILE"])
    context.load_cert_chain(os.environ["BENCH_CERT_FILE"], os.environ["BENCH_KEY_FILE"])
    return context


if os.environ.get("BENCH_USER", "fast") == "fast":
    class PingUser(FastHttpUser):
        wait_time = constant(0)
        if os.environ.get("BENCH_CERT_FILE"):
            insecure = False
            ssl_context_factory = _mutual_tls_context

        @task
        def ping(self) -> None:
            self.client.post("/v1/ping", data=b"")
else:
    class PingUser(HttpUser):  # type: ignore[no-redef]
        wait_time = constant(0)

        @task
        def ping(self) -> None:
            self.client.post("/v1/ping", data=b"")
