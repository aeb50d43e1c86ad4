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
    ComponentHandler,
    add_bbs_arguments,
    check_bbs_arguments,
    die_with_parent,
    serve_in_thread,
    server_url,
    wait_for_shutdown_signal,
    write_run_file,
)
from pytest_diego.cluster.metrics_agent import CONTENT_TYPE
from pytest_diego.cluster.route_emitter.emitter import RouteEmitter
from pytest_diego.cluster.route_emitter.metrics import RouteEmitterMetrics
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger


def _metrics_handler(metrics: RouteEmitterMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(ComponentHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self.reply(200, metrics.render(), CONTENT_TYPE)
            elif self.path == "/ping":
                self.reply(200, b"{}", "application/json")
            else:
                self.reply(404, b"not found; try /metrics or /ping\n", "text/plain")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.route_emitter", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, required=True)
    add_bbs_arguments(parser)
    parser.add_argument("--router-admin-url", required=True)
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    check_bbs_arguments(parser, args)
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
