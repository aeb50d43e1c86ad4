"""Helpers shared by the hardening tests: process and port accounting, knobs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil

FIGURES: dict[str, dict[str, Any]] = {}
"""Test name -> the figures it measured (printed by conftest at the end of the run)."""


def knob(name: str, default: float) -> float:
    """A numeric setting from the environment (e.g. DIEGO_HARDENING_LOAD_SECONDS=600)."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None


def descendants() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


def listening_ports() -> set[tuple[str, int]]:
    """TCP addresses this process listens on (in-process servers)."""
    try:
        conns = psutil.Process().net_connections(kind="tcp")
    except psutil.Error:
        return set()
    return {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}


def strays(before: set[int], base: Path) -> list[psutil.Process]:
    """Processes started since ``before`` that are still running: our descendants, and any
    process (orphans included) whose command line names a path under ``base``."""
    me = os.getpid()
    found = {p.pid: p for p in descendants() if p.pid not in before}
    marker = str(base)
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.pid in before or proc.pid == me or proc.pid in found:
            continue
        if any(marker in part for part in proc.info["cmdline"] or ()):
            found[proc.pid] = proc
    alive = []
    for proc in found.values():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.Error:
            continue
    return alive
