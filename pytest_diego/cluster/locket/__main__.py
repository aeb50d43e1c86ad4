"""``python -m pytest_diego.cluster.locket --state-dir DIR ...``: run the embedded Locket as a process.

Writes ``DIR/run/locket.json`` ({"pid", "address", "url", "tls", "health_url", "metrics_url"})
atomically once it serves, logs to ``DIR/logs/locket.log``, keeps locks in ``DIR/locket.sqlite3``,
stops cleanly on SIGTERM/SIGINT and when its parent dies. Exits 2 on a bad setting.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from pytest_diego.cluster.component import die_with_parent, wait_for_shutdown_signal, write_run_file
from pytest_diego.cluster.locket.config import ConfigError, LocketConfig
from pytest_diego.cluster.locket.server import LocketServer
from pytest_diego.cluster.locket.store import StoreError


def parse_args(argv: list[str] | None = None) -> LocketConfig:
    p = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.locket",
                                description="The embedded Diego Locket (locks and cell presences).")
    p.add_argument("--state-dir", required=True, type=Path, help="run/, logs/ and the lock file go here")
    p.add_argument("--listen", default="127.0.0.1:0",
                   help="gRPC address, loopback only (default 127.0.0.1:0; Diego's port is 8891)")
    p.add_argument("--health-listen", default="127.0.0.1:0", help="plain-HTTP /ping and /metrics")
    p.add_argument("--db", type=Path, default=None, help="SQLite lock file (default DIR/locket.sqlite3)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="a TTL of N s lasts N x this; clients still ask for Diego's 15 s")
    p.add_argument("--tls-ca", type=Path, default=None, help="CA that client certificates must be signed by")
    p.add_argument("--tls-cert", type=Path, default=None, help="server certificate (RSA)")
    p.add_argument("--tls-key", type=Path, default=None)
    a = p.parse_args(argv)
    return LocketConfig(state_dir=a.state_dir, listen=a.listen, health_listen=a.health_listen, db=a.db,
                        time_scale=a.time_scale, tls_ca=a.tls_ca, tls_cert=a.tls_cert, tls_key=a.tls_key)


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    try:
        config = parse_args(argv)
        server = LocketServer(config).start()
    except (ConfigError, StoreError) as e:
        print(f"locket: {e}", file=sys.stderr)
        return 2
    try:
        write_run_file(config.state_dir, "locket", server.run_info())
        signum = wait_for_shutdown_signal()
        server.logger.info("grpc-server.signalled", signal=signal.Signals(signum).name)
    finally:
        config.run_file.unlink(missing_ok=True)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
