"""``RouteTable``: the routes gorouter has, read from its status listener like an operator does.

gorouter's status listener (cf-deployment: port 8080 of each router VM, HTTP basic auth with the
``router.status.user``/``password`` properties) serves ``GET /routes``: a JSON object, route →
list of endpoints, each with ``address`` (cell IP and the instance's host port), ``ttl``,
``private_instance_id`` (the ActualLRP's instance_guid), ``tags``, ``availability_zone``,
``protocol``, ``tls``... (``docs/diego-facts.md`` §13.1), and ``GET /health``. The
embedded router's admin listener serves the same, so one reader serves both targets.

Credentials: in the URL (``http://router-status:PASSWORD@10.0.16.4:8080``), as arguments, or
from ``DIEGO_ROUTER_STATUS_USER`` and ``DIEGO_ROUTER_STATUS_PASSWORD``. They are never printed:
``url``, ``repr`` and every error show the URL without them. On the embedded cluster use
``EmbeddedCluster.router_status_url``, which carries them.

What a read gives (``RouteSnapshot``): ``routes_total``, the number of endpoints in the table
(what the route emitter's ``RoutesTotal`` counts: one per route and instance), the routes
(hostnames), and for chosen hostnames the endpoints and which instance_guids are routed.
``sample`` records them as Gauges: ``RouterEndpoints`` (= routes_total), ``RouterRoutes``
(hostnames) and ``RouterEndpoints.<hostname>`` per chosen hostname. Each router VM has its own
table; read each one to compare them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_diego.measure import names
from pytest_diego.measure.endpoint import Endpoint, EnvNames
from pytest_diego.measure.http import EndpointError

if TYPE_CHECKING:
    import os

    from pytest_diego.measure.measurements import Measurements

ROUTER_STATUS_ENV = EnvNames(user="DIEGO_ROUTER_STATUS_USER", password="DIEGO_ROUTER_STATUS_PASSWORD")
AUTH_HINT = ("check the router status user/password (gorouter's router.status.user/password): give "
             "them in the URL as http://USER:PASSWORD@host:8080 or in DIEGO_ROUTER_STATUS_USER and "
             "DIEGO_ROUTER_STATUS_PASSWORD")
SHAPE = '{"<route>": [{"address": "10.0.1.2:61000", "private_instance_id": "...", ...}]}'


@dataclass(frozen=True)
class RouteEndpoint:
    """One endpoint of a route, with gorouter's field names mapped to Diego's words."""

    address: str  # cell address and the instance's host port
    instance_guid: str  # gorouter's private_instance_id ("" for non-Diego routes)
    ttl: int
    availability_zone: str = ""
    protocol: str = ""
    tls: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AppRoutes:
    """One hostname's routing now: how many endpoints, and which instances they reach."""

    hostname: str
    endpoints: int
    instance_guids: frozenset[str]


@dataclass(frozen=True)
class RouteSnapshot:
    """The router's table at ``taken_at`` (Unix seconds)."""

    taken_at: float
    routes: Mapping[str, tuple[RouteEndpoint, ...]]

    @property
    def routes_total(self) -> int:
        """Endpoints in the table, what the route emitter's ``RoutesTotal`` counts."""
        return sum(len(endpoints) for endpoints in self.routes.values())

    @property
    def hostnames(self) -> frozenset[str]:
        return frozenset(self.routes)

    def app_routes(self, hostnames: Iterable[str]) -> dict[str, AppRoutes]:
        """Per hostname (absent ones have 0 endpoints): endpoints and routed instance_guids."""
        result = {}
        for hostname in hostnames:
            endpoints = self.routes.get(hostname.lower(), ())
            result[hostname] = AppRoutes(hostname, len(endpoints),
                                         frozenset(e.instance_guid for e in endpoints if e.instance_guid))
        return result


def parse_routes(body: bytes, url: str, taken_at: float) -> RouteSnapshot:
    """gorouter's ``/routes`` body as a snapshot; ``EndpointError`` saying what is wrong with it."""
    try:
        table = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EndpointError(f"{url} did not return JSON (it began {body[:80]!r}); is it gorouter's "
                            f"status listener (port 8080 in cf-deployment) and its /routes path? "
                            f"Expected {SHAPE}") from None
    if not isinstance(table, dict):
        raise EndpointError(f"{url} returned a JSON {type(table).__name__}, not gorouter's route table "
                            f"{SHAPE}")
    routes = {}
    for route, endpoints in table.items():
        if not isinstance(endpoints, list):
            raise EndpointError(f"{url}: route {route!r} maps to a {type(endpoints).__name__}, not a list "
                                f"of endpoints; expected {SHAPE}")
        routes[route.lower()] = tuple(_endpoint(e, route, i, url) for i, e in enumerate(endpoints))
    return RouteSnapshot(taken_at, routes)


def _endpoint(data: Any, route: str, index: int, url: str) -> RouteEndpoint:
    where = f"{url}: route {route!r} endpoint {index}"
    if not isinstance(data, dict):
        raise EndpointError(f"{where} is a {type(data).__name__}, not an object; expected {SHAPE}")
    address, ttl = data.get("address"), data.get("ttl", 0)
    if not isinstance(address, str) or not address:
        raise EndpointError(f"{where} has no 'address' (host:port): {json.dumps(data)[:120]}")
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise EndpointError(f"{where} has a 'ttl' that is not a whole number of seconds: {ttl!r}")
    instance_guid = data.get("private_instance_id", "")
    tags = {} if data.get("tags") is None else data["tags"]  # gorouter writes null for no tags
    if not isinstance(instance_guid, str) or not isinstance(tags, dict):
        raise EndpointError(f"{where}: 'private_instance_id' must be a string and 'tags' an object: "
                            f"{json.dumps(data)[:120]}")
    return RouteEndpoint(address, instance_guid, ttl, str(data.get("availability_zone") or ""),
                         str(data.get("protocol") or ""), bool(data.get("tls", False)),
                         {str(k): str(v) for k, v in tags.items()})


class RouteTable:
    """gorouter's routing table at ``status_url`` (``http://[USER:PASSWORD@]host:8080``)."""

    def __init__(self, status_url: str, *, user: str | None = None, password: str | None = None,
                 timeout: float = 5.0, ca_file: str | os.PathLike[str] | None = None,
                 skip_verify: bool = False, environ: Mapping[str, str] | None = None) -> None:
        self.endpoint = Endpoint(status_url, what="router status listener", user=user, password=password,
                                 ca_file=ca_file, skip_verify=skip_verify, timeout=timeout,
                                 env=ROUTER_STATUS_ENV, environ=environ, auth_hint=AUTH_HINT)

    @property
    def url(self) -> str:
        """The status listener's URL, without credentials."""
        return self.endpoint.url

    def __repr__(self) -> str:
        return f"RouteTable({self.endpoint!r})"

    def read(self) -> RouteSnapshot:
        """The table now; ``EndpointError`` naming the URL and what to fix."""
        taken_at = time.time()
        status, body, _ = self.endpoint.fetch("/routes")
        if status != 200:
            raise EndpointError(f"{self.url}/routes answered HTTP {status}; is it gorouter's status "
                                "listener (port 8080 in cf-deployment)?")
        return parse_routes(body, f"{self.url}/routes", taken_at)

    def healthy(self) -> bool:
        """Whether ``GET /health`` answers 200 (the router is up); False if it cannot be reached."""
        try:
            status, _, _ = self.endpoint.fetch("/health")
        except EndpointError:
            return False
        return status == 200

    def sample(self, measurements: Measurements,
               hostnames: Iterable[str] | Callable[[], Iterable[str]] = ()) -> RouteSnapshot:
        """Read the table once into Gauges (see the module doc); the snapshot, for checks."""
        snapshot = self.read()
        t = snapshot.taken_at
        measurements.gauge(names.ROUTER_ENDPOINTS).add(t, snapshot.routes_total)
        measurements.gauge(names.ROUTER_ROUTES).add(t, len(snapshot.routes))
        chosen = hostnames() if callable(hostnames) else hostnames
        for hostname, app in snapshot.app_routes(chosen).items():
            measurements.gauge(names.router_endpoints(hostname)).add(t, app.endpoints)
        return snapshot

    def close(self) -> None:
        self.endpoint.close()
