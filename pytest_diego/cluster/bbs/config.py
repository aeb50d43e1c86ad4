"""The BBS's settings (``BBSConfig``) and the checks that keep it on loopback unless told."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from pytest_diego.cluster.timing import Timing


class ConfigError(ValueError):
    """A BBS setting is wrong; the message says which and how to fix it."""


@dataclass
class BBSConfig:
    state_dir: Path
    listen: str = "127.0.0.1:0"
    health_listen: str = "127.0.0.1:0"
    db: str | None = None
    """``sqlite:////abs/path.sqlite3`` or ``postgresql://...``; default ``<state_dir>/bbs.sqlite3``."""
    auctioneer_url: str | None = None
    time_scale: float = 1.0
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    allow_non_loopback: bool = False
    convergence_interval: float | None = None
    """Seconds between convergence runs; default Diego's 30 s x time_scale."""
    intervals: dict[str, float] = field(default_factory=dict)
    """Diego's intervals set apart from the time scale (``timing.INTERVALS`` name -> seconds), as
    a bbs job sets each of its properties."""
    max_task_retries: int = 3
    locket_address: str | None = None
    """Diego's ``locket_address`` (host:port): cells are read from it and the ``bbs`` lock held in
    it. None: a BBS alone (tests of its API), which serves at once and knows no cell."""
    locket_ca_cert: Path | None = None
    locket_client_cert: Path | None = None
    locket_client_key: Path | None = None
    rep_ca_cert: Path | None = None
    """CA of the reps' certificates; with the client files, reps are called over mutual TLS."""
    rep_client_cert: Path | None = None
    rep_client_key: Path | None = None
    lock_owner: str | None = None
    """The owner of the ``bbs`` lock (Diego's ``uuid``): stable per BBS instance, so a restarted
    BBS takes its lock back at once. Default: a new one per start."""

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        tls = [self.tls_ca, self.tls_cert, self.tls_key]
        if any(tls) and not all(tls):
            raise ConfigError("TLS needs all of --tls-ca, --tls-cert and --tls-key (or none of them)")
        locket_tls = [self.locket_ca_cert, self.locket_client_cert, self.locket_client_key]
        if any(locket_tls) and not all(locket_tls):
            raise ConfigError("mutual TLS with Locket needs all of --locket-ca-cert, --locket-client-cert "
                              "and --locket-client-key (or none of them)")
        if any(locket_tls) and not self.locket_address:
            raise ConfigError("--locket-ca-cert, --locket-client-cert and --locket-client-key need "
                              "--locket-address")
        rep_tls = [self.rep_ca_cert, self.rep_client_cert, self.rep_client_key]
        if any(rep_tls) and not all(rep_tls):
            raise ConfigError("mutual TLS with reps needs all of --rep-ca-cert, --rep-client-cert and "
                              "--rep-client-key (or none of them)")
        if self.lock_owner is not None and not self.lock_owner.strip():
            raise ConfigError("--lock-owner must not be empty (Locket refuses an empty owner)")
        _ = self.timing  # raises ConfigError for a bad time scale

    @property
    def timing(self) -> Timing:
        try:
            return Timing.of(self.time_scale, self.intervals)
        except ValueError as e:
            setting = "--time-scale" if not self.time_scale > 0 else "intervals"
            raise ConfigError(f"{setting}: {e}") from e

    @property
    def tls(self) -> bool:
        return self.tls_ca is not None

    @property
    def dsn(self) -> str:
        return self.db or f"sqlite:///{(self.state_dir / 'bbs.sqlite3').resolve()}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "bbs.log"

    @property
    def run_file(self) -> Path:
        return self.state_dir / "run" / "bbs.json"

    @property
    def interval(self) -> float:
        return self.convergence_interval or self.timing.convergence_interval


def parse_listen(value: str, allow_non_loopback: bool = False, flag: str = "--listen") -> tuple[str, int]:
    """``host:port`` -> (host, port), refusing a non-loopback host unless explicitly allowed."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{flag} {value!r}: expected host:port, e.g. 127.0.0.1:8889")
    if not allow_non_loopback and not _loopback(host):
        raise ConfigError(
            f"{flag} {value!r} is not a loopback address; the BBS only binds loopback unless "
            "started with --allow-non-loopback"
        )
    return host, int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
