"""One load driver in its own process, for ``benchmarks.load_driver``; prints one JSON line.

    .venv/bin/python -m benchmarks.drive KIND URL --duration S --users N

KIND: ``harness`` (``ClosedModel`` + ``BBSClient`` + ``RequestRecorder``: the whole pytest-diego
path), ``client`` (``BBSClient.ping`` in plain loops, no observer, no runner), ``requests``
(``requests.Session.post`` loops), ``httpclient`` (``http.client`` keep-alive loops). ``--op
desire`` makes the harness kinds desire Tasks instead of pinging. ``--ca-file --cert-file
--key-file`` give ``BBSClient`` its mutual-TLS files for an https:// URL. ``ops`` and ``cpu_s`` (this
process's CPU time, all threads, imports excluded) cover the measured window only.
Profile a driver with py-spy (it sees every thread; pyinstrument sees only the main one)::

    .venv/bin/py-spy record -f raw -o out.txt -- .venv/bin/python -m benchmarks.drive harness URL
    .venv/bin/python -m benchmarks.profile_summary out.txt
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from pytest_diego.bbs import BBSClient
from pytest_diego.measure import Measurements
from pytest_diego.measure.requests import RequestRecorder
from pytest_diego.workload.builders import task_definition
from pytest_diego.workload.runner import ClosedModel

PING_PATH = "/v1/ping"


def _loops(users: int, duration: float, make_op: Callable[[], Callable[[], object]]) -> int:
    """``users`` threads calling their own op until ``duration`` passes; total calls."""
    counts = [0] * users
    deadline = time.perf_counter() + duration

    def user(u: int) -> None:
        op = make_op()
        n = 0
        while time.perf_counter() < deadline:
            op()
            n += 1
        counts[u] = n

    threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts)


def run(kind: str, url: str, duration: float, users: int, op_name: str = "ping",
        tls: dict[str, str] | None = None) -> dict[str, object]:
    """Drive ``url`` with ``kind`` for ``duration`` seconds; ops, wall and CPU seconds."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    tls = tls or {}
    if kind == "harness":
        m = Measurements()
        client = BBSClient(url, observer=RequestRecorder(m), **tls)
        definition = task_definition()
        ids = itertools.count()
        prefix = uuid.uuid4().hex[:8]

        def op(i: int) -> None:
            if op_name == "ping":
                client.ping()
            else:
                client.desire_task(f"bench-{prefix}-{next(ids)}", "bench", definition)

        result = ClosedModel(users=users, duration=duration, drain_timeout=10).run(op, m)
        ops = result.ok + result.failed
        extra: dict[str, object] = {"failed": result.failed}
    elif kind == "client":
        client = BBSClient(url, **tls)
        ops, extra = _loops(users, duration, lambda: client.ping), {}
    elif kind == "requests":
        def make() -> Callable[[], object]:
            session = requests.Session()
            session.trust_env = False
            return lambda: session.post(url + PING_PATH, data=b"").content
        ops, extra = _loops(users, duration, make), {}
    elif kind == "httpclient":
        parts = urlsplit(url)

        def make() -> Callable[[], object]:
            conn = http.client.HTTPConnection(parts.hostname, parts.port)

            def op() -> bytes:
                conn.request("POST", PING_PATH, body=b"", headers={"Content-Length": "0"})
                return conn.getresponse().read()
            return op
        ops, extra = _loops(users, duration, make), {}
    else:
        raise SystemExit(f"unknown driver kind {kind!r}")
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"kind": kind, "op": op_name, "ops": ops, "wall_s": wall, "cpu_s": cpu, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind")
    parser.add_argument("url")
    parser.add_argument("--op", choices=("ping", "desire"), default="ping")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=4)
    for name in ("ca_file", "cert_file", "key_file"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name)
    a = parser.parse_args()
    tls = {name: getattr(a, name) for name in ("ca_file", "cert_file", "key_file") if getattr(a, name)}
    print(json.dumps(run(a.kind, a.url, a.duration, a.users, a.op, tls)), flush=True)


if __name__ == "__main__":
    main()
