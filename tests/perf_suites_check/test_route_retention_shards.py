"""Under xdist each shard judges the routes of the apps it owns, through the fault window.

The database scenarios once read the route emitter's RoutesTotal (every app of every shard), so
one shard tearing its apps down while another watched its fault read as routes lost to the
fault (48 → 24, RouteRetention 0.5). Here, with two workers: shard 1 removes its apps while shard
0 watches its own — the table really halves (RouterEndpoints) and shard 0's RouteRetention stays
1; and when shard 0's own routes are taken out of the router during its window (a planted fault:
the router told to unregister them, as a route emitter that dropped them would), the merged
verdict fails.
"""

from __future__ import annotations

import pytest

from tests.plugin.conftest import results

SCENARIO = """
import json, os, time
import pytest
import requests
from pytest_diego.measure import define_metric
from pytest_diego.scenario import Observers, app, cleanup, hostname, remove_lrps, wait_routable, wait_until
from pytest_diego.workload import desired_lrp

define_metric("RouteRetention", "gauge")
UNREGISTER = os.environ.get("PLANT_ROUTE_LOSS") == "1"


def unregister(diego, hosts):
    '''The planted fault: this shard's routes taken out of the router's table.'''
    table = diego.route_table()
    snapshot = table.read()
    table.close()
    admin = diego.cluster.router_admin_url
    for host in hosts:
        for endpoint in snapshot.routes.get(host, ()):
            ip, port = endpoint.address.rsplit(":", 1)
            requests.post(f"{admin}/unregister", timeout=5,
                          data=json.dumps({"host": ip, "port": int(port), "uris": [host]}))


@pytest.mark.scenario("retention per shard")
@pytest.mark.slo("RouteRetention", "min >= 0.9", "count >= 1")
def test_retention(diego, bbs, workload, measurements):
    guids = [f"retention-{i}" for i in workload.indices(8)]
    hosts = [hostname(diego, g) for g in guids]
    with cleanup(diego, guids), Observers(diego, workload, measurements, events=False, metrics=True):
        for guid in guids:
            bbs.desire_lrp(app(diego, desired_lrp(guid, domain="retention", instances=2)))
        wait_routable(diego.router_url, hosts, 60)
        workload.barrier("routable")
        if workload.leader:
            with Observers(diego, workload, measurements, events=False, hostnames=lambda: hosts,
                           route_retention=True, sample_interval=0.2):
                time.sleep(0.5)  # a few samples of the whole table first
                workload.barrier("watching")
                if UNREGISTER:
                    unregister(diego, hosts)
                time.sleep(4 * diego.timing.route_sync_interval)
        else:  # tear down in the leader's window, until the router has dropped these routes
            workload.barrier("watching")
            remove_lrps(bbs, guids)
            table = diego.route_table()
            wait_until("the removed apps' routes gone",
                       lambda: None if not any(a.endpoints for a in table.read().app_routes(hosts).values())
                       else "still routed", 30)
            table.close()
        workload.barrier("watched")
"""

CLUSTER = ("-n", "2", "--diego-cells", "2", "--diego-time-scale", "0.1")


def test_another_shards_teardown_in_the_window_does_not_lower_this_shards_retention(pytester, run):
    pytester.makepyfile(test_retention=SCENARIO)
    result = run(*CLUSTER)
    result.assert_outcomes(passed=2)
    test = results(pytester)["tests"]["test_retention.py::test_retention"]
    assert test["metrics"]["RouteRetention"]["min"] == 1.0
    # the other shard's teardown really happened while shard 0 watched: the whole table went
    # from more than shard 0's 8 endpoints down to them
    endpoints = [v for _, v in test["series"]["RouterEndpoints"]]
    assert max(endpoints) > 8 and endpoints[-1] == 8, endpoints


def test_routes_lost_from_the_router_in_the_window_fail_the_merged_verdict(pytester, run, monkeypatch):
    pytester.makepyfile(test_retention=SCENARIO)
    monkeypatch.setenv("PLANT_ROUTE_LOSS", "1")
    result = run(*CLUSTER)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SLO failed: RouteRetention min >= 0.9 — observed min=*"])
    test = results(pytester)["tests"]["test_retention.py::test_retention"]
    assert test["metrics"]["RouteRetention"]["min"] < 0.9
    assert test["workers"] == {"gw0": "failed", "gw1": "failed"}  # every shard reaches the verdict
