"""Ping, domains, cells and presences, and the HTTP contract: POST only, 404, in-band errors,
undecodable and oversized bodies."""

from __future__ import annotations

import socket
import time

import pytest
import requests
from bbs_harness import presence

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSError
from pytest_diego.cluster.bbs.httpserver import MAX_BODY
from pytest_diego.measure.prometheus_text import exposition_values


def test_ping_and_health_listener(bbs, client):
    assert client.ping() is True
    assert requests.get(bbs.health_url + "/ping", timeout=5).status_code == 200
    metrics = requests.get(bbs.metrics_url, timeout=5).text
    assert exposition_values(metrics, ["RequestCount.Ping"]) == {"RequestCount.Ping": 1}
    assert '\nRequestCount_Ping{deployment="pytest-diego",' in metrics  # the metrics agent's sanitized name


def test_domains_expire_with_their_ttl(client):
    client.upsert_domain("cf-apps", 1)  # seconds as the caller sent them, whatever the time scale
    client.upsert_domain("forever", 0)
    assert sorted(client.domains()) == ["cf-apps", "forever"]
    time.sleep(1.1)
    assert client.domains() == ["forever"]


def test_cells_lists_only_unexpired_presences(make_bbs, make_locket):
    locket = make_locket(time_scale=0.1)  # the BBS's lock lasts 1.5 s; a presence 3 s x 0.1
    bbs = make_bbs(locket_address=locket.address, intervals={"lock_retry_interval": 0.5})
    with BBSClient(bbs.url) as client:
        locket.register(presence("cell-0"), ttl_in_seconds=3)
        locket.register(presence("cell-1"), ttl_in_seconds=3)
        cells = {c.cell_id: c for c in client.cells()}
        assert set(cells) == {"cell-0", "cell-1"}
        assert cells["cell-0"].rep_url.endswith("/cell-0")
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:  # cell-1 keeps refreshing, cell-0 goes quiet
            locket.register(presence("cell-1"), ttl_in_seconds=3)
            time.sleep(0.05)
        assert [c.cell_id for c in client.cells()] == ["cell-1"]


def test_a_presence_that_does_not_decode_is_skipped_and_the_private_route_is_gone(make_bbs, make_locket):
    locket = make_locket()
    bbs = make_bbs(locket_address=locket.address)
    locket.register(presence("cell-0"))
    locket.client.lock("cell-bad", "rep-bad", value="{not json", type_code=2)
    with BBSClient(bbs.url) as client:
        assert [c.cell_id for c in client.cells()] == ["cell-0"]
    assert requests.post(bbs.url + "/v1/locket/cell_presence", timeout=5).status_code == 404


def test_unknown_path_is_404_and_get_is_405(bbs):
    assert requests.post(bbs.url + "/v1/nope", timeout=5).status_code == 404
    assert requests.get(bbs.url + "/v1/ping", timeout=5).status_code == 405


def test_undecodable_body_is_invalid_request_in_band(bbs):
    response = requests.post(bbs.url + "/v1/tasks/desire.r2", data=b"\xff\xff\xff\xff", timeout=5)
    assert response.status_code == 200
    error = models.TaskLifecycleResponse.FromString(response.content).error
    assert (error.type, error.message) == (models.Error.InvalidRequest, "the request received is invalid")


def test_oversized_body_is_refused_before_it_is_read(bbs):
    host, port = bbs.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST /v1/tasks/desire.r2 HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
                     .encode())
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")


def test_keep_alive_serves_many_requests_on_one_connection(bbs):
    with requests.Session() as session:
        for _ in range(20):
            assert session.post(bbs.url + "/v1/ping", timeout=5).status_code == 200
    assert models.PingResponse.FromString(
        requests.post(bbs.url + "/v1/ping", timeout=5).content).available


def test_error_names_the_missing_guid(client):
    with pytest.raises(BBSError) as e:
        client.task_by_guid("")
    assert (e.value.type, e.value.message) == ("InvalidRequest", "Invalid field: task_guid")


def test_health_listener_routes(bbs):
    assert requests.post(bbs.health_url + "/ping", timeout=5).status_code == 405
    assert requests.get(bbs.health_url + "/nope", timeout=5).status_code == 404
