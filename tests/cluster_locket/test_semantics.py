"""Locket's semantics, call by call, against the embedded server over gRPC."""

from __future__ import annotations

import grpc
import pytest
from locket_harness import log_lines, metric

from pytest_diego.locket import models
from pytest_diego.locket.errors import (
    InvalidOwnerError,
    InvalidTTLError,
    InvalidTypeError,
    LockCollisionError,
    ResourceNotFoundError,
)


def test_lock_creates_and_fetch_answers_with_type_and_code(client):
    client.lock("bbs", "bbs-uuid-1")
    client.lock("cell-1", "rep-guid-1", value='{"cell_id":"cell-1"}', type_code=models.PRESENCE)
    assert client.fetch("bbs") == models.Resource(key="bbs", owner="bbs-uuid-1", type="lock",
                                                  type_code=models.LOCK)
    assert client.fetch("cell-1") == models.Resource(
        key="cell-1", owner="rep-guid-1", value='{"cell_id":"cell-1"}', type="presence",
        type_code=models.PRESENCE)


def test_fetch_all_filters_by_type_code_or_type_name(client):
    client.lock("bbs", "b")
    client.lock("auctioneer", "a")
    for cell in ("cell-1", "cell-2", "cell-3"):
        client.lock(cell, f"rep-{cell}", type_code=models.PRESENCE)
    locks = {r.key for r in client.fetch_all(models.LOCK)}
    presences = {r.key for r in client.fetch_all(models.PRESENCE)}
    assert (locks, presences) == ({"bbs", "auctioneer"}, {"cell-1", "cell-2", "cell-3"})
    assert {r.key for r in client.fetch_all("presence")} == presences
    assert {r.key for r in client.fetch_all("lock")} == locks
    assert all(r.type_code == models.PRESENCE and r.type == "presence" for r in client.fetch_all("presence"))


def test_refresh_by_the_owner_keeps_it_and_takes_the_new_value(client):
    client.lock("cell-1", "rep", value="v1", type_code=models.PRESENCE)
    client.lock("cell-1", "rep", value="v2", type_code=models.PRESENCE)
    assert client.fetch("cell-1").value == "v2"
    assert len(client.fetch_all(models.PRESENCE)) == 1


def test_another_owner_gets_lock_collision_and_counts_as_a_success(locket, client):
    client.lock("bbs", "first")
    with pytest.raises(LockCollisionError) as info:
        client.lock("bbs", "second")
    assert (info.value.code, info.value.locket_message) == (grpc.StatusCode.ALREADY_EXISTS, "lock-collision")
    assert locket.address in str(info.value) and "another owner holds it" in str(info.value)
    assert client.fetch("bbs").owner == "first"
    # Locket counts a lock-collision as a succeeded request (its monitorRequest)
    assert metric(locket.metrics_url, "RequestsSucceeded", request_type="Lock") == 2
    assert metric(locket.metrics_url, "RequestsFailed", request_type="Lock") == 0


def test_release_only_by_the_owner(client):
    client.lock("bbs", "owner")
    with pytest.raises(LockCollisionError, match="Release of 'bbs'"):
        client.release("bbs", "someone-else")
    assert client.fetch("bbs").owner == "owner"
    client.release("bbs", "owner")
    with pytest.raises(ResourceNotFoundError):
        client.fetch("bbs")
    client.release("bbs", "owner")  # nothing holds it: already released, no error
    client.lock("bbs", "someone-else")  # free for anyone now
    assert client.fetch("bbs").owner == "someone-else"


def test_fetch_of_an_unknown_key_is_not_found(client):
    with pytest.raises(ResourceNotFoundError) as info:
        client.fetch("cell-404")
    assert (info.value.code, info.value.locket_message) == (grpc.StatusCode.NOT_FOUND, "resource-not-found")
    assert "Fetch of 'cell-404'" in str(info.value)


@pytest.mark.parametrize(("resource", "ttl", "error", "message"), [
    (models.Resource(key="k", owner="o", type="lock"), 15, InvalidTypeError, "invalid-type"),  # code UNKNOWN
    (models.Resource(key="k", owner="o", type_code=7), 15, InvalidTypeError, "invalid-type"),
    (models.Resource(key="k", owner="", type_code=0), 0, InvalidTypeError, "invalid-type"),  # type first
    (models.Resource(key="k", owner="o", type_code=models.LOCK), 0, InvalidTTLError, "invalid-ttl"),
    (models.Resource(key="k", owner="o", type_code=models.LOCK), -3, InvalidTTLError, "invalid-ttl"),
    (models.Resource(key="k", owner="", type_code=models.LOCK), 0, InvalidTTLError, "invalid-ttl"),
    (models.Resource(key="k", owner="", type_code=models.PRESENCE), 15, InvalidOwnerError, "invalid-owner"),
])
def test_lock_refuses_what_locket_refuses(locket, client, resource, ttl, error, message):
    with pytest.raises(grpc.RpcError) as info:
        client.stub.Lock(models.LockRequest(resource=resource, ttl_in_seconds=ttl), timeout=5)
    assert (info.value.code(), info.value.details()) == (error.status.code, message)
    with pytest.raises(ResourceNotFoundError):
        client.fetch("k")
    assert metric(locket.metrics_url, "RequestsFailed", request_type="Lock") == 1


@pytest.mark.parametrize("request_", [
    models.FetchAllRequest(),
    models.FetchAllRequest(type="presence"),  # Locket's handler checks the code, not the old string
    models.FetchAllRequest(type_code=5),
])
def test_fetch_all_refuses_an_unknown_type_code(client, request_):
    with pytest.raises(grpc.RpcError) as info:
        client.stub.FetchAll(request_, timeout=5)
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.NOT_FOUND, "invalid-type")


def test_type_string_follows_the_type_code(client):
    # cfdot claim-presence sends only the code; a code that disagrees with the string wins
    only_code = models.Resource(key="a", owner="o", type_code=models.PRESENCE)
    client.stub.Lock(models.LockRequest(resource=only_code, ttl_in_seconds=15), timeout=5)
    client.stub.Lock(models.LockRequest(resource=models.Resource(key="b", owner="o", type="lock",
                                                                 type_code=models.PRESENCE),
                                        ttl_in_seconds=15), timeout=5)
    presences = [(r.key, r.type) for r in client.fetch_all(models.PRESENCE)]
    assert presences == [("a", "presence"), ("b", "presence")]
    assert client.fetch_all(models.LOCK) == []


def test_a_type_change_by_the_owner_moves_the_resource(locket, client):
    client.lock("k", "o", type_code=models.LOCK)
    client.lock("k", "o", type_code=models.PRESENCE)
    assert [r.key for r in client.fetch_all(models.PRESENCE)] == ["k"]
    assert client.fetch_all(models.LOCK) == []
    assert metric(locket.metrics_url, "ActiveLocks") == 0
    assert metric(locket.metrics_url, "ActivePresences") == 1


def test_active_counts_and_request_metrics(locket, client):
    client.lock("bbs", "b")
    for cell in range(4):
        client.lock(f"cell-{cell}", "rep", type_code=models.PRESENCE)
    client.release("cell-3", "rep")
    client.fetch_all(models.PRESENCE)
    assert metric(locket.metrics_url, "ActiveLocks") == 1
    assert metric(locket.metrics_url, "ActivePresences") == 3
    assert metric(locket.metrics_url, "RequestsStarted", request_type="Lock") == 5
    assert metric(locket.metrics_url, "RequestsSucceeded", request_type="Release") == 1
    assert metric(locket.metrics_url, "RequestsStarted", request_type="FetchAll") == 1
    assert 0 < metric(locket.metrics_url, "RequestLatencyMax", request_type="Lock") < 1


def test_log_messages_are_lockets(locket, client):
    client.lock("bbs", "b")
    client.lock("bbs", "b")  # a refresh logs nothing
    client.release("bbs", "b")
    messages = [line["message"] for line in log_lines(locket.config.state_dir)]
    assert messages.count("locket.lock.lock.acquired-lock") == 1
    assert messages.count("locket.release.release-lock.released-lock") == 1
    acquired = next(line for line in log_lines(locket.config.state_dir)
                    if line["message"] == "locket.lock.lock.acquired-lock")
    assert acquired["data"] == {"resource-key": "bbs", "owner": "b", "type-code": 1}
