"""``python -m pytest_diego.cluster.route_emitter --state-dir D --bbs-url URL --router-admin-url URL``

The embedded route emitter. Writes ``D/run/route_emitter.json`` {"pid", "url", "metrics_url"} once
its metrics listener is up; the first sync runs as soon as the event stream is subscribed.
"""

from __future__ import annotations

import argparse
import os
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from prometheus_client import disable_created_metrics

from pytest_diego.bbs import BBSClient
from pytest_diego.cluster.component import (
    die_with_parent,
    serve_in_thread,
    server_url,
    wait_for_shutdown_signal,
    write_run_file,
)
from pytest_diego.cluster.route_emitter.emitter import RouteEmitter
from pytest_diego.cluster.route_emitter.metrics import RouteEmitterMetrics
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger


def _metrics_handler(metrics: RouteEmitterMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, ctype = metrics.render(), 200, "text/plain; version=0.0.4; charset=utf-8"
            elif self.path == "/ping":
                body, status, ctype = b"{}", 200, "application/json"
            else:
                body, status, ctype = b"not found; try /metrics or /ping\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.route_emitter", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--bbs-url", required=True)
    parser.add_argument("--router-admin-url", required=True)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--tls-ca", help="CA that signed the BBS server certificate")
    parser.add_argument("--tls-cert", help="client certificate for the BBS")
    parser.add_argument("--tls-key", help="client key for the BBS")
    args = parser.parse_args(argv)
    if not args.time_scale > 0:
        parser.error(f"--time-scale must be > 0, got {args.time_scale}")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    die_with_parent()
    disable_created_metrics()  # keep /metrics to the series a sampler reads
    logger = Logger("route-emitter", args.state_dir / "logs" / "route_emitter.log")
    client = BBSClient(args.bbs_url, ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key,
                       timeout=30.0)  # Diego's communication_timeout
    metrics = RouteEmitterMetrics()
    listener = serve_in_thread(_metrics_handler(metrics), name="metrics")
    emitter = RouteEmitter(client, args.router_admin_url, Timing(args.time_scale), logger, metrics)
    emitter.start()
    url = server_url(listener)
    write_run_file(args.state_dir, "route_emitter",
                   {"pid": os.getpid(), "url": url, "metrics_url": f"{url}/metrics"})
    logger.info("started", bbs_url=args.bbs_url, router_admin_url=args.router_admin_url,
                sync_interval=emitter.timing.route_sync_interval,
                register_interval=emitter.timing.route_register_interval)
    signum = wait_for_shutdown_signal()
    logger.info("signalled", signal=signum)
    emitter.close()
    listener.shutdown()
    client.close()
    logger.info("exited")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
