"""``python -m pytest_diego cells``: hollow cells that join a Diego (a real one, or the embedded
cluster) until stopped; Ctrl-C makes them leave cleanly. See ``fleet.py``."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import Any

from pytest_diego.cluster.cell.container_model import parse_container_model
from pytest_diego.cluster.cell.fleet import ClientTLS, Fleet, run
from pytest_diego.cluster.cell.ledger import Capacity
from pytest_diego.cluster.cell.rep import EVACUATION_TIMEOUT
from pytest_diego.cluster.cell.tls import RepTLS
from pytest_diego.cluster.component import die_with_parent

EXAMPLE = """\
example, on a Diego VM set up for cfdot (its BBS and Locket client certificate), with the rep CA
that signs the reps' certificates:

  python -m pytest_diego cells --count 100 --zone z1 --address 10.0.16.20 \\
      --bbs-url https://bbs.service.cf.internal:8889 --locket-address locket.service.cf.internal:8891 \\
      --ca $CA_CERT_FILE --cert $CLIENT_CERT_FILE --key $CLIENT_KEY_FILE \\
      --rep-ca /path/rep-ca.crt --rep-ca-key /path/rep-ca.key
"""


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "cells",
        help="run hollow cells that join a Diego until stopped",
        description=__doc__,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--count", type=int, required=True, help="how many cells")
    p.add_argument("--bbs-url", default=os.environ.get("BBS_URL"), help="the BBS (or env BBS_URL)")
    p.add_argument(
        "--locket-address",
        default=os.environ.get("LOCKET_API_LOCATION"),
        help="Locket's host:port (or env LOCKET_API_LOCATION, as cfdot names it)",
    )
    p.add_argument(
        "--ca", default=os.environ.get("CA_CERT_FILE"), help="CA of the BBS's and Locket's certificates"
    )
    p.add_argument("--cert", default=os.environ.get("CLIENT_CERT_FILE"), help="client certificate for both")
    p.add_argument("--key", default=os.environ.get("CLIENT_KEY_FILE"), help="its key")
    p.add_argument("--locket-ca", help="Locket's CA, when not --ca")
    p.add_argument("--locket-cert", help="Locket client certificate, when not --cert")
    p.add_argument("--locket-key", help="its key")
    p.add_argument("--rep-ca", help="CA that issues each cell's rep certificate (mutual TLS on rep_url)")
    p.add_argument("--rep-ca-key", help="the rep CA's key")
    p.add_argument("--rep-cert", help="one rep certificate for every cell, instead of --rep-ca/--rep-ca-key")
    p.add_argument("--rep-key", help="the key of --rep-cert (or the key issued certificates share)")
    p.add_argument(
        "--rep-client-ca", help="CA of the auctioneer's and BBS's client certificates (default --rep-ca)"
    )
    p.add_argument("--zone", action="append", dest="zones", help="zone, repeatable: cells go round-robin")
    p.add_argument(
        "--address",
        action="append",
        dest="addresses",
        help="an IP of this host the cells listen and are reached on, repeatable (each address "
        "has host ports 61001-65535 for the instances of the cells on it)",
    )
    p.add_argument("--id-prefix", default=f"hollow-{socket.gethostname()}", help="cell ids are PREFIX-N")
    p.add_argument(
        "--first-index", type=int, default=0, help="N of the first cell (several hosts: disjoint ranges)"
    )
    p.add_argument("--processes", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--memory-mb", type=int, default=32768)
    p.add_argument("--disk-mb", type=int, default=65536)
    p.add_argument("--containers", type=int, default=250)
    p.add_argument("--placement-tag", action="append", default=[], dest="placement_tags")
    p.add_argument(
        "--container-model", default="0", help="0 | fixed:S | uniform:A,B | lognormal:MEDIAN,SIGMA"
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="the Diego's time scale (1 for a real Diego; the embedded cluster's otherwise)",
    )
    p.add_argument(
        "--evacuation-timeout",
        type=float,
        default=EVACUATION_TIMEOUT,
        help="seconds the cells wait for their instances to move when told to leave",
    )
    p.add_argument("--log-dir", type=Path, default=None, help="a lager log per cell here (default: none)")
    p.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="leave (as on SIGTERM) when the process that started this one dies",
    )
    p.set_defaults(run=lambda args: _run(args, p))


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    fleet = fleet_from(args, parser)
    if args.exit_with_parent:
        die_with_parent()
    return run(fleet)


def fleet_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Fleet:
    """The fleet the arguments describe; a bad one is a usage error naming the flag."""
    if args.count < 1:
        parser.error("--count must be >= 1")
    if not args.bbs_url or not args.locket_address:
        parser.error("--bbs-url and --locket-address are needed (or BBS_URL and LOCKET_API_LOCATION)")
    if args.bbs_url.startswith("https:") and not (args.ca and args.cert and args.key):
        parser.error(f"the BBS at {args.bbs_url} is HTTPS: give --ca, --cert and --key (its mutual TLS)")
    try:
        model = parse_container_model(args.container_model)
    except ValueError as e:
        parser.error(f"--container-model: {e}")
    rep_tls = None
    if args.rep_ca or args.rep_ca_key or args.rep_cert:
        try:
            rep_tls = RepTLS(
                client_ca_file=args.rep_client_ca or args.rep_ca or args.ca or "",
                ca_file=args.rep_ca or "",
                ca_key_file=args.rep_ca_key or "",
                key_file=args.rep_key or "",
                cert_file=args.rep_cert or "",
            )
        except ValueError as e:
            parser.error(str(e))
        if not rep_tls.client_ca_file:
            parser.error("mutual TLS on the cells' rep API needs --rep-client-ca (or --rep-ca)")
    bbs_tls = ClientTLS(args.ca, args.cert, args.key)
    locket_tls = ClientTLS(
        args.locket_ca or args.ca, args.locket_cert or args.cert, args.locket_key or args.key
    )
    for name, path in (
        ("--ca", args.ca),
        ("--cert", args.cert),
        ("--key", args.key),
        ("--rep-ca", args.rep_ca),
        ("--rep-ca-key", args.rep_ca_key),
        ("--rep-cert", args.rep_cert),
    ):
        if path and not Path(path).is_file():
            parser.error(f"{name} {path}: no such file")
    processes = args.processes or min(os.cpu_count() or 1, args.count)
    if processes < 1:
        parser.error("--processes must be >= 1")
    return Fleet(
        count=args.count,
        bbs_url=args.bbs_url,
        locket_address=args.locket_address,
        bbs_tls=bbs_tls,
        locket_tls=locket_tls,
        rep_tls=rep_tls,
        zones=tuple(args.zones or ["z1"]),
        addresses=tuple(args.addresses or ["127.0.0.1"]),
        id_prefix=args.id_prefix,
        processes=min(processes, args.count),
        capacity=Capacity(args.memory_mb, args.disk_mb, args.containers),
        container_model=model,
        time_scale=args.time_scale,
        evacuation_timeout=args.evacuation_timeout,
        placement_tags=tuple(args.placement_tags),
        log_dir=args.log_dir,
        first_index=args.first_index,
    )
