"""Routing on a whole embedded cluster: BBS -> route emitter -> router -> instances on cells.

Time scale 0.05: route sync 3 s, re-registration 1 s, router prune threshold 6 s (checked every
1.5 s), convergence 1.5 s.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pytest_diego.cluster import ClusterConfig, EmbeddedCluster
from pytest_diego.measure import RouteTable
from pytest_diego.measure.prometheus_text import exposition_values
from pytest_diego.workload.builders import DOMAIN, desired_lrp
from tests.support.waits import wait_until

SCALE = 0.05
PRUNE_THRESHOLD = 120 * SCALE


def routes(cluster: EmbeddedCluster) -> dict[str, list[dict]]:
    return requests.get(f"{cluster.router_status_url}/routes", timeout=5).json()


def endpoints(cluster: EmbeddedCluster, hostname: str) -> int:
    return len(routes(cluster).get(hostname, []))


def through_router(cluster: EmbeddedCluster, hostname: str) -> requests.Response:
    return requests.get(cluster.router_url, headers={"Host": hostname}, timeout=5)


def emitter_metrics(cluster: EmbeddedCluster) -> dict[str, float]:
    text = requests.get(cluster.metrics_urls["route_emitter"], timeout=5).text
    return exposition_values(text, ["RoutesTotal", "RoutesRegistered", "RoutesUnregistered", "RoutesSynced",
                                    "RouteEmitterSyncDuration", "HTTPRouteNATSMessagesEmitted"])


def start_cluster(state_dir: Path) -> EmbeddedCluster:
    cluster = EmbeddedCluster.start(ClusterConfig(cells=3, time_scale=SCALE, state_dir=state_dir))
    with cluster.client() as client:
        client.upsert_domain(DOMAIN, 0)  # fresh: syncs may drop its routes
    return cluster


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    with start_cluster(tmp_path_factory.mktemp("routing")) as cluster:
        yield cluster


@pytest.fixture
def own(tmp_path: Path) -> Iterator[EmbeddedCluster]:
    """A cluster of its own, for tests that kill or wipe the BBS."""
    with start_cluster(tmp_path / "cluster") as cluster:
        yield cluster


def test_lrp_answers_through_the_router_from_every_instance(shared):
    with shared.client() as client:
        client.desire_lrp(desired_lrp("web-1", instances=3, hostnames=["web-1.example.com"]))
    wait_until(lambda: endpoints(shared, "web-1.example.com") == 3, 30, "3 endpoints for web-1")
    answers = [through_router(shared, "web-1.example.com") for _ in range(6)]
    assert {a.status_code for a in answers} == {200}
    bodies = [a.json() for a in answers]
    assert {b["index"] for b in bodies} == {0, 1, 2}
    assert {b["process_guid"] for b in bodies} == {"web-1"}
    assert len({b["cell_id"] for b in bodies}) == 3  # one instance per cell: the auction balances
    app = RouteTable(shared.router_status_url).read().app_routes(["web-1.example.com"])["web-1.example.com"]
    assert app.instance_guids == {b["instance_guid"] for b in bodies}
    assert {e["tags"]["component"] for e in routes(shared)["web-1.example.com"]} == {"route-emitter"}
    assert emitter_metrics(shared)["RoutesTotal"] >= 3


def test_two_hostnames_route_to_the_same_instances(shared):
    with shared.client() as client:
        client.desire_lrp(desired_lrp("web-2", instances=2, hostnames=["a.web-2.example.com",
                                                                       "b.web-2.example.com"]))
    wait_until(lambda: endpoints(shared, "a.web-2.example.com") == 2
               and endpoints(shared, "b.web-2.example.com") == 2, 30, "2 endpoints per hostname")
    assert through_router(shared, "b.web-2.example.com").json()["process_guid"] == "web-2"


def test_removed_lrp_loses_its_routes(shared):
    with shared.client() as client:
        client.desire_lrp(desired_lrp("gone-1", instances=2, hostnames=["gone-1.example.com"]))
        wait_until(lambda: endpoints(shared, "gone-1.example.com") == 2, 30, "routes of gone-1")
        client.remove_desired_lrp("gone-1")
    wait_until(lambda: "gone-1.example.com" not in routes(shared), 30, "routes of gone-1 to go")
    answer = through_router(shared, "gone-1.example.com")
    assert answer.status_code == 404
    assert answer.headers["X-Cf-Routererror"] == "unknown_route"


def test_routes_outlive_the_bbs_and_reconcile_after_its_restart(own):
    with own.client() as client:
        client.desire_lrp(desired_lrp("keep-1", instances=2, hostnames=["keep-1.example.com"]))
        client.desire_lrp(desired_lrp("drop-1", instances=1, hostnames=["drop-1.example.com"]))
    wait_until(lambda: endpoints(own, "keep-1.example.com") == 2
               and endpoints(own, "drop-1.example.com") == 1, 30, "routes of keep-1 and drop-1")
    synced_before = emitter_metrics(own)["RoutesSynced"]

    assert own.kill_bbs(signal.SIGKILL)
    time.sleep(PRUNE_THRESHOLD + 2 * 120 * SCALE / 4)  # well past the prune threshold and a prune check
    assert endpoints(own, "keep-1.example.com") == 2, "the router pruned routes while the BBS was down"
    assert through_router(own, "keep-1.example.com").status_code == 200
    assert emitter_metrics(own)["RoutesSynced"] > synced_before, "re-registration stopped"

    own.restart_bbs()
    with own.client() as client:
        client.remove_desired_lrp("drop-1")
        client.desire_lrp(desired_lrp("new-1", instances=1, hostnames=["new-1.example.com"]))
    wait_until(lambda: endpoints(own, "new-1.example.com") == 1, 30, "route of an LRP desired after restart")
    wait_until(lambda: "drop-1.example.com" not in routes(own), 30, "route of drop-1 to go")
    assert through_router(own, "new-1.example.com").json()["process_guid"] == "new-1"
    assert endpoints(own, "keep-1.example.com") == 2


def test_wiped_store_keeps_routes_until_the_domain_is_fresh_again(own):
    """Diego's 2016 route loss, fixed: a sync against an empty store keeps non-fresh routes."""
    with own.client() as client:
        client.desire_lrp(desired_lrp("wipe-1", instances=2, hostnames=["wipe-1.example.com"]))
    wait_until(lambda: endpoints(own, "wipe-1.example.com") == 2, 30, "routes of wipe-1")

    own.kill_bbs()
    own.wipe_store()
    own.restart_bbs()
    with own.client() as client:
        assert client.domains() == []
        assert client.desired_lrps() == []
    log = own.log_paths["route_emitter"]
    syncs = log.read_text().count("sync.complete")
    wait_until(lambda: log.read_text().count("sync.complete") >= syncs + 2, 30, "two syncs after the wipe")
    assert endpoints(own, "wipe-1.example.com") == 2, "a sync dropped routes of a non-fresh domain"

    with own.client() as client:
        client.upsert_domain(DOMAIN, 0)
    wait_until(lambda: "wipe-1.example.com" not in routes(own), 30,
               "the next sync to drop routes once the domain is fresh")


def test_restarted_router_gets_every_route_back_from_re_registration(shared):
    with shared.client() as client:
        client.desire_lrp(desired_lrp("back-1", instances=2, hostnames=["back-1.example.com"]))
    wait_until(lambda: endpoints(shared, "back-1.example.com") == 2, 30, "routes of back-1")
    url, admin_url, status_url = shared.router_url, shared.router_admin_url, shared.router_status_url
    assert shared.kill("router", signal.SIGKILL)
    shared.restart("router")
    assert (shared.router_url, shared.router_admin_url) == (url, admin_url)
    assert shared.router_status_url == status_url  # the same credentials: readers keep working
    wait_until(lambda: endpoints(shared, "back-1.example.com") == 2, 10,
               "the route emitter's periodic re-registration to refill the new router")
    assert through_router(shared, "back-1.example.com").json()["process_guid"] == "back-1"
