"""The embedded route emitter: a routing table from the BBS event stream and periodic full syncs,
registered with the embedded router (Diego's route-emitter, with HTTP instead of NATS)."""

from pytest_diego.cluster.route_emitter.emitter import RouteEmitter
from pytest_diego.cluster.route_emitter.table import RoutingTable

__all__ = ["RouteEmitter", "RoutingTable"]
