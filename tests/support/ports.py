"""Loopback ports for tests: the cluster's own choice (``pytest_diego.cluster.ports``), outside the
kernel's ephemeral range, so no connection of a test running beside takes it in between."""

from __future__ import annotations

from pytest_diego.cluster.ports import free_port

__all__ = ["free_port", "free_url"]


def free_url(scheme: str = "http") -> str:
    """``scheme://127.0.0.1:PORT`` where nothing listens."""
    return f"{scheme}://127.0.0.1:{free_port()}"
