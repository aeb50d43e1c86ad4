"""The embedded Locket's settings, checked once: loopback only, all three TLS files or none."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A Locket setting is wrong; the message says which and how to fix it."""


REPORT_INTERVAL = 60.0
"""Seconds: Locket's report_interval, the window RequestLatencyMax is the maximum over."""


@dataclass
class LocketConfig:
    state_dir: Path
    listen: str = "127.0.0.1:0"
    """The gRPC address (Diego's ``locket_address``; Diego's port is 8891, 0 takes a free one)."""
    health_listen: str = "127.0.0.1:0"
    """Plain HTTP: ``GET /ping`` and ``GET /metrics``."""
    db: Path | None = None
    """The SQLite file locks are kept in; default ``<state_dir>/locket.sqlite3``."""
    time_scale: float = 1.0
    """A TTL of N seconds lasts N x time_scale seconds of wall time (clients still send Diego's 15)."""
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    address: tuple[str, int] = field(init=False)
    health_address: tuple[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        tls = [self.tls_ca, self.tls_cert, self.tls_key]
        if any(tls) and not all(tls):
            raise ConfigError("TLS needs all of --tls-ca, --tls-cert and --tls-key (or none of them)")
        if not self.time_scale > 0:
            raise ConfigError(f"--time-scale must be > 0, got {self.time_scale!r}")
        self.address = loopback_address(self.listen, "--listen")
        self.health_address = loopback_address(self.health_listen, "--health-listen")

    @property
    def tls(self) -> bool:
        return self.tls_ca is not None

    @property
    def db_path(self) -> Path:
        return self.db or self.state_dir / "locket.sqlite3"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "locket.log"

    @property
    def run_file(self) -> Path:
        return self.state_dir / "run" / "locket.json"

    @property
    def report_interval(self) -> float:
        return REPORT_INTERVAL * self.time_scale


def loopback_address(value: str, flag: str) -> tuple[str, int]:
    """``127.0.0.1:8891`` -> ("127.0.0.1", 8891); any non-loopback IP is refused (nothing in this
    project listens beyond the machine)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{flag} {value!r}: expected ip:port, e.g. 127.0.0.1:8891 (port 0: any free port)")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ConfigError(f"{flag} {value!r}: the host must be a loopback IP such as 127.0.0.1") from None
    if not ip.is_loopback:
        raise ConfigError(f"{flag} {value!r} is not a loopback address; the embedded Locket binds "
                          "127.0.0.0/8 or ::1 only")
    return str(ip), int(port)
