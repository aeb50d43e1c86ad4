"""The embedded gorouter: admin API, gorouter's status listener (its body checked against a recorded
real one), proxying by Host, round robin, 404/502 and pruning."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import requests

from pytest_diego.cluster.router import Router, RouteTable, status
from pytest_diego.cluster.router.status import StatusCredentials
from pytest_diego.cluster.timing import Timing
from pytest_diego.lager import Logger
from pytest_diego.measure import EndpointError
from pytest_diego.measure import RouteTable as RouterStatus
from pytest_diego.measure.prometheus_text import exposition_values

RECORDED_ROUTES = Path(__file__).parents[1] / "measure" / "fixtures" / "gorouter_routes.json"


def metrics(router: Router) -> dict[str, float]:
    text = requests.get(f"{router.admin_url}/metrics", timeout=5).text
    return exposition_values(text, ["total_routes", "requests", "responses.2xx", "responses.4xx",
                                    "unknown_routes", "bad_gateways", "pruned_endpoints"])


def reg(host: str, port: int, uri: str, instance: str = "ig-1", index: int = 0) -> dict:
    return {"host": host, "port": port, "uris": [uri], "app": "log-guid",
            "private_instance_id": instance, "private_instance_index": str(index),
            "tags": {"component": "route-emitter", "source_id": "app-1"}, "availability_zone": "z1"}


def test_register_then_proxy_returns_backend_body(router, backends):
    b = backends[0]
    r = requests.post(f"{router.admin_url}/register", json=reg(b.host, b.port, "app-1.example.com"))
    assert r.status_code == 200 and r.json() == {"accepted": 1}
    resp = requests.get(f"{router.url}/hello?x=1", headers={"Host": "App-1.Example.com:8080"})
    assert resp.status_code == 200
    assert resp.json() == {"instance": "b0", "path": "/hello?x=1", "host": "App-1.Example.com:8080"}


def test_routes_table_has_gorouters_shape(router, backends):
    b = backends[0]
    requests.post(f"{router.admin_url}/register",
                  json=[reg(b.host, b.port, "a.example.com"), reg(b.host, b.port, "b.example.com")])
    table = requests.get(f"{router.status_url}/routes").json()
    assert sorted(table) == ["a.example.com", "b.example.com"]
    (endpoint,) = table["a.example.com"]
    assert endpoint["address"] == f"{b.host}:{b.port}"
    assert endpoint["private_instance_id"] == "ig-1"
    assert endpoint["tags"] == {"component": "route-emitter", "source_id": "app-1"}
    assert endpoint["ttl"] == 1  # the stale threshold (120 s x 0.01) in whole seconds, as gorouter reports it


def test_routes_body_has_the_recorded_gorouter_keys_and_types(router, backends):
    """Same keys, in gorouter's order, and same JSON types as a real gorouter's /routes."""
    recorded = json.loads(RECORDED_ROUTES.read_text())
    (real, *_) = next(iter(recorded.values()))
    b = backends[0]
    requests.post(f"{router.admin_url}/register", json={**reg(b.host, b.port, "k.example.com"),
                                                        "server_cert_domain_san": "ig-1"})
    (ours,) = requests.get(f"{router.status_url}/routes", timeout=5).json()["k.example.com"]
    assert list(ours) == list(real)
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in real.items()}
    assert ours["protocol"] == "http1" and ours["tls"] is False


def test_routes_need_the_status_credentials_and_health_does_not(router):
    plain = requests.get(f"{router.admin_url}/routes", timeout=5)
    assert plain.status_code == 401 and plain.headers["WWW-Authenticate"] == "Basic"
    assert plain.text == "401 Unauthorized\n"  # gorouter's answer
    wrong = requests.get(f"{router.admin_url}/routes", auth=(router.credentials.user, "nope"), timeout=5)
    assert wrong.status_code == 401
    assert requests.get(f"{router.status_url}/routes", timeout=5).json() == {}
    health = requests.get(f"{router.admin_url}/health", timeout=5)
    assert (health.status_code, health.text) == (200, "ok\n")


def test_the_operators_route_table_reader_reads_the_embedded_router(router, backends):
    b = backends[0]
    requests.post(f"{router.admin_url}/register", json=[reg(b.host, b.port, "r.example.com", "ig-7"),
                                                        reg(b.host, b.port + 1, "r.example.com", "ig-8")])
    status = RouterStatus(router.status_url, environ={})
    app = status.read().app_routes(["r.example.com"])["r.example.com"]
    assert (app.endpoints, app.instance_guids) == (2, {"ig-7", "ig-8"})
    assert status.healthy() and router.credentials.password not in repr(status)
    with pytest.raises(EndpointError, match="check the router status user/password"):
        RouterStatus(router.admin_url, environ={}).read()


def test_status_credentials_check_is_exact():
    creds = StatusCredentials("router-status", "pw")
    assert creds.accepts("Basic cm91dGVyLXN0YXR1czpwdw==")
    for header in (None, "", "Bearer x", "Basic !!", "Basic cm91dGVyLXN0YXR1czpwdzI=",
                   "Basic cm91dGVyLXN0YXR1cw=="):
        assert not creds.accepts(header)


def test_round_robin_over_endpoints(router, backends):
    for i, b in enumerate(backends):
        requests.post(f"{router.admin_url}/register",
                      json=reg(b.host, b.port, "rr.example.com", f"ig-{i}", i))
    with requests.Session() as s:
        seen = [s.get(router.url, headers={"Host": "rr.example.com"}).json()["instance"] for _ in range(6)]
    assert sorted(seen[:3]) == ["b0", "b1", "b2"]
    assert seen[3:] == seen[:3]


def test_unknown_host_is_404_with_router_error(router):
    resp = requests.get(router.url, headers={"Host": "nope.example.com"})
    assert resp.status_code == 404
    assert resp.headers["X-Cf-Routererror"] == "unknown_route"
    assert "nope.example.com" in resp.text


def test_refused_backend_is_502_with_router_error(router, closed_port):
    requests.post(f"{router.admin_url}/register", json=reg("127.0.0.1", closed_port, "gone.example.com"))
    resp = requests.get(router.url, headers={"Host": "gone.example.com"})
    assert resp.status_code == 502
    assert resp.headers["X-Cf-Routererror"] == "endpoint_failure"
    assert metrics(router)["bad_gateways"] == 1


def test_refused_endpoint_is_retried_on_the_next_one(router, backends, closed_port):
    requests.post(f"{router.admin_url}/register", json=[
        reg("127.0.0.1", closed_port, "half.example.com", "dead"),
        reg(backends[0].host, backends[0].port, "half.example.com", "alive"),
    ])
    statuses = {requests.get(router.url, headers={"Host": "half.example.com"}).status_code for _ in range(4)}
    assert statuses == {200}


def test_unregister_removes_only_that_endpoint(router, backends):
    a, b = backends[0], backends[1]
    requests.post(f"{router.admin_url}/register",
                  json=[reg(a.host, a.port, "u.example.com"), reg(b.host, b.port, "u.example.com", "ig-2")])
    requests.post(f"{router.admin_url}/unregister", json=reg(a.host, a.port, "u.example.com"))
    table = requests.get(f"{router.status_url}/routes").json()
    assert [e["address"] for e in table["u.example.com"]] == [f"{b.host}:{b.port}"]
    requests.post(f"{router.admin_url}/unregister", json=[reg(b.host, b.port, "u.example.com")])
    assert requests.get(f"{router.status_url}/routes").json() == {}
    assert requests.get(router.url, headers={"Host": "u.example.com"}).status_code == 404


@pytest.mark.parametrize("bad", [
    {"port": 1, "uris": ["x"]},
    {"host": "127.0.0.1", "port": "80", "uris": ["x"]},
    {"host": "127.0.0.1", "port": 80, "uris": []},
    "not-an-object",
])
def test_invalid_message_is_400_and_nothing_in_the_batch_is_applied(router, bad):
    resp = requests.post(f"{router.admin_url}/register", json=[reg("127.0.0.1", 1000, "ok.example.com"), bad])
    assert resp.status_code == 400
    assert "error" in resp.json()
    assert requests.get(f"{router.status_url}/routes").json() == {}


def test_body_that_is_not_json_is_400(router):
    resp = requests.post(f"{router.admin_url}/register", data=b"{nope")
    assert resp.status_code == 400 and "not JSON" in resp.json()["error"]


def test_stale_endpoints_are_pruned_and_refreshed_ones_kept(router, backends):
    a, b = backends[0], backends[1]
    requests.post(f"{router.admin_url}/register",
                  json=[reg(a.host, a.port, "stale.example.com"), reg(b.host, b.port, "fresh.example.com")])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        requests.post(f"{router.admin_url}/register", json=reg(b.host, b.port, "fresh.example.com"))
        if "stale.example.com" not in requests.get(f"{router.status_url}/routes").json():
            break
        time.sleep(0.1)
    assert sorted(requests.get(f"{router.status_url}/routes").json()) == ["fresh.example.com"]
    assert metrics(router)["pruned_endpoints"] == 1


def test_backend_connections_are_kept_alive(router, backends):
    b = backends[0]
    requests.post(f"{router.admin_url}/register", json=reg(b.host, b.port, "ka.example.com"))
    with requests.Session() as s:
        for _ in range(50):
            assert s.get(router.url, headers={"Host": "ka.example.com"}).status_code == 200
    assert b.connections < 5


def test_metrics_count_requests_and_responses(router, backends):
    b = backends[0]
    requests.post(f"{router.admin_url}/register", json=reg(b.host, b.port, "m.example.com"))
    requests.get(router.url, headers={"Host": "m.example.com"})
    requests.get(router.url, headers={"Host": "missing.example.com"})
    counted = metrics(router)
    assert {k: counted[k] for k in ("requests", "responses.2xx", "responses.4xx", "unknown_routes")} == \
        {"requests": 2, "responses.2xx": 1, "responses.4xx": 1, "unknown_routes": 1}
    assert counted["total_routes"] == 1 and counted["bad_gateways"] == 0
    text = requests.get(f"{router.admin_url}/metrics").text
    assert 'responses_2xx{deployment="pytest-diego"' in text and 'source_id="gorouter"' in text


def test_table_prune_uses_the_threshold():
    table = RouteTable(prune_threshold=120.0)
    table.register(reg("10.0.0.1", 61001, "a.example.com"), now=0.0)
    table.register(reg("10.0.0.2", 61001, "a.example.com", "ig-2"), now=100.0)
    assert table.prune(now=119.0) == 0
    assert table.prune(now=121.0) == 1
    assert [e.address for e in table.lookup("a.example.com", attempts=3)] == ["10.0.0.2:61001"]
    assert table.route_count() == 1


def test_endpoint_that_hangs_is_502_and_not_retried(tmp_path, backends):
    silent = socket.socket()  # accepts connections (kernel backlog) but never answers: a paused instance
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    logger = Logger("router", tmp_path / "router.log")
    router = Router(Timing(1.0), logger, backend_timeout=0.5)
    try:
        b = backends[0]
        requests.post(f"{router.admin_url}/register", json=[
            reg("127.0.0.1", silent.getsockname()[1], "hang.example.com", "silent"),
            reg(b.host, b.port, "hang.example.com", "alive"),
        ])
        first = requests.get(router.url, headers={"Host": "hang.example.com"}, timeout=10)
        assert first.status_code == 502  # the request may have had effects: no second endpoint
        assert first.headers["X-Cf-Routererror"] == "endpoint_failure"
        assert requests.get(router.url, headers={"Host": "hang.example.com"}, timeout=10).status_code == 200
    finally:
        router.close()
        logger.close()
        silent.close()


def test_status_credentials_are_kept_private_and_stable_across_restarts(tmp_path):
    path = tmp_path / status.FILENAME
    first = status.load_or_create(path)
    assert (path.stat().st_mode & 0o777) == 0o600 and len(first.password) >= 24
    assert status.load_or_create(path) == first  # a restarted router keeps the pair
    url = status.status_url("http://127.0.0.1:8080", {"status_credentials": str(path)})
    assert url == f"http://{first.user}:{first.password}@127.0.0.1:8080"
    assert first.password not in repr(first)
    with pytest.raises(ValueError, match="started by an older pytest-diego"):
        status.status_url("http://127.0.0.1:8080", {})
    path.write_text("{not json")
    with pytest.raises(ValueError, match="delete it and start the cluster again"):
        status.load_or_create(path)
