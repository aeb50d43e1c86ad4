"""``python -m pytest_diego.cluster.bbs --state-dir DIR ...``: run the embedded BBS as a process.

With ``--locket-address`` it serves once it holds the ``bbs`` lock in Locket, however long that
takes. Writes ``DIR/run/bbs.json`` ({"pid", "url", "health_url", "metrics_url"}) atomically once
it serves, logs to ``DIR/logs/bbs.log``, stops cleanly on SIGTERM/SIGINT (releasing its lock) and
when its parent dies.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from pytest_diego.cluster.bbs.config import BBSConfig, ConfigError
from pytest_diego.cluster.bbs.db import StoreError
from pytest_diego.cluster.bbs.server import BBSServer
from pytest_diego.cluster.component import ShutdownSignals, die_with_parent, write_run_file


def parse_args(argv: list[str] | None = None) -> BBSConfig:
    p = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.bbs",
                                description="The embedded Diego BBS (database node).")
    p.add_argument("--state-dir", required=True, type=Path, help="run/, logs/ and the SQLite store go here")
    p.add_argument("--listen", default="127.0.0.1:0", help="BBS API address (default 127.0.0.1:0)")
    p.add_argument("--health-listen", default="127.0.0.1:0", help="plain-HTTP /ping and /metrics")
    p.add_argument("--db", default=None,
                   help="sqlite:////abs/path.sqlite3 or postgresql://... (default DIR/bbs.sqlite3)")
    p.add_argument("--db-file", type=Path, default=None,
                   help="read the store's DSN from this file (keeps a password off the command line)")
    p.add_argument("--auctioneer-url", default=None, help="where start requests go (default: dropped)")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiplies every Diego interval")
    p.add_argument("--convergence-interval", type=float, default=None,
                   help="seconds between convergence runs (default 30 x time-scale)")
    p.add_argument("--tls-ca", type=Path, default=None)
    p.add_argument("--tls-cert", type=Path, default=None)
    p.add_argument("--tls-key", type=Path, default=None)
    p.add_argument("--allow-non-loopback", action="store_true",
                   help="allow --listen on a non-loopback address")
    p.add_argument("--locket-address", default=None,
                   help="Locket's host:port: cells are its presences, and the BBS serves while it "
                        "holds the 'bbs' lock (default: none, no cell is present)")
    p.add_argument("--locket-ca-cert", type=Path, default=None, help="CA of Locket's certificate")
    p.add_argument("--locket-client-cert", type=Path, default=None, help="client certificate for Locket")
    p.add_argument("--locket-client-key", type=Path, default=None)
    p.add_argument("--rep-ca-cert", type=Path, default=None, help="CA of the reps' certificates")
    p.add_argument("--rep-client-cert", type=Path, default=None, help="client certificate for reps")
    p.add_argument("--rep-client-key", type=Path, default=None)
    p.add_argument("--lock-owner", default=None,
                   help="owner of the 'bbs' lock, stable per BBS instance (Diego's uuid; default: new)")
    a = p.parse_args(argv)
    db = a.db
    if a.db_file is not None:
        if a.db is not None:
            raise ConfigError("give --db or --db-file, not both")
        try:
            db = a.db_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(f"--db-file {a.db_file}: cannot read it: {e.strerror or e}") from e
    return BBSConfig(
        state_dir=a.state_dir, listen=a.listen, health_listen=a.health_listen, db=db,
        auctioneer_url=a.auctioneer_url, time_scale=a.time_scale, tls_ca=a.tls_ca,
        tls_cert=a.tls_cert, tls_key=a.tls_key, allow_non_loopback=a.allow_non_loopback,
        convergence_interval=a.convergence_interval, locket_address=a.locket_address,
        locket_ca_cert=a.locket_ca_cert, locket_client_cert=a.locket_client_cert,
        locket_client_key=a.locket_client_key, lock_owner=a.lock_owner, rep_ca_cert=a.rep_ca_cert,
        rep_client_cert=a.rep_client_cert, rep_client_key=a.rep_client_key,
    )


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    signals = ShutdownSignals()
    try:
        config = parse_args(argv)
        server = BBSServer(config).start(lock_wait=None)
    except (ConfigError, StoreError) as e:
        print(f"bbs: {e}", file=sys.stderr)
        return 2
    try:
        while not server.serving.wait(0.1):  # Diego's BBS waits for its lock as long as it takes
            if signals.received:
                break
        if not signals.received:
            write_run_file(config.state_dir, "bbs", server.run_info())
        signum = signals.wait()
        server.logger.info("signal-received", signal=signal.Signals(signum).name)
    finally:
        server.stop()
        config.run_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
