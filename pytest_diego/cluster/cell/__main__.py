"""``python -m pytest_diego.cluster.cell``: one simulated cell (rep) of the embedded cluster.

Serves the rep API on ``http://<address>:<port>``, registers its presence with the BBS, drives its
work through the BBS cell-side routes, and writes ``<state_dir>/run/<cell-id>.json``
({"pid", "url", "metrics_url", "address"}) once ready. Logs (lager, source ``rep``) go to
``<state_dir>/logs/<cell-id>.log``. SIGTERM/SIGINT or the parent's death end it without telling
the BBS anything, as a VM that disappears would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
from pathlib import Path

from pytest_diego.bbs import BBSClient
from pytest_diego.cluster.cell.api import make_handler
from pytest_diego.cluster.cell.container_model import parse_container_model
from pytest_diego.cluster.cell.http import serve
from pytest_diego.cluster.cell.ledger import Capacity
from pytest_diego.cluster.cell.rep import CellConfig, Rep
from pytest_diego.cluster.component import die_with_parent, write_run_file
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.cell", description=__doc__)
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--bbs-url", required=True)
    p.add_argument("--cell-id", required=True)
    p.add_argument("--zone", default="z0")
    p.add_argument("--address", default="127.0.0.1", help="the cell's own loopback address")
    p.add_argument("--port", type=int, default=0, help="rep API port (default: any free)")
    p.add_argument("--memory-mb", type=int, default=32768)
    p.add_argument("--disk-mb", type=int, default=65536)
    p.add_argument("--containers", type=int, default=250)
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--crash-time-scale", type=float, default=None,
                   help="multiplies MIN/MAX_SECONDS_TIL_CRASH (default: --time-scale)")
    p.add_argument("--container-model", default="0",
                   help="container creation time: 0 | fixed:S | uniform:A,B | lognormal:MEDIAN,SIGMA")
    p.add_argument("--placement-tag", action="append", default=[], dest="placement_tags")
    p.add_argument("--optional-placement-tag", action="append", default=[],
                   dest="optional_placement_tags")
    p.add_argument("--tls-ca", help="CA file for the BBS's server certificate")
    p.add_argument("--tls-cert", help="client certificate for the BBS")
    p.add_argument("--tls-key", help="client key for the BBS")
    args = p.parse_args(argv)
    if not args.time_scale > 0:
        p.error(f"--time-scale must be > 0, got {args.time_scale}")
    if args.crash_time_scale is None:
        args.crash_time_scale = args.time_scale
    if not args.crash_time_scale > 0:
        p.error(f"--crash-time-scale must be > 0, got {args.crash_time_scale}")
    for name in ("memory_mb", "disk_mb", "containers"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    try:
        args.container_model = parse_container_model(args.container_model)
    except ValueError as e:
        p.error(str(e))
    return args


def _raise_fd_limit() -> None:
    """Up to 250 instance listeners plus their connections need more than the usual 1024 fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


async def run(args: argparse.Namespace) -> None:
    logger = Logger("rep", args.state_dir / "logs" / f"{args.cell_id}.log")
    config = CellConfig(
        cell_id=args.cell_id, zone=args.zone, address=args.address,
        capacity=Capacity(args.memory_mb, args.disk_mb, args.containers), timing=Timing(args.time_scale),
        container_model=args.container_model, crash_time_scale=args.crash_time_scale,
        placement_tags=tuple(args.placement_tags),
        optional_placement_tags=tuple(args.optional_placement_tags))
    bbs = BBSClient(args.bbs_url, ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key,
                    timeout=10.0)
    rep = Rep(config, bbs, logger)
    server = await serve(make_handler(rep), args.address, args.port)
    rep.rep_url = f"http://{args.address}:{server.port}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await rep.heartbeat()
    except Exception as e:  # the presence loop keeps trying; the cell is still useful to inspect
        logger.error("presence.initial-registration-failed", e)
    rep.start_loops()
    write_run_file(args.state_dir, args.cell_id, {"pid": os.getpid(), "url": rep.rep_url,
                                                  "metrics_url": f"{rep.rep_url}/metrics",
                                                  "address": args.address})
    logger.info("started", cell_id=args.cell_id, zone=args.zone, rep_url=rep.rep_url,
                capacity=config.capacity.to_json(), time_scale=args.time_scale)
    await stop.wait()
    logger.info("signalled")
    server.close()
    await rep.close()
    logger.info("exited")
    logger.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    die_with_parent()
    _raise_fd_limit()
    asyncio.run(run(args))
    # in-flight BBS calls are abandoned, not awaited: a stopped cell tells no one
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
