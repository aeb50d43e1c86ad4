"""``python -m pytest_diego.cluster.router --state-dir D [--time-scale F]``: the embedded gorouter.

Writes ``D/run/router.json`` {"pid", "url", "admin_url", "metrics_url", "status_user",
"status_credentials"} once both ports listen: ``status_credentials`` is the file (0600) holding the
status listener's user and password, created on the first start and kept for restarts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from prometheus_client import disable_created_metrics

from pytest_diego.cluster.component import die_with_parent, wait_for_shutdown_signal, write_run_file
from pytest_diego.cluster.router import status
from pytest_diego.cluster.router.server import Router
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.router", description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=0, help="proxy port (default: any free port)")
    parser.add_argument("--admin-port", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.time_scale > 0:
        parser.error(f"--time-scale must be > 0, got {args.time_scale}")
    die_with_parent()
    disable_created_metrics()  # keep /metrics to the series a sampler reads
    logger = Logger("router", args.state_dir / "logs" / "router.log")
    credentials_file = args.state_dir / status.FILENAME
    router = Router(Timing(args.time_scale), logger, port=args.port, admin_port=args.admin_port,
                    credentials=status.load_or_create(credentials_file))
    write_run_file(args.state_dir, "router", {
        "pid": os.getpid(), "url": router.url, "admin_url": router.admin_url,
        "metrics_url": f"{router.admin_url}/metrics", "status_user": router.credentials.user,
        "status_credentials": str(credentials_file),
    })
    signum = wait_for_shutdown_signal()
    logger.info("signalled", signal=signum)
    router.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
