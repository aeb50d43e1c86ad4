"""The route emitter's routing table, as a pure module: BBS models and events in, router.register
messages out.

Diego's route emitter (``route-emitter:routingtable``) keeps DesiredLRP routes and routable
ActualLRP instances, and derives one registration per (hostname, endpoint). Every change returns
a ``Diff``: what to register and what to unregister. A full sync builds a new table from a BBS
snapshot and swaps it in, merging back the entries of non-fresh domains that the snapshot lacks
(``mergeUnfreshRoutes``, the fix for the 2016 route loss when the database was wiped).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pytest_diego.bbs import models

CF_ROUTER = "cf-router"
RUNNING = "RUNNING"

# router.register fields a cf-router route may carry through to the message (cfroutes.CFRoute).
_OPTIONAL_ROUTE_FIELDS = ("route_service_url", "isolation_segment", "protocol", "options")

RegistrationKey = tuple[str, str, int]  # (hostname, host, port)
Message = dict[str, Any]


@dataclass(frozen=True)
class CfRoute:
    hostnames: tuple[str, ...]
    port: int
    extra: tuple[tuple[str, Any], ...] = ()  # optional fields copied into the message


@dataclass(frozen=True)
class DesiredRoutes:
    """What the table keeps of a DesiredLRP: its key, cf-router routes and metric tags."""

    process_guid: str
    domain: str
    log_guid: str
    routes: tuple[CfRoute, ...]
    metric_tags: tuple[tuple[str, str, int], ...] = ()  # (name, static, dynamic enum)


@dataclass(frozen=True)
class RoutableInstance:
    """A RUNNING, routable ActualLRP instance: where it listens and how it is tagged."""

    process_guid: str
    index: int
    instance_guid: str
    domain: str
    address: str
    ports: tuple[tuple[int, int], ...]  # (container_port, host_port)
    availability_zone: str = ""
    metric_tags: tuple[tuple[str, str], ...] = ()

    def host_port(self, container_port: int) -> int | None:
        for container, host in self.ports:
            if container == container_port:
                return host
        return None


@dataclass
class Diff:
    register: list[Message] = field(default_factory=list)
    unregister: list[Message] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.register or self.unregister)


def parse_cf_routes(routes: models.ProtoRoutes | None) -> tuple[CfRoute, ...]:
    """The ``cf-router`` routes of a DesiredLRP; raises ValueError for JSON that is not a route list."""
    if routes is None or CF_ROUTER not in routes.routes:
        return ()
    raw = json.loads(routes.routes[CF_ROUTER] or b"[]")
    if not isinstance(raw, list):
        raise ValueError(f"cf-router routes must be a JSON array, got {type(raw).__name__}")
    parsed = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise ValueError(f"cf-router route must be a JSON object, got {entry!r}")
        hostnames = entry.get("hostnames") or []
        port = entry.get("port")
        if (not isinstance(port, int) or not isinstance(hostnames, list)
                or not all(isinstance(h, str) for h in hostnames)):
            raise ValueError(f"cf-router route needs 'hostnames' (strings) and an int 'port': {entry!r}")
        extra = tuple((k, entry[k]) for k in _OPTIONAL_ROUTE_FIELDS if entry.get(k) not in (None, ""))
        parsed.append(CfRoute(tuple(hostnames), port, extra))
    return tuple(parsed)


def desired_from_model(desired: models.DesiredLRP) -> DesiredRoutes:
    routes = parse_cf_routes(desired.routes if desired.HasField("routes") else None)
    tags = tuple(sorted((name, value.static, int(value.dynamic))
                        for name, value in desired.metric_tags.items()))
    return DesiredRoutes(desired.process_guid, desired.domain, desired.log_guid, routes, tags)


def _ports(net_info: models.ActualLRPNetInfo) -> tuple[tuple[int, int], ...]:
    return tuple((p.container_port, p.host_port) for p in net_info.ports)


def _routable(message: Any, field_name: str) -> bool:
    """``routable`` unset means routable (instances of older cells never set it)."""
    return message.WhichOneof("optional_routable") is None or getattr(message, field_name)


def instance_from_actual(actual: models.ActualLRP) -> RoutableInstance | None:
    """The routable instance an ActualLRP describes, or None if it must not get routes."""
    if actual.state != RUNNING or not _routable(actual, "routable"):
        return None
    key, ikey = actual.actual_lrp_key, actual.actual_lrp_instance_key
    return RoutableInstance(
        key.process_guid, key.index, ikey.instance_guid, key.domain, actual.actual_lrp_net_info.address,
        _ports(actual.actual_lrp_net_info), actual.availability_zone,
        tuple(sorted(actual.metric_tags.items())),
    )


def instance_from_info(
    key: models.ActualLRPKey, ikey: models.ActualLRPInstanceKey, info: models.ActualLRPInfo,
    previous: RoutableInstance | None,
) -> RoutableInstance | None:
    """Like ``instance_from_actual`` for a changed event's ``after`` (which carries no metric tags,
    so the previous instance's are kept)."""
    if info.state != RUNNING or not _routable(info, "Routable"):
        return None
    return RoutableInstance(
        key.process_guid, key.index, ikey.instance_guid, key.domain, info.actual_lrp_net_info.address,
        _ports(info.actual_lrp_net_info), info.availability_zone,
        previous.metric_tags if previous is not None else (),
    )


def _tags(desired: DesiredRoutes, instance: RoutableInstance) -> dict[str, str]:
    tags = {"component": "route-emitter"}
    for name, static, dynamic in desired.metric_tags:
        if dynamic == models.MetricTagValue.INDEX:
            tags[name] = str(instance.index)
        elif dynamic == models.MetricTagValue.INSTANCE_GUID:
            tags[name] = instance.instance_guid
        else:
            tags[name] = static
    tags.update(instance.metric_tags)
    return tags


def registration(desired: DesiredRoutes, route: CfRoute, hostname: str, instance: RoutableInstance,
                 host_port: int) -> Message:
    """Diego's router.register message: one hostname per message."""
    message: Message = {
        "host": instance.address,
        "port": host_port,
        "uris": [hostname],
        "app": desired.log_guid,
        "private_instance_id": instance.instance_guid,
        "private_instance_index": str(instance.index),
        "server_cert_domain_san": instance.instance_guid,
        "tags": _tags(desired, instance),
    }
    if instance.availability_zone:
        message["availability_zone"] = instance.availability_zone
    message.update(route.extra)
    return message


class RoutingTable:
    """DesiredLRP routes and routable instances, and the registrations they imply."""

    def __init__(self) -> None:
        self.desired: dict[str, DesiredRoutes] = {}
        self.instances: dict[str, dict[str, RoutableInstance]] = {}
        self._route_count = 0

    # ------------------------------------------------------------------ derived registrations

    def registrations_for(self, process_guid: str, instance_guid: str | None = None
                          ) -> dict[RegistrationKey, Message]:
        """Registrations of one LRP, or of one of its instances (what an instance event touches:
        an LRP of 4000 instances must not cost 4000 messages per event)."""
        desired = self.desired.get(process_guid)
        instances = self.instances.get(process_guid)
        if desired is None or not instances:
            return {}
        if instance_guid is not None:
            one = instances.get(instance_guid)
            chosen = [one] if one is not None else []
        else:
            chosen = list(instances.values())
        out: dict[RegistrationKey, Message] = {}
        for instance in chosen:
            for route in desired.routes:
                host_port = instance.host_port(route.port)
                if host_port is None:
                    continue
                for hostname in route.hostnames:
                    out[(hostname, instance.address, host_port)] = registration(
                        desired, route, hostname, instance, host_port
                    )
        return out

    def registrations(self) -> dict[RegistrationKey, Message]:
        out: dict[RegistrationKey, Message] = {}
        for process_guid in self.desired:
            out.update(self.registrations_for(process_guid))
        return out

    def route_count(self) -> int:
        """Route–endpoint pairs (Diego's RoutesTotal), kept current by every change."""
        return self._route_count

    # ------------------------------------------------------------------ changes

    def _change(self, process_guid: str, apply: Callable[[], object],
                instance_guid: str | None = None) -> Diff:
        before = self.registrations_for(process_guid, instance_guid)
        apply()
        after = self.registrations_for(process_guid, instance_guid)
        self._route_count += len(after) - len(before)
        return diff(before, after)

    def set_desired(self, desired: DesiredRoutes) -> Diff:
        def apply() -> None:
            self.desired[desired.process_guid] = desired

        return self._change(desired.process_guid, apply)

    def remove_desired(self, process_guid: str) -> Diff:
        return self._change(process_guid, lambda: self.desired.pop(process_guid, None))

    def set_instance(self, instance: RoutableInstance) -> Diff:
        def apply() -> None:
            self.instances.setdefault(instance.process_guid, {})[instance.instance_guid] = instance

        return self._change(instance.process_guid, apply, instance.instance_guid)

    def remove_instance(self, process_guid: str, instance_guid: str) -> Diff:
        def apply() -> None:
            instances = self.instances.get(process_guid, {})
            instances.pop(instance_guid, None)
            if not instances:
                self.instances.pop(process_guid, None)

        return self._change(process_guid, apply, instance_guid)

    def apply_event(self, event_type: str, message: Any) -> Diff:
        """Apply one ``lrp_instances`` stream event; events it does not route on give an empty diff."""
        if event_type in ("desired_lrp_created", "desired_lrp_changed"):
            desired = message.desired_lrp if event_type == "desired_lrp_created" else message.after
            return self.set_desired(desired_from_model(desired))
        if event_type == "desired_lrp_removed":
            return self.remove_desired(message.desired_lrp.process_guid)
        if event_type == "actual_lrp_instance_created":
            instance = instance_from_actual(message.actual_lrp)
            return self.set_instance(instance) if instance is not None else Diff()
        if event_type == "actual_lrp_instance_changed":
            key, ikey = message.actual_lrp_key, message.actual_lrp_instance_key
            previous = self.instances.get(key.process_guid, {}).get(ikey.instance_guid)
            instance = instance_from_info(key, ikey, message.after, previous)
            if instance is None:
                return self.remove_instance(key.process_guid, ikey.instance_guid)
            return self.set_instance(instance)
        if event_type == "actual_lrp_instance_removed":
            actual = message.actual_lrp
            return self.remove_instance(actual.actual_lrp_key.process_guid,
                                        actual.actual_lrp_instance_key.instance_guid)
        return Diff()

    # ------------------------------------------------------------------ full sync

    @classmethod
    def from_snapshot(cls, desired_lrps: Iterable[DesiredRoutes],
                      instances: Iterable[RoutableInstance]) -> RoutingTable:
        table = cls()
        for desired in desired_lrps:
            table.desired[desired.process_guid] = desired
        for instance in instances:
            table.instances.setdefault(instance.process_guid, {})[instance.instance_guid] = instance
        table._route_count = len(table.registrations())
        return table

    def swap(self, new: RoutingTable, fresh_domains: Iterable[str]) -> Diff:
        """Replace this table's contents with ``new``; entries of non-fresh domains that ``new``
        lacks are kept, so a sync against an empty or partial store drops no such route."""
        fresh = set(fresh_domains)
        for guid, desired in self.desired.items():
            if desired.domain not in fresh and guid not in new.desired:
                new.desired[guid] = desired
        for guid, instances in self.instances.items():
            for instance_guid, instance in instances.items():
                if instance.domain in fresh:
                    continue
                new.instances.setdefault(guid, {}).setdefault(instance_guid, instance)
        before = self.registrations()
        self.desired, self.instances = new.desired, new.instances
        after = self.registrations()
        self._route_count = len(after)
        return diff(before, after)


def diff(before: dict[RegistrationKey, Message], after: dict[RegistrationKey, Message]) -> Diff:
    return Diff(
        register=[m for k, m in after.items() if before.get(k) != m],
        unregister=[m for k, m in before.items() if k not in after],
    )
