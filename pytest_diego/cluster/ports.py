"""Ports a component is told to listen on before it starts.

A port found free by binding port 0 lies in the kernel's ephemeral range, where any process's
next outgoing connection may take it before the component binds it — and a test run makes
thousands of connections (an auctioneer once failed to start on "Address already in use" that
way). So a port is drawn at random between the registered ports and that range, checked free, and
only falls back to the kernel's choice when that span is unavailable.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10000
ATTEMPTS = 50
_draw = random.Random()  # its own generator: a test seeding ``random`` must not make runs collide


def ephemeral_low() -> int:
    """The first port the kernel hands out on its own (Linux's default when unreadable)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing uses now and no outgoing connection will be given."""
    low = ephemeral_low()
    if low > LOWEST:
        for port in _draw.sample(range(LOWEST, low), min(ATTEMPTS, low - LOWEST)):
            if _bindable(host, port):
                return port
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
