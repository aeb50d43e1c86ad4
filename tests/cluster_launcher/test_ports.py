"""Ports chosen before a component binds them lie outside the kernel's ephemeral range."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pytest_diego.cluster import ports


def test_a_chosen_port_is_free_and_below_the_ephemeral_range():
    low = ports.ephemeral_low()
    chosen = {ports.free_port() for _ in range(20)}
    assert all(ports.LOWEST <= port < low for port in chosen)
    assert len(chosen) > 1  # drawn at random: two runs side by side rarely pick the same
    for port in chosen:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_taken_port_is_never_chosen(monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        taken.listen()
        monkeypatch.setattr(ports, "LOWEST", port)
        monkeypatch.setattr(ports, "ephemeral_low", lambda: port + 2)
        assert all(ports.free_port() != port for _ in range(10))  # drawn from {port, port + 1}


def test_without_the_kernels_range_it_falls_back_to_the_kernels_choice(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE", tmp_path / "absent")
    assert ports.ephemeral_low() == 32768
    monkeypatch.setattr(ports, "LOWEST", 40000)  # nothing left to draw from below 32768
    port = ports.free_port()
    assert port > 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
