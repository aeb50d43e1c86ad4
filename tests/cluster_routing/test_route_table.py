"""The route emitter's table as a pure module: events and snapshots in, router messages out."""

from __future__ import annotations

import json

import pytest

from pytest_diego.bbs import models
from pytest_diego.cluster.route_emitter.table import (
    RoutingTable,
    desired_from_model,
    instance_from_actual,
    parse_cf_routes,
)


def desired_lrp(guid: str = "pg-1", routes: list | None = None, domain: str = "cf-apps") -> models.DesiredLRP:
    routes = [{"hostnames": [f"{guid}.example.com"], "port": 8080}] if routes is None else routes
    lrp = models.DesiredLRP(process_guid=guid, domain=domain, log_guid=f"log-{guid}", instances=1)
    lrp.routes.routes["cf-router"] = json.dumps(routes).encode()
    lrp.metric_tags["source_id"].static = f"app-{guid}"
    lrp.metric_tags["instance_id"].dynamic = models.MetricTagValue.INDEX
    return lrp


def actual_lrp(guid: str = "pg-1", index: int = 0, instance_guid: str = "ig-0", state: str = "RUNNING",
               address: str = "127.1.0.1", ports: dict[int, int] | None = None, routable: bool | None = None,
               domain: str = "cf-apps") -> models.ActualLRP:
    lrp = models.ActualLRP(state=state)
    lrp.actual_lrp_key.process_guid, lrp.actual_lrp_key.index, lrp.actual_lrp_key.domain = guid, index, domain
    lrp.actual_lrp_instance_key.instance_guid = instance_guid
    lrp.actual_lrp_instance_key.cell_id = "cell-0"
    lrp.actual_lrp_net_info.address = address
    for container_port, host_port in (ports or {8080: 61001}).items():
        lrp.actual_lrp_net_info.ports.add(container_port=container_port, host_port=host_port)
    if routable is not None:
        lrp.routable = routable
    lrp.availability_zone = "z0"
    return lrp


def created(lrp: models.DesiredLRP):
    return "desired_lrp_created", models.DesiredLRPCreatedEvent(desired_lrp=lrp)


def running(lrp: models.ActualLRP):
    return "actual_lrp_instance_created", models.ActualLRPInstanceCreatedEvent(actual_lrp=lrp)


def changed(lrp: models.ActualLRP, state: str = "RUNNING", routable: bool | None = None):
    after = models.ActualLRPInfo(state=state, actual_lrp_net_info=lrp.actual_lrp_net_info,
                                 availability_zone=lrp.availability_zone)
    if routable is not None:
        after.Routable = routable
    return "actual_lrp_instance_changed", models.ActualLRPInstanceChangedEvent(
        actual_lrp_key=lrp.actual_lrp_key, actual_lrp_instance_key=lrp.actual_lrp_instance_key, after=after)


def endpoints(messages: list[dict]) -> set[tuple[str, str, int]]:
    return {(m["uris"][0], m["host"], m["port"]) for m in messages}


def test_running_instance_of_routed_lrp_is_registered_with_diegos_message():
    table = RoutingTable()
    assert not table.apply_event(*created(desired_lrp()))
    diff = table.apply_event(*running(actual_lrp()))
    assert diff.unregister == []
    assert diff.register == [{
        "host": "127.1.0.1", "port": 61001, "uris": ["pg-1.example.com"], "app": "log-pg-1",
        "private_instance_id": "ig-0", "private_instance_index": "0", "server_cert_domain_san": "ig-0",
        "tags": {"component": "route-emitter", "source_id": "app-pg-1", "instance_id": "0"},
        "availability_zone": "z0",
    }]
    assert table.route_count() == 1


def test_instance_before_desired_is_registered_when_the_desired_arrives():
    table = RoutingTable()
    assert not table.apply_event(*running(actual_lrp()))
    assert endpoints(table.apply_event(*created(desired_lrp())).register) == {
        ("pg-1.example.com", "127.1.0.1", 61001)}


def test_claimed_instance_gets_no_route_until_running_and_loses_it_when_crashed():
    table = RoutingTable()
    table.apply_event(*created(desired_lrp()))
    lrp = actual_lrp(state="CLAIMED")
    assert not table.apply_event(*running(lrp))
    assert len(table.apply_event(*changed(lrp, "RUNNING")).register) == 1
    diff = table.apply_event(*changed(lrp, "CRASHED"))
    assert endpoints(diff.unregister) == {("pg-1.example.com", "127.1.0.1", 61001)}
    assert table.route_count() == 0


def test_unroutable_instances_get_no_route():
    table = RoutingTable()
    table.apply_event(*created(desired_lrp()))
    assert not table.apply_event(*running(actual_lrp(routable=False)))
    assert len(table.apply_event(*running(actual_lrp(instance_guid="ig-1", routable=True))).register) == 1
    diff = table.apply_event(*changed(actual_lrp(instance_guid="ig-1"), routable=False))
    assert len(diff.unregister) == 1 and table.route_count() == 0


def test_multiple_hostnames_and_ports_give_one_message_per_hostname_and_matching_port():
    routes = [{"hostnames": ["a.example.com", "b.example.com"], "port": 8080},
              {"hostnames": ["admin.example.com"], "port": 9090},
              {"hostnames": ["nowhere.example.com"], "port": 7070}]  # no port mapping: no route
    table = RoutingTable()
    table.apply_event(*created(desired_lrp(routes=routes)))
    diff = table.apply_event(*running(actual_lrp(ports={8080: 61001, 9090: 61002})))
    assert endpoints(diff.register) == {("a.example.com", "127.1.0.1", 61001),
                                        ("b.example.com", "127.1.0.1", 61001),
                                        ("admin.example.com", "127.1.0.1", 61002)}
    assert all(len(m["uris"]) == 1 for m in diff.register)


def test_route_change_registers_new_hostnames_and_unregisters_dropped_ones():
    table = RoutingTable()
    table.apply_event(*created(desired_lrp(routes=[{"hostnames": ["old.example.com"], "port": 8080}])))
    table.apply_event(*running(actual_lrp()))
    after = desired_lrp(routes=[{"hostnames": ["new.example.com"], "port": 8080}])
    diff = table.apply_event("desired_lrp_changed", models.DesiredLRPChangedEvent(after=after))
    assert endpoints(diff.register) == {("new.example.com", "127.1.0.1", 61001)}
    assert endpoints(diff.unregister) == {("old.example.com", "127.1.0.1", 61001)}


def test_removing_desired_or_instance_unregisters():
    table = RoutingTable()
    table.apply_event(*created(desired_lrp()))
    table.apply_event(*running(actual_lrp()))
    table.apply_event(*running(actual_lrp(index=1, instance_guid="ig-1", ports={8080: 61002})))
    diff = table.apply_event("actual_lrp_instance_removed",
                             models.ActualLRPInstanceRemovedEvent(actual_lrp=actual_lrp()))
    assert endpoints(diff.unregister) == {("pg-1.example.com", "127.1.0.1", 61001)}
    diff = table.apply_event("desired_lrp_removed", models.DesiredLRPRemovedEvent(desired_lrp=desired_lrp()))
    assert endpoints(diff.unregister) == {("pg-1.example.com", "127.1.0.1", 61002)}
    assert table.registrations() == {}


def snapshot(desireds, actuals) -> RoutingTable:
    return RoutingTable.from_snapshot(
        [desired_from_model(d) for d in desireds],
        [i for i in map(instance_from_actual, actuals) if i is not None],
    )


def test_sync_drops_routes_of_fresh_domains_missing_from_the_store():
    table = snapshot([desired_lrp("pg-1"), desired_lrp("pg-2")],
                     [actual_lrp("pg-1"), actual_lrp("pg-2", instance_guid="ig-2", ports={8080: 61002})])
    diff = table.swap(snapshot([desired_lrp("pg-1")], [actual_lrp("pg-1")]), fresh_domains=["cf-apps"])
    assert endpoints(diff.unregister) == {("pg-2.example.com", "127.1.0.1", 61002)}
    assert diff.register == []
    assert table.route_count() == 1


def test_sync_against_a_wiped_store_keeps_routes_of_non_fresh_domains():
    """Diego's 2016 route loss: a wiped database must not unregister every route."""
    table = snapshot([desired_lrp("pg-1"), desired_lrp("pg-2", domain="other")],
                     [actual_lrp("pg-1"), actual_lrp("pg-2", domain="other", instance_guid="ig-2",
                                                      ports={8080: 61002})])
    diff = table.swap(RoutingTable(), fresh_domains=[])
    assert not diff
    assert table.route_count() == 2


def test_sync_merges_old_endpoints_of_non_fresh_domain_with_new_ones():
    table = snapshot([desired_lrp()], [actual_lrp(instance_guid="ig-old", ports={8080: 61001})])
    new = snapshot([desired_lrp()], [actual_lrp(instance_guid="ig-new", ports={8080: 61005})])
    diff = table.swap(new, fresh_domains=["unrelated"])
    assert endpoints(diff.register) == {("pg-1.example.com", "127.1.0.1", 61005)}
    assert diff.unregister == []
    assert table.route_count() == 2


def test_sync_with_fresh_domain_replaces_endpoints():
    table = snapshot([desired_lrp()], [actual_lrp(instance_guid="ig-old", ports={8080: 61001})])
    new = snapshot([desired_lrp()], [actual_lrp(instance_guid="ig-new", ports={8080: 61005})])
    diff = table.swap(new, fresh_domains=["cf-apps"])
    assert endpoints(diff.register) == {("pg-1.example.com", "127.1.0.1", 61005)}
    assert endpoints(diff.unregister) == {("pg-1.example.com", "127.1.0.1", 61001)}


def test_unchanged_sync_emits_nothing():
    table = snapshot([desired_lrp()], [actual_lrp()])
    assert not table.swap(snapshot([desired_lrp()], [actual_lrp()]), fresh_domains=["cf-apps"])


@pytest.mark.parametrize("raw", [b"{}", b'[{"hostnames": "x", "port": 8080}]', b'[{"hostnames": ["x"]}]',
                                 b"not json"])
def test_malformed_cf_router_json_is_rejected(raw):
    routes = models.ProtoRoutes()
    routes.routes["cf-router"] = raw
    with pytest.raises(ValueError):
        parse_cf_routes(routes)


def test_route_options_are_carried_into_the_message():
    routes = [{"hostnames": ["rs.example.com"], "port": 8080, "route_service_url": "https://rs",
               "isolation_segment": "iso-1"}]
    table = RoutingTable()
    table.apply_event(*created(desired_lrp(routes=routes)))
    (message,) = table.apply_event(*running(actual_lrp())).register
    assert message["route_service_url"] == "https://rs" and message["isolation_segment"] == "iso-1"


def test_lrp_without_cf_router_key_gets_no_routes():
    lrp = desired_lrp()
    del lrp.routes.routes["cf-router"]
    lrp.routes.routes["tcp-router"] = b"[]"
    table = RoutingTable()
    table.apply_event(*created(lrp))
    assert not table.apply_event(*running(actual_lrp()))


def test_route_count_follows_every_kind_of_change():
    table = RoutingTable()
    table.apply_event(*created(desired_lrp(routes=[{"hostnames": ["a.example.com", "b.example.com"],
                                                    "port": 8080}])))
    for i in range(3):
        table.apply_event(*running(actual_lrp(index=i, instance_guid=f"ig-{i}", ports={8080: 61001 + i})))
    assert table.route_count() == 6 == len(table.registrations())
    table.apply_event(*changed(actual_lrp(index=1, instance_guid="ig-1", ports={8080: 61002}), "CRASHED"))
    assert table.route_count() == 4 == len(table.registrations())
    table.apply_event("desired_lrp_removed", models.DesiredLRPRemovedEvent(desired_lrp=desired_lrp()))
    assert table.route_count() == 0


def test_instance_event_touches_only_that_instance():
    table = RoutingTable()
    table.apply_event(*created(desired_lrp()))
    for i in range(50):
        table.apply_event(*running(actual_lrp(index=i, instance_guid=f"ig-{i}", ports={8080: 61001 + i})))
    diff = table.apply_event(*running(actual_lrp(index=50, instance_guid="ig-50", ports={8080: 62000})))
    assert len(diff.register) == 1 and diff.unregister == []
