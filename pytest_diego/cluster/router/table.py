"""The router's route table: hostname -> endpoints, round robin, and pruning of stale endpoints.

Mirrors gorouter's registry: a registration refreshes an endpoint's timestamp, an endpoint not
re-registered within the prune threshold is dropped, and lookups round-robin over endpoints.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, TypedDict


class InvalidRegistration(ValueError):
    """A router.register/unregister message that lacks what the router needs."""


@dataclass
class Endpoint:
    address: str  # "ip:port"
    private_instance_id: str  # the ActualLRP's instance_guid
    server_cert_domain_san: str
    protocol: str
    tls: bool
    tags: dict[str, str]
    availability_zone: str
    updated_at: float = field(default=0.0)

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host, int(port)


class _EndpointFields(TypedDict):
    """The fields of an ``Endpoint`` every registration refreshes."""

    private_instance_id: str
    server_cert_domain_san: str
    protocol: str
    tls: bool
    tags: dict[str, str]


@dataclass
class _Pool:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    next_index: int = 0


def validate_message(message: Any) -> tuple[list[str], str, dict[str, Any]]:
    if not isinstance(message, dict):
        raise InvalidRegistration(f"a router.register message must be a JSON object, got {message!r}")
    host, port, uris = message.get("host"), message.get("port"), message.get("uris")
    if not isinstance(host, str) or not host:
        raise InvalidRegistration(f"message has no 'host' (the cell address): {message!r}")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidRegistration(f"message 'port' must be an int in 1..65535: {message!r}")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) and u for u in uris):
        raise InvalidRegistration(f"message 'uris' must be a non-empty list of hostnames: {message!r}")
    return [normalize_host(u) for u in uris], f"{host}:{port}", message


def normalize_host(host: str) -> str:
    """Gorouter matches hosts case-insensitively and ignores the port in the Host header."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.split(":", 1)[0]


class RouteTable:
    """Thread-safe hostname -> endpoint pools, shared by the proxy, admin API and pruner."""

    def __init__(self, prune_threshold: float) -> None:
        self.prune_threshold = prune_threshold
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()

    def register(self, message: Any, now: float | None = None) -> None:
        uris, address, msg = validate_message(message)
        now = time.monotonic() if now is None else now
        tags = msg.get("tags") or {}
        with self._lock:
            for uri in uris:
                pool = self._pools.setdefault(uri, _Pool())
                endpoint = pool.endpoints.get(address)
                fields: _EndpointFields = {
                    "private_instance_id": str(msg.get("private_instance_id", "")),
                    "server_cert_domain_san": str(msg.get("server_cert_domain_san", "")),
                    "protocol": str(msg.get("protocol") or "http1"),
                    "tls": bool(msg.get("tls_port")),
                    "tags": {str(k): str(v) for k, v in tags.items()},
                }
                if endpoint is None:
                    endpoint = Endpoint(address=address, **fields,
                                        availability_zone=str(msg.get("availability_zone", "")))
                    pool.endpoints[address] = endpoint
                else:
                    for name, value in fields.items():
                        setattr(endpoint, name, value)
                endpoint.updated_at = now

    def unregister(self, message: Any) -> None:
        uris, address, _ = validate_message(message)
        with self._lock:
            for uri in uris:
                pool = self._pools.get(uri)
                if pool is not None and pool.endpoints.pop(address, None) is not None and not pool.endpoints:
                    del self._pools[uri]

    def lookup(self, host: str, attempts: int = 1) -> list[Endpoint]:
        """Up to ``attempts`` distinct endpoints for ``host``, starting at the next one in
        round-robin order (the rest are for retrying a failed dial); empty for an unknown route."""
        with self._lock:
            pool = self._pools.get(normalize_host(host))
            if pool is None or not pool.endpoints:
                return []
            endpoints = list(pool.endpoints.values())
            start = pool.next_index % len(endpoints)
            pool.next_index = (start + 1) % len(endpoints)
            count = min(attempts, len(endpoints))
            return [endpoints[(start + i) % len(endpoints)] for i in range(count)]

    def prune(self, now: float | None = None) -> int:
        """Remove endpoints not refreshed within the threshold; return how many were pruned."""
        now = time.monotonic() if now is None else now
        cutoff = now - self.prune_threshold
        pruned = 0
        with self._lock:
            for uri in list(self._pools):
                pool = self._pools[uri]
                for address in [a for a, e in pool.endpoints.items() if e.updated_at < cutoff]:
                    del pool.endpoints[address]
                    pruned += 1
                if not pool.endpoints:
                    del self._pools[uri]
        return pruned

    def route_count(self) -> int:
        """Route–endpoint pairs, the figure gorouter reports as total routes."""
        with self._lock:
            return sum(len(p.endpoints) for p in self._pools.values())

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """gorouter's ``GET /routes``: route -> endpoints, with gorouter's fields in its order.

        ``ttl`` is the stale threshold in whole seconds, as gorouter reports it (not the time
        left); ``private_instance_id`` and ``server_cert_domain_san`` are left out when empty, as
        gorouter's ``omitempty`` does.
        """
        ttl = int(self.prune_threshold)
        with self._lock:
            return {uri: [_endpoint_json(e, ttl) for e in pool.endpoints.values()]
                    for uri, pool in sorted(self._pools.items())}


def _endpoint_json(e: Endpoint, ttl: int) -> dict[str, Any]:
    data: dict[str, Any] = {"address": e.address, "availability_zone": e.availability_zone,
                            "protocol": e.protocol, "tls": e.tls, "ttl": ttl, "tags": dict(e.tags)}
    if e.private_instance_id:
        data["private_instance_id"] = e.private_instance_id
    if e.server_cert_domain_san:
        data["server_cert_domain_san"] = e.server_cert_domain_san
    return data
