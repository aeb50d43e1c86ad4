"""The embedded gorouter: an HTTP reverse proxy by Host header over endpoints the route emitter
registers on its admin port, pruning endpoints that stop being re-registered."""

from pytest_diego.cluster.router.server import Router
from pytest_diego.cluster.router.table import RouteTable

__all__ = ["RouteTable", "Router"]
