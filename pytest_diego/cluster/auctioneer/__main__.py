"""``python -m pytest_diego.cluster.auctioneer``: the auctioneer process of the embedded cluster.

Writes ``<state_dir>/run/auctioneer.json`` ({"pid", "url", "metrics_url"}) once it serves, logs to
``<state_dir>/logs/auctioneer.log``, exits on SIGTERM/SIGINT or when its parent dies.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pytest_diego.cluster.auctioneer.metrics import AuctioneerMetrics
from pytest_diego.cluster.auctioneer.runner import AuctionRunner
from pytest_diego.cluster.auctioneer.scoring import Weights
from pytest_diego.cluster.auctioneer.server import make_handler
from pytest_diego.cluster.component import (
    add_bbs_arguments,
    check_bbs_arguments,
    die_with_parent,
    serve_in_thread,
    server_url,
    wait_for_shutdown_signal,
    write_run_file,
)
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.auctioneer", description=__doc__)
    p.add_argument("--state-dir", type=Path, required=True)
    add_bbs_arguments(p)
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--port", type=int, default=0, help="listen port on 127.0.0.1 (default: any free)")
    p.add_argument("--rep-ca-cert", help="CA of the reps' certificates (mutual TLS with reps)")
    p.add_argument("--rep-client-cert", help="client certificate for reps")
    p.add_argument("--rep-client-key", help="client key for reps")
    p.add_argument("--starting-container-weight", type=float, default=0.25)
    p.add_argument("--bin-pack-first-fit-weight", type=float, default=0.0)
    p.add_argument("--starting-container-count-maximum", type=int, default=0, help="0: unlimited")
    args = p.parse_args(argv)
    check_bbs_arguments(p, args)
    rep_tls = (args.rep_ca_cert, args.rep_client_cert, args.rep_client_key)
    if any(rep_tls) and not all(rep_tls):
        p.error("--rep-ca-cert, --rep-client-cert and --rep-client-key go together")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    die_with_parent()
    from pytest_diego.bbs import BBSClient
    from pytest_diego.rep import RepClient

    timing = Timing(args.time_scale)
    logger = Logger("auctioneer", args.state_dir / "logs" / "auctioneer.log")
    bbs = BBSClient(args.bbs_url, ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key,
                    timeout=10.0)
    metrics = AuctioneerMetrics()
    weights = Weights(args.starting_container_weight, args.bin_pack_first_fit_weight,
                      args.starting_container_count_maximum)
    reps = RepClient(ca_file=args.rep_ca_cert, cert_file=args.rep_client_cert, key_file=args.rep_client_key,
                     timeout=timing.cell_state_timeout)
    runner = AuctionRunner(bbs, logger, weights, cell_state_timeout=timing.cell_state_timeout,
                           observer=metrics.observer(), reps=reps)
    runner.start()
    server = serve_in_thread(make_handler(runner, metrics, logger), "127.0.0.1", args.port, "auctioneer")
    url = server_url(server)
    write_run_file(args.state_dir, "auctioneer",
                   {"pid": os.getpid(), "url": url, "metrics_url": f"{url}/metrics"})
    logger.info("started", url=url, bbs_url=args.bbs_url, time_scale=args.time_scale)
    signum = wait_for_shutdown_signal()
    logger.info("signalled", signal=signum)
    server.shutdown()
    server.server_close()
    runner.stop()
    logger.info("exited")
    logger.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
