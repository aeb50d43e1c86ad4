"""``python -m pytest_diego.cluster.cell``: one hollow cell (rep) of the embedded cluster.

Serves the rep API on its securable listener (``rep_url``: ``https://<address>:<port>`` with
mutual TLS when given a rep CA, else ``http://``) and ping, evacuate and metrics on its admin
listener, keeps its presence in Locket, drives its work through the BBS cell-side routes, and
writes ``<state_dir>/run/<cell-id>.json`` ({"pid", "url", "admin_url", "metrics_url",
"address"}) once ready. Logs (lager, source ``rep``) go to ``<state_dir>/logs/<cell-id>.log``.
SIGTERM/SIGINT or the parent's death release its presence, as Diego's rep does when signalled,
and tell the BBS nothing else; ``POST /evacuate`` evacuates it, then it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from pytest_diego.bbs import BBSClient
from pytest_diego.cluster.cell.container_model import parse_container_model
from pytest_diego.cluster.cell.hollow import CellHost, HollowCell, raise_fd_limit
from pytest_diego.cluster.cell.ledger import Capacity
from pytest_diego.cluster.cell.rep import CellConfig
from pytest_diego.cluster.cell.tls import CellCertificates, RepTLS
from pytest_diego.cluster.component import (
    add_bbs_arguments,
    check_bbs_arguments,
    die_with_parent,
    write_run_file,
)
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger
from pytest_diego.locket import LocketClient


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.cell", description=__doc__)
    p.add_argument("--state-dir", type=Path, required=True)
    add_bbs_arguments(p)
    p.add_argument("--locket-address", required=True, help="Locket's host:port, where the presence is kept")
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
    p.add_argument("--locket-ca", help="CA file for Locket's certificate (default: --tls-ca)")
    p.add_argument("--locket-cert", help="client certificate for Locket (default: --tls-cert)")
    p.add_argument("--locket-key", help="client key for Locket (default: --tls-key)")
    p.add_argument("--cell-index", type=int, default=None, help="the rep's cell_index (default: from the id)")
    p.add_argument("--rep-ca", help="CA that issues this cell's server certificate (mutual TLS on rep_url)")
    p.add_argument("--rep-ca-key", help="the rep CA's key")
    p.add_argument("--rep-key", help="the key the cell's certificate is issued for (default: a new one)")
    p.add_argument("--rep-client-ca", help="CA of the clients' certificates (default: --rep-ca)")
    args = p.parse_args(argv)
    check_bbs_arguments(p, args)
    if args.crash_time_scale is None:
        args.crash_time_scale = args.time_scale
    if not args.crash_time_scale > 0:
        p.error(f"--crash-time-scale must be > 0, got {args.crash_time_scale}")
    for name in ("memory_mb", "disk_mb", "containers"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0")
    for name in ("ca", "cert", "key"):
        if getattr(args, f"locket_{name}") is None:
            setattr(args, f"locket_{name}", getattr(args, f"tls_{name}"))
    try:
        args.container_model = parse_container_model(args.container_model)
    except ValueError as e:
        p.error(str(e))
    args.rep_tls = None
    if args.rep_ca or args.rep_ca_key:
        try:
            args.rep_tls = RepTLS(client_ca_file=args.rep_client_ca or args.rep_ca, ca_file=args.rep_ca or "",
                                  ca_key_file=args.rep_ca_key or "", key_file=args.rep_key or "")
        except ValueError as e:
            p.error(str(e))
    if args.cell_index is None:
        digits = args.cell_id.rsplit("-", 1)[-1]
        args.cell_index = int(digits) if digits.isdigit() else 0
    return args


async def run(args: argparse.Namespace) -> None:
    logger = Logger("rep", args.state_dir / "logs" / f"{args.cell_id}.log")
    config = CellConfig(
        cell_id=args.cell_id, zone=args.zone, address=args.address,
        capacity=Capacity(args.memory_mb, args.disk_mb, args.containers), timing=Timing(args.time_scale),
        container_model=args.container_model, crash_time_scale=args.crash_time_scale,
        placement_tags=tuple(args.placement_tags),
        optional_placement_tags=tuple(args.optional_placement_tags), cell_index=args.cell_index)
    host = CellHost(
        BBSClient(args.bbs_url, ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key,
                  timeout=10.0),
        LocketClient(args.locket_address, ca_file=args.locket_ca, cert_file=args.locket_cert,
                     key_file=args.locket_key),
        config.timing.presence_refresh, CellCertificates(args.rep_tls) if args.rep_tls else None)
    stop = asyncio.Event()
    cell = HollowCell(config, host, logger, rep_port=args.port, on_evacuated=lambda _: stop.set())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await cell.start()
    write_run_file(args.state_dir, args.cell_id, {"pid": os.getpid(), **cell.run_info()})
    await stop.wait()
    logger.info("signalled")
    await cell.stop()
    logger.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    die_with_parent()
    raise_fd_limit()
    asyncio.run(run(args))
    # in-flight BBS calls are abandoned, not awaited: a stopped cell tells no one
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
